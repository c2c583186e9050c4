"""Segmentation and targeting: doctor grades, deciles, account quadrants, clusters, call plan.

Each part runs when the data holds the tables it needs
(:func:`crmlab.features.segmentation.segmentation_parts`); a part that cannot run is a
:class:`~crmlab.features.segmentation.Skipped` note in the result, in the report and in
``summary.json`` (``parts``), never a traceback. With account-level sales only, the
account segments run; with doctor profiles but no visits, grading and the value
estimate run too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from crmlab.analyses.base import AnalysisResult, Params, check_params, load_data, param, rejects_summary
from crmlab.features.behaviour import PANEL_COLUMNS, doctor_behaviour
from crmlab.features.callplan import (
    DEFAULT_QUOTA,
    adoption_funnel,
    call_plan_compliance,
    compliance_alerts,
    quota_from_params,
    sfe_kpis,
    unseen_doctors,
    weekly_plan_vs_actual,
)
from crmlab.features.common import own_product_ids
from crmlab.features.deciles import account_deciles, doctor_deciles
from crmlab.features.indicators import doctor_indicators
from crmlab.features.panels import doctor_month_panel
from crmlab.features.potential import account_segments
from crmlab.features.segmentation import Skipped, parts_status, present, run_part, segmentation_parts
from crmlab.features.volumes import recent_sell_out
from crmlab.io import Dataset
from crmlab.models.clusters import BehaviourClusters, cluster_profiles
from crmlab.models.segmentation import (
    DEFAULT_THRESHOLDS,
    DEFAULT_TIER_POINTS,
    DEFAULT_TITLE_POINTS,
    DEFAULT_WEIGHTS,
    DoctorGrader,
    doctor_value_estimate,
    grade_doctors,
    grade_table,
    grading_params,
    value_vs_volume,
)
from crmlab.models.visit_quality import (
    DEFAULT_CHANNEL_POINTS,
    DEFAULT_QUALITY_WEIGHTS,
    DEFAULT_TARGET_MINUTES,
    quality_by_rep,
    quality_from_params,
    visit_quality,
)

_SCORE = "score = sum(weight * points) / sum(weight over the indicators a doctor has)"


@dataclasses.dataclass(frozen=True)
class SegmentationParams(Params):
    """Grading weights, points and thresholds, periods, clustering, call plan and visit quality."""

    weight_tier: float = param(DEFAULT_WEIGHTS["tier"], f"{_SCORE}: weight of the account's hospital tier")
    weight_title: float = param(DEFAULT_WEIGHTS["title"], "weight of the doctor's title")
    weight_outpatients: float = param(DEFAULT_WEIGHTS["outpatients"],
                                      "weight of the department's outpatient visits per month")
    weight_beds: float = param(DEFAULT_WEIGHTS["beds"], "weight of the department's beds")
    weight_volume: float = param(DEFAULT_WEIGHTS["volume"], "weight of own-product prescriptions per month "
                                 "(dropped, the others renormalised, without prescriptions)")
    tier_points: dict = param(DEFAULT_TIER_POINTS, "points 0-100 per account tier ('other': anything else)")
    title_points: dict = param(DEFAULT_TITLE_POINTS, "points 0-100 per title ('other': anything else)")
    grade_a_min: float = param(DEFAULT_THRESHOLDS["A"], "grade A: score >= grade_a_min")
    grade_b_min: float = param(DEFAULT_THRESHOLDS["B"], "grade B: score >= grade_b_min")
    grade_c_min: float = param(DEFAULT_THRESHOLDS["C"], "grade C: score >= grade_c_min; below: D")
    volume_months: int = param(12, "months of prescriptions/sell-out behind volumes, deciles and potential")
    apportion_power: float = param(2.0, "value estimate: account sell-out split by score without volume "
                                        "** apportion_power")
    potential_split: float = param(0.5, "quantile of potential separating high from low")
    adoption_split: float = param(0.5, "quantile of adoption separating high from low")
    cluster_k_min: int = param(2, "fewest behavioural clusters tried")
    cluster_k_max: int = param(8, "most behavioural clusters tried")
    cluster_bootstrap: int = param(20, "bootstrap refits for the stability (adjusted Rand index)")
    quota_a: float = param(float(DEFAULT_QUOTA["A"]), "planned visits per grade-A doctor per month")
    quota_b: float = param(float(DEFAULT_QUOTA["B"]), "planned visits per grade-B doctor per month")
    quota_c: float = param(float(DEFAULT_QUOTA["C"]), "planned visits per grade-C doctor per month")
    quota_d: float = param(float(DEFAULT_QUOTA["D"]), "planned visits per grade-D doctor per month")
    compliance_alert: float = param(0.8, "alert reps below this compliance in the latest month")
    unseen_weeks: int = param(8, "alert grade-A doctors not seen for this many weeks")
    funnel_months: int = param(3, "window of the adoption funnel (growing = vs the window before)")
    quality_weight_channel: float = param(DEFAULT_QUALITY_WEIGHTS["channel"], "visit quality: channel weight")
    quality_weight_duration: float = param(DEFAULT_QUALITY_WEIGHTS["duration"], "visit quality: duration weight")
    quality_weight_product: float = param(DEFAULT_QUALITY_WEIGHTS["product"], "visit quality: product weight")
    quality_weight_status: float = param(DEFAULT_QUALITY_WEIGHTS["status"], "visit quality: status weight")
    quality_channel_points: dict = param(DEFAULT_CHANNEL_POINTS, "visit quality: points 0-1 per channel")
    quality_target_minutes: float = param(DEFAULT_TARGET_MINUTES, "visit quality: full points from this "
                                                                  "duration")

    def flat(self) -> dict:
        """The parameters as a plain dict (what the grading and explorer helpers read)."""
        return dataclasses.asdict(self)


COMPLIANCE_COLUMNS = ["rep_id", "month", "grade", "doctors", "planned", "actual", "compliance"]
DOCTOR_COLUMNS = ["doctor_id", "score", "grade", "decile", "segment", "value_estimate", "account_id", "region",
                  "territory_id", "specialty", "tier", "title"]
ACCOUNT_COLUMNS = ["account_id", "potential", "adoption", "quadrant", "decile", "region", "territory_id",
                   "account_type", "own_volume", "potential_source"]
VALUE_ESTIMATE = "account own-product sell-out apportioned by grading score without volume"


def _ran(value) -> bool:
    return not isinstance(value, Skipped)


@dataclasses.dataclass
class SegmentationResult(AnalysisResult):
    """What the segmentation found; a part the data cannot support is a :class:`Skipped` note.

    Attributes
    ----------
    parts : DataFrame
        Per part: ``label``, ``available``, ``needs`` (:func:`segmentation_parts`).
    quota : dict
        Monthly visits per doctor by grade.
    indicators, grader, graded : DataFrame, DoctorGrader, DataFrame
        Grading indicators per doctor, the fitted :class:`DoctorGrader`, and per doctor
        its place, points, ``score`` and ``grade``.
    value_estimate, value_check : Series, DataFrame
        Account sell-out apportioned to doctors, and its Spearman correlation with
        observed prescription volume.
    deciles, deciles_before : DataFrame
        Doctor deciles in the latest ``volume_months`` and the period before.
    account_deciles, account_deciles_before : DataFrame
        Account sell-out deciles (own and per product), latest period and the one before.
    accounts : DataFrame
        Account potential, adoption, quadrant and decile.
    behaviour, clusters, profiles, segments : DataFrame, BehaviourClusters, DataFrame, Series
        Behavioural features per doctor, the fitted clusters, their profiles and each
        doctor's segment name.
    compliance, rep_kpis, manager_kpis, alerts, unseen, weekly, rep_quality, funnel : DataFrame
        Call plan per rep × month × grade, SFE KPIs per rep and per manager, reps
        below the alert, unseen grade-A doctors, weekly plan vs actual, visit quality
        per rep, adoption funnel.
    visits, reps : DataFrame or None
        The tables the manager explorer recounts compliance from.
    """

    parts: pd.DataFrame
    quota: dict
    indicators: pd.DataFrame | Skipped
    grader: DoctorGrader | Skipped
    graded: pd.DataFrame | Skipped
    value_estimate: pd.Series | Skipped
    value_check: pd.DataFrame | Skipped
    deciles: pd.DataFrame | Skipped
    deciles_before: pd.DataFrame | Skipped
    account_deciles: pd.DataFrame | Skipped
    account_deciles_before: pd.DataFrame | Skipped
    accounts: pd.DataFrame | Skipped
    behaviour: pd.DataFrame | Skipped
    clusters: BehaviourClusters | Skipped
    profiles: pd.DataFrame | Skipped
    segments: pd.Series | Skipped
    compliance: pd.DataFrame | Skipped
    rep_kpis: pd.DataFrame | Skipped
    manager_kpis: pd.DataFrame | Skipped
    alerts: pd.DataFrame | Skipped
    unseen: pd.DataFrame | Skipped
    weekly: pd.DataFrame | Skipped
    rep_quality: pd.DataFrame | Skipped
    funnel: pd.DataFrame | Skipped
    visits: pd.DataFrame | None
    reps: pd.DataFrame | None
    #: Brand per product ID (``products.brand``), so that reports name products as people know them.
    product_names: dict = dataclasses.field(default_factory=dict)

    def ran(self, part: str) -> bool:
        """Whether the data supported ``part``."""
        return bool(self.parts.loc[part, "available"])

    def summary(self) -> dict:
        """Headline numbers; keys of skipped parts are ``null`` and ``parts`` says why."""
        summary = {"parts": parts_status(self.parts), "doctors": None, "grade_counts": None,
                   "volume_used_in_grading": None, "value_estimate": None, "clusters": None,
                   "cluster_silhouette": None, "cluster_stability_ari": None, "latest_month": None,
                   "latest_month_compliance": None, "reps_below_alert": None, "grade_a_unseen": None,
                   "quadrant_counts": None}
        if self.ran("doctor_grading") and _ran(self.graded):
            summary["doctors"] = len(self.graded)
            summary["grade_counts"] = grade_table(self.graded).set_index("grade")["doctors"].to_dict()
            summary["volume_used_in_grading"] = self.grader.volume_used_
        if self.ran("value_estimate"):
            summary["value_estimate"] = VALUE_ESTIMATE
        if self.ran("clusters") and _ran(self.clusters):
            summary["clusters"] = self.clusters.n_clusters_
            summary["cluster_silhouette"] = self.clusters.silhouette_
            summary["cluster_stability_ari"] = self.clusters.stability_.loc[
                0, ["estimate", "ci_low", "ci_high"]].to_dict()
        if self.ran("call_plan") and _ran(self.rep_kpis) and len(self.rep_kpis):
            latest = self.rep_kpis[self.rep_kpis["month"] == self.rep_kpis["month"].max()]
            summary["latest_month"] = latest["month"].max()
            planned = latest["planned"].sum()
            summary["latest_month_compliance"] = latest["actual"].sum() / planned if planned > 0 else None
            summary["reps_below_alert"] = len(self.alerts)
            summary["grade_a_unseen"] = len(self.unseen)
        if self.ran("account_segments") and _ran(self.accounts):
            summary["quadrant_counts"] = self.accounts["quadrant"].value_counts().sort_index().to_dict()
        return super().summary() | summary

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``doctors``, ``accounts`` and ``compliance`` always (header only when skipped);
        ``rep_kpis`` and ``funnel`` when the call plan ran."""
        tables = {"doctors": self.doctor_table(), "accounts": self.account_table()}
        tables["compliance"] = self.compliance[COMPLIANCE_COLUMNS] if _ran(self.compliance) else pd.DataFrame(
            columns=COMPLIANCE_COLUMNS)
        if _ran(self.rep_kpis):
            tables["rep_kpis"] = self.rep_kpis
        if _ran(self.funnel):
            tables["funnel"] = self.funnel
        return tables

    def doctor_table(self) -> pd.DataFrame:
        """``doctors.csv``: IDs, place, score, grade, decile, segment, value estimate; no personal field."""
        if not (_ran(self.graded) and _ran(self.indicators)):
            return pd.DataFrame(columns=DOCTOR_COLUMNS)
        value = present(self.value_estimate)
        columns = {"decile": self.deciles["decile"] if _ran(self.deciles) else None,
                   "segment": present(self.segments),
                   "value_estimate": None if value is None else value.round(3)}
        return doctor_output(self.indicators, self.graded, **columns)

    def account_table(self) -> pd.DataFrame:
        """``accounts.csv``: potential, adoption, quadrant, deciles (own and ``decile_<product>``)."""
        if not _ran(self.accounts):
            return pd.DataFrame(columns=ACCOUNT_COLUMNS)
        table = self.accounts[[c for c in ACCOUNT_COLUMNS if c in self.accounts]]
        if _ran(self.account_deciles):
            per_product = self.account_deciles.drop(columns="decile").reset_index()
            table = table.merge(per_product, on="account_id", how="left")
        return table


