"""Pure pieces of the driver bridge: windows, unit × month grids, the per-unit split of a change.

A *unit* is a prescriber: a doctor (doctor-level prescriptions) or an account
(sales only, and accounts without doctors such as pharmacies). Grids are unit × month
arrays over a fixed month index; a *window* is a set of month positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import ids_as_str
from crmlab.features.panels import codes_in, grid_sum, month_start

#: The drivers of a bridge, in the order they are shown.
DRIVERS = ("market", "visits", "events", "lapsed_prescribers", "new_prescribers", "existing_prescribers",
           "channel_stock", "other")
#: Drivers estimated with a model (they carry intervals); the others are counted.
ESTIMATED = ("market", "visits", "events")


def parse_month(value: str, name: str = "end") -> pd.Timestamp:
    """``YYYY-MM`` (or a date in that month) as the first day of the month; ValueError otherwise.

    Examples
    --------
    >>> parse_month("2025-02")
    Timestamp('2025-02-01 00:00:00')
    """
    try:
        stamp = pd.Timestamp(str(value))
    except (ValueError, TypeError):
        raise ValueError(f"parameter {name!r} must be a month YYYY-MM, got {value!r}") from None
    return stamp.to_period("M").to_timestamp()


def windows(months: pd.DatetimeIndex, n: int, compare: str, end: pd.Timestamp | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the current window (``n`` months to ``end``) and of its comparison window.

    ``compare`` is ``previous_year`` (the same months a year earlier) or
    ``previous_period`` (the ``n`` months just before).

    Raises
    ------
    ValueError
        ``end`` outside the data, or not enough months before it for the comparison.

    Examples
    --------
    >>> months = pd.date_range("2024-01-01", periods=18, freq="MS")
    >>> current, before = windows(months, 3, "previous_year")
    >>> current.tolist(), before.tolist()
    ([15, 16, 17], [3, 4, 5])
    """
    last = len(months) - 1 if end is None else months.get_indexer([end])[0]
    if last < 0:
        raise ValueError(f"end month {end:%Y-%m} is outside the data ({months[0]:%Y-%m} to {months[-1]:%Y-%m})")
    current = np.arange(last - n + 1, last + 1)
    shift = 12 if compare == "previous_year" else n
    before = current - shift
    if before[0] < 0:
        raise ValueError(f"not enough history: comparing the {n} months to {months[last]:%Y-%m} with "
                         f"{'a year earlier' if compare == 'previous_year' else 'the months before'} needs data from "
                         f"{(months[last] - pd.DateOffset(months=shift + n - 1)):%Y-%m}; the data start "
                         f"{months[0]:%Y-%m}")
    return current, before


def month_grid(frame: pd.DataFrame, key: str, value: str, ids: pd.Index, months: pd.DatetimeIndex,
               month: str = "month") -> np.ndarray:
    """Sum of ``value`` per ``ids`` × ``months`` (rows outside either are left out).

    Examples
    --------
    >>> f = pd.DataFrame({"u": ["a", "b", "a"], "month": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"]),
    ...                   "y": [1.0, 2.0, 3.0]})
    >>> month_grid(f, "u", "y", pd.Index(["a", "b"]), pd.date_range("2025-01-01", periods=2, freq="MS")).tolist()
    [[1.0, 3.0], [2.0, 0.0]]
    """
    if not len(frame):
        return np.zeros((len(ids), len(months)))
    rows = codes_in(ids_as_str(frame[key]), ids.astype(str))
    cols = codes_in(month_start(frame[month]) if month != "month" else frame[month], months)
    return grid_sum(rows, cols, len(ids), len(months), frame[value].to_numpy(float))


def status(y_before: np.ndarray, y_current: np.ndarray) -> np.ndarray:
    """Per unit: ``lapsed`` (volume before, none now), ``new`` (the reverse), ``continuing`` or ``none``.

    Examples
    --------
    >>> status(np.array([3.0, 0.0, 2.0, 0.0]), np.array([0.0, 4.0, 1.0, 0.0])).tolist()
    ['lapsed', 'new', 'continuing', 'none']
    """
    before, now = y_before > 0, y_current > 0
    return np.select([before & ~now, ~before & now, before & now], ["lapsed", "new", "continuing"], "none")


