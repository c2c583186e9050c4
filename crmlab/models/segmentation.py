"""Segmentation models: the doctor grading scorer and behavioural clusters.

``DoctorGrader`` turns the raw indicators of
:func:`crmlab.features.segmentation.doctor_indicators` into points, a score and a grade:

.. math::

    \\text{score}_i = \\frac{\\sum_k w_k \\, p_{ik}}{\\sum_k w_k [p_{ik} \\text{ observed}]},
    \\qquad p_{ik} \\in [0, 100]

where ``p`` is a lookup-table value (tier, title) or a mid-rank percentile within the
doctors the grader was fitted on (department outpatients, beds, prescription volume).
Fitting learns only those percentile references, so a grader fitted on all doctors
scores a filtered subset on the same scale.

``BehaviourClusters`` standardises behavioural features, fits k-means for each ``k``
in a range, picks ``k`` by silhouette (BIC of a diagonal Gaussian mixture is reported
alongside), and reports stability as the adjusted Rand index between the clustering
and clusterings refitted on bootstrap resamples (mean, standard error, percentile
interval).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from crmlab.features.segmentation import (
    DEFAULT_TIER_POINTS,
    DEFAULT_TITLE_POINTS,
    INDICATORS,
    apportion_account_value,
    assign_grades,
    percentile_points,
    table_points,
    weighted_score,
)

DEFAULT_WEIGHTS = {"tier": 0.2, "title": 0.2, "outpatients": 0.15, "beds": 0.1, "volume": 0.35}
DEFAULT_THRESHOLDS = {"A": 75.0, "B": 60.0, "C": 40.0}
PERCENTILE_INDICATORS = ("outpatients", "beds", "volume")


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
    >>> from crmlab.features.segmentation import doctor_indicators
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
    >>> from crmlab.features.segmentation import doctor_indicators, account_sell_out, period_months
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


class BehaviourClusters(ClusterMixin, BaseEstimator):
    """k-means on standardised features with ``k`` chosen on evidence and bootstrap stability.

    Parameters
    ----------
    k_min, k_max : int
        Range of cluster counts tried (capped below the number of samples).
    n_bootstrap : int
        Bootstrap refits for the stability (adjusted Rand index) estimate.
    max_samples : int
        Selection, silhouette, BIC and bootstrap use a random subsample of at most
        this many rows (silhouette is quadratic in rows); the final k-means is fitted
        on all rows.
    random_state : int

    Attributes
    ----------
    selection_ : DataFrame
        ``k, silhouette, bic, inertia`` for each k tried.
    n_clusters_ : int
        The k with the highest silhouette (ties: the smaller k).
    labels_ : ndarray
        Cluster 0 … k−1 of each training row, ordered by descending mean of the first
        feature so that labels are stable and readable.
    silhouette_ : float
    stability_ : DataFrame
        One row: ``estimate, std_error, ci_low, ci_high, n_bootstrap, method``.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> X, _ = make_blobs(300, centers=3, random_state=0)
    >>> BehaviourClusters(k_max=5, n_bootstrap=5).fit(X).n_clusters_
    3
    """

    def __init__(self, k_min=2, k_max=8, n_bootstrap=20, max_samples=3000, random_state=0):
        self.k_min = k_min
        self.k_max = k_max
        self.n_bootstrap = n_bootstrap
        self.max_samples = max_samples
        self.random_state = random_state

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=np.float64)
        n = X.shape[0]
        if n < 3:
            raise ValueError(f"BehaviourClusters needs at least 3 samples, got n_samples={n}")
        rng = np.random.default_rng(self.random_state)
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        sub = np.sort(rng.choice(n, self.max_samples, replace=False)) if n > self.max_samples else np.arange(n)
        Zs = Z[sub]
        distinct = len(np.unique(Zs, axis=0))
        k_max = int(min(self.k_max, distinct - 1, len(Zs) - 1))
        k_min = int(min(self.k_min, k_max))
        rows = []
        with warnings.catch_warnings():
            # k-means warns when it finds fewer distinct clusters than asked (tiny data)
            warnings.simplefilter("ignore")
            for k in range(max(k_min, 2), max(k_max, 2) + 1):
                km = KMeans(k, n_init=4, random_state=self.random_state).fit(Zs)
                labels = km.labels_
                sil = silhouette_score(Zs, labels) if 1 < len(np.unique(labels)) < len(Zs) else np.nan
                gm = GaussianMixture(k, covariance_type="diag", random_state=self.random_state,
                                     reg_covar=1e-4).fit(Zs)
                rows.append((k, sil, gm.bic(Zs), km.inertia_))
        self.selection_ = pd.DataFrame(rows, columns=["k", "silhouette", "bic", "inertia"])
        if self.selection_["silhouette"].notna().any():
            best = self.selection_.loc[self.selection_["silhouette"].idxmax()]
        else:
            best = self.selection_.iloc[0]
        self.n_clusters_ = int(best["k"])
        self.silhouette_ = float(best["silhouette"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.kmeans_ = KMeans(self.n_clusters_, n_init=4, random_state=self.random_state).fit(Z)
            # relabel by descending centre of the first feature: stable, readable order
            order = np.argsort(-self.kmeans_.cluster_centers_[:, 0], kind="stable")
            self._relabel = np.empty_like(order)
            self._relabel[order] = np.arange(len(order))
            self.labels_ = self._relabel[self.kmeans_.labels_]
            self.cluster_centers_ = self.scaler_.inverse_transform(self.kmeans_.cluster_centers_[order])
            reference = self._relabel[self.kmeans_.predict(Zs)]
            scores = []
            for b in range(self.n_bootstrap):
                idx = rng.integers(0, len(Zs), len(Zs))
                km = KMeans(self.n_clusters_, n_init=2, random_state=self.random_state + b + 1).fit(Zs[idx])
                scores.append(adjusted_rand_score(reference, km.predict(Zs)))
        scores = np.array(scores, dtype=float)
        self.stability_ = pd.DataFrame([{
            "estimate": float(scores.mean()) if len(scores) else np.nan,
            "std_error": float(scores.std(ddof=1)) if len(scores) > 1 else np.nan,
            "ci_low": float(np.percentile(scores, 2.5)) if len(scores) else np.nan,
            "ci_high": float(np.percentile(scores, 97.5)) if len(scores) else np.nan,
            "n_bootstrap": int(len(scores)),
            "method": "bootstrap adjusted Rand index vs the full-sample clustering",
        }])
        return self

    def predict(self, X):
        check_is_fitted(self, "kmeans_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._relabel[self.kmeans_.predict(self.scaler_.transform(X))]


def cluster_profiles(features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Mean of each feature per cluster, its size and a name from its two most distinctive features.

    A feature's distinctiveness is the cluster mean's z-score against all doctors; the
    name reads e.g. ``"high volume, low remote_share"``.

    Examples
    --------
    >>> f = pd.DataFrame({"volume": [1.0, 1.1, 5.0, 5.2], "events": [0.0, 0.0, 1.0, 0.0]})
    >>> cluster_profiles(f, np.array([1, 1, 0, 0]))["name"].tolist()
    ['high volume, high events', 'low volume, low events']
    """
    labels = np.asarray(labels)
    means = features.groupby(labels).mean()
    sd = features.std(ddof=0).replace(0, np.nan)
    z = (means - features.mean()) / sd
    names = []
    for cluster in means.index:
        row = z.loc[cluster].fillna(0.0)
        top = row.abs().sort_values(ascending=False, kind="stable").index[:2]
        names.append(", ".join(f"{'high' if row[c] > 0 else 'low'} {c}" for c in top))
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[i] = f"{name} ({seen[name]})"
    out = means.copy()
    out.insert(0, "doctors", pd.Series(labels).value_counts().reindex(means.index).to_numpy())
    out.insert(0, "name", names)
    out.index.name = "cluster"
    return out.reset_index()
