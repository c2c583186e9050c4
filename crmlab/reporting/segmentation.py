"""Segmentation report pieces: output tables, plots and the manager explorer (ipywidgets).

The explorer's callbacks only gather widget values and call
:func:`explorer_tables`, a pure function over crmlab features and models, so the
tables a manager sees are the ones a test can recompute.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlab.features.segmentation import (
    GRADES,
    PART_LABELS,
    _completed,
    call_plan_compliance,
    compliance_alerts,
    decile_migration,
    sfe_kpis,
)
from crmlab.features.segmentation import doctor_deciles as _doctor_deciles
from crmlab.models.segmentation import BehaviourClusters, DoctorGrader, cluster_profiles, grading_params

ALL = "All"


# ---------------------------------------------------------------------------- parts the data supports
@dataclass(frozen=True)
class Skipped:
    """Stands in for the result of a part the data cannot support, and says why.

    Displayed in the notebook (and report) as a one-line note; reporting functions
    given a ``Skipped`` return it unchanged, so a skipped part stays skipped down the
    notebook without a traceback or an empty plot.

    Examples
    --------
    >>> Skipped("call_plan", "doctors, visits")
    Call plan and SFE KPIs: not available - needs the doctors, visits table(s), missing or empty in this data; skipped.
    """

    part: str
    needs: str

    @property
    def note(self) -> str:
        label = PART_LABELS.get(self.part, self.part)
        return (f"{label}: not available - needs the {self.needs} table(s), missing or empty in this data; "
                "skipped.")

    def __repr__(self) -> str:
        return self.note

    def _repr_markdown_(self) -> str:
        return f"> **{self.note}**"


def skippable(func):
    """Decorator: return the first :class:`Skipped` positional argument instead of calling ``func``.

    Positional arguments are required inputs; keyword arguments are optional ones
    (e.g. the explorer's ``segments``) and are passed on, Skipped or not, for the
    function to treat as absent.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for value in args:
            if isinstance(value, Skipped):
                return value
        return func(*args, **kwargs)
    return wrapper


def present(value):
    """``value``, or None when it is :class:`Skipped` (for optional inputs)."""
    return None if isinstance(value, Skipped) else value


def run_part(parts: pd.DataFrame, part: str, func, *args, **kwargs):
    """``func(*args, **kwargs)`` when the data supports ``part``, else a :class:`Skipped` note.

    ``parts`` is :func:`crmlab.features.segmentation.segmentation_parts`. A
    :class:`Skipped` positional argument (an upstream part that did not run) also skips.

    Examples
    --------
    >>> from crmlab.features.segmentation import segmentation_parts
    >>> parts = segmentation_parts({"sales": pd.DataFrame({"units": [1.0]})})
    >>> run_part(parts, "call_plan", len, [1, 2])
    Call plan and SFE KPIs: not available - needs the doctors, reps, visits table(s), missing or empty in this data; skipped.
    >>> run_part(parts, "account_deciles", len, [1, 2])
    2
    """
    if part not in parts.index:
        raise ValueError(f"unknown segmentation part {part!r}; parts are {', '.join(parts.index)}")
    if not bool(parts.loc[part, "available"]):
        return Skipped(part, str(parts.loc[part, "needs"]))
    return skippable(func)(*args, **kwargs)


def parts_table(parts: pd.DataFrame) -> pd.DataFrame:
    """What runs on this data: one row per part, ``runs`` yes/no and what a skipped part needs."""
    return pd.DataFrame({"part": parts["label"].to_numpy(),
                         "runs": np.where(parts["available"], "yes", "no"),
                         "needs": parts["needs"].to_numpy()})


def parts_status(parts: pd.DataFrame) -> dict[str, str]:
    """``{part: "ran" | "skipped: needs ..."}`` for ``summary.json``."""
    return {part: ("ran" if row.available else f"skipped: needs {row.needs}")
            for part, row in parts.iterrows()}


@skippable
def view(table: pd.DataFrame, decimals: int = 3, rows: int | None = None) -> pd.DataFrame:
    """A table rounded to ``decimals`` and cut to its first ``rows`` rows, for display."""
    table = table.round(decimals)
    return table if rows is None else table.head(rows)


# ---------------------------------------------------------------------------- steps used by the notebook
@skippable
def fit_grader(indicators: pd.DataFrame, params: Mapping) -> DoctorGrader:
    """A :class:`DoctorGrader` from the flat parameters, fitted on ``indicators``."""
    return DoctorGrader(**grading_params(params)).fit(indicators)


@skippable
def grade_doctors(grader: DoctorGrader, indicators: pd.DataFrame) -> pd.DataFrame:
    """Where each doctor sits (region, territory, specialty) and the grader's points, score, grade."""
    graded = grader.transform(indicators)
    place = indicators[["region", "territory_id", "specialty"]].reset_index(drop=True)
    return pd.concat([graded.reset_index(drop=True).iloc[:, :1], place, graded.reset_index(drop=True).iloc[:, 1:]],
                     axis=1)


@skippable
def grading_weights(grader: DoctorGrader) -> pd.Series:
    """The weights the grader used (volume is 0 when there are no prescriptions)."""
    return pd.Series(grader.weights_, name="weight")


@skippable
def value_vs_volume(indicators: pd.DataFrame, value_estimate: pd.Series) -> pd.DataFrame:
    """Spearman correlation of the value estimate with the doctors' observed prescription volume."""
    table = indicators.assign(value_estimate=indicators["doctor_id"].map(value_estimate).to_numpy())
    return table[["volume", "value_estimate"]].corr(method="spearman").round(3)


@skippable
def doctor_deciles(prescriptions: pd.DataFrame, *, products: pd.DataFrame | None = None, months: int = 12,
                   lag: int = 0, fallback=None) -> pd.DataFrame:
    """:func:`crmlab.features.segmentation.doctor_deciles`; a skipped ``fallback`` counts as none."""
    return _doctor_deciles(prescriptions, products=products, months=months, lag=lag, fallback=present(fallback))


@skippable
def decile_counts(deciles: pd.DataFrame) -> pd.DataFrame:
    """Rows (doctors or accounts) per decile, one column per decile column."""
    return deciles.drop(columns="basis", errors="ignore").apply(pd.Series.value_counts).fillna(0).astype(int)


@skippable
def migration(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Decile migration (rows: earlier period, columns: latest) of the ``decile`` columns."""
    return decile_migration(before["decile"], after["decile"])


@skippable
def quadrant_table(accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts, potential and own volume per quadrant."""
    return accounts.groupby("quadrant")[["potential", "own_volume"]].agg(["size", "sum"]).round(1)


@skippable
def fit_clusters(behaviour: pd.DataFrame, *, k_min: int = 2, k_max: int = 8, n_bootstrap: int = 20,
                 random_state: int = 0) -> BehaviourClusters:
    """:class:`BehaviourClusters` fitted on the behaviour features."""
    return BehaviourClusters(k_min=k_min, k_max=k_max, n_bootstrap=n_bootstrap,
                             random_state=random_state).fit(behaviour)


@skippable
def cluster_selection(clusters: BehaviourClusters) -> pd.DataFrame:
    """Silhouette, BIC and inertia per k tried."""
    return clusters.selection_.round(3)


@skippable
def cluster_stability(clusters: BehaviourClusters) -> pd.DataFrame:
    """Bootstrap adjusted Rand index of the chosen clustering."""
    return clusters.stability_.round(3)


@skippable
def profile_clusters(behaviour: pd.DataFrame, clusters: BehaviourClusters) -> pd.DataFrame:
    """:func:`cluster_profiles` of the fitted clusters."""
    return cluster_profiles(behaviour, clusters.labels_)


@skippable
def doctor_segments(behaviour: pd.DataFrame, clusters: BehaviourClusters, profiles: pd.DataFrame) -> pd.Series:
    """Segment name (the cluster's profile name) per doctor_id."""
    return profiles.set_index("cluster")["name"].reindex(clusters.labels_).set_axis(behaviour.index)


@skippable
def latest_month(kpis: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Rows of the latest month of a KPI table, rounded."""
    return kpis[kpis["month"] == kpis["month"].max()].round(decimals)


@skippable
def last_weeks(weekly: pd.DataFrame, weeks: int = 4, rows: int = 16) -> pd.DataFrame:
    """The last ``weeks`` weeks of :func:`weekly_plan_vs_actual`, first ``rows`` rows, rounded."""
    recent = weekly[weekly["week"] >= weekly["week"].max() - pd.Timedelta(weeks=weeks - 1)]
    return recent.round(2).head(rows)


@skippable
def quality_by_rep(visits: pd.DataFrame, quality: pd.Series) -> pd.DataFrame:
    """Visits and mean visit quality per rep."""
    return visits.assign(quality=quality).groupby("rep_id")["quality"].agg(["size", "mean"]).round(1)


@skippable
def explorer_widget(explorer: "SegmentationExplorer"):
    """The explorer's widget box, to display."""
    return explorer.widget


@skippable
def explorer_table(explorer: "SegmentationExplorer", name: str) -> pd.DataFrame:
    """One of the explorer's current tables (``grades``, ``segments``, ``compliance``)."""
    return explorer.tables[name]


COMPLIANCE_COLUMNS = ["rep_id", "month", "grade", "doctors", "planned", "actual", "compliance"]
DOCTOR_COLUMNS = ["doctor_id", "score", "grade", "decile", "segment", "value_estimate", "account_id", "region",
                  "territory_id", "specialty", "tier", "title"]
ACCOUNT_COLUMNS = ["account_id", "potential", "adoption", "quadrant", "decile", "region", "territory_id",
                   "account_type", "own_volume", "potential_source"]


def _ran(value) -> bool:
    return not isinstance(value, Skipped)


def segmentation_summary(parts: pd.DataFrame, *, graded, grader, clusters, rep_kpis, unseen, accounts,
                         compliance_alert: float) -> dict:
    """The ``summary.json`` content; keys of skipped parts are ``null`` and ``parts`` says why.

    Examples
    --------
    >>> from crmlab.features.segmentation import segmentation_parts
    >>> parts = segmentation_parts({})
    >>> s = segmentation_summary(parts, graded=Skipped("doctor_grading", "doctors"), grader=None, clusters=None,
    ...     rep_kpis=None, unseen=None, accounts=Skipped("account_segments", "sales"), compliance_alert=0.8)
    >>> s["grade_counts"], s["parts"]["doctor_grading"]
    (None, 'skipped: needs doctors')
    """
    ran = {part: bool(parts.loc[part, "available"]) for part in parts.index}
    summary = {"parts": parts_status(parts), "doctors": None, "grade_counts": None,
               "volume_used_in_grading": None, "value_estimate": None, "clusters": None,
               "cluster_silhouette": None, "cluster_stability_ari": None, "latest_month": None,
               "latest_month_compliance": None, "reps_below_alert": None, "grade_a_unseen": None,
               "quadrant_counts": None}
    if ran["doctor_grading"] and _ran(graded):
        summary["doctors"] = len(graded)
        summary["grade_counts"] = grade_table(graded).set_index("grade")["doctors"].to_dict()
        summary["volume_used_in_grading"] = grader.volume_used_
    if ran["value_estimate"]:
        summary["value_estimate"] = "account own-product sell-out apportioned by grading score without volume"
    if ran["clusters"] and _ran(clusters):
        summary["clusters"] = clusters.n_clusters_
        summary["cluster_silhouette"] = clusters.silhouette_
        summary["cluster_stability_ari"] = clusters.stability_.loc[0, ["estimate", "ci_low", "ci_high"]].to_dict()
    if ran["call_plan"] and _ran(rep_kpis) and len(rep_kpis):
        latest = rep_kpis[rep_kpis["month"] == rep_kpis["month"].max()]
        summary["latest_month"] = latest["month"].max()
        planned = latest["planned"].sum()
        summary["latest_month_compliance"] = latest["actual"].sum() / planned if planned > 0 else None
        summary["reps_below_alert"] = len(compliance_alerts(rep_kpis, compliance_alert))
        summary["grade_a_unseen"] = len(unseen)
    if ran["account_segments"] and _ran(accounts):
        summary["quadrant_counts"] = accounts["quadrant"].value_counts().sort_index().to_dict()
    return summary


def segmentation_outputs(*, indicators, graded, deciles, segments, value_estimate, accounts, account_deciles,
                         compliance, rep_kpis, funnel) -> dict[str, pd.DataFrame]:
    """The CSV tables of ``crmlab run segmentation``.

    ``doctors``, ``accounts`` and ``compliance`` are always written (header only when
    their part was skipped, as the data contract does for an empty table);
    ``rep_kpis`` and ``funnel`` only when the call plan ran. Per-product account
    deciles (``decile_<product>``) join ``accounts`` when sales are present.
    """
    tables = {}
    if _ran(graded) and _ran(indicators):
        columns = {name: present(values)
                   for name, values in (("decile", deciles["decile"] if _ran(deciles) else deciles),
                                        ("segment", segments), ("value_estimate", value_estimate))}
        columns = {k: (v.round(3) if k == "value_estimate" and v is not None else v) for k, v in columns.items()}
        tables["doctors"] = doctor_output(indicators, graded, **columns)
    else:
        tables["doctors"] = pd.DataFrame(columns=DOCTOR_COLUMNS)
    if _ran(accounts):
        table = accounts[[c for c in ACCOUNT_COLUMNS if c in accounts]]
        if _ran(account_deciles):
            per_product = account_deciles.drop(columns="decile").reset_index()
            table = table.merge(per_product, on="account_id", how="left")
        tables["accounts"] = table
    else:
        tables["accounts"] = pd.DataFrame(columns=ACCOUNT_COLUMNS)
    tables["compliance"] = compliance[COMPLIANCE_COLUMNS] if _ran(compliance) else pd.DataFrame(
        columns=COMPLIANCE_COLUMNS)
    if _ran(rep_kpis):
        tables["rep_kpis"] = rep_kpis
    if _ran(funnel):
        tables["funnel"] = funnel
    return tables


# ---------------------------------------------------------------------------- tables
@skippable
def grade_table(graded: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Doctors per grade (A–D, all present), with shares; per ``by`` column if given.

    Examples
    --------
    >>> grade_table(pd.DataFrame({"grade": ["A", "B", "B"]}))["doctors"].tolist()
    [1, 2, 0, 0]
    """
    if by is None:
        counts = graded["grade"].value_counts().reindex(list(GRADES), fill_value=0)
        out = pd.DataFrame({"grade": list(GRADES), "doctors": counts.to_numpy().astype(int)})
        out["share"] = (out["doctors"] / max(int(out["doctors"].sum()), 1)).round(3)
        return out
    table = pd.crosstab(graded[by], graded["grade"]).reindex(columns=list(GRADES), fill_value=0)
    table.columns.name = None
    return table


@skippable
def grade_shift(indicators: pd.DataFrame, params: Mapping, changes: Mapping) -> pd.DataFrame:
    """Doctors by grade under ``params`` (rows) and under ``params`` updated by ``changes`` (columns).

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.segmentation import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> int(grade_shift(ind, {}, {"weight_tier": 0.6}).to_numpy().sum())
    300
    """
    before = DoctorGrader(**grading_params(params)).fit(indicators).predict(indicators)
    after = DoctorGrader(**grading_params({**params, **changes})).fit(indicators).predict(indicators)
    table = pd.crosstab(pd.Series(before, name="grade_before"), pd.Series(after, name="grade_after"))
    return table.reindex(index=list(GRADES), columns=list(GRADES), fill_value=0)


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


# ---------------------------------------------------------------------------- explorer
def explorer_tables(indicators: pd.DataFrame, visits: pd.DataFrame, reps: pd.DataFrame, *,
                    params: Mapping, quota: Mapping[str, float], segments: pd.Series | None = None,
                    region: str = ALL, territory: str = ALL, specialty: str = ALL,
                    month: pd.Timestamp | None = None) -> dict[str, pd.DataFrame]:
    """The explorer's three tables for one choice of grading parameters and filters.

    The grader is fitted on all doctors (percentiles do not move with the filters);
    the filters select the doctors shown and the doctors that count in the plan.

    Returns
    -------
    dict
        ``grades`` (doctors and share per grade), ``segments`` (segment × grade counts),
        ``compliance`` (per rep in ``month``, default the latest visit month: target
        doctors, planned, actual, compliance, reach, grade-A coverage).

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.segmentation import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> t = explorer_tables(ind, w.tables["visits"], w.tables["reps"], params={}, quota={"A": 4, "B": 2})
    >>> sorted(t)
    ['compliance', 'grades', 'segments']
    """
    graded = DoctorGrader(**grading_params(params)).fit(indicators).transform(indicators)
    view = indicators[["doctor_id", "region", "territory_id", "specialty"]].assign(
        grade=graded["grade"].to_numpy(), score=graded["score"].to_numpy())
    keep = np.ones(len(view), dtype=bool)
    for column, choice in (("region", region), ("territory_id", territory), ("specialty", specialty)):
        if choice not in (None, ALL):
            keep &= (view[column] == choice).to_numpy()
    view = view[keep]
    if segments is None:
        view = view.assign(segment="all")
    else:
        view = view.assign(segment=view["doctor_id"].map(segments).fillna("none").to_numpy())
    segment_table = grade_table(view, by="segment").reset_index().rename(columns={"index": "segment"})

    columns = ["rep_id", "target_doctors", "planned", "actual", "compliance", "reach", "a_coverage"]
    if visits is None or reps is None or not len(reps) or not len(_completed(visits)):
        # no field-force data (e.g. doctor profiles without a CRM): grades only
        kpis = pd.DataFrame(columns=columns)
    else:
        visit_month = visits["date"].dt.to_period("M").dt.to_timestamp()
        month = visit_month.max() if month is None else pd.Timestamp(month)
        compliance = call_plan_compliance(visits[visit_month == month], reps, view, quota,
                                          months=pd.DatetimeIndex([month]))
        kpis = sfe_kpis(compliance, quota)
        kpis = kpis[columns].round(3) if len(kpis) else pd.DataFrame(columns=columns)
    return {"grades": grade_table(view), "segments": segment_table, "compliance": kpis.reset_index(drop=True)}


class SegmentationExplorer:
    """Sliders for grading weights and thresholds, dropdowns for region/territory/specialty.

    Moving a control recomputes :func:`explorer_tables` and rewrites the three HTML
    tables. ``tables`` holds the DataFrames currently shown; ``widget`` is the box to
    display.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.segmentation import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> ex = SegmentationExplorer(ind, w.tables["visits"], w.tables["reps"], params={}, quota={"A": 4})
    >>> ex.thresholds["A"].value = 90.0
    >>> int(ex.tables["grades"].loc[0, "doctors"]) < 50
    True
    """

    def __init__(self, indicators: pd.DataFrame, visits: pd.DataFrame, reps: pd.DataFrame, *,
                 params: Mapping, quota: Mapping[str, float], segments: pd.Series | None = None):
        import ipywidgets as widgets

        self._data = dict(indicators=indicators, visits=visits, reps=reps)
        self._quota = dict(quota)
        # segments of a skipped clustering part: show one "all" segment
        self._segments = present(segments)
        self._params = dict(params)
        grading = grading_params(params)
        style = {"description_width": "90px"}
        self.weights = {k: widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.05, description=f"w {k}",
                                               continuous_update=False, style=style)
                        for k, v in grading["weights"].items()}
        self.thresholds = {g: widgets.FloatSlider(value=v, min=0.0, max=100.0, step=1.0, description=f"{g} from",
                                                  continuous_update=False, style=style)
                           for g, v in grading["thresholds"].items()}

        def options(column):
            return [ALL, *sorted(indicators[column].dropna().astype(str).unique())]

        self.region = widgets.Dropdown(options=options("region"), value=ALL, description="region", style=style)
        self.territory = widgets.Dropdown(options=options("territory_id"), value=ALL, description="territory",
                                          style=style)
        self.specialty = widgets.Dropdown(options=options("specialty"), value=ALL, description="specialty",
                                          style=style)
        self.html = {name: widgets.HTML() for name in ("grades", "segments", "compliance")}
        for control in [*self.weights.values(), *self.thresholds.values(), self.region, self.territory,
                        self.specialty]:
            control.observe(self.update, names="value")
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(list(self.weights.values())),
                          widgets.VBox([*self.thresholds.values()]),
                          widgets.VBox([self.region, self.territory, self.specialty])]),
            widgets.HBox([self.html["grades"], self.html["segments"]]),
            self.html["compliance"],
        ])
        self.tables: dict[str, pd.DataFrame] = {}
        self.update()

    def current_params(self) -> dict:
        """The flat grading parameters the controls currently say."""
        params = dict(self._params)
        params.update({f"weight_{k}": s.value for k, s in self.weights.items()})
        params.update({f"grade_{g.lower()}_min": s.value for g, s in self.thresholds.items()})
        return params

    def update(self, change=None) -> None:
        """Recompute and redraw the tables (the callback of every control)."""
        try:
            self.tables = explorer_tables(**self._data, params=self.current_params(), quota=self._quota,
                                          segments=self._segments, region=self.region.value,
                                          territory=self.territory.value, specialty=self.specialty.value)
        except ValueError as err:  # e.g. thresholds out of order while a slider moves
            self.html["grades"].value = f"<p><b>{err}</b></p>"
            return
        for name, table in self.tables.items():
            self.html[name].value = f"<h4>{name}</h4>" + table.to_html(index=False, na_rep="")
        if not len(self.tables["compliance"]):
            self.html["compliance"].value = "<h4>compliance</h4><p>No completed visits (or no reps) in the data.</p>"


# ---------------------------------------------------------------------------- plots
@skippable
def plot_grade_distribution(graded: pd.DataFrame, *, by: str = "region", ax=None):
    """Stacked bars: share of doctors in each grade per ``by``."""
    import matplotlib.pyplot as plt

    table = grade_table(graded, by=by)
    share = table.div(table.sum(axis=1), axis=0)
    ax = ax or plt.subplots()[1]
    share.plot.bar(stacked=True, ax=ax, colormap="viridis", width=0.8)
    ax.set_ylabel("share of doctors")
    ax.set_xlabel(by)
    ax.set_title(f"Grade distribution by {by}")
    ax.legend(title="grade", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


@skippable
def plot_potential_adoption(accounts: pd.DataFrame, *, ax=None):
    """Scatter of account potential (log scale) × adoption, with the quadrant cut lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots()[1]
    shown = accounts[(accounts["potential"] > 0) & accounts["adoption"].notna()]
    for quadrant, group in shown.groupby("quadrant"):
        ax.scatter(group["potential"], group["adoption"], label=quadrant, s=18, alpha=0.8)
    ax.set_xscale("log")
    ax.axvline(accounts["potential_cut"].iloc[0], color="grey", lw=1, ls="--")
    ax.axhline(accounts["adoption_cut"].iloc[0], color="grey", lw=1, ls="--")
    ax.set_xlabel("potential (monthly category volume, log scale)")
    ax.set_ylabel("adoption (own volume / potential)")
    ax.set_title("Accounts: potential × adoption")
    ax.legend(title="quadrant", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


@skippable
def plot_cluster_selection(selection: pd.DataFrame, *, axes=None):
    """Silhouette (higher is better) and BIC (lower is better) by number of clusters."""
    import matplotlib.pyplot as plt

    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(9, 3.5))[1]
    axes[0].plot(selection["k"], selection["silhouette"], marker="o")
    axes[0].set(xlabel="clusters k", ylabel="silhouette", title="Silhouette (higher is better)")
    axes[1].plot(selection["k"], selection["bic"], marker="o", color="C1")
    axes[1].set(xlabel="clusters k", ylabel="BIC", title="Gaussian mixture BIC (lower is better)")
    return axes


@skippable
def plot_cluster_profiles(profiles: pd.DataFrame, *, ax=None):
    """Heat map of the clusters' feature means, standardised across clusters."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    features = profiles.drop(columns=["cluster", "name", "doctors"])
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    z.index = [f"{c}: {n} ({d})" for c, n, d in zip(profiles["cluster"], profiles["name"], profiles["doctors"])]
    ax = ax or plt.subplots()[1]
    sns.heatmap(z, annot=features.round(2).to_numpy(), fmt="", cmap="RdBu_r", center=0, ax=ax, cbar=False)
    ax.set_title("Cluster profiles (colour: standardised mean; number: mean)")
    return ax


@skippable
def plot_compliance_heatmap(kpis: pd.DataFrame, *, by: str = "rep_id", max_rows: int = 40, ax=None):
    """Heat map of compliance, ``by`` (rep) × month; at most ``max_rows`` rows, lowest mean first.

    A national field force has thousands of reps: the map shows those with the lowest
    mean compliance, where a manager looks first.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = kpis.pivot_table(index=by, columns=kpis["month"].dt.strftime("%Y-%m"), values="compliance")
    if len(table) > max_rows:
        table = table.loc[table.mean(axis=1).sort_values(kind="stable").index[:max_rows]]
    ax = ax or plt.subplots(figsize=(10, max(3.0, 0.25 * len(table))))[1]
    sns.heatmap(table, cmap="RdYlGn", vmin=0, vmax=1.5, center=1.0, ax=ax,
                cbar_kws={"label": "compliance (actual / planned)"})
    ax.set_xlabel("month")
    ax.set_title("Call plan compliance")
    return ax
