"""The data overview report: key findings, captioned tables and trend plots."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from crmlab.reporting.display import rejects_note
from crmlab.reporting.findings import month_period, plural
from crmlab.reporting.tables import Table, table


def data_period(result) -> str:
    """The months the data cover, e.g. "2023-01 to 2025-12"."""
    summary = result.summary()
    return month_period(summary["first_month"], summary["last_month"])


def _change(trend: pd.DataFrame) -> tuple[float, str] | None:
    """Growth of the last 3 months' total over the same 3 months a year before, and the latest month."""
    if len(trend) < 15:
        return None
    total = trend.sum(axis=1)
    before = total.iloc[-15:-12].sum()
    return (total.iloc[-3:].sum() / before - 1 if before else float("nan"),
            pd.Timestamp(total.index[-1]).strftime("%B %Y"))


def key_findings(result) -> list[str]:
    """What the data directory holds, in 3 to 6 sentences with their numbers.

    ``result`` is a :class:`crmlab.analyses.overview.OverviewResult`.
    """
    rows = result.table_rows
    present = rows[rows["present"]]
    missing = [name for name in rows.index[~rows["present"]]]
    findings = [f"The data cover {data_period(result)}: {plural(len(present), 'table')} of the data contract "
                f"with {int(present['rows'].sum()):,} rows"
                + (f"; {' and '.join([', '.join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)} "
                   f"{'is' if len(missing) == 1 else 'are'} missing, so the analyses that need them skip those "
                   "parts." if missing else ".")]
    findings.append(rejects_note(result.rejects))
    visits = result.visits_per_rep
    if len(visits):
        last = visits.iloc[-1]
        year = visits.tail(12)
        findings.append(f"In {pd.Timestamp(visits.index[-1]).strftime('%B %Y')}, {int(last['reps']):,} reps made "
                        f"{int(last['visits']):,} completed visits, {last['mean']:.0f} per rep (median "
                        f"{last['median']:.0f}); over the last 12 months a rep made {year['mean'].mean():.0f} "
                        "a month on average.")
    for trend, what in ((result.sell_out, "Own-product sell-out"), (result.trx, "Prescriptions of own products")):
        change = _change(trend) if len(trend) else None
        if change is None or change[0] != change[0]:
            continue
        growth, month = change
        latest = trend.iloc[-3:].sum()
        lead = latest.idxmax()
        findings.append(f"{what} over the 3 months to {month} were {'up' if growth >= 0 else 'down'} "
                        f"{abs(growth):.0%} on the same months a year before; {lead} is the largest region ({latest[lead] / latest.sum():.0%} of the total).")
    return findings[:6]


def tables_table(result) -> Table:
    """The contract tables found, with their rows, columns and date range."""
    rows = result.table_rows.copy()
    return table(rows, "Tables of the data contract: rows, columns, first and last date, rows rejected.",
                 rename={"present": "found"})


def failed_checks_table(result) -> Table:
    """Rows rejected by the data contract, per table, column and check."""
    return table(result.failed_checks, "Rows rejected by the data contract, per table, column and check.",
                 index=False)


def visits_table(result, months: int = 12) -> Table:
    """Visits per active rep and month, the last ``months`` months."""
    visits = result.visits_per_rep.tail(months)
    return table(visits, f"Completed visits per active rep, the last {months} months (reps: reps with at "
                 "least one visit in the month).", decimals={"mean": 1, "median": 1})


def trend_table(trend: pd.DataFrame, what: str, months: int = 6) -> Table:
    """A month × region trend, the last ``months`` months, with a total."""
    recent = trend.tail(months).assign(total=lambda t: t.sum(axis=1))
    return table(recent, f"{what} by region, the last {months} months.", decimals=dict.fromkeys(recent, 0))


def plot_visits(result):
    """Mean and median visits per active rep per month."""
    fig, ax = plt.subplots()
    result.visits_per_rep[["mean", "median"]].plot(ax=ax)
    ax.set(title="Visits per active rep per month", xlabel="", ylabel="completed visits")
    return fig


def plot_trend(table: pd.DataFrame, title: str, ylabel: str):
    """Line chart of a month × region table."""
    fig, ax = plt.subplots()
    table.plot(ax=ax, marker=".")
    ax.set(title=title, xlabel="", ylabel=ylabel)
    ax.legend(title="region", ncol=2, fontsize="small")
    return fig
