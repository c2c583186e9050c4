"""Conformal intervals from backtest errors (split conformal, per level and month ahead).

Each backtest origin gives, per series and month ahead, the absolute error of the
reconciled forecast in units of the series' MASE scale. The ``1 - alpha`` conformal
quantile of those errors, per level and month ahead, is the interval's half-width in
the same units: ``ỹ ± q_h · scale``. Its coverage is measured honestly by calibrating on
all origins but one and checking the one left out, in turn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def conformal_quantile(scores: np.ndarray, alpha: float) -> float:
    """The split-conformal quantile of absolute scores: ``⌈(n + 1)(1 - alpha)⌉``-th smallest.

    An interval ``point ± q`` then covers a new error with probability at least
    ``1 - alpha`` when errors are exchangeable (Vovk et al. 2005; Lei et al. 2018). With
    too few scores for that rank, the largest is used.

    Examples
    --------
    >>> conformal_quantile(np.arange(1.0, 11.0), 0.2)
    9.0
    """
    scores = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    if not len(scores):
        return np.nan
    rank = int(np.ceil((len(scores) + 1) * (1 - alpha)))
    return float(scores[min(rank, len(scores)) - 1])



def leave_one_origin_out_coverage(errors: np.ndarray, level_of: np.ndarray, alpha: float) -> np.ndarray | None:
    """Covered or not (1/0, NaN where unscored), each origin calibrated on the others only.

    Parameters
    ----------
    errors : ndarray (origins × series × months ahead)
        Absolute scaled errors.
    level_of : ndarray of str
        The level of each series; quantiles are per level and month ahead.

    Returns
    -------
    ndarray of the shape of ``errors``, or None with fewer than two origins.

    Examples
    --------
    >>> errors = np.abs(np.random.default_rng(0).normal(size=(10, 30, 2)))
    >>> covered = leave_one_origin_out_coverage(errors, np.array(["d"] * 30), 0.2)
    >>> bool(0.7 < np.nanmean(covered) < 0.9)
    True
    """
    n_origins = errors.shape[0]
    if n_origins < 2:
        return None
    covered = np.full(errors.shape, np.nan)
    for k in range(n_origins):
        others = np.delete(errors, k, axis=0)
        for level in pd.unique(level_of):
            rows = level_of == level
            for h in range(errors.shape[2]):
                q = conformal_quantile(others[:, rows, h].ravel(), alpha)
                e = errors[k, rows, h]
                covered[k, rows, h] = np.where(np.isfinite(e), (e <= q).astype(float), np.nan)
    return covered


def conformal_half_widths(errors: np.ndarray, covered: np.ndarray | None, level_of: np.ndarray,
                          alpha: float) -> pd.DataFrame:
    """Half-width per level and month ahead in units of the MASE scale, from all origins.

    Returns
    -------
    DataFrame
        ``level, month_ahead, scaled_half_width, n_errors, coverage`` (coverage: the
        leave-one-origin-out coverage, NaN with one origin).

    Examples
    --------
    >>> errors = np.ones((3, 4, 2))
    >>> conformal_half_widths(errors, None, np.array(["d"] * 4), 0.2)["scaled_half_width"].tolist()
    [1.0, 1.0]
    """
    rows = []
    for level in pd.unique(level_of):
        mine = errors[:, level_of == level, :]
        for h in range(errors.shape[2]):
            rows.append({"level": level, "month_ahead": h + 1,
                         "scaled_half_width": conformal_quantile(mine[:, :, h].ravel(), alpha),
                         "n_errors": int(np.isfinite(mine[:, :, h]).sum()),
                         "coverage": float(np.nanmean(covered[:, level_of == level, h]))
                         if covered is not None else np.nan})
    return pd.DataFrame(rows)
