"""Row checks of one loaded table: its schema, exact copies, future dates, keys to other
tables; and the rejects records they produce. Every check is vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pandera
import pyarrow as pa
import pyarrow.compute as pc

from crmlab.io.read import FAILURE_COLUMNS
from crmlab.io.report import REJECT_COLUMNS
from crmlab.io.schemas import (
    ALLOWED_VALUES,
    CONTRACT,
    FACT_TABLES,
    FUTURE_ALLOWED,
    NON_NEGATIVE,
    ForeignKey,
    allowed_columns,
    fields,
    table_schema,
)


_NO_FAILURES = pd.DataFrame({"row": np.zeros(0, dtype="int64"), "check": np.zeros(0, object),
                             "column": np.zeros(0, object), "reason": np.zeros(0, object)})


def concat_failures(failures: list[pd.DataFrame]) -> pd.DataFrame:
    """One table of ``row, check, column, reason`` from several (empty ones dropped)."""
    failures = [found for found in failures if len(found)]
    if not failures:
        return _NO_FAILURES.copy()
    found = failures[0] if len(failures) == 1 else pd.concat(failures, ignore_index=True)
    if found["row"].dtype != np.dtype("int64"):
        found = found.astype({"row": "int64"})
    return found


def rejected_rows(failures: pd.DataFrame) -> np.ndarray:
    """The sorted distinct rows of a failures table."""
    return np.unique(failures["row"].to_numpy(dtype="int64"))


def schema_failures(table: str, frame: pd.DataFrame, parse_failures: pd.DataFrame
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
    return concat_failures([parse_failures, found[~again]])


def duplicate_rows(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Exact copies of an earlier row of a fact table (``duplicate_row``); the first is kept.

    Tables with an ID column are not checked here: a repeated ID rejects every copy
    (``unique``).

    Examples
    --------
    >>> sales = pd.DataFrame({"account_id": ["A", "B", "A"], "units": [1.0, 2.0, 1.0]})
    >>> duplicate_rows("sales", sales)[["row", "reason"]].values.tolist()
    [[2, 'exact copy of row 0']]
    """
    if table not in FACT_TABLES or frame.empty:
        return concat_failures([])
    copies = frame.duplicated(keep=False).to_numpy()
    if not copies.any():
        return concat_failures([])
    rows = np.flatnonzero(copies)
    # Group the (few) rows that have a copy to name the row each one copies.
    group = frame.iloc[rows].groupby(list(frame.columns), dropna=False, sort=False).ngroup()
    first = pd.Series(rows).groupby(group.to_numpy()).transform("min").to_numpy()
    later = first != rows
    rows, first = rows[later], first[later]
    return pd.DataFrame({"row": rows.astype("int64"), "check": "duplicate_row",
                         "column": frame.columns[0],
                         "reason": [f"exact copy of row {row}" for row in first]})


def future_dates(table: str, frame: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    """Dates of facts after ``today`` (``future_date``), e.g. a prescription in 2099.

    Examples
    --------
    >>> rx = pd.DataFrame({"month": pd.to_datetime(["2025-01-01", "2099-01-01"])})
    >>> future_dates("prescriptions", rx, pd.Timestamp("2026-06-30"))["reason"].tolist()
    ['month 2099-01-01 is after today (2026-06-30)']
    """
    found = []
    for field in CONTRACT[table]:
        if not field.past or field.name not in frame.columns:
            continue
        late = (frame[field.name] > today).to_numpy()
        for allowed_table, column, value in FUTURE_ALLOWED:
            if allowed_table == table and column in frame.columns:
                late &= ~(frame[column] == value).fillna(False).to_numpy(dtype=bool)
        rows = np.flatnonzero(late)
        if len(rows):
            dates = frame[field.name].iloc[rows].dt.strftime("%Y-%m-%d")
            found.append(pd.DataFrame({
                "row": rows.astype("int64"), "check": "future_date", "column": field.name,
                "reason": (field.name + " " + dates
                           + f" is after today ({today:%Y-%m-%d})").to_numpy()}))
    return concat_failures(found)


def _isin(values: pd.Series, ids) -> np.ndarray:
    """``values.isin(ids)`` in arrow: fast for tens of millions of string IDs."""
    found = pc.is_in(pa.array(values.array), value_set=pa.array(ids, type=pa.string()))
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def key_failures(key: ForeignKey, frame: pd.DataFrame, parent: pd.DataFrame,
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


def self_key_failures(key: ForeignKey, frame: pd.DataFrame, found: pd.DataFrame
                      ) -> pd.DataFrame:
    """Keys within one table (distributors.parent_id): repeat until no new row is rejected."""
    while True:
        extra = key_failures(key, frame, frame, rejected_rows(found))
        new = ~pd.MultiIndex.from_frame(extra[FAILURE_COLUMNS[:3]]).isin(
            pd.MultiIndex.from_frame(found[FAILURE_COLUMNS[:3]]))
        if not new.any():
            return found
        found = concat_failures([found, extra[new]])


def reject_records(table: str, frame: pd.DataFrame, failures: pd.DataFrame,
                   bad_values: dict) -> pd.DataFrame:
    """The rejects of one table, each with its row's values as JSON.

    Only the table's non-personal contract columns are shown (an allow-list): an extra
    column may hold anything, e.g. a doctor's name under the header ``Name``.
    """
    failures = failures.sort_values(["row"], kind="stable")
    rows = rejected_rows(failures)
    shown = frame.iloc[rows][allowed_columns(table)]
    for name in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[name].dtype):
            shown[name] = shown[name].dt.strftime("%Y-%m-%d")
    shown = shown.astype(object)
    for name, raw in bad_values.items():
        if name not in shown.columns:
            continue
        # Show what the file held, not the missing value it became.
        raw = raw[raw.index.isin(shown.index)]
        shown.loc[raw.index, name] = raw.astype(object)
    json = shown.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    # JSON lines are separated by "\n" alone (a value's own line breaks are escaped).
    values = pd.Series(json.rstrip("\n").split("\n") if len(shown) else [], index=rows,
                       dtype=object)
    records = failures.assign(table=table, values=values.reindex(failures["row"]).to_numpy())
    return records[REJECT_COLUMNS]
