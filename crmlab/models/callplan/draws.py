"""A plan's value under drawn effects: totals per draw (and territory) and per-doctor intervals.

``amp_draws`` holds one row of amplitudes per draw of the effects (draws × doctors) and
``r_draws`` the saturation of each draw (draws × 1); each draw is valued with
:func:`~crmlab.models.callplan.saturating_value`. A plan has few distinct visit levels (steps
of 0.1 visits, averages over a few months), so each draw's saturation is evaluated once per
level and multiplied by each doctor's amplitude: the same numbers as valuing every doctor,
without an exponential per doctor and draw (national scale: 300 draws × 200,000 doctors
for each of 14 plans: three to compare and eleven on the capacity curve).
The analysis using them is :mod:`crmlab.analyses.callplan`.
"""

from __future__ import annotations

import numpy as np

from crmlab.models.callplan.allocation import saturating_value


def draw_totals(amp_draws, r_draws, k, visits, code=None, n_territories=0, chunk=25):
    """A plan's expected units summed per draw of the effects, and per draw and territory (with ``code``).

    Draws are valued ``chunk`` at a time: at national scale all of them at once (300 draws ×
    200,000 doctors) would take several GB of temporaries.

    Examples
    --------
    >>> amp_draws, r_draws = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 1.0]]), np.array([[0.5], [0.5]])
    >>> total, by_territory = draw_totals(amp_draws, r_draws, 1.0, np.array([2.0, 1.0, 1.0]), np.array([0, 0, 1]), 2)
    >>> total.tolist(), by_territory.tolist()
    ([3.5, 5.0], [[3.5, 0.0], [4.0, 1.0]])
    """
    total, by_territory = [], []
    for start in range(0, len(amp_draws), chunk):
        block = _values(amp_draws[start:start + chunk], r_draws[start:start + chunk], k, visits)
        total.append(block.sum(axis=1))
        if code is not None:
            by_territory += [np.bincount(code, weights=d, minlength=n_territories) for d in block]
    return np.concatenate(total), (np.stack(by_territory) if code is not None else None)


def doctor_intervals(amp_draws, r_draws, k, visits, q, chunk=20000) -> tuple[np.ndarray, np.ndarray]:
    """Per doctor, the ``q`` percentiles of a plan's expected units over the draws (``chunk`` doctors at a time).

    Examples
    --------
    >>> amp_draws, r_draws = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 1.0]]), np.array([[0.5], [0.5]])
    >>> lower, upper = doctor_intervals(amp_draws, r_draws, 1.0, np.array([2.0, 1.0, 1.0]), (0, 100))
    >>> lower.tolist(), upper.tolist()
    ([1.5, 1.0, 0.0], [3.0, 2.0, 1.0])
    """
    lower, upper = np.empty(len(visits)), np.empty(len(visits))
    for start in range(0, len(visits), chunk):
        cols = slice(start, start + chunk)
        lower[cols], upper[cols] = np.percentile(_values(amp_draws[:, cols], r_draws, k, visits[cols]), q, axis=0)
    return lower, upper


def _values(amp_draws, r_draws, k, visits) -> np.ndarray:
    """``saturating_value(amp_draws, r_draws, k, visits[None, :])``, one saturation per draw and visit level."""
    levels, level_of = np.unique(visits, return_inverse=True)
    return amp_draws * saturating_value(1.0, r_draws, k, levels[None, :])[:, level_of]
