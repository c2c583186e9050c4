"""Churn early warning: rule baselines, a calibrated classifier, a Cox model, BG/NBD.

Every model scores the same stacked snapshots built by
:func:`crmlab.features.churn.churn_frame`; :func:`churn_backtest` fits each as of
``as_of − horizon`` on outcomes known by ``as_of`` (origins ``≤ as_of − 2·horizon``),
scores the entities active at ``as_of − horizon`` and compares with what happened;
:func:`score_churn` refits the chosen model on everything known by ``as_of`` and scores
the entities active at ``as_of``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from crmlab.features.churn import ChurnHistory, active_mask, churn_frame, churn_labels, rfm_at

RULES = ("rule_last_month", "rule_decline_3m")
LEARNED = ("boosting", "logistic", "cox")
ID_COLUMNS = ("entity_id", "origin", "churned")


# ---------------------------------------------------------------------------- BG/NBD
def _bgnbd_loglik(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                  weights: np.ndarray) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return float(np.sum(weights * (a1 + a2 + np.logaddexp(a3, a4))))


class BetaGeoModel(BaseEstimator):
    """BG/NBD ("buy till you die") model of Fader, Hardie & Lee (2005), fitted by ML.

    While alive a customer buys as a Poisson process with rate ``λ ~ Gamma(r, α)``;
    after each repeat purchase it drops out with probability ``p ~ Beta(a, b)``. With
    ``x`` repeat purchases, the last at ``t_x``, observed over ``(0, T]``::

        L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
            + 1{x>0} B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

    The log-likelihood is maximised over the log parameters (L-BFGS-B); standard errors
    come from the inverse numerical Hessian, mapped to the natural scale by the delta
    method; intervals are Wald intervals on the log scale.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the log parameters (0 = plain maximum likelihood).

    Examples
    --------
    >>> data = simulate_bgnbd(2000, r=0.5, alpha=2.0, a=0.8, b=2.5, T=24.0, seed=1)
    >>> model = BetaGeoModel().fit(data)
    >>> sorted(model.params_.index)
    ['a', 'alpha', 'b', 'r']
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame, y=None, sample_weight=None):
        """Fit on ``frequency`` (repeat purchases), ``recency`` (t_x) and ``T`` columns."""
        x, t_x, T = _rfm_arrays(X)
        w = np.ones_like(x) if sample_weight is None else np.asarray(sample_weight, float)
        if len(x) < 10:
            raise ValueError(f"BG/NBD needs at least 10 customers with a purchase, got {len(x)}")

        def objective(theta):
            return -_bgnbd_loglik(theta, x, t_x, T, w) / w.sum() + self.penalizer * np.sum(theta ** 2)

        best = None
        for start in (np.zeros(4), np.log([0.5, max(T.mean(), 1.0), 1.0, 1.0])):
            res = optimize.minimize(objective, start, method="L-BFGS-B", bounds=[(-10, 7)] * 4,
                                    options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
            if best is None or res.fun < best.fun:
                best = res
        theta = best.x
        names = ["r", "alpha", "a", "b"]
        self.params_ = pd.Series(np.exp(theta), index=names)
        self.log_likelihood_ = _bgnbd_loglik(theta, x, t_x, T, w)
        self.n_customers_ = int(len(x))
        hessian = _numerical_hessian(lambda th: -_bgnbd_loglik(th, x, t_x, T, w), theta)
        try:
            cov_log = np.linalg.inv(hessian)
            se_log = np.sqrt(np.clip(np.diag(cov_log), 0, None))
        except np.linalg.LinAlgError:
            se_log = np.full(4, np.nan)
        self.se_log_ = pd.Series(se_log, index=names)
        self.converged_ = bool(best.success)
        return self

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """estimate, std_error, ci_low, ci_high of r, alpha, a, b."""
        z = special.ndtri(1 - alpha / 2)
        est = self.params_
        return pd.DataFrame({
            "estimate": est, "std_error": est * self.se_log_,
            "ci_low": est * np.exp(-z * self.se_log_), "ci_high": est * np.exp(z * self.se_log_),
            "method": "BG/NBD maximum likelihood",
        })

    def p_alive(self, X: pd.DataFrame) -> np.ndarray:
        """P(alive at T | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x))."""
        r, alpha, a, b = self.params_.to_numpy()
        x, t_x, T = _rfm_arrays(X)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
            return np.where(x > 0, special.expit(-log_ratio), 1.0)

    def expected_transactions(self, X: pd.DataFrame, t: float) -> np.ndarray:
        """Expected purchases in ``(T, T + t]`` given ``x, t_x, T`` (FHL 2005, eq. 10)."""
        r, alpha, a, b = self.params_.to_numpy()
        x, t_x, T = _rfm_arrays(X)
        z = t / (alpha + T + t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
            first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
            denominator = 1 + (x > 0) * a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x)
        expected = first / denominator
        # with near-degenerate heterogeneity (r, alpha at their bound) 2F1 can overflow:
        # fall back to P(alive) × the posterior mean rate × t, which ignores future dropout
        fallback = self.p_alive(X) * (r + x) / (alpha + T) * t
        return np.where(np.isfinite(expected), expected, fallback)


def _rfm_arrays(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in ("frequency", "recency", "T") if c not in X]
    if missing:
        raise ValueError(f"BG/NBD input needs columns frequency, recency, T; missing {missing}")
    return (np.asarray(X["frequency"], float), np.asarray(X["recency"], float), np.asarray(X["T"], float))


def _numerical_hessian(f, theta: np.ndarray, step: float = 1e-4) -> np.ndarray:
    k = len(theta)
    h = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i, e_j = np.eye(k)[i] * step, np.eye(k)[j] * step
            h[i, j] = h[j, i] = (f(theta + e_i + e_j) - f(theta + e_i - e_j) - f(theta - e_i + e_j)
                                 + f(theta - e_i - e_j)) / (4 * step ** 2)
    return h


def simulate_bgnbd(n: int, *, r: float, alpha: float, a: float, b: float, T: float | np.ndarray,
                   seed: int = 0) -> pd.DataFrame:
    """Simulate BG/NBD customers observed over ``(0, T]`` (first purchase at 0).

    Returns ``frequency`` (repeat purchases), ``recency`` (time of the last one, 0 if
    none), ``T`` and the hidden ``alive`` flag at ``T``.

    Examples
    --------
    >>> simulate_bgnbd(3, r=1.0, alpha=1.0, a=1.0, b=1.0, T=10.0, seed=0).columns.tolist()
    ['frequency', 'recency', 'T', 'alive']
    """
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    now = np.zeros(n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    running = np.ones(n, dtype=bool)
    while running.any():
        idx = np.flatnonzero(running)
        wait = rng.exponential(1 / np.maximum(lam[idx], 1e-12))
        arrives = now[idx] + wait
        inside = arrives <= T[idx]
        done = idx[~inside]
        running[done] = False
        buy = idx[inside]
        now[buy] = arrives[inside]
        x[buy] += 1
        t_x[buy] = now[buy]
        drop = buy[rng.random(len(buy)) < p[buy]]
        alive[drop] = False
        running[drop] = False
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T, "alive": alive})


