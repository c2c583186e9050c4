"""Retention curves: months from first volume to lapse, Kaplan–Meier by group (lifelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.churn import ChurnHistory


def lapse_durations(history: ChurnHistory, as_of_index: int, *, horizon_months: int = 3) -> pd.DataFrame:
    """Months from each entity's first volume to its lapse, for Kaplan–Meier curves.

    A lapse is the first month of a run of zero volume lasting at least ``horizon_months``
    that is observed by ``as_of``; entities with no such run are censored at ``as_of``.
    """
    v = history.volume[:, :as_of_index + 1] > 0
    n, m = v.shape
    first = np.where(v.any(axis=1), np.argmax(v, axis=1), -1)
    duration = np.full(n, np.nan)
    event = np.zeros(n, dtype=bool)
    zero_run = np.zeros(n, dtype=int)
    lapse_at = np.full(n, -1)
    for t in range(m):
        zero_run = np.where(v[:, t], 0, zero_run + 1)
        new = (zero_run == horizon_months) & (lapse_at < 0) & (first >= 0) & (first < t)
        lapse_at[new] = t - horizon_months + 1
    event = lapse_at >= 0
    duration = np.where(event, lapse_at - first, m - first).astype(float)
    out = pd.DataFrame({"entity_id": history.entity_ids, "duration": duration, "lapsed": event})
    return out[first >= 0].reset_index(drop=True)


def retention_curves(durations: pd.DataFrame, groups: pd.Series, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan–Meier retention (share not lapsed) by group, with ``1 − alpha`` intervals.

    Examples
    --------
    >>> d = pd.DataFrame({"entity_id": list("abcd"), "duration": [2.0, 5.0, 5.0, 3.0],
    ...                   "lapsed": [True, False, False, True]})
    >>> curves = retention_curves(d, pd.Series(["x", "x", "y", "y"], index=list("abcd")))
    >>> sorted(curves["group"].unique())
    ['x', 'y']
    """
    from lifelines import KaplanMeierFitter

    g = groups.reindex(durations["entity_id"]).astype("string").fillna("unknown").to_numpy()
    frames = []
    for name in sorted(pd.unique(g)):
        sel = g == name
        km = KaplanMeierFitter(alpha=alpha).fit(durations["duration"][sel], durations["lapsed"][sel], label=str(name))
        ci = km.confidence_interval_
        frames.append(pd.DataFrame({"group": str(name), "month": km.survival_function_.index.to_numpy(),
                                    "retention": km.survival_function_.iloc[:, 0].to_numpy(),
                                    "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
                                    "n": int(sel.sum())}))
    return pd.concat(frames, ignore_index=True)
