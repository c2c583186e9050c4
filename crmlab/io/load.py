"""Load a data directory through the data contract: read, type, check, set rejects aside."""

from __future__ import annotations

import codecs
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from crmlab.io.read import FAILURE_COLUMNS, FileProblem, parse_table, read_table
from crmlab.io.report import (
    REJECT_COLUMNS,
    SUMMARY_COLUMNS,
    DataContractError,
    ValidationReport,
    rows_text,
    empty_issues,
    empty_rejects,
    issue,
    reject_issues,
)
from crmlab.io.schemas import (
    ALLOWED_VALUES,
    CONTRACT,
    FOREIGN_KEYS,
    NON_EMPTY_TABLES,
    NON_NEGATIVE,
    OUTCOME_TABLES,
    REQUIRED_TABLES,
    TABLES,
    ForeignKey,
    fields,
    parents,
    table_schema,
)


@dataclass(repr=False, eq=False)
class Dataset:
    """The contract tables of one data directory, typed and checked.

    Every table is a DataFrame with at least its contract columns; a table without a
    file is empty. IDs and text are ``string[pyarrow]``, dates ``datetime64[ns]``,
    numbers ``float64`` (counts such as ``beds`` ``Int64``), ``is_competitor`` bool.

    Attributes
    ----------
    present : frozenset of str
        Tables that had a file.
    rejects : DataFrame
        Rows set aside (with ``load(..., allow_rejects=True)``):
        ``table, row, check, column, reason, values``.
    issues : DataFrame
        Warnings found while loading (e.g. both a CSV and a parquet file).
    """

    accounts: pd.DataFrame
    doctors: pd.DataFrame
    reps: pd.DataFrame
    products: pd.DataFrame
    distributors: pd.DataFrame
    visits: pd.DataFrame
    events: pd.DataFrame
    event_attendance: pd.DataFrame
    prescriptions: pd.DataFrame
    sales: pd.DataFrame
    shipments: pd.DataFrame
    inventory: pd.DataFrame
    present: frozenset[str]
    rejects: pd.DataFrame
    data_dir: Path
    issues: pd.DataFrame = field(default_factory=empty_issues)

    def has(self, table: str) -> bool:
        """True when ``table`` had a file and holds at least one row.

        Examples
        --------
        >>> ds = load("data/sample")  # doctest: +SKIP
        >>> ds.has("sales")  # doctest: +SKIP
        True
        """
        return table in self.present and len(self[table]) > 0

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
        return getattr(self, table)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{table}={len(self[table])}" for table in TABLES
                          if table in self.present)
        return f"Dataset({self.data_dir}: {sizes}; {len(self.rejects)} rejects)"


@dataclass
class _Checked:
    """Everything one pass over a data directory found."""

    data_dir: Path
    frames: dict[str, pd.DataFrame]
    files: dict[str, Path]
    rejected: dict[str, np.ndarray]
    rejects: pd.DataFrame
    issues: pd.DataFrame

    @property
    def fatal(self) -> bool:
        """A file-level error (missing file or column, unreadable file): no rows counted."""
        return bool(((self.issues["severity"] == "error") & self.issues["rows"].isna()).any())

    def report(self) -> ValidationReport:
        summary = pd.DataFrame(
            [(table, self.files[table].name if table in self.files else None,
              len(self.frames[table]) if table in self.frames else pd.NA,
              len(self.rejected.get(table, ())))
             for table in TABLES],
            columns=SUMMARY_COLUMNS).astype({"rows": "Int64"})
        return ValidationReport(issues=self.issues, rejects=self.rejects,
                                data_dir=self.data_dir, summary=summary)


def _find_files(data_dir: Path, tables: list[str], issues: list[dict]) -> dict[str, Path]:
    files = {}
    for table in tables:
        parquet, csv = data_dir / f"{table}.parquet", data_dir / f"{table}.csv"
        if parquet.is_file() and csv.is_file():
            issues.append(issue(table, None, "duplicate_file",
                                f"both {parquet.name} and {csv.name}: reading {parquet.name}",
                                severity="warning"))
        if parquet.is_file():
            files[table] = parquet
        elif csv.is_file():
            files[table] = csv
    return files


def _missing_columns(table: str, frame: pd.DataFrame, file: Path) -> dict | None:
    required = [f.name for f in CONTRACT[table] if f.required]
    missing = [name for name in required if name not in frame.columns]
    if not missing:
        return None
    found = ", ".join(map(str, frame.columns[:12])) + (", …" if frame.shape[1] > 12 else "")
    hint = ""
    if not set(fields(table)) & set(frame.columns):
        hint = "; no contract column at all: is the header line missing or misspelt?"
    return issue(table, ", ".join(missing), "column_missing",
                 f"{file.name} lacks required column(s) {', '.join(missing)} "
                 f"(columns found: {found}){hint}")


