"""A Cox model with time-varying covariates for churn (lifelines)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from crmlab.models.uncertainty import z_value


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

    Attributes
    ----------
    fitter_ : lifelines.CoxTimeVaryingFitter
    converged_ : bool
        False (with a warning) when lifelines reported a convergence problem.

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
        from lifelines.exceptions import ConvergenceWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.fitter_.fit(data, id_col="id", event_col="event", start_col="start", stop_col="stop",
                             show_progress=False)
        problems = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
        self.converged_ = not problems
        if problems:
            warnings.warn(f"Cox model: {problems[0].message}", RuntimeWarning, stacklevel=2)
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

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Log hazard ratio per standard deviation of each feature, with its Wald interval."""
        s = self.fitter_.summary
        z = z_value(alpha)
        return pd.DataFrame({"estimate": s["coef"], "std_error": s["se(coef)"],
                             "ci_low": s["coef"] - z * s["se(coef)"], "ci_high": s["coef"] + z * s["se(coef)"],
                             "hazard_ratio": s["exp(coef)"], "method": "Cox, time-varying, per SD"})


