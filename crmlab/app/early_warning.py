"""The Early warning view: churn's two lists, filtered by region, territory and volume at stake.

The lists are :attr:`crmlab.analyses.churn.ChurnResult.early_warning` and ``.win_back``
(or the published ``early_warning.csv`` and ``win_back.csv``): ranked by risk × volume at
stake, reasons a rep can act on first. :func:`filter_alerts` is the pure function behind
the filters; :class:`EarlyWarningView` only gathers widget values and calls it.
"""

from __future__ import annotations

import pandas as pd

from crmlab.app.segments import ALL, reset_territories, territory_options

LISTS = {"early_warning": "Early warning: still prescribing or buying, at risk",
         "win_back": "Win-back: no volume for the last months"}
SHOWN = ["entity_id", "region", "territory_id", "risk", "p_alive", "volume_at_stake", "months_without_volume",
         "reasons"]


def filter_alerts(table: pd.DataFrame, *, region: str = ALL, territory: str = ALL,
                  min_volume: float = 0.0) -> pd.DataFrame:
    """The rows of an alert list in ``region`` and ``territory`` with at least ``min_volume`` at stake.

    The list's order (risk × volume at stake) is kept.

    Examples
    --------
    >>> t = pd.DataFrame({"entity_id": ["a", "b", "c"], "region": ["N", "S", "N"],
    ...     "territory_id": ["T1", "T2", "T3"], "volume_at_stake": [50.0, 40.0, 5.0]})
    >>> filter_alerts(t, region="N", min_volume=10)["entity_id"].tolist()
    ['a']
    """
    keep = table["volume_at_stake"] >= min_volume
    for column, choice in (("region", region), ("territory_id", territory)):
        if choice not in (None, ALL) and column in table:
            keep &= table[column].astype(str) == choice
    return table[keep].reset_index(drop=True)


def alert_html(name: str, table: pd.DataFrame, total: int) -> str:
    """One list as HTML: its title, how many rows of how many, and the table (IDs only)."""
    head = f"<h4>{LISTS[name]} — {len(table):,} of {total:,}</h4>"
    if not len(table):
        return head + "<p>None with these filters.</p>"
    shown = table[[c for c in SHOWN if c in table]].copy()
    if "p_alive" in shown and shown["p_alive"].isna().all():
        shown = shown.drop(columns="p_alive")  # not shown where the BG/NBD does not suit the data
    for column in ("risk", "p_alive"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    shown["volume_at_stake"] = shown["volume_at_stake"].map(lambda v: f"{v:,.1f}")
    return head + shown.to_html(index=False, na_rep="", border=0,
                                classes=f"crmlab-table crmlab-{name.replace('_', '-')}")


class EarlyWarningView:
    """Region, territory and minimum-volume filters over the two alert lists.

    Parameters
    ----------
    lists : dict of DataFrame
        ``early_warning`` and ``win_back`` (columns as published).
    caption : str
        Where the lists come from and which model gave the risk.
    """

    def __init__(self, lists: dict[str, pd.DataFrame], *, caption: str = ""):
        import ipywidgets as widgets

        self.lists = {name: lists.get(name, pd.DataFrame(columns=SHOWN)) for name in LISTS}
        places = pd.concat([t[["region", "territory_id"]] for t in self.lists.values() if len(t)]
                           or [pd.DataFrame(columns=["region", "territory_id"])])
        self._places = places
        style = {"description_width": "150px"}
        self.region = widgets.Dropdown(options=[ALL, *sorted(places["region"].dropna().astype(str).unique())],
                                       value=ALL, description="region", style=style)
        self.territory = widgets.Dropdown(options=territory_options(places), value=ALL, description="territory",
                                          style=style)
        top = max([float(t["volume_at_stake"].max()) for t in self.lists.values() if len(t)] or [0.0])
        self.min_volume = widgets.FloatSlider(value=0.0, min=0.0, max=max(top, 1.0), step=max(top, 1.0) / 100,
                                              description="min volume at stake", continuous_update=False,
                                              style=style, layout=widgets.Layout(width="420px"))
        self.html = {name: widgets.HTML() for name in LISTS}
        self.region.observe(self._region_changed, names="value")
        for control in (self.territory, self.min_volume):
            control.observe(self.update, names="value")
        self.shown: dict[str, pd.DataFrame] = {}
        self.widget = widgets.VBox([widgets.HTML(f"<p class='crmlab-note'>{caption}</p>"),
                                    widgets.HBox([self.region, self.territory, self.min_volume]),
                                    self.html["early_warning"], self.html["win_back"]])
        self.update()

    def _region_changed(self, change=None) -> None:
        reset_territories(self.territory, self._places, self.region.value)
        self.update()

    def update(self, change=None) -> None:
        """Refilter and redraw both lists."""
        for name, table in self.lists.items():
            self.shown[name] = filter_alerts(table, region=self.region.value, territory=self.territory.value,
                                             min_volume=self.min_volume.value)
            self.html[name].value = alert_html(name, self.shown[name], len(table))


def churn_caption(summary: dict, where: str) -> str:
    """Which model gave the risk, as of when, and where the numbers come from."""
    definition = summary.get("definition", {})
    model = summary.get("scored_with") or "unknown"
    horizon = definition.get("horizon_months", "?")
    p_alive = ("p_alive (BG/NBD) is shown where it suits the data and agrees with the risk."
               if summary.get("p_alive_shown") else
               "p_alive is not shown: the BG/NBD suits irregular purchases dated by day or week.")
    return (f"Risk of no volume in the {horizon} months after {definition.get('as_of', '?')}, from the "
            f"<b>{model}</b> model; lists ranked by risk × volume at stake. {p_alive} {where}")
