"""Call plan: how often to see each doctor, from the measured response, within the field force we have.

1. **Response per doctor.** Attribution's visit model (:class:`~crmlab.models.attribution.VisitLift`:
   doctor and month × size fixed effects, carry-over, within-month saturation, channel
   weights) with the effect per visit varying by what is observable before a visit:
   a smooth function of the potential percentile, specialty, title and account tier
   (:class:`~crmlab.models.callplan.HeterogeneousVisitResponse`). Where the data show
   reps chasing demand and territory capacity shocks give a strong instrument,
   attribution's IV design rescales the effects (``correct_for_chasing``). Lapsed doctors
   get no response; doctors with little history get their segment's effect with a wider
   interval.
2. **Allocation.** Each territory's capacity (completed visits a month over the last
   ``capacity_months``, or given) goes to the doctors with the largest marginal return,
   within ``min_visits``/``max_visits`` and a must-see list
   (:func:`~crmlab.models.callplan.allocate`).
3. **Comparison** of the current, grade-quota and recommended plans, each with a
   ``1 - alpha`` interval from drawing the effects from their sampling distribution, and
   the capacity curve from −50% to +50%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlab.analyses.attribution import AttributionParams
from crmlab.analyses.attribution.designs import visit_designs
from crmlab.analyses.base import (AnalysisResult, ParameterError, Params, check_params, contract_tables, load_data,
                                  param)
from crmlab.config import load_params, resolve_path
from crmlab.distributed import on_backend
from crmlab.features.attribution import analysed_product, detailing_by_channel, outcome_panel, unit_size
from crmlab.features.callplan import quota_from_params
from crmlab.features.common import completed_visits
from crmlab.features.indicators import doctor_indicators
from crmlab.features.panels import month_range, month_start
from crmlab.io import Dataset
from crmlab.models.attribution import VisitLift
from crmlab.models.attribution.visits import CHANNEL_GROUPS
from crmlab.models.callplan import (HeterogeneousVisitResponse, allocate, doctor_intervals, draw_totals,
                                    saturating_value)
from crmlab.models.segmentation import DoctorGrader, grade_doctors, grading_params
from crmlab.models.uncertainty import z_value

TABLES = ("accounts", "doctors", "visits", "products", "prescriptions", "reps", "rep_absences", "sales")
PLANS = ("current", "grade_quota", "recommended")
PLAN_COLUMNS = ["doctor_id", "territory_id", "segment", "current_visits_per_month", "recommended_visits_per_month",
                "expected_incremental_units", "lower", "upper"]
CURVE_STEPS = tuple(range(-50, 51, 10))


@dataclasses.dataclass(frozen=True)
class CallplanParams(Params):
    """Parameters of the call plan (``params/callplan.yaml``)."""

    product_id: str = param("", "product whose response is planned; empty = the most-detailed own product")
    capacity_months: int = param(6, "current plan and default capacity: completed visits a month over these "
                                    "last months")
    capacity_per_rep: float | None = param(None, "visits a month per rep for every territory (None = measured)")
    capacity_file: str = param("", "CSV of territory_id (or rep_id) and capacity (visits a month); '' = none")
    min_visits: float = param(0.0, "visits a month every prescribing doctor gets at least")
    max_visits: float = param(6.0, "visits a month no doctor gets more than")
    must_see_file: str = param("", "CSV with a doctor_id column: doctors seen at least must_see_visits a month")
    must_see_visits: float = param(1.0, "visits a month of a must-see doctor")
    step: float = param(0.1, "granularity of the plan, visits a month")
    unit_price: float | None = param(None, "price per unit: with cost_per_visit, maximise profit instead of units")
    cost_per_visit: float = param(0.0, "cost of a completed visit (used with unit_price)")
    lapsed_months: int = param(3, "lapsed = no prescriptions of the product in the last lapsed_months months")
    min_history_months: int = param(12, "doctors prescribing in fewer months get their segment's effect")
    n_knots: int = param(5, "knots of the smooth effect of potential (< 2: no potential term)")
    correct_for_chasing: bool = param(True, "rescale by attribution's IV design when it is the main design")
    n_draws: int = param(300, "draws of the effects for the plans' intervals")
    n_bins: int = param(10, "size bins of the month x size fixed effects")
    max_units: int | None = param(20000, "fit the visit model on a seeded sample of this many doctors")
    alpha: float = param(0.05, "intervals cover 1 - alpha (0.05: 95%)")


@dataclasses.dataclass
class CallplanResult(AnalysisResult):
    """The recommended call plan and its comparison with the current and grade-quota plans.

    Attributes
    ----------
    product_id : str
    months : DatetimeIndex
    doctors : DataFrame
        One row per doctor: territory, segment, covariates, status (``prescribing``,
        ``thin history``, ``lapsed``), estimated effect with interval, the three plans and
        the expected incremental units of the recommended one.
    territories : DataFrame
        Capacity and each plan's value with intervals, per territory.
    plans : DataFrame
        Per plan: visits a month, expected incremental units a month with interval.
    capacity_curve : DataFrame
        Capacity change (%), visits, expected incremental units with interval.
    segments : DataFrame
        Estimated effect per segment beside the naive one.
    response : HeterogeneousVisitResponse
    lift : VisitLift
    scale : float
        Factor applied to the fixed-effects response (the IV over fixed-effects ratio, else 1).
    effective_per_visit : float
        Channel-weighted detailing of the product per completed visit.
    gain : dict
        Recommended minus current, units a month: ``estimate, ci_low, ci_high``.
    notes : list of str
    """

    product_id: str
    months: pd.DatetimeIndex
    doctors: pd.DataFrame
    territories: pd.DataFrame
    plans: pd.DataFrame
    capacity_curve: pd.DataFrame
    segments: pd.DataFrame
    response: HeterogeneousVisitResponse
    lift: VisitLift
    scale: float
    scale_reason: str
    effective_per_visit: float
    gain: dict
    notes: list

    @property
    def plan(self) -> pd.DataFrame:
        """``plan.csv``: per doctor, the current and recommended visits and the expected units (no names)."""
        return self.doctors[PLAN_COLUMNS]

    @property
    def changes(self) -> pd.DataFrame:
        """Per territory, the doctors to see more and to see less, largest changes first."""
        d = self.doctors.assign(change=self.doctors["recommended_visits_per_month"]
                                - self.doctors["current_visits_per_month"])
        d = d[d["change"].abs() >= 0.5 - 1e-9]
        d = d.assign(direction=np.where(d["change"] > 0, "see more", "see less"), size=d["change"].abs())
        d = d.sort_values(["territory_id", "direction", "size"], ascending=[True, True, False], kind="stable")
        return d[["territory_id", "direction", "doctor_id", "segment", "status", "current_visits_per_month",
                  "recommended_visits_per_month", "change", "expected_incremental_units"]].reset_index(drop=True)

    def value_at(self, capacity_factor: float) -> pd.DataFrame:
        """The recommended plan with every territory's capacity times ``capacity_factor``."""
        return replan(self, capacity_factor)

    def summary(self) -> dict:
        plans = self.plans.set_index("plan")
        moved = float((self.doctors["recommended_visits_per_month"] - self.doctors["current_visits_per_month"])
                      .abs().sum() / 2 / max(self.doctors["current_visits_per_month"].sum(), 1e-9))
        return super().summary() | {
            "product_id": self.product_id,
            "months": {"first": str(self.months[0].date()), "last": str(self.months[-1].date()), "n": len(self.months)},
            "doctors": int(len(self.doctors)),
            "doctors_by_status": {str(k): int(v) for k, v in self.doctors["status"].value_counts().sort_index().items()},
            "territories": int(len(self.territories)),
            "capacity_visits_per_month": float(self.territories["capacity"].sum()),
            "gain": self.gain,
            "gain_pct": self.gain["estimate"] / max(plans.loc["current", "expected_incremental_units"], 1e-9),
            "share_of_visits_moved": moved,
            "plans": self.plans.to_dict("records"),
            "capacity_curve": self.capacity_curve.to_dict("records"),
            "response": {"decay": self.response.decay_, "saturation": self.response.saturation_,
                         "saturation_std_error": self.response.saturation_se_,
                         "effective_per_visit": self.effective_per_visit, "scale": self.scale,
                         "scale_reason": self.scale_reason, "coefficients": dict(zip(self.response.columns_,
                                                                                     self.response.coef_.tolist()))},
            "objective": "profit" if self.params.unit_price is not None else "units",
            "notes": self.notes,
        }

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"plan": self.plan, "territories": self.territories, "changes": self.changes,
                "plans": self.plans, "capacity_curve": self.capacity_curve, "segments": self.segments}


