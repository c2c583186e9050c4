"""Churn features and labels, as of a date, from the past only.

An *entity* is a doctor (volume = own-product prescriptions) or an account (volume =
sell-out from ``sales``, or its doctors' prescriptions when there are no sales).
Everything here works on month grids built once from the contract tables
(:func:`churn_history`); a feature as of month ``t`` reads only columns ``<= t`` of
those grids, and :func:`churn_features` first drops every row dated after ``as_of``,
so appending or altering later data cannot change it (``tests/test_churn.py`` proves
it).

Definitions (parameters of ``params/churn.yaml``):

* *active* as of ``t``: volume > 0 in at least ``min_active_months`` of the
  ``active_months`` months up to and including ``t``;
* *churns* after ``t``: its volume in the ``horizon_months`` months after ``t`` is zero
  (or, with ``churn_share > 0``, below that share of its trailing monthly average).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd


LEVELS = ("doctor", "account")
TITLES = ("chief", "associate_chief", "attending", "resident")
TIER_RANK = {"3A": 5.0, "3B": 4.0, "2A": 3.0, "2B": 2.0, "1": 1.0}
# months of history a feature looks back over (trend, volatility, frequency)
LOOKBACK = 12


def _table(tables, name: str) -> pd.DataFrame | None:
    """A table from a Dataset or a dict, or None when it is missing or empty."""
    try:
        frame = tables[name]
    except (KeyError, AttributeError):
        return None
    if frame is None or not len(frame):
        return None
    return frame


def own_product_ids(tables, product_id: str | Iterable[str] | None = None) -> list[str] | None:
    """The products whose volume counts: ``product_id`` if given, else all own products.

    Examples
    --------
    >>> products = pd.DataFrame({"product_id": ["P1", "C1"], "is_competitor": [False, True]})
    >>> own_product_ids({"products": products})
    ['P1']
    >>> own_product_ids({"products": products}, "C1")
    ['C1']
    """
    if product_id is not None and not (isinstance(product_id, (list, tuple)) and len(product_id) == 0):
        return [product_id] if isinstance(product_id, str) else [str(p) for p in product_id]
    products = _table(tables, "products")
    if products is None:
        return None
    competitor = products.get("is_competitor", pd.Series(False, index=products.index))
    competitor = competitor.astype("boolean").fillna(False).astype(bool)
    return products.loc[~competitor, "product_id"].astype(str).tolist()


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


def _entity_codes(keys: pd.Series, ids: pd.Index) -> np.ndarray:
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
    products = own_product_ids(tables, product_id)
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
        volume = _grid(_entity_codes(rx["doctor_id"], ids), vol_months, (len(ids), n_m), weights, vol_rows)
        static = _doctor_static(doctors, accounts, ids)
    else:
        ids = account_ids
        territory = territory_of_account.to_numpy()
        group = pd.factorize(territory)[0]
        if source == "sales":
            rows = _entity_codes(sales["account_id"], ids)
        else:
            account_of_doctor = _entity_codes(doctors["account_id"], ids)
            rows = np.append(account_of_doctor, -1)[_entity_codes(rx["doctor_id"], pd.Index(doctors["doctor_id"]
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
            completed &= v["status"].fillna("completed").eq("completed").to_numpy(dtype=bool, na_value=False)
        v_rows = _entity_codes(v["doctor_id"], ids)
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
        events = _grid(_entity_codes(attended["doctor_id"], ids), _month_codes(attended["start_date"], first, n_m),
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


def rfm_at(history: ChurnHistory, as_of, *, unit_days: float = 30.4375) -> pd.DataFrame:
    """BG/NBD inputs as of ``as_of``: ``frequency`` (repeat occasions), ``recency`` and ``T``.

    Times are in months (``unit_days`` days) from each entity's first occasion; recency
    is the time of its last occasion. Entities with no occasion get ``T = NaN``.

    Examples
    --------
    >>> h = ChurnHistory(pd.Index(["a"]), pd.date_range("2025-01-01", periods=3, freq="MS"), np.ones((1, 3)),
    ...     None, None, None, np.zeros(1, int), np.array(["T"]), pd.DataFrame(index=["a"]),
    ...     pd.DataFrame({"entity_id": ["a", "a"], "date": pd.to_datetime(["2025-01-01", "2025-02-01"])}),
    ...     "doctor", "prescriptions")
    >>> rfm_at(h, "2025-03-01").round(2).to_numpy().tolist()
    [[1.0, 1.02, 1.94]]
    """
    as_of = pd.Timestamp(as_of)
    occ = history.occasions
    entity = occ["entity_id"]
    if isinstance(entity.dtype, pd.CategoricalDtype) and entity.cat.categories.equals(history.entity_ids):
        codes = entity.cat.codes.to_numpy()
    else:
        codes = _entity_codes(entity, history.entity_ids)
    days = pd.to_datetime(occ["date"]).to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
    keep = (codes >= 0) & (days <= np.datetime64(as_of, "D").astype(np.int64))
    codes, days = codes[keep], days[keep]
    n = len(history.entity_ids)
    count = np.bincount(codes, minlength=n).astype(float)
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, codes, days)
    np.maximum.at(last, codes, days)
    seen = count > 0
    out = pd.DataFrame(index=history.entity_ids)
    out["frequency"] = np.where(seen, count - 1, np.nan)
    out["recency"] = np.where(seen, (last - first) / unit_days, np.nan)
    out["T"] = np.where(seen, (np.datetime64(as_of, "D").astype(np.int64) - first) / unit_days, np.nan)
    return out
