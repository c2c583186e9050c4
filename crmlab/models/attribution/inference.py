"""Checks on the variance estimates of the attribution models.

A singular or ill-conditioned matrix is never inverted silently: the caller gets a
warning naming the model and a flag to store as ``converged_``.
"""

from __future__ import annotations

import warnings

import numpy as np


#: Convergence tolerance of pyfixest's fixed-effects sweeps. Its default (1e-6) leaves
#: estimates depending, at about 1e-7 relative, on the order the fixed effects are
#: swept in, which follows Python's string hashing: two runs on the same data then
#: differed in the 6th significant digit of summary.json.
FIXEF_TOL = 1e-10


class EstimationWarning(RuntimeWarning):
    """An estimate's uncertainty is unreliable (singular design or failed optimiser)."""


def checked_pinv(matrix: np.ndarray, what: str) -> tuple[np.ndarray, bool]:
    """Pseudo-inverse of a symmetric matrix, and whether it was of full rank.

    A rank-deficient matrix (collinear parameters: standard errors are not identified)
    gives an :class:`EstimationWarning` naming ``what``; the pseudo-inverse is still
    returned so that the point estimates stay usable.

    Examples
    --------
    >>> inverse, ok = checked_pinv(np.diag([2.0, 4.0]), "test")
    >>> inverse.diagonal().tolist(), ok
    ([0.5, 0.25], True)
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _, ok = checked_pinv(np.ones((2, 2)), "test")
    >>> ok, caught[0].category.__name__
    (False, 'EstimationWarning')
    """
    matrix = np.asarray(matrix, dtype=float)
    full_rank = bool(np.all(np.isfinite(matrix))) and \
        int(np.linalg.matrix_rank(matrix, hermitian=True)) == matrix.shape[0]
    if not full_rank:
        warn(f"{what}: the information matrix is singular or ill-conditioned; "
             "standard errors are not reliable")
    return np.linalg.pinv(matrix), full_rank


def finite_errors(std_errors, what: str) -> bool:
    """True when every standard error is finite; else a warning naming ``what``.

    Examples
    --------
    >>> finite_errors([0.1, 0.2], "test")
    True
    """
    ok = bool(np.all(np.isfinite(np.asarray(std_errors, dtype=float))))
    if not ok:
        warn(f"{what}: some standard errors are not finite (singular variance matrix)")
    return ok


def warn(message: str) -> None:
    """Issue an :class:`EstimationWarning` at the caller of the estimator."""
    warnings.warn(message, EstimationWarning, stacklevel=3)
