"""Field-force capacity: variation in visits that reps do not choose.

Reps chase demand: they visit a doctor more after his prescribing rose. Months in which
a territory *lost capacity* — its rep on leave or in training, the post vacant between
reps — move visits for reasons that have nothing to do with one doctor's demand. These
builders measure that capacity per territory and month, and per doctor and month, as
instruments for visits:

* ``absent_share``: share of the month's days the territory's reps were away
  (``rep_absences``, an optional contract table);
* ``vacant_share``: share of the month's days with no rep employed in the territory
  (``reps`` hire and end dates);
* ``loo_visits``: completed visits the territory's doctors *other than this one* got
  that month, per doctor (leave-one-out): it moves with the rep's capacity and effort,
  not with this doctor's demand;
* ``coverage_gap``: share of the month's days the doctor's usual rep (the rep of his
  latest earlier visit) was away or gone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import completed_visits, ids_as_str
from crmlab.features.panels import codes_in, month_start


def _day_grid(months: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, np.ndarray]:
    days = pd.date_range(months[0], months[-1] + pd.offsets.MonthEnd(0), freq="D")
    month_of_day = months.get_indexer(days.to_period("M").to_timestamp())
    return days, month_of_day


def rep_days(reps: pd.DataFrame, months: pd.DatetimeIndex,
             rep_absences: pd.DataFrame | None = None) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Per rep and day: employed (hire to end date) and away (an absence spell).

    Returns the rep IDs, and two boolean arrays of shape (reps, days of ``months``).
    A missing hire date means employed from the start, a missing end date to the end.
    """
    days, _ = _day_grid(months)
    ids = pd.Index(reps["rep_id"].astype(str))
    day_values = days.to_numpy()
    hire = pd.to_datetime(reps.get("hire_date", pd.Series(pd.NaT, index=reps.index))).to_numpy()
    end = pd.to_datetime(reps.get("end_date", pd.Series(pd.NaT, index=reps.index))).to_numpy()
    employed = ((np.isnat(hire)[:, None] | (hire[:, None] <= day_values[None, :]))
                & (np.isnat(end)[:, None] | (end[:, None] >= day_values[None, :])))
    away = np.zeros_like(employed)
    if rep_absences is not None and len(rep_absences):
        row = ids.get_indexer(rep_absences["rep_id"].astype(str))
        start = pd.to_datetime(rep_absences["start_date"]).to_numpy()
        stop = pd.to_datetime(rep_absences["end_date"]).fillna(pd.to_datetime(rep_absences["start_date"])).to_numpy()
        first = (start - day_values[0]).astype("timedelta64[D]").astype(np.int64)
        last = (stop - day_values[0]).astype("timedelta64[D]").astype(np.int64)
        for r, a, b in zip(row, first, last):
            if r >= 0 and b >= 0 and a < len(days):
                away[r, max(a, 0):min(b, len(days) - 1) + 1] = True
    return ids, employed, away & employed