def _schema_failures(table: str, frame: pd.DataFrame, parse_failures: pd.DataFrame
                     ) -> pd.DataFrame:
    """Run the pandera schema; one row per failed value, with a readable reason."""
    try:
        table_schema(table).validate(frame, lazy=True, inplace=True)
        return parse_failures
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases
    if cases["index"].isna().any():
        # Typing happens before the schema, so a column-wide failure is a bug here.
        raise RuntimeError(f"{table}: unexpected schema failure\n{cases.to_string()}")
    value = cases["failure_case"].astype(str)
    column = cases["column"].astype(str)
    reason = pd.Series("", index=cases.index)
    check = pd.Series("", index=cases.index)
    spec = fields(table)

    kind = cases["check"] == "not_nullable"
    check[kind], reason[kind] = "required", "required " + column[kind] + " is missing"
    kind = cases["check"] == "field_uniqueness"
    check[kind], reason[kind] = "unique", "duplicate " + column[kind] + " '" + value[kind] + "'"
    kind = cases["check"] == NON_NEGATIVE
    check[kind] = NON_NEGATIVE
    reason[kind] = column[kind] + " must be >= 0, got " + value[kind]
    kind = cases["check"] == ALLOWED_VALUES
    check[kind] = ALLOWED_VALUES
    allowed = column[kind].map(lambda name: ", ".join(spec[name].allowed))
    reason[kind] = column[kind] + " '" + value[kind] + "' is not one of: " + allowed

    found = pd.DataFrame({"row": cases["index"].astype("int64"), "check": check,
                          "column": column, "reason": reason})
    # A value that did not parse is missing now; it is reported once, as unparseable.
    parsed_bad = pd.MultiIndex.from_frame(parse_failures[["row", "column"]])
    again = (found["check"] == "required") & pd.MultiIndex.from_frame(
        found[["row", "column"]]).isin(parsed_bad)
    return _concat([parse_failures, found[~again]])


def _isin(values: pd.Series, ids) -> np.ndarray:
    """``values.isin(ids)`` in arrow: fast for tens of millions of string IDs."""
    found = pc.is_in(pa.array(values.array), value_set=pa.array(ids, type=pa.string()))
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _key_failures(key: ForeignKey, frame: pd.DataFrame, parent: pd.DataFrame,
                  parent_rejected: np.ndarray) -> pd.DataFrame:
    """Rows whose ``key.column`` is not a parent ID, or is the ID of a rejected parent row."""
    values = frame[key.column]
    ids = parent[key.parent_column].dropna()
    unknown = ~_isin(values, ids.unique()) & values.notna().to_numpy()
    orphan = np.zeros(len(values), dtype=bool)
    if len(parent_rejected):
        kept = ids.drop(index=parent_rejected, errors="ignore")
        lost = ids[ids.index.isin(parent_rejected) & ~ids.isin(kept)].unique()
        orphan = _isin(values, lost)
    rows = np.flatnonzero(unknown | orphan)
    text = values.iloc[rows].astype(str)
    is_orphan = orphan[rows]
    reason = np.where(
        is_orphan,
        key.column + " '" + text + f"' refers to a rejected {key.parent} row",
        "unknown " + key.column + " '" + text + f"' (not in {key.parent})")
    return pd.DataFrame({"row": rows.astype("int64"),
                         "check": np.where(is_orphan, "rejected_parent", "foreign_key"),
                         "column": key.column, "reason": reason})


def _concat(failures: list[pd.DataFrame]) -> pd.DataFrame:
    failures = [found for found in failures if not found.empty]
    if not failures:
        return pd.DataFrame(columns=FAILURE_COLUMNS).astype({"row": "int64"})
    return pd.concat(failures, ignore_index=True)


def _rejected_rows(failures: pd.DataFrame) -> np.ndarray:
    return np.unique(failures["row"].to_numpy(dtype="int64"))


def _reject_records(table: str, frame: pd.DataFrame, failures: pd.DataFrame,
                    bad_values: dict) -> pd.DataFrame:
    """The rejects of one table, each with its row's values as JSON."""
    failures = failures.sort_values(["row"], kind="stable")
    rows = _rejected_rows(failures)
    personal = [f.name for f in CONTRACT[table] if f.personal]
    shown = frame.iloc[rows].drop(columns=personal)
    for name in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[name].dtype):
            shown[name] = shown[name].dt.strftime("%Y-%m-%d")
    shown = shown.astype(object)
    for name, raw in bad_values.items():
        # Show what the file held, not the missing value it became.
        raw = raw[raw.index.isin(shown.index)]
        shown.loc[raw.index, name] = raw.astype(object)
    json = shown.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    values = pd.Series(json.splitlines() if len(shown) else [], index=rows, dtype=object)
    records = failures.assign(table=table, values=values.reindex(failures["row"]).to_numpy())
    return records[REJECT_COLUMNS]


