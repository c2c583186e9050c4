"""What may leave crmlab in a CSV file: no spreadsheet formulas, no personal data.

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run
as a formula when the CSV is opened in a spreadsheet (CSV injection). Following the OWASP
rule, such a cell is written with a leading single quote, which spreadsheets show as text.
Numbers are never touched: a float column holding -2.5 stays -2.5, and so does a text
cell that is a plain number such as ``-2.5``. A carriage return inside a text cell is
written as a line feed: CSV writers quote a cell holding a line feed, but not one holding
a lone carriage return, which a reader would take as the end of the row.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from crmlab.io.schemas import is_personal

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?%?")


def formula_safe_text(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula.

    Examples
    --------
    >>> formula_safe_text('=HYPERLINK("http://x","y")')
    '\\'=HYPERLINK("http://x","y")'
    >>> formula_safe_text("-2+3"), formula_safe_text("-2.5"), formula_safe_text("Beijing")
    ("'-2+3", '-2.5', 'Beijing')
    """
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _is_text(values: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(values.dtype)
            or pd.api.types.is_string_dtype(values.dtype)
            or isinstance(values.dtype, pd.CategoricalDtype))


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas.

    Only cells of text columns are changed (vectorised): those that start with a
    formula character get a leading ``'``, and carriage returns become line feeds.
    Numeric, boolean and date columns are left as they are.

    Examples
    --------
    >>> table = pd.DataFrame({"city": ["=1+1", "@SUM(A1)", "Wuhan", None],
    ...                       "units": [-2.5, 1.0, 3.0, 4.0]})
    >>> safe = csv_safe(table)
    >>> safe["city"].tolist(), safe["units"].tolist()
    (["'=1+1", "'@SUM(A1)", 'Wuhan', None], [-2.5, 1.0, 3.0, 4.0])
    """
    frame = frame.copy()
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if not _is_text(values):
            continue
        text = values.astype(object)
        is_str = text.map(type).eq(str).to_numpy(dtype=bool)
        if not is_str.any():
            continue
        strings = pd.Series(np.where(is_str, text, ""), index=text.index, dtype=object)
        risky = strings.str.startswith(FORMULA_STARTS).to_numpy(dtype=bool)
        risky &= ~strings.str.fullmatch(_PLAIN_NUMBER).to_numpy(dtype=bool)
        returns = strings.str.contains("\r", regex=False).to_numpy(dtype=bool)
        if risky.any() or returns.any():
            strings[risky] = "'" + strings[risky]
            strings[returns] = strings[returns].str.replace("\r\n", "\n", regex=False) \
                .str.replace("\r", "\n", regex=False)
            text = text.copy()
            text[risky | returns] = strings[risky | returns]
            frame.isetitem(position, text)
    frame.columns = [formula_safe_text(name).replace("\r", "\n") if isinstance(name, str)
                     else name for name in frame.columns]
    return frame


def drop_personal(frame: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """``frame`` without the columns whose name says they hold personal data, with a warning.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True):
    ...     drop_personal(pd.DataFrame({"doctor_id": ["D1"], " Name": ["Li"]})).columns.tolist()
    ['doctor_id']
    """
    personal = [column for column in frame.columns if is_personal(column)]
    if not personal:
        return frame
    warnings.warn(f"{name}: personal data not written: column(s) "
                  f"{', '.join(map(str, personal))} dropped", UserWarning, stacklevel=2)
    return frame.drop(columns=personal)
