"""One way to state uncertainty, in lifelines' convention.

Every estimator takes ``alpha`` (0.05 gives 95% intervals) and every results object
reports ``estimate, std_error, ci_low, ci_high``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: The columns of every table of estimates.
ESTIMATE_COLUMNS = ["estimate", "std_error", "ci_low", "ci_high"]


class EffectsTable:
    """Mixin of a results object whose ``effects`` table has one row per ``effect``."""

    effects: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One row per effect: ``effect, estimate, std_error, ci_low, ci_high`` (and any more columns)."""
        return self.effects

    def effect(self, name: str) -> dict:
        """One effect as a dict ``{estimate, std_error, ci_low, ci_high}``."""
        row = self.effects.set_index("effect").loc[name]
        return {k: float(row[k]) for k in ESTIMATE_COLUMNS}


def z_value(alpha: float = 0.05) -> float:
    """The two-sided normal quantile for a ``1 - alpha`` interval.

    Examples
    --------
    >>> round(z_value(0.05), 3)
    1.96
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


def interval(estimate: float, std_error: float, alpha: float = 0.05) -> dict:
    """``estimate, std_error, ci_low, ci_high`` of a normal (Wald) interval.

    Examples
    --------
    >>> interval(1.0, 0.5)["ci_high"]
    1.979981992...
    """
    z = z_value(alpha)
    return {"estimate": float(estimate), "std_error": float(std_error),
            "ci_low": float(estimate - z * std_error), "ci_high": float(estimate + z * std_error)}


def logit_interval(estimate: float, std_error: float, alpha: float = 0.05) -> dict:
    """A Wald interval on the logit scale, mapped back: it stays inside [0, 1].

    For a proportion or a ROC AUC with its standard error (e.g. DeLong's).

    Examples
    --------
    >>> ci = logit_interval(0.99, 0.02)
    >>> 0 < ci["ci_low"] < 0.99 < ci["ci_high"] < 1
    True
    """
    eps = 1e-9
    p = float(np.clip(estimate, eps, 1 - eps))
    se_logit = float(std_error) / (p * (1 - p))
    centre = np.log(p / (1 - p))
    z = z_value(alpha)
    low, high = (1 / (1 + np.exp(-(centre + sign * z * se_logit))) for sign in (-1, 1))
    return {"estimate": float(estimate), "std_error": float(std_error),
            "ci_low": float(low), "ci_high": float(high)}
