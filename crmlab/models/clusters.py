"""Behavioural clusters of doctors: k-means with k chosen on evidence, and its stability.

``BehaviourClusters`` standardises behavioural features, fits k-means for each ``k``
in a range, picks ``k`` by silhouette (BIC of a diagonal Gaussian mixture is reported
alongside), and reports stability as the adjusted Rand index between the clustering
and clusterings refitted on bootstrap resamples (mean, standard error, percentile
interval).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data


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
