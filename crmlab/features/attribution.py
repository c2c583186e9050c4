"""Feature builders for the attribution analysis: the product analysed, outcome panels,
detailing by channel, active spells, size bins, event attendance, campaign donors.

Every builder is a pure function (DataFrames in, a new DataFrame or Series out). They
complement :mod:`crmlab.features.panels`, whose panels count detailing visits over all
channels; the visit-lift model needs them per channel to weigh a remote call against a
face-to-face one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import completed_visits, ids_as_str, own_product_ids
from crmlab.features.panels import CHANNELS, account_month_panel, codes_in, doctor_month_panel, month_start

#: Event types with an attendance list, in the order they are reported.
ATTENDED_EVENT_TYPES = ("seminar", "launch", "conference", "free_clinic", "other")


def most_detailed_product(visits: pd.DataFrame, products: pd.DataFrame) -> str | None:
    """The own product named in the most completed visits (None when visits are empty).

    Examples
    --------
    >>> visits = pd.DataFrame({"product_id": ["P1", "P2", "P2"], "status": ["completed"] * 3})
    >>> most_detailed_product(visits, pd.DataFrame({"product_id": ["P1", "P2"]}))
    'P2'
    """
    if not len(visits) or "product_id" not in visits:
        return None
    named = ids_as_str(completed_visits(visits, ["product_id"])["product_id"]).dropna()
    named = named[named != ""]
    own = own_product_ids(products)
    if own is not None:
        named = named[named.isin(own)]
    if not len(named):
        return None
    return str(named.value_counts().index[0])


def analysed_product(visits: pd.DataFrame, products: pd.DataFrame, outcome: pd.DataFrame) -> str:
    """The product of the visit lift when none is given.

    The most-detailed own product; without visits the first own product; without a
    products table the first product of the ``outcome`` table (sales or prescriptions).

    Examples
    --------
    >>> products = pd.DataFrame({"product_id": ["C1", "P1"], "is_competitor": [True, False]})
    >>> analysed_product(pd.DataFrame(), products, pd.DataFrame({"product_id": ["C1"]}))
    'P1'
    """
    product_id = most_detailed_product(visits, products)
    if product_id is not None:
        return product_id
    own = own_product_ids(products) or []
    return str(own[0]) if len(own) else str(outcome["product_id"].iloc[0])


def unit_prices(products: pd.DataFrame) -> pd.Series:
    """``unit_price`` by product ID (empty without prices).

    Examples
    --------
    >>> unit_prices(pd.DataFrame({"product_id": ["P1"], "unit_price": [50]})).to_dict()
    {'P1': 50.0}
    """
    if not len(products) or "unit_price" not in products:
        return pd.Series(dtype=float)
    return (products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")["unit_price"]
            .astype(float))


def no_visits() -> pd.DataFrame:
    """An empty visits table with the contract's columns (outcome panels without visits)."""
    return pd.DataFrame({"visit_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "doctor_id": pd.Series(dtype=str), "product_id": pd.Series(dtype=str),
                         "channel": pd.Series(dtype=str), "status": pd.Series(dtype=str)})


