"""Churn classifiers: a manager's rules as scores, calibrated boosting and logistic regression.

Every model scores the same stacked snapshots built by
:func:`crmlab.features.churn.churn_frame`; :func:`make_model` builds one by name and
:func:`fit_model` / :func:`predict_risk` fit and score it with one BLAS/OpenMP thread.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from crmlab.models.churn.cox import ChurnCox

RULES = ("rule_last_month", "rule_decline_3m")
LEARNED = ("boosting", "logistic", "cox")

class RuleScore(BaseEstimator):
    """A manager's rule as a score; ``fit`` only maps the score to a probability (Platt).

    ``kind="last_month"``: the lower last month's volume relative to the 12-month
    average, the higher the risk. ``kind="decline_3m"``: the steeper the 3-month
    volume decline (``trend_3m``), the higher the risk.

    Examples
    --------
    >>> X = pd.DataFrame({"last_to_12m": [1.0, 0.1], "trend_3m": [0.0, -1.0]})
    >>> RuleScore("last_month").score_samples(X).tolist()
    [-1.0, -0.1]
    """

    def __init__(self, kind: str = "last_month"):
        self.kind = kind

    def score_samples(self, X: pd.DataFrame) -> np.ndarray:
        if self.kind == "last_month":
            return -np.asarray(X["last_to_12m"], float)
        if self.kind == "decline_3m":
            return -np.asarray(X["trend_3m"], float)
        raise ValueError(f"kind must be 'last_month' or 'decline_3m', got {self.kind!r}")

    def fit(self, X: pd.DataFrame, y):
        s = self.score_samples(X).reshape(-1, 1)
        self.platt_ = LogisticRegression(C=1e6, max_iter=1000).fit(s, np.asarray(y, int))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.platt_.predict_proba(self.score_samples(X).reshape(-1, 1))


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """A calibrated churn classifier: gradient boosting or L2 logistic regression.

    Probabilities are calibrated by Platt scaling in ``cv``-fold cross-fitting
    (``CalibratedClassifierCV``), so that ``risk`` reads as a probability of churn in
    the horizon (checked by the Brier score and the calibration plot).

    Parameters
    ----------
    method : {"boosting", "logistic"}
    cv : int
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=400)})
    >>> y = rng.random(400) < 1 / (1 + np.exp(-2 * X["a"]))
    >>> ChurnClassifier("logistic").fit(X, y).predict_proba(X).shape
    (400, 2)
    """

    def __init__(self, method: str = "boosting", cv: int = 3, random_state: int = 0):
        self.method = method
        self.cv = cv
        self.random_state = random_state

    def _base(self):
        if self.method == "boosting":
            return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                                  min_samples_leaf=40, l2_regularization=1.0,
                                                  random_state=self.random_state)
        if self.method == "logistic":
            return make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=2000))
        raise ValueError(f"method must be 'boosting' or 'logistic', got {self.method!r}")

    def fit(self, X, y):
        y = np.asarray(y).astype(int)
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(X.columns) if hasattr(X, "columns") else None
        cv = int(min(self.cv, max(2, np.bincount(y, minlength=2).min())))
        self.model_ = CalibratedClassifierCV(self._base(), method="sigmoid", cv=cv).fit(X, y)
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def make_model(name: str, seed: int = 0):
    """A fresh, unfitted model by name (``rule_last_month``, ``boosting``, ``cox``, ...)."""
    if name in RULES:
        return RuleScore(name.removeprefix("rule_"))
    if name in ("boosting", "logistic"):
        return ChurnClassifier(name, random_state=seed)
    if name == "cox":
        return ChurnCox()
    raise ValueError(f"unknown churn model {name!r}; choose from {RULES + LEARNED}")


# One OpenMP/BLAS thread for fitting and scoring. On this kind of shared 2-core machine
# gradient boosting's OpenMP threads spin-wait against other jobs: the sample analysis
# took 17-80 s with the default threads and 2 s with one (identical scores, since the
# histograms are built feature-parallel, so the thread count does not change results).
N_THREADS = 1
#: Rows from which scoring uses OpenMP's default threads (every core, or ``OMP_NUM_THREADS``;
#: BLAS keeps one). Each row is scored on its own, so the scores do not depend on the threads,
#: and on a large population the threads' waits are small beside their work (national scale:
#: 22 occlusion passes over 150,000 doctors, 16 s per 900,000 rows on one core, 8 s on two).
#: Fitting keeps one thread, as above.
PARALLEL_SCORING_ROWS = 100_000


def fit_model(model, frame: pd.DataFrame, features: list[str]):
    """Fit ``model`` on the ``features`` and ``churned`` label of a churn frame (one thread)."""
    X, y = frame[features], frame["churned"].to_numpy()
    with warnings.catch_warnings(), threadpool_limits(N_THREADS):
        warnings.simplefilter("ignore")
        if isinstance(model, ChurnCox):
            return model.fit(X, y, entity_id=frame["entity_id"].to_numpy(), origin=frame["origin"].to_numpy())
        return model.fit(X, y)


def predict_risk(model, X: pd.DataFrame) -> np.ndarray:
    """The fitted model's probability of churn for each row of ``X`` (one thread on small data)."""
    threads = N_THREADS if len(X) < PARALLEL_SCORING_ROWS else {"blas": N_THREADS}  # OpenMP's threads free
    with warnings.catch_warnings(), threadpool_limits(threads):
        warnings.simplefilter("ignore")
        return model.predict_proba(X)[:, 1]

