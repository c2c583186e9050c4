"""Tables and matrices as a report shows them: captioned, formatted, no 0..n index.

:func:`table` wraps a DataFrame in a :class:`Table` that renders as an HTML table with
its caption (and as plain text with the caption for the notebook's text output, which
nbval compares); numbers get thousands separators, shares become percentages and
intervals read "1.2 (1.1–1.3)". :func:`heatmap` draws a matrix (migration, compliance)
in the house colours instead of printing it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from crmlab.reporting import style


def fmt_number(value, decimals: int = 0) -> str:
    """A number with thousands separators; missing values are blank.

    Examples
    --------
    >>> fmt_number(1234567), fmt_number(0.4567, 2), fmt_number(float("nan")), fmt_number(-0.0001, 1)
    ('1,234,567', '0.46', '', '0.0')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = f"{float(value):,.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text[1:].replace(",", "")) == 0 else text


def fmt_percent(value, decimals: int = 0) -> str:
    """A share as a percentage.

    Examples
    --------
    >>> fmt_percent(0.1234), fmt_percent(0.1234, 1), fmt_percent(None)
    ('12%', '12.3%', '')
    """
    number = fmt_number(None if value is None else 100 * float(value), decimals)
    return number and number + "%"


def fmt_interval(estimate, low, high, decimals: int | None = None, percent: bool = False) -> str:
    """An estimate with its interval: "1.2 (1.1–1.3)" (1 decimal, or 0 for percentages).

    Examples
    --------
    >>> fmt_interval(1.234, 1.1, 1.31)
    '1.2 (1.1–1.3)'
    >>> fmt_interval(0.18, 0.05, 0.31, percent=True)
    '18% (5%–31%)'
    >>> fmt_interval(1.2, float("nan"), float("nan"))
    '1.2'
    """
    decimals = (0 if percent else 1) if decimals is None else decimals
    show = (lambda v: fmt_percent(v, decimals)) if percent else (lambda v: fmt_number(v, decimals))
    bounds = [show(low), show(high)]
    return show(estimate) + (f" ({bounds[0]}–{bounds[1]})" if all(bounds) else "")


#: Names every report writes the same way (IDs by what they identify, acronyms in capitals).
COMMON_NAMES = {
    "product_id": "product", "territory_id": "territory", "rep_id": "rep", "manager_id": "manager",
    "doctor_id": "doctor", "account_id": "account", "distributor_id": "distributor", "event_id": "event",
    "entity_id": "ID", "roi": "ROI", "mase": "MASE", "smape": "sMAPE", "n_series": "series",
    "lift_pct": "lift", "pre_rmspe": "fit before (RMSPE)",
}


def readable(name) -> str:
    """A column name for people: :data:`COMMON_NAMES`, else underscores become spaces.

    Examples
    --------
    >>> readable("volume_at_stake"), readable(3), readable("product_id")
    ('volume at stake', '3', 'product')
    """
    return COMMON_NAMES.get(name, str(name).replace("_", " "))


def decimals_for(values: pd.Series) -> int:
    """Decimals that suit a numeric column: 0 from 100 up, 1 from 10, 2 below, 3 below 0.1.

    Examples
    --------
    >>> decimals_for(pd.Series([1234.5, 98.0])), decimals_for(pd.Series([12.5, 20.25]))
    (0, 1)
    """
    finite = pd.to_numeric(values, errors="coerce").abs()
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.empty:
        return 0
    if (finite.round() == finite).all():
        return 0
    typical = float(finite.median())
    return 0 if typical >= 100 else 1 if typical >= 10 else 2 if typical >= 0.1 else 3


def _formatter(column: pd.Series, name, percent: Iterable, decimals: Mapping):
    if name in percent:
        places = decimals.get(name, 0)
        return lambda v: fmt_percent(v, places) if pd.notna(v) else ""
    if pd.api.types.is_bool_dtype(column):
        return lambda v: "yes" if v is True or v == 1 else "no" if v is False or v == 0 else ""
    if pd.api.types.is_numeric_dtype(column):
        places = decimals.get(name, decimals_for(column))
        return lambda v: fmt_number(v, places)
    if pd.api.types.is_datetime64_any_dtype(column):
        daily = (column.dropna().dt.normalize() == column.dropna()).all()
        monthly = daily and (column.dropna().dt.day == 1).all()
        fmt = "%Y-%m" if monthly else "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M"
        return lambda v: v.strftime(fmt) if pd.notna(v) else ""
    return lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _plain_index(frame: pd.DataFrame) -> bool:
    """True when the index says nothing: unnamed 0..n-1."""
    index = frame.index
    return (index.nlevels == 1 and index.name is None
            and pd.api.types.is_integer_dtype(index) and index.equals(pd.RangeIndex(len(index))))


