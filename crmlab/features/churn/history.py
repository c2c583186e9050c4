"""Month grids of one level (doctor or account), built once from the contract tables.

Every dated row after ``as_of`` is masked out before anything is computed, so nothing
read from a :class:`ChurnHistory` can leak the future.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids

LEVELS = ("doctor", "account")
TITLES = ("chief", "associate_chief", "attending", "resident")
TIER_RANK = {"3A": 5.0, "3B": 4.0, "2A": 3.0, "2B": 2.0, "1": 1.0}


def _table(tables, name: str) -> pd.DataFrame | None:
    """A table from a Dataset or a dict, or None when it is missing or empty."""
    try:
        frame = tables[name]
    except (KeyError, AttributeError):
        return None
    if frame is None or not len(frame):
        return None
    return frame


def volume_source(tables, level: str) -> str:
    """Which table gives the volume: ``prescriptions`` or ``sales``.

    Raises
    ------
    ValueError
        When the level is unknown or the table it needs is missing.

    Examples
    --------
    >>> volume_source({"sales": pd.DataFrame({"units": [1.0]})}, "account")
    'sales'
    """
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    has_rx = _table(tables, "prescriptions") is not None
    has_sales = _table(tables, "sales") is not None
    if level == "doctor":
        if not has_rx:
            raise ValueError("churn at level 'doctor' needs the 'prescriptions' table (doctor volume); "
                             "it is missing or empty. Use level: account to work from 'sales'.")
        if _table(tables, "doctors") is None:
            raise ValueError("churn at level 'doctor' needs the 'doctors' table; it is missing or empty.")
        return "prescriptions"
    if has_sales:
        return "sales"
    if has_rx and _table(tables, "doctors") is not None:
        return "prescriptions"
    raise ValueError("churn at level 'account' needs the 'sales' table (or 'prescriptions' with "
                     "'doctors' to sum per account); both are missing or empty.")


def default_as_of(tables, level: str = "doctor") -> pd.Timestamp:
    """The end of the last complete month of volume data.

    Monthly data (prescriptions) is complete in its last month. Dated sales are taken
    as complete in the month of the last sale when that sale falls in the month's last
    seven days, else the month before is the last complete one.

    Examples
    --------
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-03-03", "2025-04-10"]), "units": [1.0, 2.0]})
    >>> str(default_as_of({"sales": sales}, "account").date())
    '2025-03-31'
    """
    source = volume_source(tables, level)
    if source == "prescriptions":
        last = pd.Timestamp(tables["prescriptions"]["month"].max())
        return last + pd.offsets.MonthEnd(0)
    last = pd.Timestamp(tables["sales"]["date"].max()).normalize()
    month_end = last + pd.offsets.MonthEnd(0)
    if (month_end - last).days < 7:
        return month_end
    return last.replace(day=1) - pd.Timedelta(days=1)


@dataclass
class ChurnHistory:
    """Month grids of one level, built once; row ``i`` is ``entity_ids[i]``.

    Attributes
    ----------
    entity_ids : Index
    months : DatetimeIndex
    volume, visits, remote_visits, events : ndarray (n_entities, n_months)
        ``visits``/``remote_visits``/``events`` are None when there is no such table.
    group : ndarray of int
        Peer group of each entity (account for doctors, territory for accounts).
    territory : ndarray of str
    static : DataFrame
        Time-invariant features (title, tier, size), indexed by entity.
    occasions : DataFrame
        ``entity_id, date`` of every purchase occasion (a distinct date with positive
        volume; the month for monthly prescriptions).
    level, source : str
    """

    entity_ids: pd.Index
    months: pd.DatetimeIndex
    volume: np.ndarray
    visits: np.ndarray | None
    remote_visits: np.ndarray | None
    events: np.ndarray | None
    group: np.ndarray
    territory: np.ndarray
    static: pd.DataFrame
    occasions: pd.DataFrame
    level: str
    source: str

    def month_index(self, as_of) -> int:
        """Index of the month holding ``as_of`` (the last month a feature may read)."""
        month = pd.Timestamp(as_of).to_period("M").to_timestamp()
        if month < self.months[0]:
            raise ValueError(f"as_of {pd.Timestamp(as_of).date()} is before the first month of data "
                             f"({self.months[0].date()})")
        return int((month.year - self.months[0].year) * 12 + month.month - self.months[0].month)


def entity_codes(keys: pd.Series, ids: pd.Index) -> np.ndarray:
    """Position of each key in ``ids`` (-1 when absent or missing).

    The long key column is factorised (hashing, arrow-native for ``string[pyarrow]``) and
    only its distinct values are turned into Python strings, so 18 million prescription
    rows never become 18 million Python objects (national scale).
    """
    codes, uniques = pd.factorize(keys)
    positions = ids.get_indexer(pd.Index(np.asarray(uniques, dtype=object)).astype(str))
    return np.append(positions, -1)[codes]


def _isin(values: pd.Series, allowed: Iterable[str]) -> np.ndarray:
    """``values.astype(str).isin(allowed)`` without converting every row to a Python string."""
    codes, uniques = pd.factorize(values)
    keep = pd.Index(np.asarray(uniques, dtype=object)).astype(str).isin(list(allowed))
    return np.append(keep, False)[codes]


def _month_codes(dates: pd.Series, first_month: pd.Timestamp, n_months: int) -> np.ndarray:
    """Month index of each date on the grid starting at ``first_month`` (-1 outside it or NaT)."""
    months = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    first = np.datetime64(first_month, "M").astype(np.int64)
    out = months - first
    valid = (out >= 0) & (out < n_months) & ~np.isnat(pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]"))
    return np.where(valid, out, -1)


def _grid(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], weights=None, mask=None) -> np.ndarray:
    """Sum ``weights`` (or count rows) per (row, col) cell; rows/cols of -1 are dropped."""
    keep = (rows >= 0) & (cols >= 0)
    if mask is not None:
        keep &= mask
    flat = rows[keep].astype(np.int64) * shape[1] + cols[keep]
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return np.bincount(flat, weights=w, minlength=shape[0] * shape[1]).reshape(shape)


def _upto(frame: pd.DataFrame, column: str, as_of: pd.Timestamp | None) -> np.ndarray:
    """Rows dated up to ``as_of`` (the no-leakage rule: every dated row read passes this mask)."""
    if as_of is None:
        return np.ones(len(frame), dtype=bool)
    return (frame[column] <= as_of).to_numpy(dtype=bool, na_value=False)


def churn_history(tables, *, level: str = "doctor", product_id=None, as_of=None) -> ChurnHistory:
    """Build the month grids that churn features and labels are read from.

    Every dated row after ``as_of`` is masked out before anything is computed. The big
    tables are read as integer codes (entity position, month index) and boolean masks,
    never copied or converted to Python strings, so that 200,000 doctors × 36 months
    (18 million prescription rows, 8 million visits) fit in a few GB.

    Parameters
    ----------
    tables : Dataset or dict of DataFrame
        Contract tables (``crmlab.io.load`` or ``simulate(...).tables``).
    level : {"doctor", "account"}
    product_id : str or list of str, optional
        Default: every own product.
    as_of : date, optional
        Rows dated after it are dropped before anything is computed.

    Returns
    -------
    ChurnHistory

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> history = churn_history(simulate("sample", seed=1).tables, level="doctor")
    >>> history.volume.shape
    (300, 36)
    """
    source = volume_source(tables, level)
    as_of = None if as_of is None else pd.Timestamp(as_of)
    products = own_product_ids(_table(tables, "products"), product_id)
    doctors, accounts = _table(tables, "doctors"), _table(tables, "accounts")
    if accounts is None:
        raise ValueError("churn needs the 'accounts' table; it is missing or empty.")
    rx, sales = _table(tables, "prescriptions"), _table(tables, "sales")
    if source == "prescriptions":
        vol_frame, date_col, amount = rx, "month", "trx"
    else:
        vol_frame, date_col, amount = sales, "date", "units"
    vol_rows = _upto(vol_frame, date_col, as_of)
    if products is not None:
        vol_rows &= _isin(vol_frame["product_id"], products)
    if not vol_rows.any():
        raise ValueError(f"no {source} rows for products {products} up to {as_of}")
    volume_dates = vol_frame[date_col][vol_rows]
    first = pd.Timestamp(volume_dates.min()).to_period("M").to_timestamp()
    last = (as_of if as_of is not None else volume_dates.max())
    months = pd.date_range(first, pd.Timestamp(last).to_period("M").to_timestamp(), freq="MS")
    n_m = len(months)

    account_ids = pd.Index(accounts["account_id"].astype(str))
    territory_of_account = pd.Series(accounts["territory_id"].astype(str).to_numpy(), index=account_ids)
    vol_months = _month_codes(vol_frame[date_col], first, n_m)
    weights = vol_frame[amount].to_numpy(dtype=float, na_value=0.0)
    if level == "doctor":
        ids = pd.Index(doctors["doctor_id"].astype(str))
        account_of = doctors["account_id"].astype(str).to_numpy()
        group = pd.factorize(account_of)[0]
        territory = territory_of_account.reindex(account_of).fillna("").to_numpy()
        volume = _grid(entity_codes(rx["doctor_id"], ids), vol_months, (len(ids), n_m), weights, vol_rows)
        static = _doctor_static(doctors, accounts, ids)
    else:
        ids = account_ids
        territory = territory_of_account.to_numpy()
        group = pd.factorize(territory)[0]
        if source == "sales":
            rows = entity_codes(sales["account_id"], ids)
        else:
            account_of_doctor = entity_codes(doctors["account_id"], ids)
            rows = np.append(account_of_doctor, -1)[entity_codes(rx["doctor_id"], pd.Index(doctors["doctor_id"]
                                                                                        .astype(str)))]
        volume = _grid(rows, vol_months, (len(ids), n_m), weights, vol_rows)
        static = _account_static(accounts, doctors, ids)
    if source == "sales":
        # a purchase occasion is a distinct date with positive sales (summed over products)
        keep = vol_rows & (rows >= 0)
        day = (pd.to_datetime(sales["date"]).to_numpy(dtype="datetime64[ns]")[keep]
               .astype("datetime64[D]").astype(np.int64))
        day0, span = day.min(), day.max() - day.min() + 1
        cells, uniques = pd.factorize(rows[keep].astype(np.int64) * span + (day - day0))
        total = np.bincount(cells, weights=weights[keep])
        positive = np.sort(uniques[total > 0])
        occ_rows = positive // span
        occ_dates = (positive % span + day0).astype("datetime64[D]").astype("datetime64[ns]")
    else:
        # a monthly count is an occasion at the month's end (one per month, whatever the
        # products), so a doctor prescribing in the as_of month has recency = T
        occ_rows, occ_cols = np.nonzero(volume > 0)
        month_ends = (months + pd.offsets.MonthEnd(0)).to_numpy(dtype="datetime64[ns]")
        occ_dates = month_ends[occ_cols]
    occasions = pd.DataFrame({"entity_id": pd.Categorical.from_codes(occ_rows, categories=ids),
                              "date": pd.to_datetime(occ_dates)})
    visits = remote = events = None
    if level == "doctor" and _table(tables, "visits") is not None:
        v = tables["visits"]
        completed = _upto(v, "date", as_of)
        if "status" in v:
            # completed_visits' rule as a mask: filtering would copy 8 million rows at national scale
            completed &= v["status"].fillna("completed").eq("completed").to_numpy(dtype=bool, na_value=False)
        v_rows = entity_codes(v["doctor_id"], ids)
        v_months = _month_codes(v["date"], first, n_m)
        visits = _grid(v_rows, v_months, (len(ids), n_m), mask=completed)
        channel = (v["channel"].fillna("face_to_face") if "channel" in v
                   else pd.Series("face_to_face", index=v.index))
        remote_rows = completed & channel.ne("face_to_face").to_numpy(dtype=bool, na_value=False)
        remote = _grid(v_rows, v_months, (len(ids), n_m), mask=remote_rows)
    if level == "doctor" and _table(tables, "events") is not None and _table(tables, "event_attendance") is not None:
        ev = tables["events"]
        ev = ev[_upto(ev, "start_date", as_of)]
        attended = tables["event_attendance"].merge(ev[["event_id", "start_date"]], on="event_id")
        events = _grid(entity_codes(attended["doctor_id"], ids), _month_codes(attended["start_date"], first, n_m),
                       (len(ids), n_m))
    return ChurnHistory(ids, months, volume.astype(float), visits, remote, events, np.asarray(group),
                        np.asarray(territory, dtype=object), static, occasions, level, source)


def _doctor_static(doctors: pd.DataFrame, accounts: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    acc = accounts.assign(account_id=accounts["account_id"].astype(str)).set_index("account_id")
    account_of = doctors["account_id"].astype(str).to_numpy()
    static = pd.DataFrame(index=ids)
    title = doctors.get("title", pd.Series(pd.NA, index=doctors.index)).astype("string").fillna("")
    for name in TITLES:
        static[f"title_{name}"] = (title == name).to_numpy().astype(float)
    tier = acc.get("tier", pd.Series(pd.NA, index=acc.index)).reindex(account_of)
    static["tier_rank"] = tier.astype("string").map(TIER_RANK).astype(float).fillna(0.0).to_numpy()
    outpatients = doctors.get("department_outpatients", pd.Series(np.nan, index=doctors.index))
    static["log_department_outpatients"] = np.log1p(pd.to_numeric(outpatients, errors="coerce")
                                                    .fillna(0).to_numpy(float))
    return static


def _account_static(accounts: pd.DataFrame, doctors: pd.DataFrame | None, ids: pd.Index) -> pd.DataFrame:
    static = pd.DataFrame(index=ids)
    kind = accounts["account_type"].astype("string").fillna("other").to_numpy()
    for name in ("hospital", "clinic", "pharmacy"):
        static[f"type_{name}"] = (kind == name).astype(float)
    tier = accounts.get("tier", pd.Series(pd.NA, index=accounts.index))
    static["tier_rank"] = tier.astype("string").map(TIER_RANK).astype(float).fillna(0.0).to_numpy()
    outpatients = accounts.get("annual_outpatients", pd.Series(np.nan, index=accounts.index))
    static["log_annual_outpatients"] = np.log1p(pd.to_numeric(outpatients, errors="coerce")
                                                .fillna(0).to_numpy(float))
    if doctors is not None:
        counts = doctors["account_id"].astype(str).value_counts()
        static["doctors_on_file"] = counts.reindex(ids, fill_value=0).to_numpy(float)
    return static