# ---------------------------------------------------------------------------- inputs
def _check(tables: dict) -> None:
    needs = {"prescriptions": "doctor-level prescriptions (the response is measured per doctor)",
             "doctors": "the doctors", "accounts": "the accounts and their territory_id",
             "visits": "the visits (current plan and capacity)"}
    for name, why in needs.items():
        if not len(tables[name]):
            raise ValueError(f"callplan needs the '{name}' table ({why}); it is empty or missing")
    if "territory_id" not in tables["accounts"]:
        raise ValueError("callplan: table 'accounts' has no column 'territory_id' (each doctor's territory)")


def _read_csv(path: str, what: str, columns: tuple) -> pd.DataFrame:
    file = resolve_path(path)
    if not file.is_file():
        raise ParameterError(f"{what}: file {file} not found")
    frame = pd.read_csv(file, dtype=str)
    if not any(c in frame for c in columns):
        raise ParameterError(f"{what}: file {file} needs a column {' or '.join(columns)}; it has "
                             f"{', '.join(frame.columns)}")
    return frame


def _doctor_frame(tables: dict, panel: pd.DataFrame, months: pd.DatetimeIndex, params: CallplanParams) -> pd.DataFrame:
    """Doctor covariates, territory, prescribing history and the current plan."""
    doctors, accounts = tables["doctors"], tables["accounts"]
    ids = doctors["doctor_id"].astype(str)
    acc = accounts.assign(account_id=accounts["account_id"].astype(str)).set_index("account_id")
    account = doctors["account_id"].astype(str)
    frame = pd.DataFrame({"doctor_id": ids.to_numpy(),
                          "territory_id": acc["territory_id"].astype(str).reindex(account).to_numpy(),
                          "specialty": doctors.get("specialty", pd.Series("", index=doctors.index)).astype(str).to_numpy(),
                          "title": doctors.get("title", pd.Series("", index=doctors.index)).astype(str).to_numpy(),
                          "tier": (acc["tier"].astype(str).reindex(account).to_numpy() if "tier" in acc
                                   else np.full(len(doctors), ""))})
    no_territory = frame["territory_id"].isin(["nan", "None", "<NA>"]) | frame["territory_id"].isna()
    if no_territory.any():
        raise ValueError(f"callplan: {int(no_territory.sum())} doctors have no territory (their account is not in "
                         f"'accounts' or has no territory_id), e.g. {frame.loc[no_territory, 'doctor_id'].head(3).tolist()}")
    frame = frame.set_index("doctor_id")
    trx = panel.pivot_table(index="doctor_id", columns="month", values="trx", aggfunc="sum", observed=True)
    trx = trx.reindex(index=frame.index, columns=months).fillna(0.0)
    positive = trx.to_numpy() > 0
    frame["months_prescribing"] = positive.sum(axis=1)
    mean = np.where(frame["months_prescribing"] > 0, trx.to_numpy().sum(axis=1) / np.maximum(positive.sum(axis=1), 1), 0)
    frame["volume_per_month"] = mean
    frame["potential_rank"] = pd.Series(mean, index=frame.index).rank(pct=True).to_numpy()
    recent = positive[:, -params.lapsed_months:].any(axis=1)
    frame["status"] = np.where(~recent, "lapsed", np.where(frame["months_prescribing"] < params.min_history_months,
                                                           "thin history", "prescribing"))
    quintile = np.minimum((frame["potential_rank"].to_numpy() * 5).astype(int), 4) + 1
    frame["segment"] = [f"Q{q} {s}" for q, s in zip(quintile, frame["specialty"])]
    frame["potential_quintile"] = [f"Q{q}" for q in quintile]
    # the current plan: completed visits a month (any product) over the last capacity_months
    visits = completed_visits(tables["visits"], ["doctor_id", "date"])
    recent_months = months[-params.capacity_months:]
    vm = month_start(visits["date"])
    window = visits[(vm >= recent_months[0]) & (vm <= recent_months[-1])]
    per_doctor = window.groupby(window["doctor_id"].astype(str)).size()
    frame["current_visits_per_month"] = per_doctor.reindex(frame.index).fillna(0).to_numpy() / len(recent_months)
    return frame


