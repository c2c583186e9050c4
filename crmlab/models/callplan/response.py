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
from scipy import optimize
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
        A category with fewer fitted doctors gets the reference category's effect.
    profile : bool
        Re-estimate carry-over and saturation under the heterogeneous model (else the
        visit lift's pooled ones).
    shrink : bool
        Shrink the deviations by empirical Bayes (else plain least squares).
    alpha : float
        Intervals cover ``1 - alpha``.

    Attributes
    ----------
    coef_ : ndarray
    vcov_ : ndarray
    columns_ : list of str
    decay_, saturation_ : float
        Carry-over and saturation (profiled under the heterogeneous model, or the visit lift's).
    """

    def __init__(self, n_knots: int = 5, categorical: tuple = CATEGORICAL, min_doctors: int = 30,
                 shrink: bool = True, profile: bool = True, alpha: float = 0.05):
        self.n_knots = n_knots
        self.profile = profile
        self.shrink = shrink
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
            basis = self._spline.transform(np.clip(q, 0, 1))[:, 1:]  # the basis sums to 1: drop one
            parts.append(basis)
            names += [f"potential_spline_{j + 1}" for j in range(basis.shape[1])]
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
        Z = np.hstack(parts) if parts else np.zeros((len(covariates), 0))
        if fit:
            self.columns_ = ["intercept"] + names
            self.centre_ = Z.mean(axis=0)
            self.groups_ = np.array([n.split("=")[0].rsplit("_", 1)[0] if "=" not in n else n.split("=")[0]
                                     for n in names])
        return np.hstack([np.ones((len(covariates), 1)), Z - self.centre_])

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
        theta = np.asarray(lift.theta_, float).copy()
        if self.profile:
            # saturation re-estimated under the heterogeneous effect: with one effect for all,
            # doctors seen often and responding more (or less) bias the pooled saturation
            # (each saturation's sum is computed once: the curvature below reuses the minimum's)
            sums = {}

            def ssr(r):
                if r not in sums:
                    full = theta.copy()
                    full[1] = r
                    sums[r] = lift.interacted(Z, full, ssr_only=True)
                return sums[r]

            fit = optimize.minimize_scalar(ssr, bounds=(0.2, 1.0), method="bounded", options={"xatol": 0.01})
            theta[1] = fit.x
            # standard error of r from the curvature of the profiled sum of squares
            h = 0.02
            r0 = float(np.clip(fit.x, 0.2 + h, 1.0 - h))
            s0, up, down = fit.fun, ssr(r0 + h), ssr(r0 - h)
            curvature = (up - 2 * ssr(r0) + down) / h ** 2
            sigma2 = s0 / max(lift.n_obs_ - Z.shape[1] - lift.n_units_, 1)
            self.saturation_se_ = float(np.sqrt(2 * sigma2 / curvature)) if curvature > 0 else 0.0
        else:
            self.saturation_se_ = 0.0
        b, V = lift.interacted(Z, theta)
        self.raw_coef_, self.raw_vcov_ = b, V
        self.coef_, self.vcov_, self.tau_ = _shrink(b, V, self.groups_) if self.shrink else (b, V, {})
        self.decay_, self.saturation_ = float(theta[0]), float(theta[1])
        self.theta_ = theta
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

    def draw_saturation(self, n_draws: int, seed: int) -> np.ndarray:
        """``n_draws`` saturations from ``N(saturation_, saturation_se_)``, kept in (0.05, 1)."""
        rng = np.random.default_rng([seed, 1])
        return np.clip(self.saturation_ + self.saturation_se_ * rng.standard_normal(n_draws), 0.05, 0.999)

    def segment_effect(self, covariates: pd.DataFrame) -> tuple[float, float]:
        """Mean ``beta`` over a group of doctors and its standard error."""
        z = self._design(covariates).mean(axis=0)
        return float(z @ self.coef_), float(np.sqrt(max(z @ self.vcov_ @ z, 0.0)))


def _shrink(b: np.ndarray, V: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Empirical-Bayes posterior of ``b`` (intercept flat, deviations ``N(0, tau_g**2)`` per group)."""
    names = list(dict.fromkeys(groups))
    if not names:
        return b, V, {}
    d, Vd = b[1:], V[1:, 1:]
    member = np.array([names.index(g) for g in groups])
    scale = np.sqrt(np.maximum(np.diag(Vd), 1e-12)).mean()

    def nll(log_tau):
        S = Vd + np.diag(np.exp(2 * log_tau)[member])
        sign, logdet = np.linalg.slogdet(S)
        return 0.5 * (logdet + d @ np.linalg.solve(S, d)) if sign > 0 else np.inf

    start = np.full(len(names), np.log(scale))
    fit = optimize.minimize(nll, start, method="L-BFGS-B", bounds=[(np.log(scale) - 8, np.log(scale) + 6)] * len(names))
    tau = np.exp(fit.x)
    precision = np.zeros(len(b))
    precision[1:] = 1 / tau[member] ** 2
    Vinv = np.linalg.pinv(V)
    post_cov = np.linalg.pinv(Vinv + np.diag(precision))
    post_cov = (post_cov + post_cov.T) / 2
    return post_cov @ Vinv @ b, post_cov, dict(zip(names, tau.tolist()))
