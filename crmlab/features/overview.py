"""Features of the data overview: table sizes and date ranges, activity, sales trends."""

from __future__ import annotations

import pandas as pd

from crmlab.features import account_month_panel, month_start
from crmlab.features.common import completed_visits
from crmlab.io import TABLES

DATE_COLUMNS = {"visits": "date", "sales": "date", "shipments": "date", "inventory": "date",
                "prescriptions": "month", "events": "start_date"}


def table_summary(ds) -> pd.DataFrame:
    """Rows, columns and date range of every contract table (absent tables say so).

    Examples
    --------
    >>> table_summary(load("data/sample")).loc["visits", "rows"]  # doctest: +SKIP
    12090
    """
    rejected_rows = ds.rejects.drop_duplicates(["table", "row"])
    rows = []
    for name in TABLES:
        frame = ds[name]
        column = DATE_COLUMNS.get(name)
        dates = frame[column].dropna() if column and len(frame) else pd.Series(dtype="datetime64[ns]")
        rows.append({
            "table": name,
            "present": name in ds.present,
            "rows": len(frame),
            "columns": frame.shape[1],
            "first": dates.min().date().isoformat() if len(dates) else "",
            "last": dates.max().date().isoformat() if len(dates) else "",
            "rejected": int((rejected_rows["table"] == name).sum()),
        })
    return pd.DataFrame(rows).set_index("table")


def visits_per_rep_month(visits: pd.DataFrame) -> pd.DataFrame:
    """Completed visits per rep and month: reps active and the spread of visits per rep.

    Returns one row per month: ``reps`` (reps with at least one visit), ``visits``,
    and ``mean``, ``min``, ``median``, ``max`` visits per active rep.
    """
    completed = completed_visits(visits, ["date", "rep_id"])
    per_rep = completed.groupby([month_start(completed["date"]).rename("month"), "rep_id"],
                                observed=True).size()
    by_month = per_rep.groupby(level="month")
    return pd.DataFrame({"reps": by_month.size(), "visits": by_month.sum(), "mean": by_month.mean(),
                         "min": by_month.min(), "median": by_month.median(), "max": by_month.max()})


def trends_by_region(ds) -> dict[str, pd.DataFrame]:
    """Monthly own-product ``sell_out`` (from sales) and ``trx`` (prescriptions) per region.

    Each a month × region table, from one account × month panel; an empty table when the
    data has no such measure.
    """
    sources = {"sell_out": "sales", "trx": "prescriptions"}
    if not any(ds.has(source) for source in sources.values()):
        return {measure: pd.DataFrame() for measure in sources}
    panel = account_month_panel(ds.accounts, ds.sales if ds.has("sales") else None, doctors=ds.doctors,
                                prescriptions=ds.prescriptions if ds.has("prescriptions") else None,
                                products=ds.products)
    return {measure: panel.pivot_table(index="month", columns="region", values=measure, aggfunc="sum")
            if ds.has(source) else pd.DataFrame() for measure, source in sources.items()}
