"""Property-based test of the loader (issue 9, section 3): random corruptions of small
subsets of ``data/sample`` never end in a traceback, every row that is not accepted is in
the rejects with a reason, and every accepted row keeps the values written in the file.

The default run tries a few hundred cases; ``pytest -m slow tests/io/test_fuzz.py`` tries
thousands.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crmlab.io import CONTRACT, DataContractError, load, validate
from crmlab.io.read import MAX_ABS, NULL_WORDS, TRUE_WORDS
from crmlab.io.schemas import FACT_TABLES, TRANSACTION_TABLES, allowed_columns, is_id_column, parents

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
ROWS = 20
# Tables corrupted and loaded; each is loaded with the tables it refers to.
TARGETS = ("accounts", "products", "distributors", "doctors", "prescriptions", "sales")
CHECKS = {"date_format", "number_format", "boolean_format", "finite_number", "required",
          "unique", "non_negative", "allowed_values", "foreign_key", "rejected_parent",
          "duplicate_row", "future_date", "truncated_row"}

ODD_VALUES = [
    "", " ", "NA", "null", "None", "nan", "NaT", "#N/A", "inf", "-inf", "Infinity",
    "-Infinity", "1e23", "1e19", "-1e19", "9223372036854775808", "1e15", "-1e15", "1e16", "-1",
    "-0", "0", "3.5", " 7 ", "1,000", "1_000", "١٢", "0x10", "1e400", "2099-01-01",
    "2025-13-45", "0000-00-00", "9999-12-31", "2025-02-29", "1677-09-21", "2262-04-12",
    "2025-03", "2025-03-01T23:30:00+08:00", "2025-03-01 12:00", "20250301", "true", "FALSE",
    "yes", '=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1",
    "\r=1", "a,b", 'say "hi"', "line\nbreak", "semi;colon", "王伟", "Zhāng", "\u2028", "\x85",
    "\ufeff", "hospital", " Hospital ", "HOSPITAL", "chief", "D0000001", "000001", "P01",
    "DS0001", "3A",
]
CELL_VALUES = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.sampled_from(ODD_VALUES),
    st.text(max_size=8),
    st.floats().map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.dates().map(lambda day: day.isoformat()),
    st.datetimes().map(str),
)
COLUMN_NAMES = st.one_of(st.sampled_from(["Name", " NAME ", "units", "trx", "beds", "x", ""]),
                         st.text(max_size=6))
FILE_FORMS = st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "gb18030", "latin-1", "utf-16",
                                               "semicolon", "tab", "xlsx"])


@dataclass
class Table:
    """One table as written: header, rows (lists of str) and the file's form."""

    header: list[str]
    rows: list[list[str]]
    form: str = "utf-8"

    def copy(self) -> Table:
        return Table(list(self.header), [list(row) for row in self.rows], self.form)


@functools.lru_cache(maxsize=None)
def sample_subset() -> dict[str, Table]:
    """The first rows of the sample tables, kept consistent across their keys."""
    def read(table):
        with open(SAMPLE / f"{table}.csv", encoding="utf-8", newline="") as file:
            header, *rows = list(csv.reader(file))
        return header, rows

    subset = {}
    header, rows = read("accounts")
    subset["accounts"] = Table(header, rows[:ROWS])
    accounts = {row[0] for row in rows[:ROWS]}
    for table in ("products", "distributors"):
        subset[table] = Table(*read(table))
    header, rows = read("doctors")
    rows = [row for row in rows if row[1] in accounts][:ROWS]
    subset["doctors"] = Table(header, rows)
    doctors = {row[0] for row in rows}
    header, rows = read("prescriptions")
    subset["prescriptions"] = Table(header, [row for row in rows if row[0] in doctors][:ROWS])
    header, rows = read("sales")
    subset["sales"] = Table(header, [row for row in rows if row[1] in accounts][:ROWS])
    return subset


# --- corruptions ---------------------------------------------------------------------------

def _cell(table: Table, data, value):
    if table.rows:
        row = data.draw(st.integers(0, len(table.rows) - 1))
        column = data.draw(st.integers(0, max(len(table.rows[row]) - 1, 0)))
        if table.rows[row]:
            table.rows[row][column] = value