def _capacity(tables: dict, frame: pd.DataFrame, params: CallplanParams) -> tuple[pd.Series, str]:
    """Visits a month per territory, and where the number comes from."""
    measured = frame.groupby("territory_id")["current_visits_per_month"].sum()
    if params.capacity_file:
        given = _read_csv(params.capacity_file, "capacity_file", ("territory_id", "rep_id"))
        if "capacity" not in given:
            raise ParameterError("capacity_file: needs a 'capacity' column (visits a month)")
        values = pd.to_numeric(given["capacity"], errors="coerce")
        if values.isna().any() or (values < 0).any():
            bad = given.index[values.isna() | (values < 0)].tolist()[:5]
            raise ParameterError(f"capacity_file: 'capacity' must be a number >= 0; rows {bad} are not")
        given = given.assign(capacity=values)
        if "territory_id" not in given:
            reps = tables["reps"].assign(rep_id=tables["reps"]["rep_id"].astype(str))
            given = given.merge(reps[["rep_id", "territory_id"]], on="rep_id", how="left")
        out = given.groupby(given["territory_id"].astype(str))["capacity"].sum()
        missing = measured.index.difference(out.index)
        if len(missing):
            raise ParameterError(f"capacity_file: no capacity for territories {', '.join(missing[:5])}")
        return out.reindex(measured.index), "given per territory or rep (capacity_file)"
    if params.capacity_per_rep is not None:
        reps = tables["reps"]
        active = reps[reps["end_date"].isna()] if "end_date" in reps else reps
        count = active.groupby(active["territory_id"].astype(str)).size().reindex(measured.index).fillna(0)
        return count * params.capacity_per_rep, f"{params.capacity_per_rep:g} visits a month per rep in post"
    return measured, f"completed visits a month over the last {params.capacity_months} months"