# ---------------------------------------------------------------------------- classifiers
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


class ChurnCox(BaseEstimator):
    """Cox model with time-varying covariates (lifelines ``CoxTimeVaryingFitter``).

    A counting process (Andersen–Gill): every active snapshot ``(entity, month t)`` is
    the interval ``(t, t+1]`` with the features as of ``t`` and the event "churns in the
    horizon after t"; entities stay at risk while active, as they are scored. (Dropping
    entities after their first churn would hide the already-lapsing ones the model must
    score.) The hazard of entering churn in a month is
    ``h_0 · exp(β'(x − x̄))``; the probability of churn at a snapshot is
    ``1 − exp(−λ_0 · exp(β'(x − x̄)))`` with ``λ_0`` the average monthly baseline hazard,
    and the expected months to lapse is ``1 / that probability``.

    Parameters
    ----------
    penalizer : float
        Ridge penalty of lifelines' fitter.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=600)})
    >>> y = rng.random(600) < 0.1 * np.exp(X["a"])
    >>> m = ChurnCox().fit(X, y, entity_id=np.arange(600) % 100, origin=np.arange(600) // 100)
    >>> bool(m.summary().loc["a", "estimate"] > 0)
    True
    """

    def __init__(self, penalizer: float = 0.01):
        self.penalizer = penalizer

    def fit(self, X: pd.DataFrame, y, *, entity_id, origin):
        from lifelines import CoxTimeVaryingFitter

        data = X.copy()
        self.scale_ = data.std(ddof=0).replace(0, np.nan)
        keep = self.scale_.dropna().index
        self.columns_ = list(keep)
        data = data[self.columns_] / self.scale_[self.columns_]
        data["event"] = np.asarray(y).astype(int)
        data["id"] = np.asarray(entity_id)
        data["start"] = np.asarray(origin, float)
        data["stop"] = data["start"] + 1
        data = data.sort_values(["id", "start"], kind="stable")
        self.fitter_ = CoxTimeVaryingFitter(penalizer=self.penalizer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.fitter_.fit(data, id_col="id", event_col="event", start_col="start", stop_col="stop",
                             show_progress=False)
        cumulative = self.fitter_.baseline_cumulative_hazard_.iloc[:, 0]
        span = data["stop"].max() - data["start"].min()
        self.monthly_baseline_hazard_ = float(cumulative.iloc[-1] / max(span, 1))
        return self

    def partial_hazard(self, X: pd.DataFrame) -> np.ndarray:
        data = X[self.columns_] / self.scale_[self.columns_]
        return np.asarray(self.fitter_.predict_partial_hazard(data), float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1 - np.exp(-self.monthly_baseline_hazard_ * self.partial_hazard(X))
        return np.column_stack([1 - p, p])

    def expected_months_to_lapse(self, X: pd.DataFrame, cap: float = 120.0) -> np.ndarray:
        p = self.predict_proba(X)[:, 1]
        return np.minimum(1 / np.maximum(p, 1e-12), cap)

    def summary(self) -> pd.DataFrame:
        """Log hazard ratio per standard deviation of each feature, with 95% interval."""
        s = self.fitter_.summary
        return pd.DataFrame({"estimate": s["coef"], "std_error": s["se(coef)"],
                             "ci_low": s["coef lower 95%"], "ci_high": s["coef upper 95%"],
                             "hazard_ratio": s["exp(coef)"], "method": "Cox, time-varying, per SD"})


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


def _fit(model, frame: pd.DataFrame, features: list[str]):
    X, y = frame[features], frame["churned"].to_numpy()
    with warnings.catch_warnings(), threadpool_limits(N_THREADS):
        warnings.simplefilter("ignore")
        if isinstance(model, ChurnCox):
            return model.fit(X, y, entity_id=frame["entity_id"].to_numpy(), origin=frame["origin"].to_numpy())
        return model.fit(X, y)


def _risk(model, X: pd.DataFrame) -> np.ndarray:
    with warnings.catch_warnings(), threadpool_limits(N_THREADS):
        warnings.simplefilter("ignore")
        return model.predict_proba(X)[:, 1]


# ---------------------------------------------------------------------------- metrics
def auc_with_interval(y, score) -> tuple[float, float]:
    """ROC AUC and its Hanley–McNeil (1982) standard error.

    Examples
    --------
    >>> auc, se = auc_with_interval([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(auc, 2)
    0.75
    """
    y = np.asarray(y, bool)
    n1, n0 = y.sum(), (~y).sum()
    if n1 == 0 or n0 == 0:
        return float("nan"), float("nan")
    auc = roc_auc_score(y, score)
    q1, q2 = auc / (2 - auc), 2 * auc ** 2 / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc ** 2) + (n0 - 1) * (q2 - auc ** 2)) / (n1 * n0)
    return float(auc), float(np.sqrt(max(var, 0)))