def corrupt(table: Table, data) -> None:
    """Apply one random corruption to ``table``, in place."""
    kind = data.draw(st.sampled_from(["cell", "cell", "cell", "duplicate", "truncate",
                                      "shuffle", "drop_column", "rename_column", "longer",
                                      "blank_line"]))
    n = len(table.rows)
    pick = (lambda: data.draw(st.integers(0, n - 1))) if n else None
    if kind == "cell":
        _cell(table, data, data.draw(CELL_VALUES))
    elif kind == "duplicate" and n:
        row = pick()
        at = data.draw(st.integers(0, n))
        table.rows.insert(at, list(table.rows[row]))
    elif kind == "truncate" and n:
        row = pick()
        keep = data.draw(st.integers(1, max(len(table.rows[row]) - 1, 1)))
        table.rows[row] = table.rows[row][:keep]
    elif kind == "shuffle":
        order = data.draw(st.permutations(range(n)))
        table.rows = [table.rows[i] for i in order]
    elif kind == "drop_column":
        column = data.draw(st.integers(0, len(table.header) - 1))
        del table.header[column]
        for row in table.rows:
            if column < len(row):
                del row[column]
    elif kind == "rename_column":
        column = data.draw(st.integers(0, len(table.header) - 1))
        table.header[column] = data.draw(st.one_of(COLUMN_NAMES, st.sampled_from(table.header)))
    elif kind == "longer" and n:
        row = pick()
        table.rows[row] = table.rows[row] + [data.draw(CELL_VALUES)]
    elif kind == "blank_line":
        at = data.draw(st.integers(0, n))
        table.rows.insert(at, [data.draw(st.sampled_from(["", " ", "\t"]))])


def write(table: Table, path: Path) -> None:
    """Write ``table`` in its form: a CSV in some encoding or delimiter, or not a CSV."""
    if table.form == "xlsx":
        path.write_bytes(b"PK\x03\x04" + bytes(random.Random(0).randbytes(200)))
        return
    delimiter = {"semicolon": ";", "tab": "\t"}.get(table.form, ",")
    text = io.StringIO()
    # With "\r\n" the writer quotes a field holding "\r" or "\n" (with "\n" alone it
    # would leave a lone "\r" unquoted, which ends the line for any reader).
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(table.header)
    for row in table.rows:
        if len(row) == 1 and not row[0].strip(" \t"):
            text.write(row[0] + "\r\n")  # a blank line, not a quoted empty field
        else:
            writer.writerow(row)
    encoding = table.form if table.form in ("utf-8-sig", "gb18030", "latin-1", "utf-16") \
        else "utf-8"
    path.write_bytes(text.getvalue().encode(encoding, errors="replace"))


@st.composite
def corrupted_data(draw):
    """(target table, the tables written): a few corruptions of one table and its parents."""
    target = draw(st.sampled_from(TARGETS))
    tables = {name: table.copy() for name, table in sample_subset().items()
              if name == target or name in parents(target)}
    for _ in range(draw(st.integers(1, 4))):
        # mostly the target itself; its parents now and then (rejected parents cascade)
        name = target if draw(st.integers(0, 3)) else draw(st.sampled_from(sorted(tables)))
        corrupt(tables[name], _Drawer(draw))
    if draw(st.integers(0, 3)) == 0:
        name = draw(st.sampled_from(sorted(tables)))
        tables[name].form = draw(FILE_FORMS)
    return target, tables


class _Drawer:
    """``data.draw`` for helpers, inside a composite strategy."""

    def __init__(self, draw):
        self.draw = draw


# --- what a loaded row must hold -----------------------------------------------------------

def expected_value(table: str, column: str, text: str):
    """The value a cell written as ``text`` must have once loaded (an independent oracle)."""
    spec = {f.name: f for f in CONTRACT[table]}[column]
    stripped = text.strip()
    missing = stripped == "" or stripped.lower() in NULL_WORDS
    if spec.kind == "str":
        if is_id_column(column) or spec.allowed:
            value = stripped.lower() if spec.allowed else stripped
            return value if value else None
        return text if text != "" else None
    if spec.kind in ("float", "int"):
        return None if missing else float(stripped)
    if spec.kind == "bool":
        return stripped.lower() in TRUE_WORDS if not missing else bool(spec.default)
    if missing:
        return None
    stamp = pd.Timestamp(stripped)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    stamp = stamp.normalize()
    return stamp.replace(day=1) if spec.kind == "month" else stamp


def same(loaded, expected) -> bool:
    if expected is None:
        return loaded is None or pd.isna(loaded)
    if loaded is None or (not isinstance(loaded, str) and pd.isna(loaded)):
        return expected is None
    if isinstance(expected, float):
        return math.isclose(float(loaded), expected, rel_tol=1e-12, abs_tol=0)
    return loaded == expected


