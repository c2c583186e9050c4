"""Feature builders for the attribution analysis: detailing by channel, active spells, bins.

Every builder is a pure function (DataFrames in, a new DataFrame or Series out). They
complement :mod:`crmlab.features.panels`, whose panels count detailing visits over all
channels; the visit-lift model needs them per channel to weigh a remote call against a
face-to-face one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.panels import CHANNELS, month_start


def detailing_by_channel(visits: pd.DataFrame, doctors: pd.DataFrame, months: pd.DatetimeIndex,
                         product_id: str) -> pd.DataFrame:
    """Doctor × month counts of completed visits detailing ``product_id``, one column per channel.

    Parameters
    ----------
    visits, doctors : DataFrame
        Contract tables. ``status`` (default ``completed``) and ``channel`` (default
        ``face_to_face``) are optional columns.
    months : DatetimeIndex
        Months of the grid (first of the month).
    product_id : str
        The product detailed.

    Returns
    -------
    DataFrame
        Sorted by doctor then month: ``doctor_id, account_id, month`` and
        ``detailing_<channel>`` for every contract channel.

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"]})
    >>> visits = pd.DataFrame({"doctor_id": ["D1", "D1"], "product_id": ["P1", "P1"],
    ...     "date": pd.to_datetime(["2025-01-10", "2025-01-12"]), "channel": ["remote", "face_to_face"]})
    >>> out = detailing_by_channel(visits, doctors, pd.date_range("2025-01-01", periods=1, freq="MS"), "P1")
    >>> out[["detailing_face_to_face", "detailing_remote"]].to_numpy().tolist()
    [[1.0, 1.0]]
    """
    ids = pd.Index(doctors["doctor_id"].astype(str))
    n, n_m = len(ids), len(months)
    status = visits["status"].fillna("completed") if "status" in visits else pd.Series("completed", index=visits.index)
    named = (visits["product_id"] == str(product_id)).fillna(False) if "product_id" in visits \
        else pd.Series(False, index=visits.index)
    keep = ((status == "completed") & named).to_numpy(bool)
    chosen = visits.loc[keep]
    # codes straight from the ID column (object or string dtype); no text copy of millions of IDs
    rows = ids.get_indexer(pd.Index(chosen["doctor_id"]))
    cols = pd.Categorical(month_start(chosen["date"]), categories=months).codes
    channel = (chosen["channel"].astype("string").fillna("face_to_face") if "channel" in chosen
               else pd.Series("face_to_face", index=chosen.index)).to_numpy(str)
    out = pd.DataFrame({"doctor_id": np.repeat(ids.to_numpy(), n_m),
                        "account_id": np.repeat(doctors["account_id"].astype(str).to_numpy(), n_m),
                        "month": np.tile(months.to_numpy(), n)})
    valid = (rows >= 0) & (cols >= 0)
    for name in CHANNELS:
        sel = valid & (channel == name)
        flat = rows[sel].astype(np.int64) * n_m + cols[sel]
        out[f"detailing_{name}"] = np.bincount(flat, minlength=n * n_m).astype(float)
    return out


def active_spell(panel: pd.DataFrame, outcome: str, *, by: str = "doctor_id") -> pd.Series:
    """True for the months up to and including a unit's last month with a positive outcome.

    A doctor who stopped prescribing for good (a lapse) is still visited, but a visit
    cannot lift prescriptions that are no longer written. The cut uses observed data
    only: the last month with ``outcome > 0``. Units that never have a positive outcome
    are inactive throughout.

    Examples
    --------
    >>> panel = pd.DataFrame({"doctor_id": ["D1"] * 4, "month": pd.date_range("2025-01-01", periods=4, freq="MS"),
    ...     "trx": [0.0, 3.0, 2.0, 0.0]})
    >>> active_spell(panel, "trx").tolist()
    [True, True, True, False]
    """
    positive = panel[outcome].to_numpy(float) > 0
    month_rank = panel.groupby(by, sort=False)["month"].rank(method="first").to_numpy()
    last = pd.Series(np.where(positive, month_rank, 0.0), index=panel.index).groupby(panel[by], sort=False).transform("max")
    return pd.Series(month_rank <= last.to_numpy(), index=panel.index, name="active")


def level_bins(panel: pd.DataFrame, column: str, *, by: str = "doctor_id", n_bins: int = 10,
               months: int | None = None) -> pd.Series:
    """Quantile bin (0 … n_bins-1) of each unit's mean ``column``, repeated on its rows.

    Demand here is proportional to a doctor's size (seasonality and trend scale with
    it), so month effects are allowed to differ by size bin: month × bin fixed effects
    compare a doctor with doctors of similar size. ``months`` limits the mean to the
    first months of the panel (before any treatment).

    Examples
    --------
    >>> panel = pd.DataFrame({"doctor_id": ["D1", "D1", "D2", "D2"], "trx": [1.0, 1.0, 9.0, 9.0]})
    >>> level_bins(panel, "trx", n_bins=2).tolist()
    [0, 0, 1, 1]
    """
    frame = panel
    if months is not None:
        frame = panel[panel.groupby(by, sort=False).cumcount() < months]
    mean = frame.groupby(by, sort=False)[column].mean()
    n_bins = max(1, min(n_bins, mean.nunique()))
    bins = pd.Series(pd.qcut(mean.rank(method="first"), n_bins, labels=False), index=mean.index).astype(int)
    return pd.Series(panel[by].map(bins).to_numpy(), index=panel.index, name="level_bin")


def first_attendance(events: pd.DataFrame, event_attendance: pd.DataFrame, event_type: str,
                     months: pd.DatetimeIndex) -> pd.Series:
    """Month index (0 = first month of ``months``) of each doctor's first event of a type.

    Examples
    --------
    >>> events = pd.DataFrame({"event_id": ["E1"], "event_type": ["seminar"],
    ...     "start_date": pd.to_datetime(["2025-02-12"])})
    >>> attendance = pd.DataFrame({"event_id": ["E1"], "doctor_id": ["D1"]})
    >>> first_attendance(events, attendance, "seminar", pd.date_range("2025-01-01", periods=3, freq="MS")).to_dict()
    {'D1': 1}
    """
    chosen = events.loc[events["event_type"].astype(str) == event_type, ["event_id", "start_date"]]
    joined = event_attendance.assign(event_id=event_attendance["event_id"].astype(str)).merge(
        chosen.assign(event_id=chosen["event_id"].astype(str)), on="event_id", how="inner")
    position = pd.Categorical(month_start(joined["start_date"]), categories=months).codes
    joined = joined.assign(position=position)[position >= 0]
    return joined.groupby(joined["doctor_id"].astype(str))["position"].min().rename("first_month")