def _quota_plan(tables: dict, frame: pd.DataFrame, capacity: pd.Series, params: CallplanParams) -> np.ndarray:
    """Segmentation's grade quotas (params/segmentation.yaml), scaled to each territory's capacity."""
    seg = load_params("segmentation")
    indicators = doctor_indicators(tables["doctors"], tables["accounts"], tables["prescriptions"],
                                   products=tables["products"] if len(tables["products"]) else None,
                                   volume_months=int(seg.get("volume_months", 12)))
    graded = grade_doctors(DoctorGrader(**grading_params(seg)).fit(indicators), indicators)
    grade = graded.set_index(graded["doctor_id"].astype(str))["grade"].reindex(frame.index)
    quota = quota_from_params(seg)
    raw = grade.map(quota).fillna(0.0).to_numpy(float)
    total = pd.Series(raw, index=frame.index).groupby(frame["territory_id"]).transform("sum").to_numpy()
    cap = capacity.reindex(frame["territory_id"]).to_numpy()
    return np.where(total > 0, raw * cap / np.maximum(total, 1e-9), 0.0)


def _effective_per_visit(counts: pd.DataFrame, weights: dict, frame: pd.DataFrame, months) -> float:
    """Channel-weighted product detailing per completed visit, over the current-plan window."""
    recent = counts[counts["month"].isin(months)]
    effective = 0.0
    for group, channels in CHANNEL_GROUPS.items():
        for c in channels:
            if f"detailing_{c}" in recent:
                effective += weights.get(group, weights.get("other", 1.0)) * recent[f"detailing_{c}"].sum()
    completed = frame["current_visits_per_month"].sum() * len(months)
    return float(effective / completed) if completed > 0 else 0.0


