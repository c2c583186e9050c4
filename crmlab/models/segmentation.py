"""Segmentation models: the doctor grading scorer and the value estimate built on it.

``DoctorGrader`` turns the raw indicators of
:func:`crmlab.features.indicators.doctor_indicators` into points, a score and a grade:

.. math::

    \\text{score}_i = \\frac{\\sum_k w_k \\, p_{ik}}{\\sum_k w_k [p_{ik} \\text{ observed}]},
    \\qquad p_{ik} \\in [0, 100]

where ``p`` is a lookup-table value (tier, title) or a mid-rank percentile within the
doctors the grader was fitted on (department outpatients, beds, prescription volume).
Fitting learns only those percentile references, so a grader fitted on all doctors
scores a filtered subset on the same scale.

:func:`doctor_value_estimate` needs no doctor-level data: it apportions each account's
sell-out over its doctors by their grading score without volume.

Behavioural clusters are in :mod:`crmlab.models.clusters`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from crmlab.features.volumes import as_float, as_text

GRADES = ("A", "B", "C", "D")
INDICATORS = ("tier", "title", "outpatients", "beds", "volume")
PERCENTILE_INDICATORS = ("outpatients", "beds", "volume")
DEFAULT_WEIGHTS = {"tier": 0.2, "title": 0.2, "outpatients": 0.15, "beds": 0.1, "volume": 0.35}
DEFAULT_THRESHOLDS = {"A": 75.0, "B": 60.0, "C": 40.0}
DEFAULT_TIER_POINTS = {"3A": 100, "3B": 80, "2A": 60, "2B": 40, "1": 20, "other": 10}
DEFAULT_TITLE_POINTS = {"chief": 100, "associate_chief": 75, "attending": 50, "resident": 25,
                        "other": 25}


def percentile_points(values: np.ndarray | pd.Series, reference: np.ndarray) -> np.ndarray:
    """Mid-rank percentile (0–100) of each value within the sorted ``reference``; NaN stays NaN.

    Ties share the middle of their ranks, so a mass of zero volumes does not score 0 or 100.

    Examples
    --------
    >>> percentile_points(np.array([1.0, 3.0, np.nan]), np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [12.5, 62.5, nan]
    """
    values = np.asarray(values, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if not len(reference):
        return np.full(len(values), np.nan)
    below = np.searchsorted(reference, values, side="left")
    up_to = np.searchsorted(reference, values, side="right")
    points = 100.0 * (below + up_to) / (2.0 * len(reference))
    return np.where(np.isnan(values), np.nan, points)


def table_points(values: pd.Series, points: Mapping[str, float]) -> np.ndarray:
    """Points from a lookup table; values not in the table take ``points["other"]`` (or 0).

    Examples
    --------
    >>> table_points(pd.Series(["3A", "9Z"]), {"3A": 100, "other": 10}).tolist()
    [100.0, 10.0]
    """
    fallback = float(points.get("other", 0.0))
    return as_text(values).map({str(k): float(v) for k, v in points.items()}).astype(float) \
        .fillna(fallback).to_numpy()


def weighted_score(points: pd.DataFrame, weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of indicator points, renormalised over the indicators a doctor has.

    A doctor missing an indicator (NaN points) is scored on the others, so a missing
    department size neither rewards nor punishes.

    Examples
    --------
    >>> points = pd.DataFrame({"tier": [100.0, 100.0], "title": [50.0, np.nan]})
    >>> weighted_score(points, {"tier": 0.5, "title": 0.5}).tolist()
    [75.0, 100.0]
    """
    used = [k for k, w in weights.items() if w and k in points]
    if not used:
        raise ValueError("grading weights are all zero (or name no known indicator: "
                         f"{', '.join(INDICATORS)})")
    if any(weights[k] < 0 for k in used):
        raise ValueError(f"grading weights must be >= 0, got {dict(weights)}")
    p = points[used].to_numpy(float)
    w = np.array([float(weights[k]) for k in used])
    present = ~np.isnan(p)
    total = (present * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.nansum(p * w, axis=1) / total, np.nan)


def assign_grades(score: np.ndarray | pd.Series, thresholds: Mapping[str, float]) -> np.ndarray:
    """Grades from score thresholds: A if score ≥ ``thresholds["A"]``, then B, C, else D.

    Examples
    --------
    >>> assign_grades(np.array([80.0, 55.0, 31.0, 5.0]), {"A": 70, "B": 50, "C": 30}).tolist()
    ['A', 'B', 'C', 'D']
    """
    a, b, c = (float(thresholds[g]) for g in ("A", "B", "C"))
    if not a >= b >= c:
        raise ValueError(f"grade thresholds must satisfy A >= B >= C, got A={a}, B={b}, C={c}")
    score = np.asarray(score, dtype=float)
    return np.select([score >= a, score >= b, score >= c], ["A", "B", "C"], "D").astype(object)


def control_params(params: Mapping, weights: Mapping, thresholds: Mapping) -> dict:
    """``params`` with the weights and grade thresholds that controls (anything with ``.value``) say.

    Examples
    --------
    >>> from types import SimpleNamespace as C
    >>> control_params({"x": 1}, {"tier": C(value=0.4)}, {"A": C(value=80)})
    {'x': 1, 'weight_tier': 0.4, 'grade_a_min': 80}
    """
    params = dict(params)
    params.update({f"weight_{k}": s.value for k, s in weights.items()})
    params.update({f"grade_{g.lower()}_min": s.value for g, s in thresholds.items()})
    return params


def grading_params(params: Mapping) -> dict:
    """Grader arguments from the flat parameters of ``params/segmentation.yaml``.

    ``weight_<indicator>`` keys give the weights, ``grade_a_min``/``grade_b_min``/
    ``grade_c_min`` the thresholds, ``tier_points``/``title_points`` the tables.
    Missing keys fall back to the defaults.

    Examples
    --------
    >>> grading_params({"weight_tier": 0.4, "grade_a_min": 80})["weights"]["tier"]
    0.4
    """
    weights = {k: float(params.get(f"weight_{k}", DEFAULT_WEIGHTS[k])) for k in INDICATORS}
    thresholds = {g: float(params.get(f"grade_{g.lower()}_min", DEFAULT_THRESHOLDS[g])) for g in "ABC"}
    return {"weights": weights, "thresholds": thresholds,
            "tier_points": dict(params.get("tier_points") or DEFAULT_TIER_POINTS),
            "title_points": dict(params.get("title_points") or DEFAULT_TITLE_POINTS)}


class DoctorGrader(TransformerMixin, BaseEstimator):
    """Score and grade doctors from weighted indicator points (the CRM grading rule).

    Parameters
    ----------
    weights : dict, optional
        Weight per indicator (``tier, title, outpatients, beds, volume``); zero drops one.
        If the data has no prescription volume, ``volume`` is dropped and the other
        weights are renormalised (``volume_used_`` says so).
    tier_points, title_points : dict, optional
        Points (0–100) per account tier and per title; ``"other"`` for anything else.
    thresholds : dict, optional
        Minimum score of grades ``A``, ``B``, ``C``; lower scores are ``D``.

    Attributes
    ----------
    reference_ : dict of ndarray
        Sorted fitted values of the percentile indicators.
    weights_ : dict
        Weights actually used.
    volume_used_ : bool

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.indicators import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"], w.tables["prescriptions"],
    ...                         products=w.tables["products"])
    >>> graded = DoctorGrader().fit(ind).transform(ind)
    >>> sorted(graded["grade"].unique())
    ['A', 'B', 'C', 'D']
    """

    def __init__(self, weights=None, tier_points=None, title_points=None, thresholds=None):
        self.weights = weights
        self.tier_points = tier_points
        self.title_points = title_points
        self.thresholds = thresholds

    def fit(self, X: pd.DataFrame, y=None):
        """Learn the percentile references from the indicators table ``X``."""
        missing = [c for c in ("doctor_id", "tier", "title") if c not in X]
        if missing:
            raise ValueError(f"DoctorGrader needs an indicators table (doctor_indicators); "
                             f"missing column(s) {', '.join(missing)}")
        weights = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        unknown = set(weights) - set(INDICATORS)
        if unknown:
            raise ValueError(f"unknown grading indicator(s) {sorted(unknown)}; use {list(INDICATORS)}")
        self.reference_ = {}
        for column in PERCENTILE_INDICATORS:
            values = X[column].to_numpy(float) if column in X else np.array([])
            self.reference_[column] = np.sort(values[~np.isnan(values)])
        self.volume_used_ = bool(len(self.reference_["volume"])) and weights.get("volume", 0) > 0
        if not len(self.reference_["volume"]):
            weights["volume"] = 0.0
        if not any(weights.get(k, 0) > 0 for k in INDICATORS):
            raise ValueError("grading weights are all zero for the indicators available")
        self.weights_ = {k: float(weights.get(k, 0.0)) for k in INDICATORS}
        # validates the thresholds early, with the message managers will see
        assign_grades(np.array([0.0]), self._thresholds())
        return self

    def _thresholds(self) -> dict:
        return dict(DEFAULT_THRESHOLDS if self.thresholds is None else self.thresholds)

    def points(self, X: pd.DataFrame) -> pd.DataFrame:
        """Points 0–100 per indicator (NaN where the indicator is missing)."""
        check_is_fitted(self, "reference_")
        out = pd.DataFrame(index=X.index)
        out["tier"] = table_points(X["tier"], self.tier_points or DEFAULT_TIER_POINTS)
        out["title"] = table_points(X["title"], self.title_points or DEFAULT_TITLE_POINTS)
        for column in PERCENTILE_INDICATORS:
            values = X[column].to_numpy(float) if column in X else np.full(len(X), np.nan)
            out[column] = percentile_points(values, self.reference_[column])
        return out

    def score_doctors(self, X: pd.DataFrame, exclude: tuple[str, ...] = ()) -> np.ndarray:
        """Score 0–100, optionally leaving some indicators out (e.g. ``("volume",)``)."""
        weights = {k: (0.0 if k in exclude else w) for k, w in self.weights_.items()}
        return weighted_score(self.points(X), weights)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """``doctor_id``, ``points_<indicator>``, ``score`` and ``grade`` per doctor."""
        points = self.points(X)
        out = pd.DataFrame({"doctor_id": X["doctor_id"].to_numpy()}, index=X.index)
        for column in INDICATORS:
            out[f"points_{column}"] = points[column]
        out["score"] = weighted_score(points, self.weights_)
        out["grade"] = assign_grades(out["score"], self._thresholds())
        return out

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Grades ``A``–``D``."""
        return self.transform(X)["grade"].to_numpy()


def grade_doctors(grader: DoctorGrader, indicators: pd.DataFrame) -> pd.DataFrame:
    """``doctor_id``, where the doctor sits (region, territory, specialty), points, score and grade.

    Examples
    --------
    >>> ind = pd.DataFrame({"doctor_id": ["D1"], "region": ["N"], "territory_id": ["T1"],
    ...     "specialty": ["cardiology"], "tier": ["3A"], "title": ["chief"]})
    >>> list(grade_doctors(DoctorGrader().fit(ind), ind).columns[:5])
    ['doctor_id', 'region', 'territory_id', 'specialty', 'points_tier']
    """
    graded = grader.transform(indicators).reset_index(drop=True)
    place = indicators[["region", "territory_id", "specialty"]].reset_index(drop=True)
    return pd.concat([graded.iloc[:, :1], place, graded.iloc[:, 1:]], axis=1)


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


def apportion_account_value(doctor_weight: pd.DataFrame, account_value: pd.Series) -> pd.Series:
    """Split each account's value (e.g. monthly sell-out) across its doctors by weight.

    ``value_i = account_value[a] * weight_i / sum_{j in a} weight_j``; an account whose
    weights are all zero splits equally. Doctors of accounts without a value get 0.

    Parameters
    ----------
    doctor_weight : DataFrame
        ``doctor_id, account_id, weight`` (weight ≥ 0).
    account_value : Series
        Indexed by ``account_id``.

    Examples
    --------
    >>> w = pd.DataFrame({"doctor_id": ["D1", "D2"], "account_id": ["A1", "A1"], "weight": [3.0, 1.0]})
    >>> apportion_account_value(w, pd.Series({"A1": 8.0})).tolist()
    [6.0, 2.0]
    """
    weight = pd.Series(np.clip(as_float(doctor_weight["weight"]), 0, None), index=doctor_weight.index)
    weight = weight.fillna(0.0)
    account = as_text(doctor_weight["account_id"])
    total = weight.groupby(account).transform("sum")
    count = weight.groupby(account).transform("size")
    share = np.where(total > 0, weight / total.where(total > 0, 1.0), 1.0 / count)
    value = account.map(account_value).astype(float).fillna(0.0).to_numpy()
    return pd.Series(value * share, index=as_text(doctor_weight["doctor_id"]).to_numpy(), name="value_estimate")


def doctor_value_estimate(indicators: pd.DataFrame, grader: DoctorGrader, account_value: pd.Series,
                          *, power: float = 2.0) -> pd.Series:
    """Value per doctor without doctor-level data: account sell-out apportioned by grading.

    Each account's monthly own-product sell-out is split over its doctors in
    proportion to ``score_without_volume ** power``, the grading score computed from
    tier, title and department size only (so it needs no prescriptions). A higher
    ``power`` gives more of the account to its senior, large-department doctors.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.indicators import doctor_indicators
    >>> from crmlab.features.volumes import account_sell_out, period_months
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> sell_out = account_sell_out(w.tables["sales"], period_months(pd.Timestamp("2025-12-01"), 12))
    >>> value = doctor_value_estimate(ind, DoctorGrader().fit(ind), sell_out)
    >>> bool(value.sum() <= sell_out.sum() + 1e-6)
    True
    """
    structural = grader.score_doctors(indicators, exclude=("volume",))
    weight = pd.DataFrame({"doctor_id": indicators["doctor_id"].to_numpy(),
                           "account_id": indicators["account_id"].to_numpy(),
                           "weight": np.nan_to_num(structural) ** power})
    return apportion_account_value(weight, account_value)


def value_vs_volume(indicators: pd.DataFrame, value_estimate: pd.Series) -> pd.DataFrame:
    """Spearman correlation of the value estimate with the doctors' observed prescription volume.

    Examples
    --------
    >>> ind = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "volume": [1.0, 5.0, 3.0]})
    >>> value_vs_volume(ind, pd.Series({"D1": 0.1, "D2": 0.9, "D3": 0.2})).loc["volume", "value_estimate"]
    np.float64(1.0)
    """
    table = indicators.assign(value_estimate=indicators["doctor_id"].map(value_estimate).to_numpy())
    return table[["volume", "value_estimate"]].corr(method="spearman")
