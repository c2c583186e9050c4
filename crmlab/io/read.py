"""Read contract files and turn their text into typed columns, vectorised.

Every parser returns the typed column and a mask of the values that could not be
parsed, so that a bad value becomes a rejected row with its reason, not an exception.
"""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlab.io.schemas import CONTRACT, STRING, Field, is_id_column
from crmlab.io.sniff import FileProblem, short_rows, sniff_csv

TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0")
# Missing-value words of SQL and spreadsheet exports; missing only in typed columns,
# since in a text column "NA" may be a value (a region, a tier).
NULL_WORDS = ("na", "n/a", "#n/a", "null", "none", "nan", "nat")

# Columns for every failure found while parsing or checking a table.
FAILURE_COLUMNS = ["row", "check", "column", "reason"]
#: Largest magnitude of a number in a float or int column. Beyond it a value is a typo or
#: an overflow, not a count of packs or money; float64 still holds every integer exactly
#: below 2**53 (about 9e15), so sums of such values stay exact.
MAX_ABS = 1e15
_MAX_TEXT = f"{MAX_ABS:.0e}".replace("+", "")

__all__ = ["FAILURE_COLUMNS", "MAX_ABS", "FileProblem", "parse_column", "parse_table",
           "read_table"]


def read_table(path: Path, encoding: str = "utf-8") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read one table file, CSV as text only, with a 0-based row index.

    Returns
    -------
    frame : DataFrame
        The table as read.
    failures : DataFrame
        ``row, check, column, reason`` of the rows of a CSV that have fewer fields than
        its header line (``truncated_row``); pandas would fill them in silently.

    Raises
    ------
    FileProblem
        The file is empty, cannot be decoded or parsed, is not a comma-delimited text
        file (an Excel workbook, UTF-16, semicolons), or repeats a column name.
    """
    if path.suffix == ".parquet":
        frame = _read_parquet(path)
        failures = pd.DataFrame(columns=FAILURE_COLUMNS)
    else:
        frame, failures = _read_csv(path, encoding)
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise FileProblem("duplicate_column", f"{path.name} has the column "
                          f"{repeated[0]!r} more than once: rename or remove one")
    return frame, failures


def _read_csv(path: Path, encoding: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise FileProblem("encoding", f"unknown encoding {encoding!r}") from None
    # utf-8-sig also reads plain UTF-8 and drops the byte-order mark Excel writes.
    if codec == "utf-8":
        codec = "utf-8-sig"
    sniff_csv(path, codec)
    try:
        with warnings.catch_warnings():
            # A row longer than the header would shift or lose values: refuse the file.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, dtype=str, encoding=codec, keep_default_na=False,
                                na_values=[""], index_col=False)
    except UnicodeDecodeError as err:
        raise FileProblem(
            "encoding",
            f"{path.name} cannot be decoded as {encoding} ({err.reason} at byte {err.start}); "
            "give the file's encoding, e.g. `crmlab validate DATA_DIR --encoding gb18030` "
            "or load(..., encoding='gb18030') for a Chinese ERP export",
        ) from None
    except pd.errors.EmptyDataError:
        raise FileProblem("empty_file", f"{path.name} is empty: a table needs at least "
                          "a header line with its column names") from None
    except pd.errors.ParserWarning:
        raise FileProblem("unreadable", f"{path.name} has rows with more fields than its "
                          "header line") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise FileProblem("unreadable", f"{path.name} is not a readable CSV file: {err}") from None
    frame.columns = [str(column).strip() for column in frame.columns]
    rows, counts = short_rows(path, codec, frame.shape[1], len(frame))
    first_missing = pd.Series(frame.columns.to_numpy()[counts], dtype=object)
    reason = ("the line has " + pd.Series(counts, dtype="int64").astype(str)
              + f" of the header's {frame.shape[1]} fields: " + first_missing
              + " and after are missing (a truncated line?)")
    failures = pd.DataFrame({"row": rows.astype("int64"), "check": "truncated_row",
                             "column": first_missing, "reason": reason})
    return frame, failures


def _arrow_string(dtype: pa.DataType):
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return STRING
    return None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        arrow = pq.read_table(path)
        # Strings stay in arrow memory: no Python object per value at national scale.
        frame = arrow.to_pandas(types_mapper=_arrow_string, date_as_object=False,
                                split_blocks=True, self_destruct=True)
    except (OSError, pa.ArrowException, ValueError) as err:
        raise FileProblem("unreadable", f"{path.name} is not a readable parquet file: {err}") \
            from None
    if not isinstance(frame.index, pd.RangeIndex):
        # An index written by pandas is data (e.g. visit_id); a nameless one is not.
        frame = frame.reset_index(drop=all(name is None for name in frame.index.names))
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame.reset_index(drop=True)


def _as_text(values: pd.Series) -> pd.Series:
    """Any column as arrow strings; whole floats lose their ``.0`` (parquet IDs)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    if pd.api.types.is_float_dtype(values.dtype):
        known = values.dropna()
        if (np.abs(known) < 2**53).all() and (known == np.floor(known)).all():
            values = values.astype("Int64")
    if pd.api.types.is_bool_dtype(values.dtype) or pd.api.types.is_numeric_dtype(values.dtype):
        text = values.astype(str).astype(STRING)
        return text.mask(values.isna())
    return values.astype(STRING)


