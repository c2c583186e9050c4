"""What a check of the data contract found: issues, rejected rows, a readable report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from crmlab.io.export import csv_safe
from crmlab.io.schemas import REQUIRED_TABLES, TABLES

ISSUE_COLUMNS = ["table", "column", "check", "rows", "examples", "severity"]
REJECT_COLUMNS = ["table", "row", "check", "column", "reason", "values"]
SUMMARY_COLUMNS = ["table", "file", "rows", "rejected"]
EXAMPLES = 3


def rows_text(n: int) -> str:
    """``1 row``, ``2 rows``."""
    return f"{n} row" if n == 1 else f"{n} rows"


class DataContractError(Exception):
    """The input data breaks the data contract; the message says where and how."""


def empty_issues() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="Int64" if column == "rows" else object)
                         for column in ISSUE_COLUMNS})


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype="int64" if column == "row" else object)
                         for column in REJECT_COLUMNS})


def issue(table, column, check, message, severity="error") -> dict:
    """One issue that is not about rejected rows (a file problem or a warning)."""
    return {"table": table, "column": column, "check": check, "rows": pd.NA,
            "examples": message, "severity": severity}


def reject_issues(rejects: pd.DataFrame) -> pd.DataFrame:
    """One error issue per table, column and check, counting the rows rejected."""
    if rejects.empty:
        return empty_issues()
    groups = rejects.groupby(["table", "column", "check"], sort=False)
    examples = ("row " + rejects["row"].astype(str) + ": " + rejects["reason"]) \
        .groupby([rejects["table"], rejects["column"], rejects["check"]], sort=False) \
        .agg(lambda text: "; ".join(text.iloc[:EXAMPLES]))
    found = pd.DataFrame({"rows": groups["row"].nunique().astype("Int64"),
                          "examples": examples}).reset_index()
    found["severity"] = "error"
    return found[ISSUE_COLUMNS]


@dataclass(repr=False, eq=False)
class ValidationReport:
    """The outcome of :func:`crmlab.io.validate`.

    Attributes
    ----------
    issues : DataFrame
        One row per problem: ``table, column, check, rows, examples, severity``
        (``rows`` counts rejected rows; it is missing for file problems and warnings).
    rejects : DataFrame
        One row per failed check of a row: ``table, row, check, column, reason, values``
        (``row`` is the 0-based data row in the file, ``values`` the row as JSON).
    summary : DataFrame
        One row per table: ``table, file, rows, rejected``.
    data_dir : Path
        The data directory checked.
    """

    issues: pd.DataFrame
    rejects: pd.DataFrame
    data_dir: Path
    summary: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=SUMMARY_COLUMNS))

    def __repr__(self) -> str:
        return (f"ValidationReport({self.data_dir}: {'ok' if self.ok else 'FAILED'}, "
                f"{len(self.issues)} issue(s), {len(self.rejects)} reject(s))")

    @property
    def ok(self) -> bool:
        """True when no check failed: no fatal file problem and no rejected row."""
        return not (self.issues["severity"] == "error").any()

    def to_text(self, only_problems: bool = False) -> str:
        """A readable report, grouped by table, with a few example rows per problem.

        Parameters
        ----------
        only_problems : bool, default False
            Leave out the tables that have no issue.

        Examples
        --------
        >>> report = validate("data/sample")  # doctest: +SKIP
        >>> print(report.to_text())  # doctest: +SKIP
        """
        errors = int((self.issues["severity"] == "error").sum())
        warnings = int((self.issues["severity"] == "warning").sum())
        n_rejected = self.rejects.drop_duplicates(["table", "row"]).shape[0]
        verdict = "ok" if self.ok else "FAILED"
        lines = [f"Data contract check of {self.data_dir}: {verdict} — "
                 f"{errors} error(s), {warnings} warning(s), {rows_text(n_rejected)} rejected"]
        if (self.issues["check"] == "file_missing").any() and self.data_dir.is_dir():
            found = sorted(path.name for path in self.data_dir.iterdir() if path.is_file())
            shown = ", ".join(found[:20]) + (", …" if len(found) > 20 else "")
            lines.append(f"files found in {self.data_dir}: {shown or 'none'}")
        summary = self.summary.set_index("table") if not self.summary.empty else None
        tables = [t for t in self.issues["table"].drop_duplicates() if t not in TABLES]
        lines.append("")
        # Nothing was read when the directory or the encoding is wrong: no table list.
        if (self.issues["table"] == "data directory").any():
            only_problems = True
        for table in tables + list(TABLES):
            found = self.issues[self.issues["table"] == table]
            if only_problems and found.empty:
                continue
            if not found.empty and lines[-1]:
                lines.append("")  # a blank line around each table with issues
            lines.append(self._table_heading(table, summary))
            for item in found.itertuples(index=False):
                lines.extend(self._issue_lines(item))
            if not found.empty:
                lines.append("")
        return "\n".join(lines).rstrip()

    def _table_heading(self, table: str, summary: pd.DataFrame | None) -> str:
        has_issues = (self.issues["table"] == table).any()
        if summary is None or table not in summary.index or pd.isna(summary.at[table, "file"]):
            if table not in TABLES:
                return f"{table}:"
            status = "required" if table in REQUIRED_TABLES else "optional"
            return f"{table}: no file ({status})"
        row = summary.loc[table]
        if pd.isna(row["rows"]):
            return f"{table} ({row['file']}): not checked"
        text = f"{table} ({row['file']}): {rows_text(row['rows'])}"
        if row["rejected"]:
            text += f", {row['rejected']} rejected"
        return text if has_issues else text + ", ok"

    def _issue_lines(self, item) -> list[str]:
        where = f"{item.column}: " if isinstance(item.column, str) else ""
        if pd.isna(item.rows):
            return [f"  {item.severity}: {where}{item.check} — {item.examples}"]
        lines = [f"  {item.severity}: {where}{item.check} — {rows_text(item.rows)}"]
        rows = self.rejects[(self.rejects["table"] == item.table)
                            & (self.rejects["column"] == item.column)
                            & (self.rejects["check"] == item.check)].head(EXAMPLES)
        lines += [f"      row {r.row}: {r.reason}" for r in rows.itertuples(index=False)]
        return lines

    def write_rejects(self, path: str | Path | None = None) -> Path | None:
        """Write the rejected rows as CSV (UTF-8); nothing is written when there are none.

        When no row was rejected, a rejects file left at ``path`` by an earlier check
        (recognised by its header line) is removed, so it cannot be mistaken for the
        rejects of the data as it is now. Text cells that a spreadsheet would run as a
        formula are written with a leading ``'``.

        Parameters
        ----------
        path : str or Path, optional
            Where to write; default ``<data_dir>/rejects.csv``.

        Returns
        -------
        Path or None
            The file written, or None when no row was rejected.

        Raises
        ------
        OSError
            The file cannot be written (e.g. a read-only folder).

        Examples
        --------
        >>> report = validate("data/sample")  # doctest: +SKIP
        >>> report.write_rejects("/tmp/rejects.csv")  # doctest: +SKIP
        """
        path = Path(path) if path is not None else self.data_dir / "rejects.csv"
        if self.rejects.empty:
            if is_rejects_file(path):
                path.unlink()
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        csv_safe(self.rejects).to_csv(path, index=False, encoding="utf-8")
        return path


def is_rejects_file(path: Path) -> bool:
    """True when ``path`` is a file whose first line is the header of a rejects file."""
    try:
        with open(path, encoding="utf-8", newline="") as file:
            return file.readline().rstrip("\r\n") == ",".join(REJECT_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False