def doctor_output(indicators: pd.DataFrame, graded: pd.DataFrame, **columns) -> pd.DataFrame:
    """The ``doctors.csv`` table: IDs, place, grading, plus ``columns`` (Series by doctor_id).

    Only IDs and analysis results are kept: no name or other personal field.

    Examples
    --------
    >>> ind = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"], "region": ["N"], "territory_id": ["T1"],
    ...     "specialty": ["cardiology"], "tier": ["3A"], "title": ["chief"], "name": ["X"]})
    >>> list(doctor_output(ind, pd.DataFrame({"score": [80.0], "grade": ["A"]}), decile=pd.Series({"D1": 3})))
    ['doctor_id', 'score', 'grade', 'decile', 'account_id', 'region', 'territory_id', 'specialty', 'tier', 'title']
    """
    out = pd.DataFrame({"doctor_id": indicators["doctor_id"].to_numpy(),
                        "score": graded["score"].to_numpy().round(2), "grade": graded["grade"].to_numpy()})
    for name, values in columns.items():
        # a part that did not run (None) leaves its column empty rather than missing
        out[name] = np.nan if values is None else out["doctor_id"].map(values).to_numpy()
    for column in ("account_id", "region", "territory_id", "specialty", "tier", "title"):
        out[column] = indicators[column].to_numpy()
    return out


