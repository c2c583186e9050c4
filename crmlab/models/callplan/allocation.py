"""Allocation of a field force's visits to doctors: greedy by marginal return.

Each doctor ``i`` has a concave response to ``v`` completed visits a month::

    f_i(v) = a_i * (1 - r_i**(k v)) / (1 - r_i)

(``a_i`` the long-run effect of the first effective visit, ``r_i`` the saturation, ``k``
effective main-product detailing per completed visit). Visits are handed out in steps
of ``step`` visits a month; for concave responses taking the increments with the
largest marginal return until each territory's capacity is used is optimal (up to one
step), and it honours per-doctor minimums and maximums exactly. An increment is taken
only while it adds something (or, with prices, while it earns more than it costs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.distributed import map_rows


def saturating_value(amplitude, saturation, k: float, visits) -> np.ndarray:
    """``a * (1 - r**(k v)) / (1 - r)`` elementwise (``a k v`` where ``r`` = 1).

    Examples
    --------
    >>> saturating_value(np.array([1.0]), np.array([0.5]), 1.0, np.array([2.0])).tolist()
    [1.5]
    """
    a, r = np.asarray(amplitude, float), np.asarray(saturation, float)
    x = k * np.asarray(visits, float)
    linear = np.abs(1 - r) < 1e-9
    safe = np.where(linear, 0.5, r)
    return a * np.where(linear, x, -np.expm1(x * np.log(safe)) / (1 - safe))


def allocate(amplitude, saturation, k: float, territory, capacity, *, min_visits=0.0, max_visits=8.0,
             step: float = 0.1, unit_value: float | None = None, cost_per_visit: float = 0.0) -> np.ndarray:
    """Visits a month per doctor maximising the summed response within each territory's capacity.

    Parameters
    ----------
    amplitude, saturation : array of shape (n,)
        ``a_i`` and ``r_i`` of each doctor (a doctor with ``a_i <= 0`` gets only its minimum).
    k : float
        Effective detailing per completed visit.
    territory : array of int, shape (n,)
        Territory code of each doctor, ``0 .. T-1``.
    capacity : array of shape (T,) or (m, T)
        Visits a month each territory can make; ``m`` rows: ``m`` capacity scenarios, planned
        from one ranking of the increments (a capacity curve costs one sort, not ``m``).
    min_visits, max_visits : float or array of shape (n,)
        Per-doctor bounds (must-see doctors: a minimum above 0). Minimums come first; where
        they exceed a territory's capacity the doctors with the largest first-step return keep theirs.
    step : float
        Granularity of the plan (visits a month).
    unit_value, cost_per_visit : float
        With ``unit_value`` (price per unit) an increment is taken only while
        ``unit_value * gain > cost_per_visit * step`` (profit); without, while ``gain > 0``.

    Returns
    -------
    ndarray of shape (n,), or (m, n) with ``m`` capacity scenarios
        Recommended visits a month; per territory the sum never exceeds the capacity.

    On a Dask backend (:mod:`crmlab.distributed`) groups of whole territories are planned on
    the workers: a territory's plan depends only on its doctors and its capacity, so the
    plans are the in-process ones.

    Examples
    --------
    >>> allocate(np.array([2.0, 1.0]), 0.5, 1.0, np.array([0, 0]), np.array([[1.0], [2.0]]), step=0.5).tolist()
    [[1.0, 0.0], [1.5, 0.5]]
    """
    a = np.clip(np.asarray(amplitude, float), 0, None)
    n = len(a)
    lo = np.broadcast_to(np.asarray(min_visits, float), (n,))
    territory = np.asarray(territory, int)
    doctors = pd.DataFrame({"amplitude": a, "saturation": np.broadcast_to(np.asarray(saturation, float), (n,)),
                            "territory": territory, "min_visits": lo,
                            "max_visits": np.maximum(np.broadcast_to(np.asarray(max_visits, float), (n,)), lo)})
    by_territory = np.argsort(territory, kind="stable")
    plans = map_rows(_plan_territories, doctors.iloc[by_territory], k, np.asarray(capacity, float), step,
                     unit_value, cost_per_visit, groups=territory[by_territory],
                     combine=lambda parts: np.concatenate(parts, axis=-1))
    out = np.empty_like(plans)
    out[..., by_territory] = plans
    return out


def _plan_territories(doctors: pd.DataFrame, k: float, capacity: np.ndarray, step: float, unit_value, cost_per_visit):
    """:func:`allocate` for the doctors of some territories (their ``territory`` codes index ``capacity``)."""
    a, r, lo, hi = (doctors[c].to_numpy() for c in ("amplitude", "saturation", "min_visits", "max_visits"))
    territory = doctors["territory"].to_numpy()
    n = len(a)
    scenarios = np.atleast_2d(capacity)
    n_steps = int(np.ceil(hi.max() / step)) if n else 0
    if n == 0 or n_steps == 0:
        return np.zeros(capacity.shape[:-1] + (n,))
    j = np.arange(1, n_steps + 1)
    levels = np.minimum(j[None, :] * step, hi[:, None])
    value = saturating_value(a[:, None], r[:, None], k, levels)
    gain = np.diff(np.c_[np.zeros(n), value], axis=1)
    size = np.diff(np.c_[np.zeros(n), levels], axis=1)  # the last step may be partial (max not on the grid)
    forced = levels <= lo[:, None] + 1e-9
    forced |= (levels - size < lo[:, None] - 1e-9)  # the step reaching the minimum
    worth = gain > 1e-12 if unit_value is None else unit_value * gain > cost_per_visit * size
    idx = np.flatnonzero((size > 1e-12) & (forced | worth))
    doctor = idx // n_steps
    # forced steps first (ordered by the doctor's first-step return), then by marginal return
    key = np.where(forced.ravel()[idx], 1e12 + gain[doctor, 0], gain.ravel()[idx])
    size = size.ravel()[idx]
    del levels, value, gain, forced, worth  # doctors × steps each (national: 12M): freed before the scenarios
    order = np.lexsort((-key, territory[doctor]))
    doctor, size = doctor[order], size[order]
    group = territory[doctor]
    cum = _cumsum_by_group(size, group)
    out = np.stack([np.round(np.bincount(doctor, weights=np.where(cum <= cap[group] + 1e-9, size, 0.0),
                                         minlength=n), 10) for cap in scenarios])
    return out if capacity.ndim > 1 else out[0]


def _cumsum_by_group(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` within each ``group``: a group's sums do not depend on the others'."""
    return pd.Series(values).groupby(group, sort=False).cumsum().to_numpy()