def unit_size(tables, months: pd.DatetimeIndex, *, doctor_level: bool, n_bins: int = 10
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per unit × month row (units sorted as in the panels): size bin and size.

    Size is the unit's mean outcome over all products, whose noise is not the analysed
    product's; it does not depend on the product, so it is built once for every panel.
    ``tables`` maps contract table names to DataFrames.

    Returns
    -------
    size_bin : ndarray of int16
        :func:`level_bins` of the all-product outcome.
    size : ndarray of float
        The unit's mean all-product outcome.
    """
    if doctor_level:
        every = doctor_month_panel(tables["doctors"], no_visits(), tables["prescriptions"], product_ids=None,
                                   months=months, columns=["trx"])
        unit, y = "doctor_id", "trx"
    else:
        every = account_month_panel(tables["accounts"], tables["sales"], product_ids=None, months=months)
        unit, y = "account_id", "sell_out"
    size_bin = level_bins(every, y, by=unit, n_bins=n_bins).to_numpy().astype(np.int16)
    size = every.groupby(unit, sort=False)[y].transform("mean").to_numpy()
    return size_bin, size


def outcome_panel(tables, product_id: str, months: pd.DatetimeIndex, *, doctor_level: bool,
                  size_bin: np.ndarray, size: np.ndarray) -> pd.DataFrame:
    """The lean unit × month panel the visit and event models read, for one product.

    Doctor level: ``doctor_id, account_id, month, trx, detailing_visits``; account
    level: ``account_id, month, sell_out``; both with ``active`` (:func:`active_spell`),
    ``level_bin`` and ``level`` (from :func:`unit_size`). Unit IDs are categorical: the
    national doctor × month grid is 7.2M rows, so only these columns are kept.
    """
    if doctor_level:
        visits = tables["visits"]
        full = doctor_month_panel(tables["doctors"], visits if len(visits) else no_visits(),
                                  tables["prescriptions"], product_ids=product_id, months=months,
                                  columns=["trx", "detailing_visits"])
        keep, unit, y = ["doctor_id", "account_id", "month", "trx", "detailing_visits"], "doctor_id", "trx"
    else:
        full = account_month_panel(tables["accounts"], tables["sales"], product_ids=product_id, months=months)
        keep, unit, y = ["account_id", "month", "sell_out"], "account_id", "sell_out"
    panel = full[keep].copy()
    del full
    panel["active"] = active_spell(panel, y, by=unit).to_numpy()
    for column in ("doctor_id", "account_id"):
        if column in panel:
            panel[column] = panel[column].astype("category")
    panel["level_bin"] = size_bin
    panel["level"] = size
    return panel


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
    # arrow's hash join on the ID column; no text copy of millions of IDs
    rows = codes_in(ids_as_str(chosen["doctor_id"]), ids)
    cols = codes_in(month_start(chosen["date"]), months)
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


def attendance_by_account(first_month: pd.Series, doctors: pd.DataFrame, lags: int,
                          censor_month: pd.Series | None = None):
    """Doctor first-attendance months moved to their accounts (account-level event study).

    Parameters
    ----------
    first_month : Series
        Month index of each attending doctor's first event (:func:`first_attendance`).
    doctors : DataFrame
        Contract table (``doctor_id, account_id``).
    lags : int
        Months after the account's first attendance in which later attendees still count.
    censor_month : Series, optional
        Month index per doctor from which rows are dropped.

    Returns
    -------
    first : Series
        Month index of each account's first attendance.
    attendees : Series
        Attendees per account within ``lags`` months of its first attendance.
    censor : Series or None
        ``censor_month`` per account (its earliest).

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1", "D2"], "account_id": ["A1", "A1"]})
    >>> first, attendees, _ = attendance_by_account(pd.Series({"D1": 2, "D2": 3}), doctors, lags=9)
    >>> first.to_dict(), attendees.to_dict()
    ({'A1': 2}, {'A1': 2})
    """
    account_of = doctors.assign(doctor_id=doctors["doctor_id"].astype(str)).set_index("doctor_id")["account_id"] \
        .astype(str)
    frame = pd.DataFrame({"account_id": first_month.index.map(account_of), "m": first_month.to_numpy()})
    first = frame.groupby("account_id")["m"].min()
    window = frame["m"].to_numpy() <= frame["account_id"].map(first).to_numpy() + lags
    attendees = frame[window].groupby("account_id").size()
    if censor_month is not None:
        censor_month = pd.DataFrame({"a": censor_month.index.map(account_of), "m": censor_month.to_numpy()}) \
            .groupby("a")["m"].min()
    return first, attendees, censor_month


def campaign_donors(panel: pd.DataFrame, region: str, y: str, *, max_donors: int = 60
                    ) -> tuple[pd.DataFrame, int, bool]:
    """Month × unit outcome: the campaign region (``treated``) and donor territories.

    Donors are the territories of the other regions (a region has too few peers for a
    convex match; territories share the national demand shape and are untouched by the
    campaign). With more than ``max_donors`` territories outside the region, each
    region's territories are pooled round-robin into equal groups (sums of untouched
    territories are still valid donors): at national scale the other regions hold
    ~1,350 territories, and a convex fit per placebo over that many takes hours.

    Parameters
    ----------
    panel : DataFrame
        Account × month with ``region, territory_id, month`` and ``y``.

    Returns
    -------
    wide : DataFrame
        Months (sorted) × ``treated`` and donor columns (donors with sales only).
    per_region : int
        Donors kept per other region.
    pooled : bool
        Whether some region's territories were pooled.
    """
    region_col = panel["region"].astype(str)
    treated = panel[region_col == str(region)].groupby("month")[y].sum().rename("treated")
    other = (region_col != str(region)).to_numpy()
    pairs = (pd.DataFrame({"region": region_col[other], "territory": panel["territory_id"].astype(str)[other]})
             .drop_duplicates().sort_values(["region", "territory"], kind="stable"))
    per_region = max(1, max_donors // max(pairs["region"].nunique(), 1))
    size = pairs.groupby("region")["territory"].transform("size")
    rank = pairs.groupby("region").cumcount()
    pairs["donor"] = np.where(size <= per_region, pairs["territory"],
                              pairs["region"] + ":group" + (rank % per_region + 1).astype(str))
    pooled = bool((size > per_region).any())
    donor_of = pairs.set_index("territory")["donor"]
    donor_col = panel["territory_id"].astype(str)[other].map(donor_of)
    donors = panel[other].groupby(["month", donor_col])[y].sum().unstack()
    donors = donors.loc[:, donors.sum() > 0]
    return pd.concat([treated, donors], axis=1).sort_index(), per_region, pooled


def detailing_per_unit(counts: pd.DataFrame, panel: pd.DataFrame, unit: str) -> np.ndarray:
    """Completed detailing visits (all channels) per row of the outcome ``panel``.

    ``counts`` is :func:`detailing_by_channel` (doctor × month, same order as a
    doctor-level panel); at account level the doctors' visits are summed per account
    and month and aligned to the panel's rows.

    Examples
    --------
    >>> counts = pd.DataFrame({"doctor_id": ["D1", "D2"], "account_id": ["A1", "A1"],
    ...     "month": pd.to_datetime(["2025-01-01"] * 2), "detailing_face_to_face": [1.0, 2.0]})
    >>> panel = pd.DataFrame({"account_id": ["A1"], "month": pd.to_datetime(["2025-01-01"])})
    >>> detailing_per_unit(counts, panel, "account_id").tolist()
    [3.0]
    """
    detailing = counts.filter(like="detailing_").sum(axis=1)
    if unit == "account_id":
        detailing = detailing.groupby([counts["account_id"], counts["month"]]).sum()
        detailing = detailing.reindex(pd.MultiIndex.from_frame(panel[["account_id", "month"]].astype(
            {"account_id": str})), fill_value=0.0)
    return detailing.to_numpy()
