"""Load a data directory through the data contract: read, type, check, set rejects aside."""

from __future__ import annotations

import codecs
import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.io import cache
from crmlab.io.checks import (
    concat_failures,
    duplicate_rows,
    future_dates,
    key_failures,
    reject_records,
    rejected_rows,
    schema_failures,
    self_key_failures,
)
from crmlab.io.read import FileProblem, parse_table, read_table
from crmlab.io.report import (
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
    CONTRACT,
    FOREIGN_KEYS,
    NON_EMPTY_TABLES,
    OUTCOME_TABLES,
    REQUIRED_TABLES,
    TABLES,
    TRANSACTION_TABLES,
    fields,
    parents,
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
    version : str or None
        The data version: a hash of the files, the load options and the merged
        duplicates (:func:`crmlab.io.cache.dataset_key`); None when the dataset cache is
        off or the directory too small to cache. Results computed from the dataset are
        shared by version (:mod:`crmlab.analyses.shared`): replacing a table sets it to
        None; a table changed in place is not noticed, so copy a table before changing it.
    """

    accounts: pd.DataFrame
    doctors: pd.DataFrame
    reps: pd.DataFrame
    rep_absences: pd.DataFrame
    products: pd.DataFrame
    distributors: pd.DataFrame
    visits: pd.DataFrame
    events: pd.DataFrame
    event_attendance: pd.DataFrame
    prescriptions: pd.DataFrame
    sales: pd.DataFrame
    shipments: pd.DataFrame
    inventory: pd.DataFrame
    targets: pd.DataFrame
    present: frozenset[str]
    rejects: pd.DataFrame
    data_dir: Path
    issues: pd.DataFrame = field(default_factory=empty_issues)
    version: str | None = None

    def __setattr__(self, name: str, value) -> None:
        if name in TABLES and "version" in self.__dict__:
            object.__setattr__(self, "version", None)  # no longer the data version loaded
        object.__setattr__(self, name, value)

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
        # a parquet table may be a directory of part files (crmlab simulate --scale us)
        if parquet.exists() and csv.is_file():
            issues.append(issue(table, None, "duplicate_file",
                                f"both {parquet.name} and {csv.name}: reading {parquet.name}",
                                severity="warning"))
        if parquet.is_file() or parquet.is_dir():
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


@functools.lru_cache(maxsize=None)
def _empty_table(table: str) -> pd.DataFrame:
    """A table without rows, with its contract columns and dtypes (copy before use)."""
    return parse_table(table, pd.DataFrame())[0]


def today() -> pd.Timestamp:
    """Today's date: a fact dated after it (a prescription in 2099) is rejected."""
    return pd.Timestamp.today().normalize()


def _check(data_dir, encoding: str, tables=None, stop_on_fatal: bool = False) -> _Checked:
    """Read and check a data directory; never raises for bad input."""
    data_dir = Path(data_dir)
    today_ = today()
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
            raw, short = read_table(files[table], encoding)
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
                copies = duplicate_rows(table, frame)
                if table in TRANSACTION_TABLES and len(copies):
                    issues.append(issue(
                        table, None, "duplicate_row",
                        f"{rows_text(len(copies))} of {files[table].name} repeat an earlier row "
                        f"exactly (first: {copies['reason'].iloc[0]}, row {copies['row'].iloc[0]}); "
                        "kept, as two identical transactions on one day are possible — remove "
                        "them if your export repeats rows", severity="warning"))
                    copies = copies.iloc[:0]
                failures[table] = concat_failures([
                    short, schema_failures(table, frame, parse_failures),
                    copies, future_dates(table, frame, today_)])
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
                own.append(key_failures(key, frames[table], frames[key.parent],
                                         rejected[key.parent]))
            elif (key.parent not in files and key.parent not in REQUIRED_TABLES
                  and frames[table][key.column].notna().any()):
                issues.append(issue(table, key.column, "reference_unchecked",
                                    f"{key.parent} has no file: {key.column} not checked",
                                    severity="warning"))
        found = concat_failures(own)
        for key in FOREIGN_KEYS:
            if key.table == table and key.parent == table:
                found = self_key_failures(key, frames[table], found)
        failures[table] = found
        rejected[table] = rejected_rows(found)

    rejects = [reject_records(table, frames[table], failures[table], bad_values[table])
               for table in frames if not failures[table].empty]
    rejects = pd.concat(rejects, ignore_index=True) if rejects else empty_rejects()
    return result(files, rejected, rejects)


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
    tables = None if tables is None else list(tables)
    key = None
    if cache.worth_caching(Path(data_dir)):
        key = cache.dataset_key(Path(data_dir), encoding, tables, allow_rejects)
        hit = cache.read(key, today())
        if hit is not None:
            _warn(hit["issues"])
            return _dataset(hit["frames"], hit["present"], hit["rejects"], Path(data_dir),
                            hit["issues"], duplicates, key)
    checked = _check(data_dir, encoding, tables, stop_on_fatal=True)
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
    _warn(warned)

    tables_out = {}
    for table in TABLES:
        frame = checked.frames.get(table)
        if frame is None:
            frame = _empty_table(table).copy()
        elif len(checked.rejected.get(table, ())):
            frame = frame.drop(index=checked.rejected[table]).reset_index(drop=True)
        tables_out[table] = frame
    present = frozenset(checked.files)
    if key is not None:
        cache.write(key, tables_out, present, checked.rejects, warned, today())
    return _dataset(tables_out, present, checked.rejects, checked.data_dir, warned, duplicates, key)


def _warn(warned: pd.DataFrame) -> None:
    for item in warned.itertuples(index=False):
        warnings.warn(f"{item.table}: {item.examples}", UserWarning, stacklevel=3)


def _dataset(tables_out: dict, present, rejects, data_dir: Path, issues, duplicates, key) -> Dataset:
    if duplicates:
        from crmlab.io.duplicates import merge_duplicates, read_clusters, surviving_ids

        tables_out = merge_duplicates(tables_out, surviving_ids(read_clusters(duplicates)))
        key = key and cache.with_files(key, [Path(duplicates)])
    return Dataset(**tables_out, present=present, rejects=rejects, data_dir=data_dir, issues=issues,
                   version=key)