# ---------------------------------------------------------------------------- run
@on_backend
def run(data: str | Dataset | Mapping = "data/sample", **params) -> CallplanResult:
    """Recommend visits a month per doctor within each territory's capacity.

    Parameters
    ----------
    data : str, Path, Dataset or mapping of DataFrames
        A data directory in the data contract, a loaded dataset, or contract tables by name.
    **params
        :class:`CallplanParams`.

    Examples
    --------
    >>> result = run("data/sample")  # doctest: +SKIP
    >>> result.summary()["gain"]  # doctest: +SKIP
    """
    p = check_params(CallplanParams, params)
    if not 0 < p.alpha < 1:
        raise ParameterError(f"parameter 'alpha' must be between 0 and 1, got {p.alpha!r}")
    if p.capacity_months < 1 or p.step <= 0 or p.max_visits < p.min_visits or p.n_draws < 10:
        raise ParameterError("parameters: capacity_months >= 1, step > 0, max_visits >= min_visits and "
                             "n_draws >= 10 are needed")
    if not isinstance(data, Mapping):
        data = load_data(data, p)
    tables, rejects = contract_tables(data, p, TABLES)
    _check(tables)
    product_id = p.product_id or analysed_product(tables["visits"], tables["products"], tables["prescriptions"])
    months = month_range(tables["prescriptions"]["month"])
    size_bin, size = unit_size(tables, months, doctor_level=True, n_bins=p.n_bins)
    panel = outcome_panel(tables, product_id, months, doctor_level=True, size_bin=size_bin, size=size)
    counts = detailing_by_channel(tables["visits"], tables["doctors"], months, product_id)
    notes = []
    scale, scale_reason = 1.0, "fixed effects (no IV correction asked)"
    attribution = AttributionParams(product_id=p.product_id, seed=p.seed, max_units=p.max_units, alpha=p.alpha,
                                    n_bins=p.n_bins)
    lift, iv, skipped = visit_designs(data, tables, months, panel, counts, product_id, notes, attribution,
                                      with_iv=p.correct_for_chasing)
    if p.correct_for_chasing:
        fe = lift.results_.effect("per_visit_long_run")["estimate"]
        if iv is not None and iv.results_.design == "iv" and fe > 0:
            scale = max(iv.results_.effect("per_visit_long_run")["estimate"] / fe, 0.0)
            scale_reason = (f"reps chase demand and capacity shocks are a strong instrument: the fixed-effects "
                            f"response is scaled by the IV over fixed-effects ratio, {scale:.2f}")
        elif iv is not None:
            scale_reason = "fixed effects: " + iv.results_.finding()
        else:
            scale_reason = f"fixed effects (the capacity-shock IV could not be fitted: {skipped})"

    frame = _doctor_frame(tables, panel, months, p)
    response = HeterogeneousVisitResponse(n_knots=p.n_knots, alpha=p.alpha).fit(lift, frame)
    z = z_value(p.alpha)
    pred = response.predict(frame)
    beta, se = pred["beta"].to_numpy().copy(), pred["std_error"].to_numpy().copy()
    # thin history: the potential percentile is unreliable, so the segment (specialty) mean, with the
    # spread of effects within the segment added to the interval
    thin = (frame["status"] == "thin history").to_numpy()
    draws = response.draw(frame, p.n_draws, p.seed)
    if thin.any():
        for _, idx in frame.reset_index().groupby("specialty").indices.items():
            idx = np.asarray(idx)
            spread = beta[idx].std()
            sel = idx[thin[idx]]
            if len(sel):
                beta[sel] = pred["beta"].to_numpy()[idx].mean()
                se[sel] = np.sqrt(se[sel] ** 2 + spread ** 2)
                draws[:, sel] = draws[:, idx].mean(axis=1, keepdims=True)
    lapsed = (frame["status"] == "lapsed").to_numpy()
    decay, r = response.decay_, response.saturation_
    to_units = scale / (1 - decay)
    amplitude = np.where(lapsed, 0.0, np.clip(beta, 0, None) * to_units)
    amp_draws = np.clip(draws, 0, None, out=draws)  # in place: 300 draws x 200,000 doctors at national scale
    amp_draws *= to_units
    amp_draws[:, lapsed] = 0.0
    k = _effective_per_visit(counts, lift.channel_weights_, frame, months[-p.capacity_months:])
    r_draws = response.draw_saturation(p.n_draws, p.seed)[:, None]

    capacity, capacity_source = _capacity(tables, frame, p)
    territory_ids = capacity.index
    code = territory_ids.get_indexer(frame["territory_id"])
    lo = np.where(lapsed, 0.0, p.min_visits)
    if p.must_see_file:
        must = _read_csv(p.must_see_file, "must_see_file", ("doctor_id",))["doctor_id"].astype(str)
        unknown = sorted(set(must) - set(frame.index))
        if unknown:
            notes.append(f"must_see_file: {len(unknown)} doctor IDs are not in 'doctors' and are ignored, "
                         f"e.g. {', '.join(unknown[:3])}")
        lo = np.where(frame.index.isin(must), np.maximum(lo, p.must_see_visits), lo)
    hi = np.full(len(frame), p.max_visits)
    plan_kw = dict(min_visits=lo, max_visits=hi, step=p.step, unit_value=p.unit_price,
                   cost_per_visit=p.cost_per_visit)
    # the recommended plan and the capacity curve's, from one ranking of the increments
    factors = 1 + np.array(CURVE_STEPS) / 100
    curve_plans = allocate(amplitude, r, k, code, np.outer(factors, capacity.to_numpy()), **plan_kw)
    recommended = curve_plans[CURVE_STEPS.index(0)]
    if (lo.sum() > 0) and (pd.Series(lo).groupby(code).sum().to_numpy() > capacity.to_numpy() + 1e-9).any():
        notes.append("In some territories the minimum visits exceed the capacity: the doctors with the largest "
                     "return keep their minimum, the others do not.")
    quota = _quota_plan(tables, frame, capacity, p)
    frame["beta"], frame["beta_se"] = beta, se
    frame["effect_long_run"] = np.where(lapsed, 0.0, beta * to_units)
    frame["effect_low"] = np.where(lapsed, 0.0, (beta - z * se) * to_units)
    frame["effect_high"] = np.where(lapsed, 0.0, (beta + z * se) * to_units)
    frame["grade_quota_visits_per_month"] = quota
    frame["recommended_visits_per_month"] = recommended
    q = (100 * p.alpha / 2, 100 * (1 - p.alpha / 2))
    frame["expected_incremental_units"] = saturating_value(amplitude, r, k, recommended)
    frame["lower"], frame["upper"] = doctor_intervals(amp_draws, r_draws, k, recommended, q)
    frame["current_visits_per_month"] = frame["current_visits_per_month"].round(4)

    plan_visits = {"current": frame["current_visits_per_month"].to_numpy(), "grade_quota": quota,
                   "recommended": recommended}
    terr = pd.DataFrame({"territory_id": territory_ids, "capacity": capacity.to_numpy(),
                         "doctors": np.bincount(code, minlength=len(territory_ids)),
                         "lapsed_doctors": np.bincount(code, weights=lapsed, minlength=len(territory_ids))})
    rows, totals = [], {}
    for name, v in plan_visits.items():
        point = saturating_value(amplitude, r, k, v)
        total, by_terr = draw_totals(amp_draws, r_draws, k, v, code, len(territory_ids))
        totals[name] = total
        lo_, hi_ = np.percentile(total, q)
        rows.append({"plan": name, "visits_per_month": float(v.sum()), "expected_incremental_units": float(point.sum()),
                     "ci_low": float(lo_), "ci_high": float(hi_),
                     "visits_to_lapsed": float(v[lapsed].sum())})
        terr[f"{name}_visits"] = np.bincount(code, weights=v, minlength=len(territory_ids))
        terr[f"{name}_units"] = np.bincount(code, weights=point, minlength=len(territory_ids))
        terr[f"{name}_low"], terr[f"{name}_high"] = np.percentile(by_terr, q, axis=0)
    plans = pd.DataFrame(rows)
    gain_draws = totals["recommended"] - totals["current"]
    point_gain = float(plans.loc[2, "expected_incremental_units"] - plans.loc[0, "expected_incremental_units"])
    gain = {"estimate": point_gain, "ci_low": float(np.percentile(gain_draws, q[0])),
            "ci_high": float(np.percentile(gain_draws, q[1]))}

    curve = []
    for pct, v in zip(CURVE_STEPS, curve_plans):
        total, _ = draw_totals(amp_draws, r_draws, k, v)
        curve.append({"capacity_change_pct": pct, "visits_per_month": float(v.sum()),
                      "expected_incremental_units": float(saturating_value(amplitude, r, k, v).sum()),
                      "ci_low": float(np.percentile(total, q[0])), "ci_high": float(np.percentile(total, q[1]))})
    curve = pd.DataFrame(curve)
    segments = _segments(frame, response, panel, to_units, z)
    notes.append(f"Capacity: {capacity_source}.")
    if lapsed.any():
        notes.append(f"{int(lapsed.sum())} doctors wrote no prescriptions of {product_id} in the last "
                     f"{p.lapsed_months} months (lapsed): no response is expected from visiting them.")
    doctors = frame.reset_index()
    return CallplanResult(params=p, rejects=rejects, product_id=product_id, months=months, doctors=doctors,
                          territories=terr, plans=plans, capacity_curve=curve, segments=segments, response=response,
                          lift=lift, scale=scale, scale_reason=scale_reason, effective_per_visit=k, gain=gain,
                          notes=notes)