class Table:
    """A captioned, formatted table; shows as HTML in a report and as text in a console.

    Attributes
    ----------
    data : DataFrame
        The table as given (numbers not rounded), index and columns renamed.
    caption : str
        What the table shows, in one sentence.
    text : DataFrame
        The formatted cells, as shown.
    """

    def __init__(self, data: pd.DataFrame, caption: str, *, percent: Iterable = (),
                 decimals: Mapping | None = None):
        self.data, self.caption = data, caption
        percent, decimals = set(percent), dict(decimals or {})
        self.text = pd.DataFrame(
            {name: data[name].map(_formatter(data[name], name, percent, decimals))
             for name in data.columns}, index=data.index, columns=data.columns)
        if isinstance(data.index, pd.DatetimeIndex):
            self.text.index = pd.Index(_formatter(data.index.to_series(), None, (), {})(v)
                                       for v in data.index).rename(data.index.name)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = self.text.to_string(index=False) if len(self.text) else "None."
        return f"{self.caption}\n{body}"

    def _repr_html_(self) -> str:
        # the id is a hash of the content, so the HTML is the same on every run (nbval compares it)
        uid = hashlib.sha1((self.caption + self.text.to_json()).encode()).hexdigest()[:10]
        styler = (self.text.style.set_uuid(uid).set_caption(self.caption)
                  .set_table_attributes('class="crm-table"'))
        numeric = [name for name in self.data.columns
                   if pd.api.types.is_numeric_dtype(self.data[name])
                   and not pd.api.types.is_bool_dtype(self.data[name])]
        if numeric:
            styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
            styler = styler.set_table_styles(
                [{"selector": f"th.col_heading.col{self.data.columns.get_loc(name)}", "props": "text-align: right"}
                 for name in numeric], overwrite=False)
        if not len(self.text):
            return f'<p class="crm-empty"><strong>{self.caption}</strong> None.</p>'
        return styler.hide(axis="index").to_html()


def table(frame: pd.DataFrame | pd.Series, caption: str, *, rename: Mapping | None = None,
          index: str | list | bool | None = None, percent: Iterable = (),
          decimals: Mapping | None = None, rows: int | None = None) -> Table:
    """``frame`` as a report table: captioned, readable names, formatted numbers.

    Parameters
    ----------
    frame : DataFrame or Series
        A Series becomes a two-column table (its index and its values).
    caption : str
        One sentence saying what the table shows.
    rename : mapping, optional
        Column (and index) names to replace, e.g. ``{"decile_P01": "Cardiva"}``; the
        others get underscores replaced by spaces.
    index : str, list or bool, optional
        Columns to show first, as the row labels; ``False`` drops the index. A named
        index becomes the first columns; an unnamed 0..n index is never shown.
    percent : iterable
        Columns of shares, shown as percentages (names before renaming).
    decimals : mapping, optional
        Decimals per column (names before renaming); the others suit their magnitude.
    rows : int, optional
        Show only the first ``rows`` rows (the caption should say so).

    Examples
    --------
    >>> t = table(pd.DataFrame({"grade": ["A", "B"], "doctors": [1200, 3400], "share": [0.26, 0.74]}),
    ...           "Doctors per grade.", percent=["share"])
    >>> print(repr(t))
    Doctors per grade.
    grade doctors share
        A   1,200   26%
        B   3,400   74%
    """
    if isinstance(frame, Mapping):
        frame = pd.Series(dict(frame), name="value")
    if not isinstance(frame, (pd.DataFrame, pd.Series)):
        return frame  # a note in place of a table (e.g. a part the data cannot support): shown as is
    if isinstance(frame, pd.Series):
        frame = frame.rename(frame.name if frame.name is not None else "value").reset_index()
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(level) for level in column if str(level)) for column in frame.columns]
    if index is not None and index is not False:
        frame = frame.set_index(index)
    # row labels become the first columns: one header row, and no 0..n index ever shows
    if index is False or _plain_index(frame):
        frame = frame.reset_index(drop=True)
    else:
        unnamed = [name if name is not None else ("" if frame.index.nlevels == 1 else f"level {i}")
                   for i, name in enumerate(frame.index.names)]
        frame = frame.rename_axis(unnamed).reset_index()
    if rows is not None:
        frame = frame.head(rows)
    rename = dict(rename or {})
    names = {name: rename.get(name, readable(name)) for name in frame.columns}
    percent = [names[name] for name in percent if name in names]
    decimals = {names[name]: places for name, places in (decimals or {}).items() if name in names}
    frame = frame.rename(columns=names)
    frame.columns.name = None
    return Table(frame, caption, percent=percent, decimals=decimals)


def heatmap(matrix: pd.DataFrame, title: str, *, xlabel: str | None = None, ylabel: str | None = None,
            cmap: str = style.SEQUENTIAL, fmt: str = ",.0f", center: float | None = None,
            vmin: float | None = None, vmax: float | None = None, colorbar: str | None = None,
            annotate: bool | None = None, ax=None):
    """A matrix as a heat map in the house colours, numbers in the cells when it is small.

    Parameters
    ----------
    matrix : DataFrame
        Rows × columns of numbers (e.g. a decile migration: earlier decile × latest).
    annotate : bool, optional
        Write the numbers in the cells; default when the matrix has at most 15 × 15 cells.

    Examples
    --------
    >>> ax = heatmap(pd.DataFrame([[5, 1], [0, 7]], index=["A", "B"], columns=["A", "B"]), "Shift")
    >>> ax.get_title(loc="left")
    'Shift'
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    matrix = matrix.astype(float)
    if annotate is None:
        annotate = matrix.shape[0] <= 15 and matrix.shape[1] <= 15
    if ax is None:
        width = min(12.0, max(5.0, 0.55 * matrix.shape[1] + 2.5))
        height = min(12.0, max(3.0, 0.4 * matrix.shape[0] + 1.5))
        ax = plt.subplots(figsize=(width, height))[1]
    sns.heatmap(matrix, annot=annotate, fmt=fmt if annotate else "", cmap=cmap, center=center,
                vmin=vmin, vmax=vmax, linewidths=0.5, linecolor="white", ax=ax,
                cbar_kws={"label": colorbar} if colorbar else None, annot_kws={"fontsize": 8})
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel if xlabel is not None else readable(matrix.columns.name or ""))
    ax.set_ylabel(ylabel if ylabel is not None else readable(matrix.index.name or ""))
    ax.tick_params(axis="y", rotation=0)
    return ax
