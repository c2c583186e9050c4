"""The house style: one font, one palette and the colour maps of every report and plot.

The same values feed matplotlib and seaborn (:func:`apply_style`, called by
:func:`crmlab.reporting.setup_display`), Vega-Lite charts (:func:`vega_config`) and the
report's CSS (``template/crmlab/crmlab.css`` uses the same hex codes).
"""

from __future__ import annotations

#: Fonts, first found wins; DejaVu Sans ships with matplotlib, so plots look the same everywhere.
FONT = "DejaVu Sans"
FONT_STACK = ["DejaVu Sans", "Helvetica Neue", "Arial", "sans-serif"]

#: Categorical colours (Okabe–Ito, readable with colour-blindness), in the order series take them.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#4D4D4D"]
#: Text, grid and muted marks.
INK, GRID, MUTED = "#222222", "#E3E6EA", "#8A8F98"
#: Colour maps: counts and shares (light to dark), signed values (centred), good/bad (compliance).
SEQUENTIAL = "Blues"
DIVERGING = "RdBu_r"
GOOD_BAD = "RdYlGn"


def apply_style() -> None:
    """Set the house style on matplotlib and seaborn (font, palette, grid, title sizes).

    Examples
    --------
    >>> apply_style()
    >>> import matplotlib as mpl
    >>> mpl.rcParams["axes.prop_cycle"].by_key()["color"][0].upper()
    '#0072B2'
    """
    import matplotlib as mpl
    import seaborn as sns
    from cycler import cycler

    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE, font=FONT)
    mpl.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": FONT_STACK,
        "axes.prop_cycle": cycler(color=PALETTE),
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.labelsize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "grid.color": GRID,
        "xtick.color": INK,
        "ytick.color": INK,
        "xtick.labelsize": 9,
        "ytick.labelsize": 9,
        "legend.fontsize": 9,
        "legend.frameon": False,
        "image.cmap": SEQUENTIAL,
        "text.color": INK,
    })


def vega_config() -> dict:
    """A Vega-Lite ``config`` block with the house font and palette (for Altair or Splink charts).

    Examples
    --------
    >>> vega_config()["font"]
    'DejaVu Sans'
    """
    return {"font": FONT, "range": {"category": PALETTE},
            "axis": {"labelColor": INK, "titleColor": INK, "gridColor": GRID},
            "title": {"anchor": "start", "color": INK}}