def _segments(frame: pd.DataFrame, response: HeterogeneousVisitResponse, panel: pd.DataFrame, to_units: float,
              z: float) -> pd.DataFrame:
    """Estimated long-run effect of a month's first visit per segment, beside the naive one.

    Naive: the pooled slope of monthly prescriptions on monthly visits across the
    segment's doctors and months, no fixed effects (reps visit big prescribers more),
    long run as if it carried over like the estimate.
    """
    rows = []
    live = frame[frame["status"] != "lapsed"]
    active = panel["active"].to_numpy(bool)
    doctor_of_row = frame.index.get_indexer(panel["doctor_id"].astype(str)[active])  # position in frame
    y = panel["trx"].to_numpy(float)[active]
    v = panel["detailing_visits"].to_numpy(float)[active]
    for by in ("potential_quintile", "specialty", "title", "tier"):
        for level, group in live.groupby(by):
            if len(group) < 10:
                continue
            est, se = response.segment_effect(group)
            member = np.zeros(len(frame) + 1, bool)  # the last: rows of doctors not in frame
            member[frame.index.get_indexer(group.index)] = True
            rows_of = member[doctor_of_row]
            vv, yy = v[rows_of], y[rows_of]
            naive = float(np.cov(vv, yy)[0, 1] / np.var(vv, ddof=1)) if vv.var() > 0 else np.nan
            rows.append({"by": by.replace("_", " "), "segment": str(level), "doctors": int(len(group)),
                         "current_visits_per_month": float(group["current_visits_per_month"].mean()),
                         "recommended_visits_per_month": float(group["recommended_visits_per_month"].mean()),
                         "estimate": est * to_units, "ci_low": (est - z * se) * to_units,
                         "ci_high": (est + z * se) * to_units, "naive": naive * to_units})
    return pd.DataFrame(rows)


def replan(result: CallplanResult, capacity_factor: float) -> pd.DataFrame:
    """The recommended plan of ``result`` with every territory's capacity times ``capacity_factor``."""
    d, p = result.doctors, result.params
    lapsed = (d["status"] == "lapsed").to_numpy()
    amplitude = np.where(lapsed, 0.0, np.clip(d["beta"].to_numpy(), 0, None) * result.scale
                         / (1 - result.response.decay_))
    terr = result.territories
    code = pd.Index(terr["territory_id"]).get_indexer(d["territory_id"])
    lo = np.minimum(d["recommended_visits_per_month"].to_numpy(), np.where(lapsed, 0.0, p.min_visits))
    v = allocate(amplitude, result.response.saturation_, result.effective_per_visit, code,
                 terr["capacity"].to_numpy() * capacity_factor, min_visits=lo, max_visits=p.max_visits,
                 step=p.step, unit_value=p.unit_price, cost_per_visit=p.cost_per_visit)
    value = saturating_value(amplitude, result.response.saturation_, result.effective_per_visit, v)
    return d[["doctor_id", "territory_id", "segment", "status", "current_visits_per_month"]].assign(
        recommended_visits_per_month=v, expected_incremental_units=value)
