"""Data overview: what a data directory holds, what was rejected, activity and sales trends."""

from __future__ import annotations

import dataclasses

import pandas as pd

from crmlab.analyses.base import AnalysisResult, Params, check_params, load_data, rejects_summary
from crmlab.features.overview import table_summary, trends_by_region, visits_per_rep_month
from crmlab.io import Dataset


@dataclasses.dataclass(frozen=True)
class OverviewParams(Params):
    """The overview has only the parameters every analysis shares."""


@dataclasses.dataclass
class OverviewResult(AnalysisResult):
    """What the overview found.

    Attributes
    ----------
    data_dir : str
    table_rows : DataFrame
        Per contract table: present, rows, columns, first and last date, rows rejected.
    failed_checks : DataFrame
        Failed checks per table, column and check.
    visits_per_rep : DataFrame
        Completed visits per active rep, per month.
    sell_out, trx : DataFrame
        Own-product sell-out and prescriptions, month × region (empty when absent).
    """

    data_dir: str
    table_rows: pd.DataFrame
    failed_checks: pd.DataFrame
    visits_per_rep: pd.DataFrame
    sell_out: pd.DataFrame
    trx: pd.DataFrame

    def summary(self) -> dict:
        dated = self.table_rows[["first", "last"]].replace("", None)
        return super().summary() | {
            "data_dir": self.data_dir,
            "tables": {name: int(rows) for name, rows in self.table_rows["rows"].items()},
            "rejected_rows": self.rejects["rows"],
            "first_month": str(dated["first"].dropna().min()),
            "last_month": str(dated["last"].dropna().max()),
        }

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"tables": self.table_rows.reset_index(),
                "visits_per_rep": self.visits_per_rep.reset_index()}


def run(data: str | Dataset = "data/sample", **params) -> OverviewResult:
    """Summarise a data directory.

    Parameters
    ----------
    data : str, Path or Dataset
        A data directory in the data contract, or a loaded dataset.
    **params
        :class:`OverviewParams`.

    Examples
    --------
    >>> result = run("data/sample")
    >>> result.summary()["tables"]["doctors"]
    300
    """
    params = check_params(OverviewParams, params)
    ds = load_data(data, params)
    return OverviewResult(
        params=params, rejects=rejects_summary(ds), data_dir=str(data if not isinstance(
            data, Dataset) else ds.data_dir),
        table_rows=table_summary(ds), failed_checks=_failed_checks(ds),
        visits_per_rep=visits_per_rep_month(ds.visits), **trends_by_region(ds))


def _failed_checks(ds: Dataset) -> pd.DataFrame:
    columns = ["table", "column", "check", "rows"]
    if not len(ds.rejects):
        return pd.DataFrame(columns=columns)
    return (ds.rejects.groupby(["table", "column", "check"], dropna=False).size()
            .rename("rows").reset_index()[columns])