def _check(data_dir, encoding: str, tables=None, stop_on_fatal: bool = False) -> _Checked:
    """Read and check a data directory; never raises for bad input."""
    data_dir = Path(data_dir)
    issues: list[dict] = []
    frames: dict[str, pd.DataFrame] = {}
    failures: dict[str, pd.DataFrame] = {}
    bad_values: dict[str, dict] = {}

    def result(files=None, rejected=None, rejects=None) -> _Checked:
        parts = [pd.DataFrame(issues).astype({"rows": "Int64"})] if issues else []
        if rejects is not None and not rejects.empty:
            parts.append(reject_issues(rejects))
        table = pd.concat(parts, ignore_index=True) if parts else empty_issues()
        return _Checked(data_dir, frames, files or {}, rejected or {},
                        rejects if rejects is not None else empty_rejects(), table)

    if not data_dir.is_dir():
        issues.append(issue("data directory", None, "no_directory",
                            f"{data_dir} is not a directory"))
        return result()
    try:
        codecs.lookup(encoding)
    except LookupError:
        issues.append(issue("data directory", None, "encoding",
                            f"unknown encoding {encoding!r}; e.g. utf-8, gb18030"))
        return result()
    if tables is None:
        wanted = list(TABLES)
    else:
        unknown = sorted(set(tables) - set(TABLES))
        if unknown:
            raise ValueError(f"unknown table(s) {', '.join(unknown)}; "
                             f"tables are {', '.join(TABLES)}")
        needed = set(tables).union(*(parents(table) for table in tables))
        wanted = [table for table in TABLES if table in needed]

    files = _find_files(data_dir, wanted, issues)
    for table in wanted:
        if table in REQUIRED_TABLES and table not in files:
            issues.append(issue(table, None, "file_missing",
                                f"required table missing: no {table}.csv or "
                                f"{table}.parquet in {data_dir}"))
    if tables is None and not set(OUTCOME_TABLES) & set(files):
        issues.append(issue("prescriptions/sales", None, "file_missing",
                            "no outcome table: at least one of prescriptions.csv/.parquet "
                            f"and sales.csv/.parquet is needed in {data_dir}"))
    if stop_on_fatal and issues and any(item["severity"] == "error" for item in issues):
        return result(files)

    for table in wanted:
        if table not in files:
            continue
        try:
            raw = read_table(files[table], encoding)
        except FileProblem as problem:
            issues.append(issue(table, None, problem.check, str(problem)))
        else:
            problem = _missing_columns(table, raw, files[table])
            if problem is None and table in NON_EMPTY_TABLES and raw.empty:
                problem = issue(table, None, "empty_table",
                                f"{files[table].name} has a header but no rows; "
                                f"{table} must not be empty")
            if problem is None:
                frame, parse_failures, bad_values[table] = parse_table(table, raw)
                failures[table] = _schema_failures(table, frame, parse_failures)
                frames[table] = frame
            else:
                issues.append(problem)
        if stop_on_fatal and table not in frames:
            return result(files)

    rejected: dict[str, np.ndarray] = {}
    for table in frames:
        own = [failures[table]]
        for key in FOREIGN_KEYS:
            if key.table != table or key.parent == table:
                continue
            if key.parent in frames:
                own.append(_key_failures(key, frames[table], frames[key.parent],
                                         rejected[key.parent]))
            elif (key.parent not in files and key.parent not in REQUIRED_TABLES
                  and frames[table][key.column].notna().any()):
                issues.append(issue(table, key.column, "reference_unchecked",
                                    f"{key.parent} has no file: {key.column} not checked",
                                    severity="warning"))
        found = _concat(own)
        for key in FOREIGN_KEYS:
            if key.table == table and key.parent == table:
                found = _self_key_failures(key, frames[table], found)
        failures[table] = found
        rejected[table] = _rejected_rows(found)

    rejects = [_reject_records(table, frames[table], failures[table], bad_values[table])
               for table in frames if not failures[table].empty]
    rejects = pd.concat(rejects, ignore_index=True) if rejects else empty_rejects()
    return result(files, rejected, rejects)


