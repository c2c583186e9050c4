"""Validate once per data version: a typed parquet copy of a loaded data directory.

:func:`crmlab.io.load` reads, types and checks every file of a data directory; at national
scale that is 10-20 seconds, and ``crmlab run all`` loads the same files once per analysis.
The first load of a data version writes the checked tables (rejected rows already set
aside) as parquet under the cache directory; every later load of the same files reads them
back, with the contract dtypes, in a fraction of the time.

The key is a hash of the contents, sizes and names of every table file of the directory
(``<table>.csv`` and ``<table>.parquet``), the load options (encoding, tables,
``allow_rejects``) and the source of :mod:`crmlab.io` with the pandas and pyarrow versions:
a changed, added or removed file, or a new loader, is a new key. Rows dated after today are
checked again on every hit (the check depends on the date), so a cached copy is never used
on a day it would not pass.

The cache directory is ``$CRMLAB_CACHE`` (``off`` turns the cache off), by default
``$XDG_CACHE_HOME/crmlab`` or ``~/.cache/crmlab``; the newest :data:`KEEP` entries are kept.
Directories under :data:`MIN_BYTES` are not cached.
A cache that cannot be read or written is ignored: the data is loaded from its files.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crmlab.io.checks import future_dates
from crmlab.io.schemas import TABLES

#: Entries kept in the cache directory (the most recently used).
KEEP = 8
#: Data directories whose table files are smaller than this are not cached: they load in
#: well under a second anyway (e.g. the small worlds of the tests).
MIN_BYTES = 256 * 1024
_FORMAT = 1
_CHUNK = 1 << 22


def cache_dir() -> Path | None:
    """Where cached datasets live, or None when ``CRMLAB_CACHE=off``.

    Examples
    --------
    >>> import os
    >>> os.environ["CRMLAB_CACHE"] = "off"
    >>> cache_dir() is None
    True
    >>> del os.environ["CRMLAB_CACHE"]
    """
    setting = os.environ.get("CRMLAB_CACHE", "").strip()
    if setting.lower() in {"off", "0", "no", "false"}:
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "crmlab"


def table_files(data_dir: Path) -> list[Path]:
    """Every ``<table>.parquet`` and ``<table>.csv`` file of ``data_dir``."""
    return [path for table in TABLES for suffix in (".parquet", ".csv")
            if (path := data_dir / f"{table}{suffix}").is_file()]


def worth_caching(data_dir: Path) -> bool:
    """Whether the cache is on and the directory's table files weigh at least :data:`MIN_BYTES`."""
    return cache_dir() is not None and data_dir.is_dir() and \
        sum(path.stat().st_size for path in table_files(data_dir)) >= MIN_BYTES


def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _code_version() -> str:
    """The loader's own version: a new check or dtype is a new cache key."""
    digest = hashlib.blake2b(digest_size=12)
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    digest.update(f"{pd.__version__} {pa.__version__} {_FORMAT}".encode())
    return digest.hexdigest()


def dataset_key(data_dir: Path, encoding: str, tables, allow_rejects: bool) -> str:
    """The hash naming one data version loaded with one set of options.

    Every ``<table>.csv`` and ``<table>.parquet`` of ``data_dir`` counts, read or not (a
    new CSV beside a parquet file changes the warnings), by name, size and content.
    """
    digest = hashlib.blake2b(digest_size=20)
    digest.update(json.dumps([_code_version(), encoding, None if tables is None else sorted(tables),
                              bool(allow_rejects)]).encode())
    for path in table_files(data_dir):
        digest.update(f"{path.name}:{path.stat().st_size}:{_file_digest(path)}".encode())
    return digest.hexdigest()


def with_files(key: str, paths) -> str:
    """``key`` combined with the contents of more files (e.g. the duplicates merged after loading)."""
    digest = hashlib.blake2b(key.encode(), digest_size=20)
    for path in paths:
        digest.update(f"{path.name}:{_file_digest(path)}".encode())
    return digest.hexdigest()


def _arrow_strings(arrow_type):
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    return None


def read(key: str, today: pd.Timestamp) -> dict | None:
    """The cached load of ``key``, or None (no entry, unreadable, or not valid today).

    Returns a dict of ``frames`` (every table), ``present``, ``rejects``, ``issues``.
    """
    root = cache_dir()
    if root is None:
        return None
    entry = root / key
    try:
        manifest = json.loads((entry / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT:
            return None
        with open(entry / "meta.pkl", "rb") as handle:
            meta = pickle.load(handle)
        rejects = meta["rejects"]
        future_rejects = (rejects["check"] == "future_date").any() if len(rejects) else False
        if future_rejects and manifest["today"] != str(today.date()):
            return None  # rows rejected as future yesterday may be valid today
        frames = {}
        for table in TABLES:
            frame = pq.read_table(entry / f"{table}.parquet").to_pandas(types_mapper=_arrow_strings)
            dtypes = manifest["dtypes"][table]
            if list(frame.columns) != list(dtypes):
                return None
            wrong = {c: d for c, d in dtypes.items() if str(frame[c].dtype) != d}
            if wrong:
                frame = frame.astype(wrong)
            if not future_dates(table, frame, today).empty:
                return None  # today is earlier than when the entry was checked
            frames[table] = frame
        os.utime(entry)  # most recently used
    except (OSError, ValueError, KeyError, TypeError, pickle.UnpicklingError, EOFError,
            pa.ArrowException):
        return None
    return {"frames": frames, "present": frozenset(meta["present"]), "rejects": rejects,
            "issues": meta["issues"]}


def write(key: str, frames: dict[str, pd.DataFrame], present, rejects: pd.DataFrame,
          issues: pd.DataFrame, today: pd.Timestamp) -> Path | None:
    """Store one checked load under ``key``; None when the cache is off or not writable."""
    root = cache_dir()
    if root is None:
        return None
    entry = root / key
    if entry.is_dir():
        return entry
    staging = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        for table, frame in frames.items():
            frame.to_parquet(staging / f"{table}.parquet", compression="zstd", index=False)
        with open(staging / "meta.pkl", "wb") as handle:
            pickle.dump({"present": sorted(present), "rejects": rejects, "issues": issues}, handle)
        manifest = {"format": _FORMAT, "today": str(today.date()),
                    "dtypes": {t: {c: str(d) for c, d in f.dtypes.items()} for t, f in frames.items()}}
        (staging / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        os.rename(staging, entry)
        staging = None
        _evict(root)
    except (OSError, ValueError, TypeError, pa.ArrowException):
        return None  # e.g. a read-only disk, or an extra column parquet cannot hold
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return entry


def _evict(root: Path) -> None:
    entries = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
