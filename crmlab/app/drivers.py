"""The Drivers view: pick the nation, a region or a territory and see why its sales moved.

The bridge is :attr:`crmlab.analyses.drivers.DriversResult.bridge` or the published
``drivers.csv`` (``level, unit_id, product_id, driver, change, lower, upper``).
:func:`unit_bridge` is the pure function behind the choice; :class:`DriversView` only
gathers widget values, calls it and draws the table and the waterfall.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from crmlab.features.drivers import DRIVERS

ORDER = [*DRIVERS, "total"]
LEVELS = ("national", "region", "territory")


def unit_bridge(bridge: pd.DataFrame, level: str = "national", unit_id: str = "", product_id: str = ""
                ) -> pd.DataFrame:
    """One unit's drivers in display order: ``driver, change, lower, upper``.

    Examples
    --------
    >>> b = pd.DataFrame({"level": ["region"] * 2, "unit_id": ["N", "N"], "product_id": ["", ""],
    ...                   "driver": ["total", "visits"], "change": [-5.0, -5.0], "lower": [-5.0, -7.0],
    ...                   "upper": [-5.0, -3.0]})
    >>> unit_bridge(b, "region", "N")["driver"].tolist()
    ['visits', 'total']
    """
    product = bridge["product_id"].fillna("").astype(str)
    unit = bridge["unit_id"].fillna("").astype(str)
    rows = bridge[(bridge["level"] == level) & (unit == str(unit_id)) & (product == str(product_id))]
    rows = rows.assign(order=rows["driver"].map({d: k for k, d in enumerate(ORDER)})).sort_values("order")
    return rows[["driver", "change", "lower", "upper"]].reset_index(drop=True)


def units_of(bridge: pd.DataFrame, level: str) -> list[str]:
    """The units of a level, sorted (``[""]`` for the nation)."""
    if level == "national":
        return [""]
    return sorted(bridge.loc[bridge["level"] == level, "unit_id"].dropna().astype(str).unique())


def read_bridge(path: str | Path) -> pd.DataFrame:
    """A published ``drivers.csv`` (or its folder), IDs kept as text and the all-products rows as ``""``."""
    path = Path(path)
    if path.is_dir():
        path = path / "drivers.csv"
    frame = pd.read_csv(path, dtype={"unit_id": str, "product_id": str}, keep_default_na=False,
                        na_values={"change": [""], "lower": [""], "upper": [""]})
    return frame


def waterfall_svg(table: pd.DataFrame, title: str) -> str:
    """The unit's bridge as a waterfall, an inline SVG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from crmlab.reporting.drivers import plot_waterfall

    series = table.set_index("driver")["change"].reindex(ORDER).fillna(0.0)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    plot_waterfall(series, title, ax)
    fig.tight_layout()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    return buffer.getvalue()


class DriversView:
    """Level, unit and product pickers over the driver bridge, with its table and waterfall.

    Parameters
    ----------
    bridge : DataFrame
        The bridge (``drivers.csv``).
    caption : str
        The windows compared and what the total counts.
    """

    def __init__(self, bridge: pd.DataFrame, *, caption: str = ""):
        import ipywidgets as widgets

        self.bridge = bridge.assign(product_id=bridge["product_id"].fillna("").astype(str),
                                    unit_id=bridge["unit_id"].fillna("").astype(str))
        style = {"description_width": "80px"}
        products = sorted(p for p in self.bridge["product_id"].unique() if p)
        self.level = widgets.Dropdown(options=list(LEVELS), value="national", description="level", style=style)
        self.unit = widgets.Dropdown(options=units_of(self.bridge, "national"), value="", description="unit",
                                     style=style)
        self.product = widgets.Dropdown(options=[("all own products", ""), *[(p, p) for p in products]], value="",
                                        description="product", style=style)
        self.html = widgets.HTML()
        self.chart = widgets.HTML()
        self.level.observe(self._level_changed, names="value")
        for control in (self.unit, self.product):
            control.observe(self.update, names="value")
        self.shown = pd.DataFrame(columns=["driver", "change", "lower", "upper"])
        self.widget = widgets.VBox([widgets.HTML(f"<p class='crmlab-note'>{caption}</p>"),
                                    widgets.HBox([self.level, self.unit, self.product]), self.chart, self.html])
        self.update()

    @classmethod
    def from_result(cls, result) -> "DriversView":
        """The view of a :class:`~crmlab.analyses.drivers.DriversResult`."""
        from crmlab.reporting.drivers import data_period

        return cls(result.bridge, caption=f"{data_period(result)}; total = change in own-product "
                                          f"{result.outcome.replace('_', '-')}.")

    @classmethod
    def from_csv(cls, path: str | Path, *, caption: str = "") -> "DriversView":
        """The view of a published ``drivers.csv`` (or the run folder holding it)."""
        return cls(read_bridge(path), caption=caption or f"From {Path(path)}.")

    def _level_changed(self, change=None) -> None:
        options = units_of(self.bridge, self.level.value)
        self.unit.unobserve(self.update, names="value")
        self.unit.options = options  # the value moves to the first option
        if options:
            self.unit.value = options[0]
        self.unit.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> None:
        """Redraw the table and the waterfall of the chosen unit."""
        unit = self.unit.value if self.unit.value is not None else ""
        self.shown = unit_bridge(self.bridge, self.level.value, unit, self.product.value)
        name = "National" if self.level.value == "national" else f"{self.level.value.title()} {unit}"
        if not len(self.shown):
            self.html.value = f"<p>No bridge for {name}.</p>"
            self.chart.value = ""
            return
        text = self.shown.copy()
        for column in ("change", "lower", "upper"):
            text[column] = text[column].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        text["driver"] = text["driver"].str.replace("_", " ")
        self.html.value = (f"<h4>{name}: change in units by driver</h4>"
                           + text.to_html(index=False, border=0, classes="crmlab-table crmlab-drivers"))
        self.chart.value = waterfall_svg(self.shown, f"{name}: change in units by driver")