def churn_metrics(y, risk, *, top_k: int = 20) -> dict:
    """ROC AUC (with s.e. and 95% interval), PR AUC, precision in the top k, Brier score."""
    y = np.asarray(y, bool)
    risk = np.asarray(risk, float)
    auc, se = auc_with_interval(y, risk)
    k = int(min(top_k, len(y)))
    top = np.argsort(-risk, kind="stable")[:k]
    both = y.any() and (~y).any()
    return {
        "roc_auc": auc, "roc_auc_se": se, "roc_auc_ci_low": auc - 1.96 * se, "roc_auc_ci_high": auc + 1.96 * se,
        "pr_auc": float(average_precision_score(y, risk)) if both else float("nan"),
        "precision_top_k": float(y[top].mean()) if k else float("nan"),
        "brier": float(brier_score_loss(y, np.clip(risk, 0, 1))) if len(y) else float("nan"),
        "churn_rate": float(y.mean()) if len(y) else float("nan"), "n": int(len(y)), "churned": int(y.sum()),
    }


def auc_difference(y, risk_a, risk_b) -> dict:
    """ROC AUC of ``a`` minus that of ``b`` on the same entities, with DeLong's paired 95% interval.

    DeLong, DeLong & Clarke-Pearson (1988), in the fast mid-rank form of Sun & Xu (2014):
    each churner's and non-churner's placement values give the covariance of the two
    correlated AUCs, so the interval accounts for both scores ranking the same churners.
    O(n log n), hence usable at national scale (a bootstrap took 97 s there).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(400) < 0.2
    >>> d = auc_difference(y, y + rng.normal(size=400), rng.normal(size=400))
    >>> bool(d["ci_low"] > 0), d["method"]
    (True, 'DeLong')
    """
    from scipy.stats import rankdata

    y = np.asarray(y, bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return {"difference": float("nan"), "std_error": float("nan"), "ci_low": float("nan"),
                "ci_high": float("nan"), "p_value": float("nan"), "method": "DeLong"}
    v10, v01 = [], []
    for score in (np.asarray(risk_a, float), np.asarray(risk_b, float)):
        pos, neg = score[y], score[~y]
        overall = rankdata(np.r_[pos, neg])
        v10.append((overall[:m] - rankdata(pos)) / n)       # share of non-churners below each churner
        v01.append(1 - (overall[m:] - rankdata(neg)) / m)   # share of churners above each non-churner
    auc = [v.mean() for v in v10]
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    contrast = np.array([1.0, -1.0])
    se = float(np.sqrt(max(contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n, 0.0)))
    diff = float(auc[0] - auc[1])
    p_value = float(2 * special.ndtr(-abs(diff) / se)) if se > 0 else float("nan")
    return {"difference": diff, "std_error": se, "ci_low": diff - 1.96 * se, "ci_high": diff + 1.96 * se,
            "p_value": p_value, "method": "DeLong"}


# ---------------------------------------------------------------------------- backtest
@dataclass
class ChurnBacktest:
    """Results of the time-split backtest.

    Attributes
    ----------
    metrics : DataFrame
        One row per model: roc_auc (+ std_error, interval), pr_auc, precision_top_k,
        brier, lift_over_best_rule (precision in the top k ÷ that of the best rule).
    chosen : str
        The learned model with the highest ROC AUC.
    best_rule : str
    scores : DataFrame
        Evaluation snapshot: entity_id, churned, one risk column per model.
    train_origin, eval_origin : Timestamp
    subset_metrics : dict of DataFrame
        The same metrics on subsets of the evaluation snapshot, by subset name:
        ``still_active_last_month`` = entities with volume in the month of the origin.
        Those are the hard, useful cases: an entity already at zero when scored is an
        easy "churner" for any rule (it stays *active* for a few months after its volume
        stops), and a rep can no longer act on it in time.
    train_rows, train_rows_available : int
        Training snapshots used, and available before subsampling (``max_train_rows``).
    comparison : dict
        Per subset (``all_active``, ``still_active_last_month``): the chosen model's ROC
        AUC minus the best rule's, with DeLong's paired 95% interval and p-value.
    """

    metrics: pd.DataFrame
    chosen: str
    best_rule: str
    scores: pd.DataFrame
    train_origins: list
    eval_origin: pd.Timestamp
    notes: list = field(default_factory=list)
    subset_metrics: dict = field(default_factory=dict)
    train_rows: int = 0
    train_rows_available: int = 0
    comparison: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Metrics of every model on every evaluated subset, indexed by (subset, model)."""
        frames = {"all_active": self.metrics, **self.subset_metrics}
        return pd.concat(frames, names=["subset", "model"])


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns of a churn frame (everything but ids, origin and label)."""
    return [c for c in frame.columns if c not in ID_COLUMNS]


def training_origins(history: ChurnHistory, label_end: int, *, horizon_months: int, active_months: int,
                     train_origins: int) -> list[int]:
    """Monthly origins whose labels are known by month index ``label_end``, newest first."""
    last = label_end - horizon_months
    first = max(active_months - 1, last - train_origins + 1)
    return list(range(first, last + 1))


SUBSETS = ("still_active_last_month",)


def subsample_snapshots(frame: pd.DataFrame, max_rows: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded subsample of whole entities (all their snapshots) with about ``max_rows`` rows.

    Whole entities are kept so that the Cox model still sees each one's counting process.
    Returns ``frame`` itself when it has at most ``max_rows`` rows (or ``max_rows`` is
    None/0), so small data are never sampled.

    Examples
    --------
    >>> f = pd.DataFrame({"entity_id": np.repeat(np.arange(100), 3), "origin": np.tile([0, 1, 2], 100)})
    >>> len(subsample_snapshots(f, 60, seed=1))
    60
    >>> subsample_snapshots(f, 1000) is f
    True
    """
    if not max_rows or len(frame) <= max_rows:
        return frame
    entities = pd.unique(frame["entity_id"])
    n_keep = max(1, int(round(len(entities) * max_rows / len(frame))))
    chosen = np.random.default_rng(seed).choice(len(entities), size=n_keep, replace=False)
    return frame[frame["entity_id"].isin(entities[np.sort(chosen)])]


def _metrics_table(test: pd.DataFrame, scores: pd.DataFrame, names, kinds: dict, top_k: int) -> pd.DataFrame:
    rows = [{"model": name, "kind": kinds[name], **churn_metrics(test["churned"], scores[name], top_k=top_k)}
            for name in names]
    metrics = pd.DataFrame(rows).set_index("model")
    rules = metrics[metrics["kind"] == "rule"]
    best_rule = rules["roc_auc"].fillna(-1).idxmax() if len(rules) else ""
    base = metrics.loc[best_rule, "precision_top_k"] if best_rule else np.nan
    metrics["lift_over_best_rule"] = metrics["precision_top_k"] / base if base and base > 0 else np.nan
    metrics["best_rule"] = best_rule
    return metrics


def churn_backtest(history: ChurnHistory, as_of_index: int, *, horizon_months: int = 3, active_months: int = 6,
                   min_active_months: int = 3, train_origins: int = 12, churn_share: float = 0.0,
                   top_k: int = 20, models=RULES + LEARNED, seed: int = 0,
                   max_train_rows: int | None = None) -> ChurnBacktest:
    """Fit as of ``as_of − horizon`` on outcomes known by then, score, compare with ``as_of``.

    Metrics are reported on every entity active at the evaluation origin and on the
    subset still buying/prescribing in the origin's month (``subset_metrics``). With
    ``max_train_rows``, the learned models are trained on a seeded subsample of whole
    entities (:func:`subsample_snapshots`); the rules and the evaluation use everything.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.churn import churn_history
    >>> h = churn_history(simulate("sample", seed=1).tables)
    >>> bt = churn_backtest(h, 35, models=("rule_last_month", "logistic"))
    >>> bt.chosen
    'logistic'
    """
    kw = dict(horizon_months=horizon_months, active_months=active_months, min_active_months=min_active_months,
              churn_share=churn_share)
    eval_origin = as_of_index - horizon_months
    origins = training_origins(history, eval_origin, horizon_months=horizon_months, active_months=active_months,
                               train_origins=train_origins)
    if not origins or eval_origin < active_months - 1:
        raise ValueError(f"not enough history for a backtest: need {active_months + 2 * horizon_months} months "
                         f"up to as_of, have {as_of_index + 1}")
    full_train = churn_frame(history, origins, **kw)
    train = subsample_snapshots(full_train, max_train_rows, seed)
    test = churn_frame(history, [eval_origin], **kw)
    features = feature_columns(train)
    notes = []
    if len(train) < len(full_train):
        notes.append(f"trained on a seeded subsample of {train['entity_id'].nunique()} entities "
                     f"({len(train)} of {len(full_train)} snapshots, max_train_rows={max_train_rows})")
    scores = test[["entity_id", "churned"]].copy()
    usable = train["churned"].nunique() == 2
    if not usable:
        notes.append("the training snapshots hold no churn (or only churn): only the rules are scored")
    names, kinds = [], {}
    for name in models:
        if name in LEARNED and not usable:
            continue
        # a rule's ranking needs no training: its Platt mapping is fitted on every snapshot
        fit_on = full_train if name in RULES else train
        model = _fit(make_model(name, seed), fit_on, features) if usable else RuleScore(name.removeprefix("rule_"))
        risk = _risk(model, test[features]) if usable else RuleScore(name.removeprefix("rule_")).score_samples(
            test[features])
        scores[name] = risk
        names.append(name)
        kinds[name] = "rule" if name in RULES else "learned"
    metrics = _metrics_table(test, scores, names, kinds, top_k)
    if not test["churned"].any():
        notes.append("no entity churned in the evaluation horizon: AUCs are undefined and the choice "
                     "falls back to the first learned model")
    if not usable:
        metrics["brier"] = np.nan
    best_rule = metrics["best_rule"].iat[0] if len(metrics) else ""
    metrics = metrics.drop(columns="best_rule")
    learned = metrics[metrics["kind"] == "learned"]
    chosen = learned["roc_auc"].fillna(-1).idxmax() if len(learned) else best_rule
    # the hard cases: still buying in the origin's month (zero volume then = already lapsing)
    still = (test["volume_last"] > 0).to_numpy()
    scores["still_active_last_month"] = still
    subset = _metrics_table(test[still], scores[still], names, kinds, top_k)
    if not test.loc[still, "churned"].any():
        notes.append("no entity still active in the origin's month churned in the horizon: the "
                     "still_active_last_month AUCs are undefined")
    if not usable:
        subset["brier"] = np.nan
    comparison = {}
    for name, table, rows in (("all_active", metrics, np.ones(len(scores), bool)),
                              ("still_active_last_month", subset, still)):
        rule = best_rule if name == "all_active" else (subset["best_rule"].iat[0] if len(subset) else "")
        if chosen in scores and rule in scores and chosen != rule:
            comparison[name] = {"chosen": chosen, "best_rule": rule,
                                **auc_difference(scores["churned"][rows], scores[chosen][rows], scores[rule][rows])}
    return ChurnBacktest(metrics, chosen, best_rule, scores, [history.months[o] for o in origins],
                         history.months[eval_origin], notes, {"still_active_last_month": subset},
                         int(len(train)), int(len(full_train)), comparison)


# ---------------------------------------------------------------------------- scoring
def feature_contributions(model, X: pd.DataFrame, reference: pd.Series, *,
                          batch_rows: int = 1_000_000) -> pd.DataFrame:
    """Each feature's contribution to the log-odds of churn, by occlusion.

    ``contribution_j = logit p(x) − logit p(x with x_j set to its reference value)``:
    positive = the feature's value raises the risk above that of a typical entity.
    Model-agnostic, so the reasons follow whichever model the backtest chose. The
    occluded copies of several features are stacked and scored in one call (up to
    ``batch_rows`` rows), which saves the per-call overhead of the model on small data
    and bounds memory on large data.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(-2 * X["a"]))
    >>> m = ChurnClassifier("logistic").fit(X, y)
    >>> c = feature_contributions(m, X, X.median())
    >>> bool(c["a"].abs().mean() > c["b"].abs().mean())
    True
    """
    eps = 1e-6
    n = len(X)
    base = special.logit(np.clip(_risk(model, X), eps, 1 - eps))
    out = {column: np.zeros(n) for column in X.columns}
    varying = [c for c in X.columns if not (X[c] == reference[c]).all()]
    values = X.to_numpy(dtype=float)
    positions = {c: X.columns.get_loc(c) for c in X.columns}
    per_batch = max(1, batch_rows // max(n, 1))
    for start in range(0, len(varying), per_batch):
        chunk = varying[start:start + per_batch]
        stacked = np.tile(values, (len(chunk), 1))
        for i, column in enumerate(chunk):
            stacked[i * n:(i + 1) * n, positions[column]] = reference[column]
        risk = _risk(model, pd.DataFrame(stacked, columns=X.columns)).reshape(len(chunk), n)
        for i, column in enumerate(chunk):
            out[column] = base - special.logit(np.clip(risk[i], eps, 1 - eps))
    return pd.DataFrame(out, index=X.index)


@dataclass
class ChurnScores:
    """Scores of the active entities as of ``as_of`` from the chosen model."""

    scores: pd.DataFrame
    contributions: pd.DataFrame
    features: pd.DataFrame
    model: object
    bgnbd: BetaGeoModel | None
    model_name: str


def score_churn(history: ChurnHistory, as_of_index: int, *, model: str = "boosting", horizon_months: int = 3,
                active_months: int = 6, min_active_months: int = 3, train_origins: int = 12,
                churn_share: float = 0.0, seed: int = 0, max_train_rows: int | None = None) -> ChurnScores:
    """Refit ``model`` on every outcome known by ``as_of`` and score the active entities.

    With ``max_train_rows`` the model is refitted on a seeded subsample of whole entities
    (as in the backtest); every active entity is still scored.

    Returns entity_id, risk, p_alive and expected_transactions (BG/NBD over the
    horizon), volume_at_stake (average monthly volume over the last ``active_months``
    × horizon), and the feature contributions behind the reasons.
    """
    kw = dict(horizon_months=horizon_months, active_months=active_months, min_active_months=min_active_months,
              churn_share=churn_share)
    origins = training_origins(history, as_of_index, horizon_months=horizon_months, active_months=active_months,
                               train_origins=train_origins)
    current = churn_frame(history, [as_of_index], with_labels=False, **kw)
    features = feature_columns(current)
    X = current[features]
    train = subsample_snapshots(churn_frame(history, origins, **kw), max_train_rows, seed) if origins else None
    if model in LEARNED and (train is None or train["churned"].nunique() < 2):
        model = "rule_last_month"
    if model in RULES and (train is None or train["churned"].nunique() < 2):
        fitted = RuleScore(model.removeprefix("rule_"))
        risk = special.expit(fitted.score_samples(X))
        contributions = pd.DataFrame(0.0, index=X.index, columns=features)
        contributions[fitted.kind == "last_month" and "last_to_12m" or "trend_3m"] = 1.0
    else:
        fitted = _fit(make_model(model, seed), train, features)
        risk = _risk(fitted, X)
        contributions = feature_contributions(fitted, X, train[features].median())
    scores = pd.DataFrame({"entity_id": current["entity_id"].to_numpy(), "risk": risk})
    bgnbd = None
    rfm = rfm_at(history, history.months[as_of_index] + pd.offsets.MonthEnd(0))
    buyers = rfm.dropna()
    scores["p_alive"] = np.nan
    scores["expected_transactions"] = np.nan
    if len(buyers) >= 10:
        bgnbd = BetaGeoModel().fit(buyers)
        rfm_active = rfm.reindex(scores["entity_id"])
        scores["p_alive"] = bgnbd.p_alive(rfm_active)
        scores["expected_transactions"] = bgnbd.expected_transactions(rfm_active, float(horizon_months))
    window = history.volume[:, max(0, as_of_index - active_months + 1):as_of_index + 1].mean(axis=1)
    volume = pd.Series(window, index=history.entity_ids)
    scores["volume_at_stake"] = volume.reindex(scores["entity_id"]).to_numpy() * horizon_months
    contributions.index = scores["entity_id"].to_numpy()
    return ChurnScores(scores, contributions, X.set_axis(scores["entity_id"].to_numpy()), fitted, bgnbd, model)


# ---------------------------------------------------------------------------- survival curves
def lapse_durations(history: ChurnHistory, as_of_index: int, *, horizon_months: int = 3) -> pd.DataFrame:
    """Months from each entity's first volume to its lapse, for Kaplan–Meier curves.

    A lapse is the first month of a run of zero volume lasting at least ``horizon_months``
    that is observed by ``as_of``; entities with no such run are censored at ``as_of``.
    """
    v = history.volume[:, :as_of_index + 1] > 0
    n, m = v.shape
    first = np.where(v.any(axis=1), np.argmax(v, axis=1), -1)
    duration = np.full(n, np.nan)
    event = np.zeros(n, dtype=bool)
    zero_run = np.zeros(n, dtype=int)
    lapse_at = np.full(n, -1)
    for t in range(m):
        zero_run = np.where(v[:, t], 0, zero_run + 1)
        new = (zero_run == horizon_months) & (lapse_at < 0) & (first >= 0) & (first < t)
        lapse_at[new] = t - horizon_months + 1
    event = lapse_at >= 0
    duration = np.where(event, lapse_at - first, m - first).astype(float)
    out = pd.DataFrame({"entity_id": history.entity_ids, "duration": duration, "lapsed": event})
    return out[first >= 0].reset_index(drop=True)


def retention_curves(durations: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Kaplan–Meier retention (share not lapsed) by group, with 95% intervals.

    Examples
    --------
    >>> d = pd.DataFrame({"entity_id": list("abcd"), "duration": [2.0, 5.0, 5.0, 3.0],
    ...                   "lapsed": [True, False, False, True]})
    >>> curves = retention_curves(d, pd.Series(["x", "x", "y", "y"], index=list("abcd")))
    >>> sorted(curves["group"].unique())
    ['x', 'y']
    """
    from lifelines import KaplanMeierFitter

    g = groups.reindex(durations["entity_id"]).astype("string").fillna("unknown").to_numpy()
    frames = []
    for name in sorted(pd.unique(g)):
        sel = g == name
        km = KaplanMeierFitter().fit(durations["duration"][sel], durations["lapsed"][sel], label=str(name))
        ci = km.confidence_interval_
        frames.append(pd.DataFrame({"group": str(name), "month": km.survival_function_.index.to_numpy(),
                                    "retention": km.survival_function_.iloc[:, 0].to_numpy(),
                                    "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
                                    "n": int(sel.sum())}))
    return pd.concat(frames, ignore_index=True)


__all__ = ["BetaGeoModel", "ChurnBacktest", "ChurnClassifier", "ChurnCox", "ChurnScores", "RuleScore",
           "auc_difference", "auc_with_interval", "churn_backtest", "churn_metrics", "feature_contributions", "lapse_durations",
           "make_model", "retention_curves", "score_churn", "simulate_bgnbd", "subsample_snapshots",
           "active_mask", "churn_labels"]