def _self_key_failures(key: ForeignKey, frame: pd.DataFrame, found: pd.DataFrame
                       ) -> pd.DataFrame:
    """Keys within one table (distributors.parent_id): repeat until no new row is rejected."""
    while True:
        extra = _key_failures(key, frame, frame, _rejected_rows(found))
        new = ~pd.MultiIndex.from_frame(extra[FAILURE_COLUMNS[:3]]).isin(
            pd.MultiIndex.from_frame(found[FAILURE_COLUMNS[:3]]))
        if not new.any():
            return found
        found = _concat([found, extra[new]])


def validate(data_dir, *, encoding: str = "utf-8") -> ValidationReport:
    """Check a data directory against the data contract, without raising for bad input.

    Parameters
    ----------
    data_dir : str or Path
        Directory with one ``<table>.csv`` or ``<table>.parquet`` per table.
    encoding : str, default "utf-8"
        Encoding of the CSV files, e.g. ``"gb18030"``.

    Returns
    -------
    ValidationReport
        ``ok``, the ``issues``, the rejected rows, ``to_text()`` and ``write_rejects()``.

    Examples
    --------
    >>> report = validate("data/sample")  # doctest: +SKIP
    >>> report.ok  # doctest: +SKIP
    True
    >>> print(report.to_text())  # doctest: +SKIP
    """
    return _check(data_dir, encoding).report()


def load(data_dir, *, encoding: str = "utf-8", tables=None,
         allow_rejects: bool = False, duplicates=None) -> Dataset:
    """Read a data directory into typed, checked contract tables.

    Parameters
    ----------
    data_dir : str or Path
        Directory with one ``<table>.csv`` or ``<table>.parquet`` per table.
    encoding : str, default "utf-8"
        Encoding of the CSV files, e.g. ``"gb18030"``.
    tables : iterable of str, optional
        Read only these tables and the tables they refer to (for the key checks);
        default all.
    allow_rejects : bool, default False
        If False, any row that breaks the contract raises :class:`DataContractError`.
        If True, such rows are removed from the tables and listed in ``Dataset.rejects``.
    duplicates : str or Path, optional
        A reviewed ``clusters.csv`` of ``crmlab run dedupe``: merged doctors and accounts
        are replaced by their surviving ID everywhere (see :mod:`crmlab.io.duplicates`).

    Returns
    -------
    Dataset

    Raises
    ------
    DataContractError
        A required file or column is missing, a file cannot be read, or (unless
        ``allow_rejects``) some rows break the contract. The message is the report.

    Examples
    --------
    >>> ds = load("data/sample")  # doctest: +SKIP
    >>> ds["visits"].dtypes["date"]  # doctest: +SKIP
    dtype('<M8[ns]')
    >>> ds = load("data/mine", encoding="gb18030", allow_rejects=True)  # doctest: +SKIP
    >>> ds.rejects.groupby("table").size()  # doctest: +SKIP
    """
    checked = _check(data_dir, encoding, None if tables is None else list(tables),
                     stop_on_fatal=True)
    report = checked.report()
    if checked.fatal:
        raise DataContractError(f"cannot load {checked.data_dir}: its files do not meet "
                                f"the data contract.\n\n{report.to_text(only_problems=True)}")
    if not checked.rejects.empty and not allow_rejects:
        n_rows = sum(len(rows) for rows in checked.rejected.values())
        n_tables = sum(1 for rows in checked.rejected.values() if len(rows))
        raise DataContractError(
            f"{rows_text(n_rows)} in {n_tables} table(s) of {checked.data_dir} break the data "
            "contract. Fix them, or pass allow_rejects=True to load without them (they are "
            "then listed in Dataset.rejects); `crmlab validate DATA_DIR` writes them to "
            f"rejects.csv.\n\n{report.to_text(only_problems=True)}")
    warned = checked.issues[checked.issues["severity"] == "warning"]
    for item in warned.itertuples(index=False):
        warnings.warn(f"{item.table}: {item.examples}", UserWarning, stacklevel=2)

    tables_out = {}
    for table in TABLES:
        frame = checked.frames.get(table)
        if frame is None:
            frame = parse_table(table, pd.DataFrame())[0]
        elif len(checked.rejected.get(table, ())):
            frame = frame.drop(index=checked.rejected[table]).reset_index(drop=True)
        tables_out[table] = frame
    if duplicates:
        from crmlab.io.duplicates import merge_duplicates, read_clusters, surviving_ids

        tables_out = merge_duplicates(tables_out, surviving_ids(read_clusters(duplicates)))
    return Dataset(**tables_out, present=frozenset(checked.files),
                   rejects=checked.rejects, data_dir=checked.data_dir, issues=warned)