def _doctor_segments(behaviour: pd.DataFrame, clusters: BehaviourClusters, profiles: pd.DataFrame) -> pd.Series:
    """Segment name (the cluster's profile name) per doctor_id."""
    return profiles.set_index("cluster")["name"].reindex(clusters.labels_).set_axis(behaviour.index)


def run(data: str | Dataset = "data/sample", **params) -> SegmentationResult:
    """Grade and segment doctors and accounts, and measure the call plan.

    Parameters
    ----------
    data : str, Path or Dataset
        A data directory in the data contract, or a loaded dataset.
    **params
        :class:`SegmentationParams`.

    Examples
    --------
    >>> result = run("data/sample")  # doctest: +SKIP
    >>> result.summary()["grade_counts"]  # doctest: +SKIP
    {'A': 47, 'B': 69, 'C': 96, 'D': 88}
    """
    p = check_params(SegmentationParams, params)
    ds = load_data(data, p)
    parts = segmentation_parts(ds)
    quota = quota_from_params(p.flat())
    months = p.volume_months

    def step(part, func, *args, **kwargs):
        return run_part(parts, part, func, *args, **kwargs)

    indicators = step("doctor_grading", doctor_indicators, ds.doctors, ds.accounts, ds.prescriptions,
                      products=ds.products, volume_months=months)
    grader = step("doctor_grading", lambda ind: DoctorGrader(**grading_params(p.flat())).fit(ind), indicators)
    graded = step("doctor_grading", grade_doctors, grader, indicators)

    def value(lag):
        account_value = step("value_estimate", recent_sell_out, ds.sales, months=months, lag=lag,
                             products=ds.products)
        return step("value_estimate", doctor_value_estimate, indicators, grader, account_value,
                    power=p.apportion_power)

    def doctor_deciles_at(lag, fallback):
        return step("doctor_deciles", lambda: doctor_deciles(
            ds.prescriptions, products=ds.products, months=months, lag=lag, fallback=present(fallback)))

    def account_deciles_at(lag):
        return step("account_deciles", account_deciles, ds.sales, accounts=ds.accounts, products=ds.products,
                    months=months, lag=lag)

    value_estimate = value(0)
    value_check = step("value_check", value_vs_volume, indicators, value_estimate)
    deciles = doctor_deciles_at(0, value_estimate)
    deciles_before = doctor_deciles_at(months, value(months))
    accounts = step("account_segments", account_segments, ds.accounts, doctors=ds.doctors,
                    prescriptions=ds.prescriptions, sales=ds.sales, products=ds.products, months=months,
                    potential_split=p.potential_split, adoption_split=p.adoption_split)

    panel = step("clusters", doctor_month_panel, ds.doctors, ds.visits, ds.prescriptions, events=ds.events,
                 event_attendance=ds.event_attendance, products=ds.products, columns=PANEL_COLUMNS)
    behaviour = step("clusters", doctor_behaviour, panel, months=months)
    clusters = step("clusters", lambda b: BehaviourClusters(
        k_min=p.cluster_k_min, k_max=p.cluster_k_max, n_bootstrap=p.cluster_bootstrap,
        random_state=p.seed).fit(b), behaviour)
    profiles = step("clusters", lambda b, c: cluster_profiles(b, c.labels_), behaviour, clusters)
    segments = step("clusters", _doctor_segments, behaviour, clusters, profiles)

    own_products = own_product_ids(ds.products)
    compliance = step("call_plan", call_plan_compliance, ds.visits, ds.reps, graded, quota)
    rep_kpis = step("call_plan", sfe_kpis, compliance, quota, by="rep_id")
    quality = step("call_plan", visit_quality, ds.visits, product_ids=own_products,
                   **quality_from_params(p.flat()))
    return SegmentationResult(
        params=p, rejects=rejects_summary(ds), parts=parts, quota=quota,
        indicators=indicators, grader=grader, graded=graded,
        value_estimate=value_estimate, value_check=value_check, deciles=deciles, deciles_before=deciles_before,
        account_deciles=account_deciles_at(0), account_deciles_before=account_deciles_at(months),
        accounts=accounts, behaviour=behaviour, clusters=clusters, profiles=profiles, segments=segments,
        compliance=compliance, rep_kpis=rep_kpis,
        manager_kpis=step("call_plan", sfe_kpis, compliance, quota, by="manager_id"),
        alerts=step("call_plan", compliance_alerts, rep_kpis, p.compliance_alert),
        unseen=step("call_plan", unseen_doctors, ds.visits, graded, weeks=p.unseen_weeks),
        weekly=step("call_plan", weekly_plan_vs_actual, ds.visits, compliance, quota, doctor_grades=graded),
        rep_quality=step("call_plan", quality_by_rep, ds.visits, quality),
        funnel=step("funnel", adoption_funnel, graded, ds.visits, ds.prescriptions, quota,
                    product_ids=own_products, months=p.funnel_months),
        product_names=_brands(ds.products),
        visits=ds.visits, reps=ds.reps)


def _brands(products: pd.DataFrame | None) -> dict:
    """Brand per product ID, where the products table gives one."""
    if products is None or "brand" not in products:
        return {}
    named = products.dropna(subset=["brand"])
    return dict(zip(named["product_id"].astype(str), named["brand"].astype(str)))
