"""Churn features and labels as of a month, reading months up to it only.

Definitions (parameters of ``params/churn.yaml``):

* *active* as of ``t``: volume > 0 in at least ``min_active_months`` of the
  ``active_months`` months up to and including ``t``;
* *churns* after ``t``: its volume in the ``horizon_months`` months after ``t`` is zero
  (or, with ``churn_share > 0``, below that share of its trailing monthly average).

A feature as of month ``t`` reads only columns ``<= t`` of the grids, and
:func:`churn_features` first drops every row dated after ``as_of``, so appending or
altering later data cannot change it (``tests/features/test_churn_features.py`` proves it).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crmlab.features.churn.history import ChurnHistory, churn_history

# months of history a feature looks back over (trend, volatility, frequency)
LOOKBACK = 12


def _window(grid: np.ndarray, t: int, months: int) -> np.ndarray:
    return grid[:, max(0, t - months + 1):t + 1]


def active_mask(history: ChurnHistory, t: int, *, active_months: int = 6,
                min_active_months: int = 3) -> np.ndarray:
    """Entities with volume in at least ``min_active_months`` of the ``active_months`` up to ``t``."""
    return (_window(history.volume, t, active_months) > 0).sum(axis=1) >= min_active_months


def _lapsing(volume: np.ndarray, t: int) -> np.ndarray:
    """A visible lapse: the last 3 months below half of the 9 months before, which had volume."""
    recent = _window(volume, t, 3).mean(axis=1)
    before = volume[:, max(0, t - 11):max(0, t - 2)]
    prior = before.mean(axis=1) if before.shape[1] else np.zeros(len(volume))
    return (prior >= 1.0) & (recent < 0.5 * prior)


def features_at(history: ChurnHistory, t: int) -> pd.DataFrame:
    """Features of every entity as of month index ``t``, reading months ``<= t`` only.

    Returns
    -------
    DataFrame
        Indexed by entity: volume recency, frequency, level, trend, decline run and
        volatility; months since the last visit, visit trend, remote share and events
        (doctor level with visits/events); peers lapsing in the same account (doctor) or
        territory (account); the static grade features.
    """
    v = history.volume[:, :t + 1]
    n = len(history.entity_ids)
    f = pd.DataFrame(index=history.entity_ids)
    positive = v > 0
    # months since the last month with volume (0 = volume this month)
    f["recency_months"] = np.where(positive.any(axis=1), np.argmax(positive[:, ::-1], axis=1), t + 1).astype(float)
    window = _window(history.volume, t, LOOKBACK)
    f["active_months_12m"] = (window > 0).sum(axis=1).astype(float)
    f["volume_last"] = v[:, -1]
    f["volume_mean_3m"] = _window(history.volume, t, 3).mean(axis=1)
    mean_12 = window.mean(axis=1)
    f["log_volume_12m"] = np.log1p(mean_12)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["last_to_12m"] = np.where(mean_12 > 0, v[:, -1] / mean_12, 0.0)
        f["volatility_12m"] = np.where(mean_12 > 0, window.std(axis=1) / mean_12, 0.0)
    before = history.volume[:, max(0, t - 5):max(0, t - 2)]
    prior_3 = before.mean(axis=1) if before.shape[1] else f["volume_mean_3m"].to_numpy()
    f["trend_3m"] = np.log((f["volume_mean_3m"].to_numpy() + 0.5) / (prior_3 + 0.5))
    run = np.zeros(n)
    still = np.ones(n, dtype=bool)
    for k in range(3):  # consecutive month-on-month declines ending at t, up to 3
        if t - k - 1 < 0:
            break
        down = history.volume[:, t - k] < history.volume[:, t - k - 1]
        still &= down
        run += still
    f["decline_run"] = run
    if history.visits is not None:
        visited = history.visits[:, :t + 1] > 0
        f["months_since_visit"] = np.where(visited.any(axis=1), np.argmax(visited[:, ::-1], axis=1),
                                           t + 1).astype(float)
        f["visits_3m"] = _window(history.visits, t, 3).sum(axis=1)
        prior_visits = history.visits[:, max(0, t - 5):max(0, t - 2)].sum(axis=1)
        f["visit_trend"] = f["visits_3m"].to_numpy() - prior_visits
        total_6 = _window(history.visits, t, 6).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            f["remote_share_6m"] = np.where(total_6 > 0, _window(history.remote_visits, t, 6).sum(axis=1) / total_6,
                                            0.0)
    if history.events is not None:
        f["events_12m"] = _window(history.events, t, LOOKBACK).sum(axis=1)
    lapsing = _lapsing(history.volume, t).astype(float)
    group_lapsing = np.bincount(history.group, weights=lapsing)
    group_size = np.bincount(history.group).astype(float)
    peers = group_lapsing[history.group] - lapsing
    f["peers_lapsing"] = peers
    with np.errstate(divide="ignore", invalid="ignore"):
        f["peer_lapsing_share"] = np.where(group_size[history.group] > 1,
                                           peers / (group_size[history.group] - 1), 0.0)
    return pd.concat([f, history.static], axis=1)


def churn_features(tables, as_of, *, level: str = "doctor", product_id=None, active_months: int = 6,
                   min_active_months: int = 3, active_only: bool = True) -> pd.DataFrame:
    """Churn features of every (active) entity as of ``as_of``, from data up to it only.

    Parameters
    ----------
    tables : Dataset or dict of DataFrame
    as_of : date
        Nothing dated after it is read.
    level, product_id, active_months, min_active_months
        As in ``params/churn.yaml``.
    active_only : bool
        Keep only the entities active as of ``as_of``.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> feats = churn_features(simulate("sample", seed=1).tables, "2025-06-30")
    >>> {"recency_months", "months_since_visit", "peers_lapsing"} <= set(feats.columns)
    True
    """
    history = churn_history(tables, level=level, product_id=product_id, as_of=as_of)
    t = history.month_index(as_of)
    feats = features_at(history, t)
    if active_only:
        feats = feats[active_mask(history, t, active_months=active_months, min_active_months=min_active_months)]
    feats.index.name = f"{level}_id"
    return feats


def churn_labels(history: ChurnHistory, t: int, *, horizon_months: int = 3,
                 churn_share: float = 0.0) -> np.ndarray:
    """Whether each entity churns in the ``horizon_months`` after month index ``t``.

    Churn = zero volume over the horizon, or (``churn_share > 0``) a horizon average below
    ``churn_share`` × the trailing 6-month average. Needs months up to ``t + horizon``.

    Examples
    --------
    >>> h = ChurnHistory(pd.Index(["a", "b"]), pd.date_range("2025-01-01", periods=4, freq="MS"),
    ...     np.array([[3.0, 2.0, 0.0, 0.0], [3.0, 3.0, 3.0, 1.0]]), None, None, None, np.zeros(2, int),
    ...     np.array(["T", "T"]), pd.DataFrame(index=["a", "b"]), pd.DataFrame(), "doctor", "prescriptions")
    >>> churn_labels(h, 1, horizon_months=2).tolist()
    [True, False]
    """
    if t + horizon_months >= len(history.months):
        raise ValueError(f"labels as of {history.months[t].date()} need {horizon_months} later months of data; "
                         f"the data ends {history.months[-1].date()}")
    future = history.volume[:, t + 1:t + 1 + horizon_months].mean(axis=1)
    if churn_share > 0:
        trailing = _window(history.volume, t, 6).mean(axis=1)
        return future < churn_share * trailing
    return future <= 0


def churn_frame(history: ChurnHistory, origins: Iterable[int], *, horizon_months: int = 3,
                active_months: int = 6, min_active_months: int = 3, churn_share: float = 0.0,
                with_labels: bool = True) -> pd.DataFrame:
    """Stacked snapshots: features of the active entities at each origin (+ ``churned``).

    Rows carry ``entity_id`` and ``origin`` (month index); ``churned`` when labels are asked.
    """
    frames = []
    for t in origins:
        active = active_mask(history, t, active_months=active_months, min_active_months=min_active_months)
        feats = features_at(history, t)[active]
        feats.insert(0, "origin", t)
        if with_labels:
            feats["churned"] = churn_labels(history, t, horizon_months=horizon_months,
                                            churn_share=churn_share)[active]
        frames.append(feats)
    out = pd.concat(frames)
    out.index.name = "entity_id"
    return out.reset_index()


