"""One display setup for every notebook, so that outputs are the same on every run.

Also the pieces every report shares (:mod:`crmlab.reporting.tables` for tables and
:mod:`crmlab.reporting.findings` for the key findings): the display setup here puts the
house style (:mod:`crmlab.reporting.style`) on every plot.
"""

from __future__ import annotations

import pandas as pd

from crmlab.reporting.style import apply_style

FIGURE_DPI = 100


def _four_significant_digits(value: float) -> str:
    return f"{value:.4g}"


def setup_display() -> None:
    """Fix pandas, matplotlib and seaborn display settings for deterministic outputs.

    Call it first in every notebook. It sets pandas to 30 columns, 120 characters and
    floats with 4 significant digits, the house style (font, palette), and matplotlib figures at a
    fixed size and 100 dpi with a fixed SVG hash salt. It selects no backend: the
    notebook's ``%matplotlib inline`` does that, and everything here also works under
    Agg (papermill, nbval, CI).

    Examples
    --------
    >>> from crmlab.reporting import setup_display
    >>> setup_display()
    """
    import matplotlib as mpl

    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 120)
    pd.set_option("display.float_format", _four_significant_digits)

    # the house style resets the rcParams seaborn owns, so the fixed values come after it.
    apply_style()
    mpl.rcParams.update({
        "figure.dpi": FIGURE_DPI,
        "savefig.dpi": FIGURE_DPI,
        "figure.figsize": (8.0, 4.5),
        "svg.hashsalt": "crmlab",
    })


def rejects_note(rejects: dict) -> str:
    """One sentence on the rows the data contract set aside (see ``rejects_summary``).

    Examples
    --------
    >>> rejects_note({"rows": 0, "by_table": {}, "by_check": {}})
    'No rows were rejected by the data contract.'
    >>> rejects_note({"rows": 3, "by_table": {"sales": 3}, "by_check": {"sales: number_format": 3}})
    '3 rows were set aside by the data contract and left out of this analysis: sales: number_format 3.'
    """
    if not rejects.get("rows"):
        return "No rows were rejected by the data contract."
    rows = rejects["rows"]
    checks = "; ".join(f"{name} {count:,}" for name, count in rejects["by_check"].items())
    verb = "row was" if rows == 1 else "rows were"
    return (f"{rows:,} {verb} set aside by the data contract and left out of this analysis: "
            f"{checks}.")
