"""Synthetic control for a region-level campaign, with placebo (permutation) inference.

The treated unit's pre-campaign path is matched by a convex combination of donor units
(weights ≥ 0, summing to 1; Abadie, Diamond & Hainmueller 2010) by least squares on
the pre-period outcomes. The gap after the start is the campaign effect. Inference:
refit with each donor in turn as if it were treated (placebos); the p-value is the
rank of the treated unit's post/pre RMSPE ratio among all units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize

from crmlab.models.attribution.inference import warn


def simplex_weights(treated_pre: np.ndarray, donors_pre: np.ndarray) -> np.ndarray:
    """Weights on the simplex minimising ``||treated_pre - donors_pre @ w||²``.

    Examples
    --------
    >>> simplex_weights(np.array([1.0, 2.0]), np.array([[0.0, 2.0], [0.0, 4.0]])).round(3).tolist()
    [0.5, 0.5]
    """
    return _simplex_fit(treated_pre, donors_pre)[0]


def _simplex_fit(treated_pre: np.ndarray, donors_pre: np.ndarray) -> tuple[np.ndarray, bool]:
    """:func:`simplex_weights` and whether the optimiser converged."""
    n = donors_pre.shape[1]
    scale = max(float(np.abs(treated_pre).max()), 1e-9)
    y, x = treated_pre / scale, donors_pre / scale
    fit = optimize.minimize(lambda w: np.sum((y - x @ w) ** 2), np.full(n, 1.0 / n),
                            jac=lambda w: -2 * x.T @ (y - x @ w), method="SLSQP",
                            bounds=[(0.0, 1.0)] * n,
                            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1, "jac": lambda w: np.ones(n)}],
                            options={"ftol": 1e-12, "maxiter": 500})
    w = np.clip(fit.x, 0, None)
    return w / w.sum(), bool(fit.success)


@dataclass
class SyntheticControlResults:
    """Paths, weights, gaps and placebo inference of one synthetic control fit."""

    path: pd.DataFrame
    weights: pd.Series
    pre_rmspe: float
    post_gap_mean: float
    post_gap_pct: float
    placebo: pd.DataFrame
    p_value: float
    rank: int

    def summary(self) -> pd.DataFrame:
        """The effect after the start: mean gap and gap in % of the synthetic path.

        Inference is by permutation (placebos), not by a standard error: each row has
        ``estimate`` and the placebo ``p_value`` and ``rank``.
        """
        return pd.DataFrame([{"effect": "post_gap_mean", "estimate": self.post_gap_mean},
                             {"effect": "post_gap_pct", "estimate": self.post_gap_pct}]
                            ).assign(p_value=self.p_value, rank=self.rank)


class SyntheticControl:
    """Synthetic control of one treated unit against donors, with placebo inference.

    Parameters
    ----------
    normalize : bool
        Divide each unit's series by its pre-period mean before matching (regions of
        different size can then be matched on shape; the effect is in % of the level).

    Attributes
    ----------
    converged_ : bool
        Every weight fit (treated and placebos) converged; else a warning was issued.
    results_ : SyntheticControlResults

    Examples
    --------
    >>> wide = prop99.pivot(index="year", columns="state", values="cigsale")  # doctest: +SKIP
    >>> SyntheticControl().fit(wide, "California", 1989).results_.post_gap_mean  # doctest: +SKIP
    """

    def __init__(self, normalize: bool = False):
        self.normalize = normalize

    def _one(self, wide: pd.DataFrame, treated: str, donors: list, pre: np.ndarray):
        y = wide[treated].to_numpy(float)
        x = wide[donors].to_numpy(float)
        if self.normalize:
            y = y / y[pre].mean()
            x = x / x[pre].mean(axis=0)
        w, converged = _simplex_fit(y[pre], x[pre])
        self._converged.append(converged)
        synthetic = x @ w
        gap = y - synthetic
        pre_rmspe = float(np.sqrt(np.mean(gap[pre] ** 2)))
        post_rmspe = float(np.sqrt(np.mean(gap[~pre] ** 2)))
        return w, y, synthetic, gap, pre_rmspe, post_rmspe

    def fit(self, wide: pd.DataFrame, treated: str, start, donors: list | None = None) -> SyntheticControl:
        """Fit on a wide table (rows = periods, sorted; columns = units).

        Parameters
        ----------
        wide : DataFrame
            Outcome per period (index) and unit (columns).
        treated : str
            Column of the treated unit.
        start : scalar
            First treated period (compared with the index).
        donors : list, optional
            Donor columns; default every other column.
        """
        if treated not in wide:
            raise ValueError(f"SyntheticControl: treated unit {treated!r} is not a column of the outcome table")
        donors = [c for c in (donors if donors is not None else wide.columns) if c != treated]
        if len(donors) < 2:
            raise ValueError("SyntheticControl needs at least 2 donor units")
        pre = np.asarray(wide.index < start)
        if pre.sum() < 2 or (~pre).sum() < 1:
            raise ValueError("SyntheticControl needs at least 2 periods before and 1 after the start")
        self._converged = []
        w, y, synthetic, gap, pre_rmspe, post_rmspe = self._one(wide, treated, donors, pre)
        placebo = [{"unit": treated, "pre_rmspe": pre_rmspe, "post_rmspe": post_rmspe,
                    "ratio": post_rmspe / max(pre_rmspe, 1e-12), "treated": True}]
        gaps = {treated: gap}
        for unit in donors:
            others = [d for d in donors if d != unit]
            _, _, _, g, pr, po = self._one(wide, unit, others, pre)
            placebo.append({"unit": unit, "pre_rmspe": pr, "post_rmspe": po, "ratio": po / max(pr, 1e-12),
                            "treated": False})
            gaps[unit] = g
        placebo = pd.DataFrame(placebo).sort_values("ratio", ascending=False, kind="stable").reset_index(drop=True)
        rank = int(placebo.index[placebo["treated"]][0]) + 1
        scale = wide[treated].to_numpy(float)[pre].mean() if self.normalize else 1.0
        path = pd.DataFrame({"period": wide.index, "actual": y * scale, "synthetic": synthetic * scale,
                             "gap": gap * scale, "post": ~pre})
        self.converged_ = all(self._converged)
        if not self.converged_:
            warn(f"SyntheticControl: {self._converged.count(False)} of {len(self._converged)} weight fits did not "
                 "converge; the gap and the placebo ranks may be off")
        self.gaps_ = pd.DataFrame(gaps, index=wide.index)
        self.results_ = SyntheticControlResults(
            path=path, weights=pd.Series(w, index=donors).sort_values(ascending=False),
            pre_rmspe=pre_rmspe * scale, post_gap_mean=float(gap[~pre].mean() * scale),
            post_gap_pct=float(gap[~pre].sum() / synthetic[~pre].sum()),
            placebo=placebo, p_value=rank / len(placebo), rank=rank)
        return self
