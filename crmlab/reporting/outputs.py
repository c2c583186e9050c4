"""Machine-readable outputs of an analysis notebook: ``summary.json`` and CSV tables.

Both are written so that a rerun on the same data is byte-identical: keys sorted,
floats rounded to 6 significant digits, NaN written as ``null`` (JSON) or an empty
field (CSV). CSV tables are safe to open in a spreadsheet: a text cell that would run
as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) gets a leading ``'``
(the OWASP CSV-injection rule), and columns named as personal data (``name``,
``Doctor Name``, ``email``...) are dropped with a warning.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.io.export import csv_safe, drop_personal

SIGNIFICANT_DIGITS = 6


def save_outputs(
    out_dir: str | Path | None,
    summary: dict,
    tables: dict[str, pd.DataFrame] | None = None,
) -> None:
    """Write ``summary.json`` and one ``<name>.csv`` per table into ``out_dir``.

    Parameters
    ----------
    out_dir : str, Path or None
        Output folder, created if needed. Empty or None writes nothing, so a notebook
        run with its default parameters (``out_dir = ""``) leaves no files behind.
    summary : dict
        Headline numbers. numpy and pandas scalars, arrays, Series, Timestamps and
        paths are converted to JSON types; NaN and NaT become ``null``; floats are
        rounded to 6 significant digits.
    tables : dict of str to DataFrame, optional
        Tables written as ``<name>.csv`` without the index, floats as ``%.6g``;
        personal-data columns are left out (with a warning) and text cells that a
        spreadsheet would run as formulas are quoted with a leading ``'``.

    Raises
    ------
    TypeError
        If ``summary`` holds a value with no JSON form.
    ValueError
        If a table name is not a plain file name.

    Examples
    --------
    >>> save_outputs(out_dir, {"doctors": 1200, "uplift": 0.0412},
    ...              {"uplift_by_segment": uplift_table})  # doctest: +SKIP
    """
    if not out_dir:
        return
    tables = tables or {}
    for name in tables:
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"table name must be a plain file name, got {name!r}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_to_json(summary), indent=2, sort_keys=True, allow_nan=False)
    (out_dir / "summary.json").write_text(text + "\n", encoding="utf-8")
    for name, table in tables.items():
        table = csv_safe(drop_personal(table, f"{name}.csv"))
        table.to_csv(out_dir / f"{name}.csv", index=False,
                     float_format=f"%.{SIGNIFICANT_DIGITS}g", lineterminator="\n")


def _to_json(value):
    """Convert ``value`` recursively to plain, rounded JSON types."""
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, (np.ndarray, pd.Series, pd.Index)):
        return [_to_json(item) for item in value.tolist()]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, (dt.date, dt.datetime)):  # pd.Timestamp is a datetime
        return value.isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return str(pd.Timedelta(value))
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to summary.json: {value!r}")
