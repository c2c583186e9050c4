"""Coherent forecasts across distributor → region → nation: ``ỹ = S G ŷ``.

Bottom-up (``G = [0 | I]``) or MinT-shrink (``G = (S' W⁻¹ S)⁻¹ S' W⁻¹`` with ``W`` the
one-step residual covariance shrunk towards its diagonal, Schäfer & Strimmer 2005, as in
Wickramasuriya, Athanasopoulos & Hyndman 2019). Negative reconciled distributor forecasts
are set to zero and the aggregates re-summed, so the result stays coherent.
"""

from __future__ import annotations

import numpy as np

RECONCILIATIONS = ("bottom_up", "mint")


def shrunk_covariance(residuals: np.ndarray) -> tuple[np.ndarray, float]:
    """Residual covariance shrunk towards its diagonal (Schäfer & Strimmer 2005).

    Parameters
    ----------
    residuals : ndarray (n_series × n_months)
        One-step in-sample errors; months with a missing error in any series are dropped.

    Returns
    -------
    W : ndarray (n_series × n_series)
    lambda_ : float
        The shrinkage intensity, in [0, 1].

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w, lam = shrunk_covariance(rng.normal(size=(3, 200)))
    >>> bool(0 <= lam <= 1), w.shape
    (True, (3, 3))
    """
    e = residuals[:, ~np.isnan(residuals).any(axis=0)].T  # months × series
    t, n = e.shape
    if t < 3:
        raise ValueError("MinT needs at least 3 months of one-step residuals in every series")
    e = e - e.mean(axis=0)
    cov = e.T @ e / t
    sd = np.sqrt(np.diag(cov))
    sd = np.where(sd > 0, sd, 1.0)
    x = e / sd  # standardised, so the target is the identity correlation
    corr = x.T @ x / t
    var_corr = ((x ** 2).T @ (x ** 2) / t - corr ** 2) * t / (t - 1) ** 2
    off = ~np.eye(n, dtype=bool)
    denom = (corr[off] ** 2).sum()
    lam = float(np.clip(var_corr[off].sum() / denom, 0, 1)) if denom > 0 else 1.0
    shrunk = (1 - lam) * corr
    np.fill_diagonal(shrunk, 1.0)
    w = shrunk * np.outer(sd, sd)
    # a series with zero residual variance would make W singular
    w[np.diag_indices(n)] = np.maximum(np.diag(w), 1e-6 * max(float(np.diag(cov).mean()), 1e-9))
    return w, lam


def reconcile(base: np.ndarray, s: np.ndarray, method: str = "mint",
              residuals: np.ndarray | None = None, bottom: np.ndarray | None = None) -> np.ndarray:
    """Coherent, non-negative forecasts of all series from base forecasts of all series.

    Parameters
    ----------
    base : ndarray (n_series × horizon)
        Base forecasts, rows in the order of ``s``.
    s : ndarray (n_series × n_bottom)
        Summing matrix.
    method : {"bottom_up", "mint"}
    residuals : ndarray (n_series × n_months)
        One-step in-sample errors of the base models (MinT only).
    bottom : ndarray of int, optional
        Rows of the bottom series (bottom-up only); default the last ``n_bottom`` rows.

    Returns
    -------
    ndarray
        ``S @ max(0, G @ base)``: adds up across levels by construction.

    Examples
    --------
    >>> s = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> reconcile(np.array([[10.0], [4.0], [5.0]]), s, "bottom_up").ravel().tolist()
    [9.0, 4.0, 5.0]
    """
    n_bottom = s.shape[1]
    if method == "bottom_up":
        rows = np.arange(len(base) - n_bottom, len(base)) if bottom is None else np.asarray(bottom)
        bottom = base[rows]
    elif method == "mint":
        if residuals is None:
            raise ValueError("MinT reconciliation needs the base models' residuals")
        w, _ = shrunk_covariance(residuals)
        w_inv_s = np.linalg.solve(w, s)
        bottom = np.linalg.solve(s.T @ w_inv_s, w_inv_s.T @ base)
    else:
        raise ValueError(f"unknown reconciliation {method!r}; use 'bottom_up' or 'mint'")
    return s @ np.clip(bottom, 0, None)

