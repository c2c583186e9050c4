"""The BG/NBD ("buy till you die") model: probability alive and expected purchases.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
24(2). Needs no churn labels, hence no backtest: it scores any history with a few repeat
purchases, and its forecast of purchases over a holdout is checked against what happened
(``tests/models/test_churn_bgnbd.py`` on the CDNOW transactions).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, special
from sklearn.base import BaseEstimator

from crmlab.models.uncertainty import z_value

#: Log-parameter bounds of the optimiser (time on the scale of the mean ``T``).
LOG_BOUNDS = (-10.0, 7.0)
PARAMETERS = ["r", "alpha", "a", "b"]


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


def _distinct(x, t_x, T, w):
    """Customers with the same (x, t_x, T) once, weighted by their total weight.

    The likelihood is a sum over customers, so this is the same fit; with monthly
    occasions a national population of 150,000 has a few hundred distinct histories.

    Examples
    --------
    >>> _distinct(np.array([1.0, 1, 0]), np.array([2.0, 2, 0]), np.array([5.0, 5, 5]), np.ones(3))[3].tolist()
    [1.0, 2.0]
    """
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T, "w": w}).groupby(["x", "t_x", "T"], sort=True)["w"].sum()
    keys = frame.index
    return (keys.get_level_values(0).to_numpy(float), keys.get_level_values(1).to_numpy(float),
            keys.get_level_values(2).to_numpy(float), frame.to_numpy(float))


class BetaGeoModel(BaseEstimator):
    """BG/NBD model of Fader, Hardie & Lee (2005), fitted by maximum likelihood.

    While alive a customer buys as a Poisson process with rate ``λ ~ Gamma(r, α)``;
    after each repeat purchase it drops out with probability ``p ~ Beta(a, b)``. With
    ``x`` repeat purchases, the last at ``t_x``, observed over ``(0, T]``::

        L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
            + 1{x>0} B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))

    Times may be in any unit (days, weeks, months): ``α`` is in that unit and the
    other parameters do not depend on it. The fit works on times divided by the mean
    ``T`` (so the optimiser's bounds mean the same in every unit) and reports ``α`` in
    the input unit. The log-likelihood is maximised over the log parameters
    (L-BFGS-B, two starts); standard errors come from the inverse numerical Hessian,
    mapped to the natural scale by the delta method; intervals are Wald intervals on
    the log scale. A singular Hessian gives a warning and NaN standard errors; a
    parameter at its bound (e.g. no heterogeneity in purchase rates: ``r, α → ∞``
    with ``r/α`` fixed) is listed in ``at_bound_``.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the log parameters (0 = plain maximum likelihood).

    Attributes
    ----------
    params_ : Series
        r, alpha, a, b.
    se_log_ : Series
        Standard errors of the log parameters.
    log_likelihood_ : float
    converged_ : bool
    at_bound_ : list of str

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
        scale = float(T.mean()) if T.mean() > 0 else 1.0
        shift = np.array([0.0, np.log(scale), 0.0, 0.0])  # log α in the input unit = scaled + shift
        n_customers = len(x)
        x, t_x, T, w = _distinct(x, t_x, T, w)
        ts_x, ts = t_x / scale, T / scale

        def objective(theta):
            return -_bgnbd_loglik(theta, x, ts_x, ts, w) / w.sum() + self.penalizer * np.sum((theta + shift) ** 2)

        best = None
        for start in (np.zeros(4), np.log([0.5, max(T.mean(), 1.0), 1.0, 1.0])):
            res = optimize.minimize(objective, start - shift, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 4,
                                    options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
            if best is None or res.fun < best.fun:
                best = res
        theta = best.x
        self.params_ = pd.Series(np.exp(theta + shift), index=PARAMETERS)
        # the likelihood is a density in time: back in the input unit it gains −x·log(scale)
        self.log_likelihood_ = _bgnbd_loglik(theta, x, ts_x, ts, w) - float(np.sum(w * x)) * np.log(scale)
        self.n_customers_ = n_customers
        self.at_bound_ = [name for name, value in zip(PARAMETERS, theta)
                          if min(abs(value - LOG_BOUNDS[0]), abs(value - LOG_BOUNDS[1])) < 1e-3]
        hessian = _numerical_hessian(lambda th: -_bgnbd_loglik(th, x, ts_x, ts, w), theta)
        se_log = np.full(4, np.nan)
        try:
            cov_log = np.linalg.inv(hessian)
            if np.all(np.isfinite(cov_log)) and np.all(np.diag(cov_log) > 0):
                se_log = np.sqrt(np.diag(cov_log))
            else:
                warnings.warn("BG/NBD: the Hessian is not positive definite; standard errors are NaN",
                              RuntimeWarning, stacklevel=2)
        except np.linalg.LinAlgError:
            warnings.warn("BG/NBD: singular Hessian; standard errors are NaN", RuntimeWarning, stacklevel=2)
        self.se_log_ = pd.Series(se_log, index=PARAMETERS)
        self.converged_ = bool(best.success)
        return self

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """estimate, std_error, ci_low, ci_high of r, alpha, a, b."""
        z = z_value(alpha)
        est = self.params_
        return pd.DataFrame({
            "estimate": est, "std_error": est * self.se_log_,
            "ci_low": est * np.exp(-z * self.se_log_), "ci_high": est * np.exp(z * self.se_log_),
            "method": "BG/NBD maximum likelihood",
        })

    @property
    def mean_rate_(self) -> float:
        """Mean purchase rate while alive, ``r / α`` per time unit (identified even at a bound)."""
        return float(self.params_["r"] / self.params_["alpha"])

    def p_alive(self, X: pd.DataFrame) -> np.ndarray:
        """P(alive at T | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x−1) ((α+T)/(α+t_x))^(r+x))."""
        r, alpha, a, b = self.params_.to_numpy()
        x, t_x, T = _rfm_arrays(X)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                         + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
            return np.where(x > 0, special.expit(-log_ratio), 1.0)

    def prob_no_purchase(self, X: pd.DataFrame, t: float) -> np.ndarray:
        """P(no purchase in ``(T, T + t]`` | x, t_x, T): dead, or alive and not buying.

        A customer alive at ``T`` can drop out only right after a purchase, so with no
        purchase it stays alive; its rate given the past is ``Gamma(r + x, α + T)``, so
        ``P = 1 − P(alive) · (1 − ((α+T)/(α+T+t))^(r+x))``. This is the model's
        probability of churn when churn means no purchase over a horizon of ``t``.

        Examples
        --------
        >>> m = BetaGeoModel()
        >>> m.params_ = pd.Series({"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0})
        >>> X = pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [1.0]})
        >>> float(m.prob_no_purchase(X, 2.0)[0])  # alive for sure; (2/4)^1
        0.5
        """
        r, alpha, _, _ = self.params_.to_numpy()
        x, _, T = _rfm_arrays(X)
        silent_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        return 1 - self.p_alive(X) * (1 - silent_if_alive)

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