def parse_text(values: pd.Series, *, strip: bool = False, lower: bool = False) -> pd.Series:
    """Strings; blank values become missing when ``strip`` is set."""
    text = _as_text(values)
    if strip:
        text = text.str.strip()
        text = text.mask(text == "")
    if lower:
        text = text.str.lower()
    return text


def _typed_text(values: pd.Series) -> pd.Series:
    """The text of a column to be typed: stripped, with missing-value words missing."""
    text = parse_text(values, strip=True)
    return text.mask(text.str.lower().isin(NULL_WORDS))


def _normalise_datetimes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Any datetime64 column as tz-naive datetime64[ns]; values out of its range are bad."""
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)  # keep the local date, not the UTC one
    raw = values.to_numpy()
    bad = np.zeros(len(values), dtype=bool)
    if raw.dtype != np.dtype("datetime64[ns]"):
        low = np.datetime64(pd.Timestamp.min.ceil("D"))
        high = np.datetime64(pd.Timestamp.max.floor("D"))
        bad = ~np.isnat(raw) & ((raw < low) | (raw > high))
        raw = np.where(bad, np.datetime64("NaT"), raw).astype("datetime64[ns]")
    return pd.Series(raw, index=values.index), pd.Series(bad, index=values.index)


def _floor(dates: pd.Series, month: bool = False) -> pd.Series:
    """Dates to midnight, or to the first of their month; done once per distinct date."""
    codes, distinct = pd.factorize(dates)
    floored = distinct.to_period("M").to_timestamp() if month else distinct.normalize()
    table = np.append(floored.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(table[codes], index=dates.index)


def parse_date(values: pd.Series, *, month: bool = False) -> tuple[pd.Series, pd.Series]:
    """ISO 8601 dates (a datetime keeps its date) or, with ``month``, first days of months.

    Returns the dates as ``datetime64[ns]`` and the mask of values that did not parse.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates, bad = _normalise_datetimes(values)
    else:
        text = _typed_text(values)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
            if not pd.api.types.is_datetime64_any_dtype(parsed.dtype):
                # Mixed UTC offsets: the date is what was written, before any offset.
                parsed = pd.to_datetime(text.str.slice(0, 10), errors="coerce",
                                        format="ISO8601")
        dates, _ = _normalise_datetimes(parsed)
        bad = dates.isna() & text.notna()
    return _floor(dates, month), bad


