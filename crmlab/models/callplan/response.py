"""The visit response per doctor: attribution's visit lift with an effect varying by doctor.

Model (doctor ``i``, month ``t``; the fixed effects, carry-over ``decay``, saturation
``r`` and channel weights are attribution's :class:`~crmlab.models.attribution.VisitLift`)::

    y_it = a_i + g_{t, bin(i)} + (z_i @ b) * x_it(decay, r, w) + u_it

``z_i`` describes what is observable about the doctor before a visit: a cubic B-spline
of the potential percentile (so the effect can rise, fall or peak with potential without
choosing which), and specialty, title and account-tier indicators. ``b`` is estimated by
interacting the fitted adstock regressor with ``z`` under the same fixed effects
(:meth:`VisitLift.interacted <crmlab.models.attribution.VisitLift.interacted>`), so
targeting (reps visiting big prescribers more) is absorbed as in attribution.
``beta_i = z_i @ b`` is the doctor's effect of the first face-to-face visit of a month in
that month; its standard error is ``sqrt(z_i' V z_i)`` (cluster-robust ``V``,
conditional on the pooled carry-over and saturation). A small ridge penalty
(``ridge``, relative to the regressor's scale) keeps thin segments from exploding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import SplineTransformer

#: Doctor covariates of the response (categorical ones become indicators).
CATEGORICAL = ("specialty", "title", "tier")


class HeterogeneousVisitResponse:
    """Per-doctor visit effect from a fitted visit lift and doctor covariates.

    Parameters
    ----------
    n_knots : int
        Knots of the potential spline (0 or 1: no potential term).
    categorical : tuple of str
        Covariate columns entering as indicators (missing ones are skipped).
    min_doctors : int
        A category with fewer fitted doctors joins ``other``.
    alpha : float
        Intervals cover ``1 - alpha``.

    Attributes
    ----------
    coef_ : ndarray
    vcov_ : ndarray
    columns_ : list of str
    decay_, saturation_ : float
        From the visit lift.
    """

    def __init__(self, n_knots: int = 5, categorical: tuple = CATEGORICAL, min_doctors: int = 30,
                 alpha: float = 0.05):
        self.n_knots = n_knots
        self.categorical = categorical
        self.min_doctors = min_doctors
        self.alpha = alpha

    def _design(self, covariates: pd.DataFrame, fit: bool = False) -> np.ndarray:
        parts, names = [], []
        if self.n_knots >= 2:
            q = covariates[["potential_rank"]].to_numpy(float)
            if fit:
                self._spline = SplineTransformer(n_knots=self.n_knots, degree=3, knots="uniform").fit(
                    np.array([[0.0], [1.0]]))
            basis = self._spline.transform(np.clip(q, 0, 1))
            parts.append(basis)
            names += [f"potential_spline_{j}" for j in range(basis.shape[1])]
        else:
            parts.append(np.ones((len(covariates), 1)))
            names.append("intercept")
        if fit:
            self.levels_ = {}
            for col in self.categorical:
                if col not in covariates:
                    continue
                counts = covariates[col].astype(str).value_counts()
                kept = sorted(counts.index[counts >= self.min_doctors])
                self.levels_[col] = kept[1:] if len(kept) > 1 else []  # first level: the reference
        for col, levels in self.levels_.items():
            values = covariates[col].astype(str).to_numpy() if col in covariates else np.full(len(covariates), "")
            for level in levels:
                parts.append((values == level).astype(float)[:, None])
                names.append(f"{col}={level}")
        if fit:
            self.columns_ = names
        return np.hstack(parts)

    def fit(self, lift, covariates: pd.DataFrame) -> "HeterogeneousVisitResponse":
        """Fit on a fitted :class:`VisitLift` and doctor covariates indexed by doctor ID.

        ``covariates`` needs ``potential_rank`` (0-1) and may have the categorical columns;
        it must cover every unit the lift was fitted on.
        """
        units = lift.fitted_units_
        missing = units.difference(covariates.index.astype(str))
        if len(missing):
            raise ValueError(f"HeterogeneousVisitResponse: no covariates for {len(missing)} fitted doctors, "
                             f"e.g. {list(missing[:3])}")
        fitted = covariates.reindex(units)
        Z = self._design(fitted, fit=True)
        self.coef_, self.vcov_ = lift.interacted(Z)
        self.decay_, self.saturation_ = float(lift.decay_), float(lift.saturation_)
        self.pooled_beta_ = float(lift.beta_)
        self.n_doctors_ = len(units)
        return self

    def predict(self, covariates: pd.DataFrame) -> pd.DataFrame:
        """Per doctor: ``beta`` (first visit, same month) and its ``std_error``."""
        Z = self._design(covariates)
        beta = Z @ self.coef_
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", Z, self.vcov_, Z), 0.0))
        return pd.DataFrame({"beta": beta, "std_error": se}, index=covariates.index)

    def draw(self, covariates: pd.DataFrame, n_draws: int, seed: int) -> np.ndarray:
        """``n_draws`` × doctors effects ``beta`` with ``b`` drawn from its sampling distribution."""
        Z = self._design(covariates)
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(self.coef_, self.vcov_, size=n_draws, method="eigh")
        return draws @ Z.T

    def segment_effect(self, covariates: pd.DataFrame) -> tuple[float, float]:
        """Mean ``beta`` over a group of doctors and its standard error."""
        z = self._design(covariates).mean(axis=0)
        return float(z @ self.coef_), float(np.sqrt(max(z @ self.vcov_ @ z, 0.0)))