def territory_capacity(accounts: pd.DataFrame, reps: pd.DataFrame, months: pd.DatetimeIndex,
                       rep_absences: pd.DataFrame | None = None) -> pd.DataFrame:
    """Territory × month: days with a rep employed, days the reps were away, their shares.

    Parameters
    ----------
    accounts, reps : DataFrame
        Contract tables (``territory_id`` of accounts; reps with hire and end dates).
    months : DatetimeIndex
        Months of the grid.
    rep_absences : DataFrame, optional
        ``rep_id, start_date, end_date`` (inclusive) of each absence spell.

    Returns
    -------
    DataFrame
        ``territory_id, month, vacant_share`` (days with no rep employed),
        ``absent_share`` (rep-days away over rep-days employed) and ``capacity``
        (``(1 - vacant_share) * (1 - absent_share)``), sorted by territory then month.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1"], "territory_id": ["T1"]})
    >>> reps = pd.DataFrame({"rep_id": ["R1"], "territory_id": ["T1"],
    ...     "hire_date": pd.to_datetime(["2020-01-01"]), "end_date": pd.to_datetime(["2025-01-31"])})
    >>> absences = pd.DataFrame({"rep_id": ["R1"], "start_date": pd.to_datetime(["2025-01-01"]),
    ...     "end_date": pd.to_datetime(["2025-01-31"])})
    >>> months = pd.date_range("2025-01-01", periods=2, freq="MS")
    >>> territory_capacity(accounts, reps, months, absences)[["absent_share", "vacant_share", "capacity"]].to_numpy().tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    territories = pd.Index(np.unique(np.r_[accounts["territory_id"].astype(str).to_numpy(),
                                           reps["territory_id"].astype(str).to_numpy()]))
    _, month_of_day = _day_grid(months)
    n_t, n_m = len(territories), len(months)
    _, employed, away = rep_days(reps, months, rep_absences)
    rep_territory = territories.get_indexer(reps["territory_id"].astype(str))
    by_day = np.zeros((n_t, employed.shape[1]))
    away_by_day = np.zeros_like(by_day)
    np.add.at(by_day, rep_territory, employed)
    np.add.at(away_by_day, rep_territory, away)
    monthly = lambda grid: np.stack([np.bincount(month_of_day, weights=row, minlength=n_m) for row in grid])
    days_in_month = months.days_in_month.to_numpy()[None, :]
    covered = monthly(by_day > 0)
    rep_days_ = monthly(by_day)
    away_days = monthly(away_by_day)
    vacant_share = 1 - covered / days_in_month
    absent_share = np.divide(away_days, rep_days_, out=np.zeros_like(away_days), where=rep_days_ > 0)
    return pd.DataFrame({
        "territory_id": np.repeat(territories.to_numpy(), n_m),
        "month": np.tile(months.to_numpy(), n_t),
        "vacant_share": vacant_share.ravel(),
        "absent_share": absent_share.ravel(),
        "capacity": ((1 - vacant_share) * (1 - absent_share)).ravel(),
    })


def capacity_instruments(doctors: pd.DataFrame, accounts: pd.DataFrame, reps: pd.DataFrame,
                         visits: pd.DataFrame, months: pd.DatetimeIndex,
                         rep_absences: pd.DataFrame | None = None) -> pd.DataFrame:
    """Doctor × month capacity shocks of the doctor's territory, as instruments for visits.

    Parameters
    ----------
    doctors, accounts, reps, visits : DataFrame
        Contract tables.
    months : DatetimeIndex
        Months of the grid.
    rep_absences : DataFrame, optional
        The optional ``rep_absences`` table.

    Returns
    -------
    DataFrame
        Sorted by doctor then month (as :func:`crmlab.features.doctor_month_panel`):
        ``doctor_id, month, territory_id, vacant_share, absent_share, capacity,
        loo_visits`` (completed visits of the territory's other doctors, per other
        doctor) and ``coverage_gap`` (share of days the doctor's usual rep was away or
        gone).

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1", "D2"], "account_id": ["A1", "A1"]})
    >>> accounts = pd.DataFrame({"account_id": ["A1"], "territory_id": ["T1"]})
    >>> reps = pd.DataFrame({"rep_id": ["R1"], "territory_id": ["T1"]})
    >>> visits = pd.DataFrame({"rep_id": ["R1"] * 3, "doctor_id": ["D1", "D2", "D2"],
    ...     "date": pd.to_datetime(["2025-01-05", "2025-01-09", "2025-02-03"])})
    >>> out = capacity_instruments(doctors, accounts, reps, visits, pd.date_range("2025-01-01", periods=2, freq="MS"))
    >>> out["loo_visits"].tolist()
    [1.0, 1.0, 1.0, 0.0]
    """
    ids = pd.Index(doctors["doctor_id"].astype(str))
    n, n_m = len(ids), len(months)
    territory_of_account = accounts.assign(account_id=accounts["account_id"].astype(str)).set_index(
        "account_id")["territory_id"].astype(str)
    territory = doctors["account_id"].astype(str).map(territory_of_account).fillna("").to_numpy()
    capacity = territory_capacity(accounts, reps, months, rep_absences)
    territories = pd.Index(capacity["territory_id"].unique())
    t_code = territories.get_indexer(territory)

    done = completed_visits(visits, ["doctor_id", "rep_id", "date"])
    # arrow's hash join and a binary search of the months: 7.9M visits at national scale
    d_code = codes_in(ids_as_str(done["doctor_id"]), ids).astype(np.int64)
    m_code = codes_in(month_start(pd.to_datetime(done["date"])), months).astype(np.int64)
    ok = (d_code >= 0) & (m_code >= 0)
    own = np.bincount(d_code[ok] * n_m + m_code[ok], minlength=n * n_m).reshape(n, n_m).astype(float)
    in_territory = np.zeros((len(territories), n_m))
    np.add.at(in_territory, t_code[t_code >= 0], own[t_code >= 0])
    doctors_in = np.bincount(t_code[t_code >= 0], minlength=len(territories)).astype(float)
    safe = np.maximum(t_code, 0)
    others = np.maximum(doctors_in[safe] - 1, 1)[:, None]
    loo = np.where(t_code[:, None] >= 0, (in_territory[safe] - own) / others, 0.0)

    out = pd.DataFrame({"doctor_id": np.repeat(ids.to_numpy(), n_m), "month": np.tile(months.to_numpy(), n),
                        "territory_id": np.repeat(territory, n_m)})
    for column in ("vacant_share", "absent_share", "capacity"):
        grid = capacity[column].to_numpy().reshape(len(territories), n_m)
        out[column] = np.where(t_code[:, None] >= 0, grid[safe], 0.0).ravel()
    out["loo_visits"] = loo.ravel()
    out["coverage_gap"] = _coverage_gap(done, d_code, m_code, n, months, reps, rep_absences).ravel()
    return out


def _coverage_gap(done: pd.DataFrame, d_code: np.ndarray, m_code: np.ndarray, n: int, months: pd.DatetimeIndex,
                  reps: pd.DataFrame, rep_absences: pd.DataFrame | None) -> np.ndarray:
    """Doctor × month share of days the rep of the doctor's latest earlier visit was away or gone.

    ``d_code`` and ``m_code`` are the rows of ``done`` (completed visits) among the ``n``
    doctors and the months (-1: neither).
    """
    n_m = len(months)
    rep_ids, employed, away = rep_days(reps, months, rep_absences)
    _, month_of_day = _day_grid(months)
    missing = ~employed | away
    missing_share = np.stack([np.bincount(month_of_day, weights=row, minlength=n_m) for row in missing]) \
        / months.days_in_month.to_numpy()[None, :]
    if "rep_id" not in done or not len(done):
        return np.zeros((n, n_m))
    frame = pd.DataFrame({"d": d_code, "m": m_code, "r": codes_in(ids_as_str(done["rep_id"]), rep_ids),
                          "date": pd.to_datetime(done["date"]).to_numpy()})
    frame = frame[(frame["d"] >= 0) & (frame["m"] >= 0) & (frame["r"] >= 0)].sort_values(["d", "date"])
    last = frame.groupby(["d", "m"])["r"].last()
    usual = np.full((n, n_m), -1)
    usual[last.index.get_level_values(0), last.index.get_level_values(1)] = last.to_numpy()
    # the usual rep of month t is the rep of the latest visit before t (carried forward)
    usual = pd.DataFrame(np.where(usual >= 0, usual, np.nan)).T.ffill().T.shift(1, axis=1).to_numpy()
    known = ~np.isnan(usual)
    gap = np.zeros((n, n_m))
    rows, cols = np.nonzero(known)
    gap[rows, cols] = missing_share[usual[rows, cols].astype(int), cols]
    return gap