def market_growth(base_before: np.ndarray, base_current: np.ndarray, group: np.ndarray, cluster: np.ndarray,
                  continuing: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """Growth of the no-activity volume of continuing units outside each group, and its standard error.

    ``base`` = volume minus the estimated visit and event lift. For each ``group``
    (a region) the ratio current / before is taken over the continuing units of the
    *other* groups, so a shock inside a region (a competitor, a vacancy) is not read as
    its market. The standard error is that of the ratio across ``cluster`` (territories)
    outside the group (a ratio estimator's linearisation).

    Examples
    --------
    >>> g, se = market_growth(np.array([10.0, 10, 10]), np.array([11.0, 12, 5]), np.array(["a", "b", "c"]),
    ...                       np.array(["t1", "t2", "t3"]), np.array([True, True, False]))
    >>> float(round(g["a"], 2)), float(round(g["b"], 2)), float(round(g["c"], 2))
    (1.2, 1.1, 1.15)
    """
    frame = pd.DataFrame({"g": group, "c": cluster, "b": np.where(continuing, base_before, 0.0),
                          "n": np.where(continuing, base_current, 0.0)})
    by_cluster = frame.groupby(["g", "c"])[["b", "n"]].sum().reset_index()
    growth, se = {}, {}
    for name in pd.unique(group):
        other = by_cluster[by_cluster["g"] != name]
        if not len(other) or other["b"].sum() <= 0:
            other = by_cluster
        total_b = other["b"].sum()
        ratio = other["n"].sum() / total_b if total_b > 0 else 1.0
        resid = (other["n"] - ratio * other["b"]).to_numpy()
        k = len(other)
        se[name] = float(np.sqrt(k / max(k - 1, 1) * (resid ** 2).sum()) / total_b) if total_b > 0 else 0.0
        growth[name] = float(ratio)
    return pd.Series(growth), pd.Series(se)


def split_change(y_before, y_current, lift_before, lift_current, event_before, event_current, growth, growth_se,
                 z: float, visit_ratio: tuple[float, float], event_ratio: tuple[float, float],
                 state: np.ndarray | None = None) -> pd.DataFrame:
    """Each unit's change split into drivers (they add up to ``y_current - y_before`` exactly).

    Lapsed units: all of the change is ``lapsed_prescribers``; new units:
    ``new_prescribers``. Continuing units: ``visits`` = change in estimated visit lift,
    ``events`` = change in estimated event lift, ``market`` = the no-activity volume before
    times the market growth outside the unit's region minus one, ``existing_prescribers``
    = the rest. ``*_lower``/``*_upper`` bound the estimated drivers (visit and event
    bounds from the ratio of their effect's interval to its estimate).

    ``state`` overrides :func:`status` (e.g. the status over all products).

    Examples
    --------
    >>> one = np.array([10.0])
    >>> out = split_change(one, one * 1.5, one * 0, one / 10, one * 0, one * 0, np.array([1.1]), np.array([0.0]),
    ...                    1.96, (0.5, 1.5), (1.0, 1.0))
    >>> out[["market", "visits", "existing_prescribers"]].round(2).values.tolist()
    [[1.0, 1.0, 3.0]]
    """
    state = status(y_before, y_current) if state is None else state
    cont = state == "continuing"
    change = y_current - y_before
    base_before = np.clip(y_before - lift_before - event_before, 0, None)
    out = pd.DataFrame({
        "market": np.where(cont, base_before * (growth - 1), 0.0),
        "visits": np.where(cont, lift_current - lift_before, 0.0),
        "events": np.where(cont, event_current - event_before, 0.0),
        "lapsed_prescribers": np.where(state == "lapsed", change, 0.0),
        "new_prescribers": np.where(state == "new", change, 0.0),
    })
    out["existing_prescribers"] = np.where(cont, change - out["market"] - out["visits"] - out["events"], 0.0)
    out["market_lower"] = np.where(cont, base_before * (growth - z * growth_se - 1), 0.0)
    out["market_upper"] = np.where(cont, base_before * (growth + z * growth_se - 1), 0.0)
    for name, (low, high) in (("visits", visit_ratio), ("events", event_ratio)):
        a, b = out[name] * low, out[name] * high
        out[f"{name}_lower"], out[f"{name}_upper"] = np.minimum(a, b), np.maximum(a, b)
    out["change"] = change
    out["status"] = state
    return out


def grades(volume: pd.Series) -> pd.Series:
    """Grade A (top 10% of volume), B (next 20%), C (next 30%), D (the rest and zero volume).

    Examples
    --------
    >>> grades(pd.Series(range(10), index=list("abcdefghij"), dtype=float)).tolist()
    ['D', 'D', 'D', 'D', 'C', 'C', 'C', 'B', 'B', 'A']
    """
    rank = volume.rank(pct=True, method="first")
    out = pd.Series(np.select([rank > 0.9, rank > 0.7, rank > 0.4], ["A", "B", "C"], "D"), index=volume.index)
    return out.where(volume > 0, "D")
