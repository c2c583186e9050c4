"""Which parts of the segmentation the data supports, and a note for those it does not.

Many markets have account sales only (no field force, no doctor-level data): the
account parts run there, the doctor and call-plan parts say which table they miss.
:func:`run_part` runs a step when its part is supported and returns a
:class:`Skipped` note otherwise; a :class:`Skipped` input skips the steps downstream.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

# What each part of the analysis needs: every group must have one non-empty table.
PART_NEEDS = {
    "account_segments": (("sales", "prescriptions"),),
    "account_deciles": (("sales",),),
    "doctor_grading": (("doctors",),),
    "value_estimate": (("doctors",), ("sales",)),
    "value_check": (("doctors",), ("sales",), ("prescriptions",)),
    "doctor_deciles": (("doctors",), ("prescriptions", "sales")),
    "clusters": (("doctors",), ("visits", "prescriptions")),
    "call_plan": (("doctors",), ("reps",), ("visits",)),
    "funnel": (("doctors",), ("reps",), ("visits",)),
    "explorer": (("doctors",),),
}
PART_LABELS = {
    "account_segments": "Account potential × adoption",
    "account_deciles": "Account sell-out deciles per product",
    "doctor_grading": "Doctor grading",
    "value_estimate": "Value estimate per doctor",
    "value_check": "Check of the value estimate against prescriptions",
    "doctor_deciles": "Doctor deciles",
    "clusters": "Behavioural clusters of doctors",
    "call_plan": "Call plan and SFE KPIs",
    "funnel": "Adoption funnel",
    "explorer": "Manager explorer",
}


def _rows(tables, name: str) -> int:
    """Rows of table ``name`` in a Dataset or dict of tables (0 when absent)."""
    try:
        table = tables[name]
    except (KeyError, TypeError):
        return 0
    return 0 if table is None else len(table)


def segmentation_parts(tables) -> pd.DataFrame:
    """Which parts of the segmentation the data supports, and what the others need.

    Parameters
    ----------
    tables : Dataset or dict of DataFrame
        Anything indexable by table name (``ds["visits"]``); a missing key, None or an
        empty table counts as absent.

    Returns
    -------
    DataFrame indexed by ``part``
        ``label``, ``available`` (bool) and ``needs`` (what is missing, e.g.
        ``"doctors, visits"``; ``"a or b"`` when either would do; empty when available).

    Examples
    --------
    >>> tables = {"accounts": pd.DataFrame({"account_id": ["A1"]}), "sales": pd.DataFrame({"units": [1.0]})}
    >>> parts = segmentation_parts(tables)
    >>> bool(parts.loc["account_segments", "available"]), parts.loc["call_plan", "needs"]
    (True, 'doctors, reps, visits')
    """
    rows = []
    for part, groups in PART_NEEDS.items():
        missing = [" or ".join(group) for group in groups if not any(_rows(tables, t) for t in group)]
        rows.append({"part": part, "label": PART_LABELS[part], "available": not missing,
                     "needs": ", ".join(missing)})
    return pd.DataFrame(rows).set_index("part")


def parts_status(parts: pd.DataFrame) -> dict[str, str]:
    """``{part: "ran" | "skipped: needs ..."}`` for ``summary.json``."""
    return {part: ("ran" if row.available else f"skipped: needs {row.needs}")
            for part, row in parts.iterrows()}


@dataclass(frozen=True)
class Skipped:
    """Stands in for the result of a part the data cannot support, and says why.

    Displayed in the notebook (and report) as a one-line note; reporting functions
    given a ``Skipped`` return it unchanged, so a skipped part stays skipped down the
    notebook without a traceback or an empty plot.

    Examples
    --------
    >>> Skipped("call_plan", "doctors, visits")
    Call plan and SFE KPIs: not available - needs the doctors, visits table(s), missing or empty in this data; skipped.
    """

    part: str
    needs: str

    @property
    def note(self) -> str:
        label = PART_LABELS.get(self.part, self.part)
        return (f"{label}: not available - needs the {self.needs} table(s), missing or empty in this data; "
                "skipped.")

    def __repr__(self) -> str:
        return self.note

    def _repr_markdown_(self) -> str:
        return f"> **{self.note}**"


def skippable(func):
    """Decorator: return the first :class:`Skipped` positional argument instead of calling ``func``.

    Positional arguments are required inputs; keyword arguments are optional ones
    (e.g. the explorer's ``segments``) and are passed on, Skipped or not, for the
    function to treat as absent.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        for value in args:
            if isinstance(value, Skipped):
                return value
        return func(*args, **kwargs)
    return wrapper


def present(value):
    """``value``, or None when it is :class:`Skipped` (for optional inputs)."""
    return None if isinstance(value, Skipped) else value


def run_part(parts: pd.DataFrame, part: str, func, *args, **kwargs):
    """``func(*args, **kwargs)`` when the data supports ``part``, else a :class:`Skipped` note.

    ``parts`` is :func:`crmlab.features.segmentation.segmentation_parts`. A
    :class:`Skipped` positional argument (an upstream part that did not run) also skips.

    Examples
    --------
    >>> parts = segmentation_parts({"sales": pd.DataFrame({"units": [1.0]})})
    >>> run_part(parts, "call_plan", len, [1, 2])
    Call plan and SFE KPIs: not available - needs the doctors, reps, visits table(s), missing or empty in this data; skipped.
    >>> run_part(parts, "account_deciles", len, [1, 2])
    2
    """
    if part not in parts.index:
        raise ValueError(f"unknown segmentation part {part!r}; parts are {', '.join(parts.index)}")
    if not bool(parts.loc[part, "available"]):
        return Skipped(part, str(parts.loc[part, "needs"]))
    return skippable(func)(*args, **kwargs)