def written_rows(table: Table) -> list[list[str]]:
    """The data rows as the file holds them (blank lines are no rows); a trailing comma
    (one empty field more than the header) is ignored, as pandas ignores it."""
    keep = [i for i, row in enumerate(table.rows)
            if not (len(row) == 1 and not row[0].strip(" \t"))]
    rows = [table.rows[i] for i in keep]
    rows = [row[:-1] if len(row) == len(table.header) + 1 and row[-1] == "" else row
            for row in rows]
    return rows


def check_case(target: str, tables: dict[str, Table], data_dir: Path) -> str:
    for name, table in tables.items():
        write(table, data_dir / f"{name}.csv")
    try:
        ds = load(data_dir, tables=[target], allow_rejects=True)
    except DataContractError as err:
        assert str(err).startswith("cannot load")
        report = validate(data_dir)  # never raises either
        assert not report.ok
        fatal = report.issues[report.issues["rows"].isna() & report.issues["table"].isin(tables)
                              & (report.issues["severity"] == "error")]
        for check in set(fatal["check"]):
            event(f"fatal: {check}")
        return "fatal"

    today = pd.Timestamp.today().normalize()
    for check in set(ds.rejects["check"]):
        event(f"rejected: {check}")
    for name, table in tables.items():
        if name not in ds.present:
            continue
        assert table.form in ("utf-8", "utf-8-sig", "gb18030", "latin-1"), table.form
        header = [column.strip() for column in table.header]
        named = [column for column in header if column]
        assert len(set(named)) == len(named), "a repeated column name was accepted"
        rows = written_rows(table)
        rejects = ds.rejects[ds.rejects["table"] == name]
        rejected = set(rejects["row"].tolist())
        # every row not accepted is in the rejects, with a reason
        assert all(0 <= row < len(rows) for row in rejected)
        assert len(ds[name]) == len(rows) - len(rejected), (name, len(rows), rejected)
        assert rejects["reason"].str.len().gt(0).all()
        assert set(rejects["check"]) <= CHECKS, set(rejects["check"])
        for values in rejects["values"]:
            assert set(json.loads(values)) <= set(allowed_columns(name))
        for i, row in enumerate(rows):
            assert len(row) <= len(header)  # a longer row makes the file unreadable
            if len(row) < len(header):
                assert i in rejected, f"{name} row {i} is truncated but accepted"
        # accepted rows keep their values exactly
        accepted = [i for i in range(len(rows)) if i not in rejected]
        loaded = ds[name]
        contract = {f.name for f in CONTRACT[name]}
        for position, column in enumerate(header):
            if column not in contract:
                if column in loaded.columns:  # an extra column is kept as text
                    for k, i in enumerate(accepted):
                        text = rows[i][position] if position < len(rows[i]) else ""
                        text = text.strip() if is_id_column(column) else text
                        assert same(loaded[column].iloc[k], text or None), (name, i, column)
                continue
            for k, i in enumerate(accepted):
                text = rows[i][position]
                if table.form == "gb18030" or table.form == "latin-1":
                    text = text.encode(table.form, errors="replace").decode("utf-8")
                value = loaded[column].iloc[k]
                assert same(value, expected_value(name, column, text)), \
                    (name, i, column, text, value)
        for spec in CONTRACT[name]:
            values = loaded[spec.name]
            if spec.kind in ("float", "int"):
                known = values.dropna().astype("float64")
                assert (np.abs(known) <= MAX_ABS).all()
            if spec.past:
                assert not (values > today).any() or name == "visits"
        if name in FACT_TABLES and name not in TRANSACTION_TABLES:
            assert not loaded.duplicated().any()
    return "loaded"


def run_case(target, tables, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("fuzz")
    outcome = check_case(target, tables, data_dir)
    event(outcome)
    return outcome


COMMON = dict(deadline=None, derandomize=False, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])


@settings(max_examples=int(os.environ.get("CRMLAB_FUZZ_EXAMPLES", 200)), **COMMON)
@given(case=corrupted_data())
def test_loader_survives_corrupted_input(case, tmp_path_factory):
    run_case(*case, tmp_path_factory)


@pytest.mark.slow
@settings(max_examples=2000, **COMMON)
@given(case=corrupted_data())
def test_loader_survives_corrupted_input_at_length(case, tmp_path_factory):
    run_case(*case, tmp_path_factory)


def test_the_clean_subset_loads_whole(tmp_path):
    """The oracle agrees with the loader on the uncorrupted tables (so a failure means
    a corruption slipped through, not a wrong oracle)."""
    tables = {name: table.copy() for name, table in sample_subset().items()}
    assert check_case("prescriptions", tables, tmp_path) == "loaded"
    assert check_case("sales", tables, tmp_path) == "loaded"
    assert all(len(table.rows) > 0 for table in tables.values())
