"""Linear instrumental variables: two-stage least squares with cluster-robust errors.

The generic pieces under :mod:`crmlab.models.attribution.iv`, for data whose fixed
effects are already swept out (pyfixest's ``demean``). pyfixest's IV (``y ~ 1 | fe |
x ~ z``) fits one endogenous regressor; the lead placebo needs two, and the nonlinear
carry-over profile needs the 2SLS criterion many times, hence these few lines.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def two_stage_least_squares(y: np.ndarray, X: np.ndarray, Z: np.ndarray, cluster: np.ndarray) -> tuple:
    """2SLS coefficients of ``y`` on ``X`` with instruments ``Z`` (OLS when ``Z`` is ``X``).

    Columns of ``X`` that are exogenous belong in ``Z`` too. Returns the coefficients,
    their cluster-robust covariance (small-sample factor ``G / (G - 1)``) and the
    residuals.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(500, 1)); v = rng.normal(size=500)
    >>> x = z[:, 0] + v; y = 2 * x + v + rng.normal(size=500)
    >>> b, V, _ = two_stage_least_squares(y, x[:, None], z, np.arange(500))
    >>> bool(abs(b[0] - 2) < 4 * np.sqrt(V[0, 0]))
    True
    """
    q, _ = np.linalg.qr(Z)
    X_hat = q @ (q.T @ X)
    bread = np.linalg.pinv(X_hat.T @ X_hat)
    coef = bread @ (X_hat.T @ y)
    resid = y - X @ coef
    scores = pd.DataFrame(X_hat * resid[:, None]).groupby(cluster).sum().to_numpy()
    g = len(scores)
    vcov = bread @ (scores.T @ scores * g / max(g - 1, 1)) @ bread
    return coef, vcov, resid


def first_stage_f(x: np.ndarray, Z: np.ndarray, cluster: np.ndarray) -> tuple[float, np.ndarray]:
    """Cluster-robust first-stage F (Wald statistic over the number of instruments) and residuals.

    Below about 10 the instruments are weak (Stock & Yogo): 2SLS is then biased
    towards OLS and its intervals are too narrow.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = rng.normal(size=(400, 2)); x = z @ [1.0, 0.5] + rng.normal(size=400)
    >>> f, _ = first_stage_f(x, z, np.arange(400))
    >>> bool(f > 100)
    True
    """
    pi, vcov, resid = two_stage_least_squares(x, Z, Z, cluster)
    return float(pi @ np.linalg.pinv(vcov) @ pi / len(pi)), resid
