"""Channel series for forecasting: distributor × product × month, with its hierarchy.

The forecast works on a three-level hierarchy per product: distributors add up to their
region, regions add up to the nation. Products are never added together (a pack of one
drug is not a pack of another). Every builder is a pure function: DataFrames in, new
DataFrames (or arrays) out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids, require
from crmlab.features.panels import channel_panel, days_on_hand, month_start

LEVELS = ("national", "region", "distributor")
MEASURES = ("sell_out", "sell_in", "inventory", "returns")
UNKNOWN_REGION = "(no region)"


FLOWS = ("sell_out", "sell_in", "inventory")


def _has_rows(table: pd.DataFrame | None) -> bool:
    return table is not None and len(table) > 0


def missing_flows(shipments: pd.DataFrame | None, sales: pd.DataFrame | None,
                  inventory: pd.DataFrame | None) -> dict[str, str]:
    """The channel flows the data lacks, each with the reason, in words.

    Sell-in comes from ``shipments``, sell-out from ``sales`` that name their
    ``distributor_id``, stock from ``inventory``.

    Examples
    --------
    >>> sales = pd.DataFrame({"date": [], "product_id": [], "units": [], "distributor_id": []})
    >>> missing_flows(None, sales, None)["sell_in"]
    'no shipments table (sell-in)'
    >>> sorted(missing_flows(None, sales, None))
    ['inventory', 'sell_in', 'sell_out']
    """
    missing = {}
    if not _has_rows(shipments):
        missing["sell_in"] = "no shipments table (sell-in)"
    if not _has_rows(sales):
        missing["sell_out"] = "no sales table (sell-out)"
    elif "distributor_id" not in sales or not sales["distributor_id"].notna().any():
        missing["sell_out"] = "sales do not name a distributor_id, so sell-out per distributor is unknown"
    if not _has_rows(inventory):
        missing["inventory"] = "no inventory table (distributor stock)"
    return missing


def forecast_panel(shipments: pd.DataFrame | None, sales: pd.DataFrame | None,
                   inventory: pd.DataFrame | None, *, distributors: pd.DataFrame | None = None,
                   products: pd.DataFrame | None = None,
                   product_ids: Iterable[str] | str | None = None) -> pd.DataFrame:
    """Distributor × product × month panel for the forecast, own products only.

    Builds on :func:`crmlab.features.channel_panel` and adds ``returns`` (units the
    distributor sent back to the manufacturer, the negative shipments, ≥ 0) and
    ``account_returns`` (units accounts sent back to the distributor, ≥ 0). ``sell_in``
    and ``sell_out`` stay net of returns. A distributor without a region is put in
    ``"(no region)"`` so the hierarchy still adds up.

    Any of the three flows may be missing (see :func:`missing_flows`): the panel then
    has no column for it (``sell_in`` and ``returns`` come from shipments; ``sell_out``
    and ``account_returns`` from sales; ``inventory`` from inventory; ``days_on_hand``
    needs sell-out and inventory).

    Parameters
    ----------
    shipments, sales, inventory : DataFrame or None
        Contract tables; sell-out needs ``sales.distributor_id``.
    distributors, products : DataFrame, optional
        For the region of each distributor and to drop competitor products.
    product_ids : str or list of str, optional
        Products to keep; default every own product.

    Returns
    -------
    DataFrame
        ``distributor_id, region, product_id, month`` and, for the flows present,
        ``sell_in, sell_out, inventory, days_on_hand, returns, account_returns``, one row
        per distributor, product and month (a complete grid).

    Raises
    ------
    ValueError
        If neither sell-in nor sell-out is there, or a table lacks a needed column.

    Examples
    --------
    >>> ship = pd.DataFrame({"date": pd.to_datetime(["2025-01-02", "2025-01-20"]),
    ...     "distributor_id": ["W1", "W1"], "product_id": ["P1", "P1"], "units": [100.0, -5.0]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-15"]), "account_id": ["A1"],
    ...     "product_id": ["P1"], "units": [62.0], "distributor_id": ["W1"]})
    >>> inv = pd.DataFrame({"date": pd.to_datetime(["2025-01-31"]), "distributor_id": ["W1"],
    ...     "product_id": ["P1"], "units_on_hand": [33.0]})
    >>> forecast_panel(ship, sales, inv)[["sell_in", "sell_out", "returns"]].to_numpy().tolist()
    [[95.0, 62.0, 5.0]]
    >>> forecast_panel(None, sales, None).columns.tolist()
    ['distributor_id', 'region', 'product_id', 'month', 'sell_out', 'account_returns']
    """
    missing = missing_flows(shipments, sales, inventory)
    if "sell_in" in missing and "sell_out" in missing:
        raise ValueError("the forecast needs sell-out or sell-in: "
                         f"{missing['sell_out']}, and {missing['sell_in']}; add sales.csv with a "
                         "distributor_id column, or shipments.csv, to the data directory")
    tables = {"shipments": (shipments, "sell_in", ("date", "distributor_id", "product_id", "units")),
              "sales": (sales, "sell_out", ("date", "product_id", "units", "distributor_id")),
              "inventory": (inventory, "inventory", ("date", "distributor_id", "product_id", "units_on_hand"))}
    keep = own_product_ids(products, product_ids)
    present = {}
    for name, (table, flow, columns) in tables.items():
        if flow in missing:
            continue
        require(table, name, columns, "the forecast")
        if flow == "sell_out":
            table = table[table["distributor_id"].notna()]
        if keep is not None:
            table = table[table["product_id"].isin(keep)]
        # IDs may arrive as pandas string dtype or object; one dtype keeps merges exact
        present[name] = table.astype({c: object for c in ("distributor_id", "product_id")})
    panel = channel_panel(present.get("shipments"), present.get("sales"), present.get("inventory"),
                          distributors=None)
    region = pd.Series(UNKNOWN_REGION, index=panel.index)
    if distributors is not None and "region" in distributors and len(distributors):
        lookup = distributors.astype({"distributor_id": object}).set_index("distributor_id")["region"]
        region = panel["distributor_id"].map(lookup).astype(object).fillna(UNKNOWN_REGION)
    panel.insert(1, "region", region.astype(str).to_numpy())
    keys = ["distributor_id", "product_id", "month"]
    for name, table in (("returns", present.get("shipments")), ("account_returns", present.get("sales"))):
        if table is None:
            continue
        back = table.loc[table["units"] < 0]
        summed = (back.assign(month=month_start(back["date"]), units=-back["units"])
                  .groupby(keys)["units"].sum().rename(name))
        panel = panel.merge(summed, left_on=keys, right_index=True, how="left")
        panel[name] = panel[name].fillna(0.0)
    absent = [flow for flow in FLOWS if flow in missing]
    if "sell_out" in missing or "inventory" in missing:
        absent.append("days_on_hand")
    panel = panel.drop(columns=absent)
    return panel.sort_values(["product_id", "region", "distributor_id", "month"], kind="stable") \
        .reset_index(drop=True)


def series_keys(panel: pd.DataFrame) -> pd.DataFrame:
    """Every series of the hierarchy, aggregates first: national, regions, distributors.

    Returns
    -------
    DataFrame
        ``series_id, level, region, distributor_id, product_id``; keys that do not apply
        to a level are empty strings. The order is the row order of
        :func:`hierarchy_series` and :func:`summing_matrix`.

    Examples
    --------
    >>> panel = pd.DataFrame({"distributor_id": ["W1", "W2"], "region": ["N", "N"],
    ...     "product_id": ["P1", "P1"], "month": pd.to_datetime(["2025-01-01"] * 2)})
    >>> series_keys(panel)["series_id"].tolist()
    ['P1|national', 'P1|N', 'P1|N|W1', 'P1|N|W2']
    """
    bottom = (panel[["product_id", "region", "distributor_id"]].drop_duplicates()
              .astype(str).sort_values(["product_id", "region", "distributor_id"]))
    rows = []
    for product, of_product in bottom.groupby("product_id", sort=True):
        rows.append(("national", "", "", product))
        rows += [("region", region, "", product) for region in sorted(of_product["region"].unique())]
        rows += [("distributor", r, d, product) for r, d in of_product[["region", "distributor_id"]]
                 .itertuples(index=False)]
    keys = pd.DataFrame(rows, columns=["level", "region", "distributor_id", "product_id"])
    keys.insert(0, "series_id", [
        f"{p}|national" if lv == "national" else (f"{p}|{r}" if lv == "region" else f"{p}|{r}|{d}")
        for lv, r, d, p in keys[["level", "region", "distributor_id", "product_id"]].itertuples(index=False)])
    return keys


def summing_matrix(keys: pd.DataFrame) -> np.ndarray:
    """Summing matrix ``S`` (all series × distributor series): ``y_all = S @ y_bottom``.

    Examples
    --------
    >>> keys = pd.DataFrame({"level": ["national", "region", "distributor", "distributor"],
    ...     "region": ["", "N", "N", "N"], "distributor_id": ["", "", "W1", "W2"],
    ...     "product_id": ["P1"] * 4})
    >>> summing_matrix(keys).tolist()
    [[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    bottom = keys[keys["level"] == "distributor"]
    s = np.zeros((len(keys), len(bottom)))
    for i, (level, region, distributor, product) in enumerate(
            keys[["level", "region", "distributor_id", "product_id"]].itertuples(index=False)):
        same = (bottom["product_id"] == product).to_numpy()
        if level == "region":
            same &= (bottom["region"] == region).to_numpy()
        elif level == "distributor":
            same &= (bottom["distributor_id"] == distributor).to_numpy()
        s[i] = same
    return s


def hierarchy_series(panel: pd.DataFrame, measures: Iterable[str] = MEASURES
                     ) -> tuple[pd.DataFrame, pd.DatetimeIndex, dict[str, np.ndarray]]:
    """Wide series of every level: ``{measure: array (n_series × n_months)}``.

    Aggregates are sums of their distributors (inventory too: stock held in the region).

    Returns
    -------
    keys : DataFrame
        As :func:`series_keys`.
    months : DatetimeIndex
    values : dict of str to ndarray

    Examples
    --------
    >>> panel = pd.DataFrame({"distributor_id": ["W1", "W2"], "region": ["N", "N"],
    ...     "product_id": ["P1", "P1"], "month": pd.to_datetime(["2025-01-01"] * 2),
    ...     "sell_out": [3.0, 4.0]})
    >>> hierarchy_series(panel, ["sell_out"])[2]["sell_out"].ravel().tolist()
    [7.0, 7.0, 3.0, 4.0]
    """
    keys = series_keys(panel)
    months = pd.DatetimeIndex(sorted(panel["month"].unique()))
    bottom = keys[keys["level"] == "distributor"]
    values = {}
    s = summing_matrix(keys)
    for measure in measures:
        wide = (panel.astype({"product_id": str, "region": str, "distributor_id": str})
                .pivot_table(index=["product_id", "region", "distributor_id"], columns="month",
                             values=measure, aggfunc="sum", dropna=False)
                .reindex(pd.MultiIndex.from_frame(bottom[["product_id", "region", "distributor_id"]]))
                .reindex(columns=months))
        values[measure] = s @ wide.to_numpy(float)
    return keys, months, values


def channel_hierarchy_panel(panel: pd.DataFrame, window: int = 3) -> pd.DataFrame:
    """The channel panel with regional and national totals, days on hand at every level.

    Returns
    -------
    DataFrame
        ``level, region, distributor_id, product_id, month`` and those of ``sell_in,
        sell_out, inventory, returns, days_on_hand`` the panel has (keys that do not
        apply are empty).

    Examples
    --------
    >>> panel = pd.DataFrame({"distributor_id": ["W1", "W2"], "region": ["N", "N"],
    ...     "product_id": ["P1", "P1"], "month": pd.to_datetime(["2025-01-01"] * 2),
    ...     "sell_in": [5.0, 5.0], "sell_out": [3.1, 3.1], "inventory": [2.0, 2.0], "returns": [0.0, 0.0]})
    >>> channel_hierarchy_panel(panel)["days_on_hand"].round(1).tolist()
    [20.0, 20.0, 20.0, 20.0]
    """
    measures = [m for m in MEASURES if m in panel]
    keys, months, values = hierarchy_series(panel, measures)
    n, n_m = len(keys), len(months)
    long = keys.loc[keys.index.repeat(n_m), ["level", "region", "distributor_id", "product_id"]] \
        .reset_index(drop=True)
    long["month"] = np.tile(months.to_numpy(), n)
    for measure in measures:
        long[measure] = values[measure].ravel()
    if "inventory" in values and "sell_out" in values:
        days = np.tile(months.days_in_month.to_numpy(float), (n, 1))
        trailing = pd.DataFrame(values["sell_out"]).T.rolling(window, 1).sum().T.to_numpy()
        trailing_days = pd.DataFrame(days).T.rolling(window, 1).sum().T.to_numpy()
        long["days_on_hand"] = days_on_hand(values["inventory"], trailing, trailing_days).ravel()
    return long