def _as_float(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Any column as float64 (``inf`` included) and the mask of values that are not numbers."""
    if pd.api.types.is_bool_dtype(values.dtype):
        values = values.astype("float64")
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64"), pd.Series(False, index=values.index)
    text = _typed_text(values)
    numbers = pd.to_numeric(text.astype(object), errors="coerce").astype("float64")
    return numbers, numbers.isna() & text.notna()


def out_of_range(values: pd.Series) -> pd.Series:
    """Numbers that are infinite or larger in magnitude than :data:`MAX_ABS`.

    Examples
    --------
    >>> out_of_range(pd.Series(["1", "inf", "-1e23", "x", None])).tolist()
    [False, True, True, False, False]
    """
    numbers, _ = _as_float(values)
    return pd.Series(~(np.abs(numbers.to_numpy()) <= MAX_ABS) & numbers.notna().to_numpy(),
                     index=values.index)


def parse_number(values: pd.Series, *, integer: bool = False) -> tuple[pd.Series, pd.Series]:
    """Numbers as float64, or as nullable Int64 with ``integer`` (a fraction is bad).

    Infinite numbers, and numbers beyond ±:data:`MAX_ABS`, are bad too.
    """
    numbers, bad = _as_float(values)
    bad |= ~(np.abs(numbers) <= MAX_ABS) & numbers.notna()
    numbers = numbers.mask(bad)
    if integer:
        # whole within float noise only (3.0000000000000004 is 3; 1e-300 and 3.00001 are fractions)
        bad |= numbers.notna() & ~np.isclose(numbers, np.round(numbers), rtol=1e-12, atol=0)
        numbers = numbers.mask(bad).round().astype("Int64")
    return numbers, bad


def parse_bool(values: pd.Series, default: bool = False) -> tuple[pd.Series, pd.Series]:
    """true/false, 1/0, yes/no (any case) as bool; missing values take ``default``."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.fillna(default).astype(bool), pd.Series(False, index=values.index)
    text = _typed_text(values).str.lower()
    words = dict.fromkeys(TRUE_WORDS, True) | dict.fromkeys(FALSE_WORDS, False)
    flags = text.map(words, na_action="ignore")
    bad = flags.isna() & text.notna()
    return flags.astype("boolean").fillna(default).astype(bool), bad


_FORMAT_CHECK = {"date": "date_format", "month": "date_format", "float": "number_format",
                 "int": "number_format", "bool": "boolean_format"}
_EXPECTED = {
    "date": "expected an ISO 8601 date such as 2025-03-14",
    "month": "expected a month such as 2025-03 or 2025-03-01",
    "float": "expected a number",
    "int": "expected a whole number",
    "bool": "expected true/false, 1/0 or yes/no",
}


def parse_column(field: Field, values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Type one contract column; return it with the mask of unparseable values."""
    if field.kind in ("date", "month"):
        return parse_date(values, month=field.kind == "month")
    if field.kind in ("float", "int"):
        return parse_number(values, integer=field.kind == "int")
    if field.kind == "bool":
        return parse_bool(values, bool(field.default))
    strip = is_id_column(field.name) or field.allowed is not None
    return parse_text(values, strip=strip, lower=field.allowed is not None), \
        pd.Series(False, index=values.index)


def _parse_failures(field: Field, raw: pd.Series) -> pd.DataFrame:
    """``row, check, column, reason`` of the values of one column that did not parse."""
    text = raw.astype(str)
    check = pd.Series(_FORMAT_CHECK[field.kind], index=raw.index)
    reason = f"unparseable {field.name} '" + text + f"' ({_EXPECTED[field.kind]})"
    if field.kind in ("float", "int"):
        huge = out_of_range(raw)
        check[huge] = "finite_number"
        reason[huge] = (field.name + " '" + text[huge]
                        + "' is not a finite number (at most " + _MAX_TEXT + " in size)")
    return pd.DataFrame({"row": raw.index.to_numpy(), "check": check.to_numpy(),
                         "column": field.name, "reason": reason.to_numpy()})


def parse_table(table: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Type every column of a raw table in place of the text, and fill defaults.

    Contract columns missing from the file (optional ones) are added, empty or with
    their default; extra columns are kept, IDs as strings and CSV text as strings.

    Returns
    -------
    frame : DataFrame
        The typed table.
    failures : DataFrame
        One row per unparseable value: ``row, check, column, reason``.
    bad_values : dict
        For each column with unparseable values, the raw values of those rows,
        so the rejects file shows what was in the file.
    """
    failures = []
    bad_values = {}
    spec = {field.name: field for field in CONTRACT[table]}
    for name in frame.columns:
        field = spec.get(name)
        if field is None:
            if is_id_column(name):
                frame[name] = parse_text(frame[name], strip=True)
            elif frame[name].dtype == object:
                frame[name] = frame[name].astype(STRING)
            continue
        typed, bad = parse_column(field, frame[name])
        if bad.any():
            raw = frame.loc[bad, name]
            bad_values[name] = raw
            failures.append(_parse_failures(field, raw))
        frame[name] = typed
    for field in CONTRACT[table]:
        if field.name not in frame.columns:
            empty = pd.Series(pd.NA, index=frame.index, dtype=object)
            frame[field.name] = parse_column(field, empty)[0]
        if field.default is not None and field.kind != "bool":
            frame[field.name] = frame[field.name].fillna(field.default)
        if field.default_from is not None:
            frame[field.name] = frame[field.name].fillna(frame[field.default_from])
    failures = (pd.concat(failures, ignore_index=True) if failures
                else pd.DataFrame(columns=FAILURE_COLUMNS))
    return frame, failures, bad_values
