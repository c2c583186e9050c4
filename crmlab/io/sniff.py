"""Look at a CSV file's bytes before parsing it: what kind of file it is, its header line,
and how many fields each line holds.

pandas reads a semicolon-delimited file as one column, an Excel workbook as noise, renames a
repeated column name ``units`` to ``units.1`` and fills the missing trailing fields of a
short line with blanks, all silently. These checks turn each of those into a message that
says what the file looks like.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np

#: Bytes read to recognise a file.
HEAD_BYTES = 1 << 16
#: Bytes counted at a time when counting the fields of each line.
CHUNK_BYTES = 1 << 24

# (magic bytes, what the file looks like)
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)"),
    (b"PAR1", "a parquet file (name it .parquet)"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)
_DELIMITERS = {";": "semicolon-delimited", "\t": "tab-delimited", "|": "pipe-delimited"}
# Encodings in which a comma, quote, blank or line break is always that one byte, never
# part of a multi-byte character: fields can be counted on the raw bytes.
_BYTE_SAFE = ("utf-8", "utf-8-sig", "ascii", "gb18030", "gbk", "gb2312", "big5", "big5hkscs",
              "shift_jis", "cp932", "euc_jp", "euc_kr", "cp949", "latin-1", "iso8859-1")
_SAVE_AS = ("save it as CSV UTF-8 (comma delimited), e.g. in Excel: File > Save As > "
            "CSV UTF-8, or as parquet")


class FileProblem(Exception):
    """A file that cannot be read as a contract table at all (fatal for its table)."""

    def __init__(self, check: str, message: str):
        super().__init__(message)
        self.check = check


def _is_wide(codec: str) -> bool:
    return codec.startswith(("utf-16", "utf-32"))


def looks_like(head: bytes, codec: str) -> str | None:
    """What a file whose first bytes are ``head`` looks like, when it is not a text CSV.

    Examples
    --------
    >>> looks_like(b"PK\\x03\\x04rest", "utf-8")
    'an Excel workbook (.xlsx) or another zip archive'
    >>> looks_like("a,b".encode("utf-16"), "utf-8")
    'UTF-16 text (it starts with a UTF-16 byte-order mark)'
    >>> looks_like(b"a,b\\n1,2\\n", "utf-8") is None
    True
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if _is_wide(codec):
        return None
    for bom, kind in _BOMS:
        if head.startswith(bom):
            return f"{kind} text (it starts with a {kind} byte-order mark)"
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if even.count(0) > 0.3 * len(even) or odd.count(0) > 0.3 * len(odd):
            return "UTF-16 text (every other byte is zero)"
        return "a binary file, not text"
    start = head.lstrip()[:512].lower()
    if start.startswith((b"<html", b"<!doctype html", b"<table")):
        return "an HTML page (some systems export HTML and name it .xls or .csv)"
    if start.startswith(b"<?xml"):
        return "an XML file (perhaps an Excel XML spreadsheet)"
    return None


def header_fields(head: bytes, codec: str) -> list[str] | None:
    """The names on the first non-blank line of a CSV, blanks removed; None if undecodable."""
    try:
        text = codecs.getincrementaldecoder(codec)(errors="strict").decode(head, final=False)
    except UnicodeDecodeError:
        return None  # pandas says which byte, with the encoding hint
    for row in csv.reader(io.StringIO(text, newline="")):
        names = [name.strip() for name in row]
        if any(names):
            return names
    return []


def check_header(path: Path, names: list[str]) -> None:
    """Refuse a header line that uses another delimiter or repeats a column name."""
    if len(names) == 1:
        for delimiter, kind in _DELIMITERS.items():
            if delimiter in names[0]:
                raise FileProblem(
                    "delimiter",
                    f"{path.name} looks {kind} (its header line has {delimiter!r} between "
                    f"names and no comma): crmlab reads comma-delimited CSV files; {_SAVE_AS}")
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name and name in seen:
            raise FileProblem(
                "duplicate_column",
                f"{path.name} has the column {name!r} twice in its header line "
                f"(columns {seen[name]} and {position}): rename or remove one")
        seen[name] = position


def sniff_csv(path: Path, codec: str) -> None:
    """Raise :class:`FileProblem` when ``path`` is not a comma-delimited text CSV."""
    with open(path, "rb") as file:
        head = file.read(HEAD_BYTES)
    kind = looks_like(head, codec)
    if kind is not None:
        raise FileProblem("file_format", f"{path.name} looks like {kind}, not a CSV text "
                          f"file in {codec}; {_SAVE_AS}")
    names = header_fields(head, codec)
    if names:
        check_header(path, names)


def _byte_counts(path: Path) -> np.ndarray:
    """Fields per non-blank line, counted on the raw bytes (a file without quotes)."""
    counts = []
    rest = b""
    with open(path, "rb") as file:
        while True:
            chunk = file.read(CHUNK_BYTES)
            data = rest + chunk
            if not chunk:
                rest = b""
            else:
                cut = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
                data, rest = data[:cut], data[cut:]
            if data:
                raw = np.frombuffer(data, dtype=np.uint8)
                breaks = (raw == 10) | (raw == 13)
                starts = np.flatnonzero(breaks) + 1
                starts = np.concatenate(([0], starts[starts < len(raw)]))
                commas = np.add.reduceat((raw == 44).astype(np.int32), starts)
                content = np.logical_or.reduceat(~breaks & (raw != 32) & (raw != 9), starts)
                counts.append(commas[content] + 1)
            if not chunk:
                break
    return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int32)


class _Lines:
    """The lines of a text file, remembering the last one read."""

    def __init__(self, file):
        self.file, self.last = file, ""

    def __iter__(self):
        for self.last in self.file:
            yield self.last


def _record_counts(path: Path, codec: str) -> np.ndarray:
    """Fields per record, read by the csv module (quoted fields may hold commas, newlines).

    Like pandas, a line of blanks is no record, but a line ``""`` is (one empty field).
    """
    counts = []
    with open(path, encoding=codec, newline="") as file:
        lines = _Lines(file)
        for row in csv.reader(lines):
            if row and not (len(row) == 1 and not row[0].strip(" \t") and '"' not in lines.last):
                counts.append(len(row))
    return np.asarray(counts, dtype=np.int32)


def short_rows(path: Path, codec: str, n_columns: int, n_rows: int) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Data rows of a CSV with fewer fields than its header line, and their field counts.

    Blank lines are skipped as pandas skips them, so the rows are numbered as in the
    loaded table. Returns empty arrays when the count cannot be matched to the table.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b,c\\n1,2,3\\n\\n4,5\\n6,,\\n")
    >>> rows, fields = short_rows(path, "utf-8", 3, 3)
    >>> rows.tolist(), fields.tolist()
    ([1], [2])
    """
    with open(path, "rb") as file:
        quoted = any(b'"' in chunk for chunk in iter(lambda: file.read(CHUNK_BYTES), b""))
    if not quoted and codecs.lookup(codec).name in _BYTE_SAFE:
        counts = _byte_counts(path)
    else:
        counts = _record_counts(path, codec)
    data = counts[1:]
    if len(data) != n_rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    rows = np.flatnonzero(data < n_columns)
    return rows, data[rows]
