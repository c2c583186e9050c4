"""The Call plan view: per territory, the doctors to see more and to see less, with a capacity slider.

The plan is :attr:`crmlab.analyses.callplan.CallplanResult.plan` (or the published
``plan.csv``). With ``plan_at`` (e.g. the result's
:meth:`~crmlab.analyses.callplan.CallplanResult.value_at`) the capacity slider replans
every territory at that capacity; without it (a published run) the slider is disabled and
the published plan is shown. :func:`territory_changes` is the pure function behind the
lists; :class:`CallplanView` only gathers widget values and calls it. IDs only, no names.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from crmlab.app.segments import ALL

SHOWN = ["doctor_id", "territory_id", "segment", "current_visits_per_month", "recommended_visits_per_month",
         "change", "expected_incremental_units"]
#: Smallest change (visits a month) listed.
MIN_CHANGE = 0.5


def territory_changes(plan: pd.DataFrame, territory: str = ALL, *, rows: int = 15,
                      min_change: float = MIN_CHANGE) -> dict[str, pd.DataFrame]:
    """The doctors of ``territory`` to ``see more`` and to ``see less``, largest changes first.

    Examples
    --------
    >>> plan = pd.DataFrame({"doctor_id": ["a", "b", "c"], "territory_id": ["T1", "T1", "T2"],
    ...     "current_visits_per_month": [4.0, 0.0, 1.0], "recommended_visits_per_month": [1.0, 2.0, 1.0]})
    >>> {k: v["doctor_id"].tolist() for k, v in territory_changes(plan, "T1").items()}
    {'see more': ['b'], 'see less': ['a']}
    """
    d = plan if territory in (None, ALL) else plan[plan["territory_id"].astype(str) == str(territory)]
    d = d.assign(change=d["recommended_visits_per_month"] - d["current_visits_per_month"])
    more = d[d["change"] >= min_change].sort_values("change", ascending=False, kind="stable")
    less = d[d["change"] <= -min_change].sort_values("change", kind="stable")
    keep = [c for c in SHOWN if c in d]
    return {"see more": more[keep].head(rows).reset_index(drop=True),
            "see less": less[keep].head(rows).reset_index(drop=True)}


def changes_html(name: str, table: pd.DataFrame) -> str:
    """One list as HTML (IDs only), visits a month to one decimal."""
    head = f"<h4>{name.capitalize()} — {len(table):,} doctors</h4>"
    if not len(table):
        return head + "<p>No change of half a visit a month or more.</p>"
    shown = table.copy()
    for column in ("current_visits_per_month", "recommended_visits_per_month", "change", "expected_incremental_units"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: f"{v:,.1f}")
    return head + shown.to_html(index=False, border=0, classes=f"crmlab-table crmlab-{name.replace(' ', '-')}")


class CallplanView:
    """Territory dropdown and capacity slider over the recommended changes.

    Parameters
    ----------
    plan : DataFrame
        ``plan.csv`` columns (doctor_id, territory_id, segment, current and recommended
        visits a month, expected incremental units).
    capacity : DataFrame or Series
        ``territory_id`` and ``capacity`` (visits a month), or a Series by territory.
    plan_at : callable, optional
        ``plan_at(capacity_factor) -> plan``; without it the slider is disabled.
    note : str
        Where the plan comes from.
    rows : int
        Doctors shown per list.
    """

    def __init__(self, plan: pd.DataFrame, capacity, *, plan_at: Callable[[float], pd.DataFrame] | None = None,
                 note: str = "", rows: int = 15):
        import ipywidgets as widgets

        self.published = plan
        self.plan = plan
        self.plan_at = plan_at
        self.rows = rows
        if isinstance(capacity, pd.Series):
            capacity = capacity.rename("capacity").rename_axis("territory_id").reset_index()
        self.capacity = capacity.set_index(capacity["territory_id"].astype(str))["capacity"]
        style = {"description_width": "150px"}
        territories = sorted(plan["territory_id"].astype(str).unique())
        self.territory = widgets.Dropdown(options=[ALL, *territories], value=ALL, description="territory",
                                          style=style)
        self.capacity_change = widgets.IntSlider(
            value=0, min=-50, max=50, step=10, description="capacity change %", continuous_update=False,
            disabled=plan_at is None, style=style, layout=widgets.Layout(width="420px"))
        self.status = widgets.HTML()
        self.html = {name: widgets.HTML() for name in ("see more", "see less")}
        self.territory.observe(self.update, names="value")
        self.capacity_change.observe(self._replan, names="value")
        disabled = "" if plan_at is not None else (" The capacity slider needs the analysis result (a live run); "
                                                   "the published plan is shown.")
        self.tables: dict[str, pd.DataFrame] = {}
        self.widget = widgets.VBox([widgets.HTML(f"<p class='crmlab-note'>{note}{disabled}</p>"),
                                    widgets.HBox([self.territory, self.capacity_change]), self.status,
                                    self.html["see more"], self.html["see less"]])
        self.update()

    @classmethod
    def from_result(cls, result, **kw) -> "CallplanView":
        """The view of a :class:`~crmlab.analyses.callplan.CallplanResult`, the slider replanning live."""
        kw.setdefault("note", f"Recommended visits a month for {result.product_id}, from the measured response; "
                              "capacity per territory as measured.")
        return cls(result.plan, result.territories[["territory_id", "capacity"]], plan_at=result.value_at, **kw)

    def _replan(self, change=None) -> None:
        if self.plan_at is not None:
            factor = 1 + self.capacity_change.value / 100
            self.plan = self.published if self.capacity_change.value == 0 else self.plan_at(factor)
        self.update()

    def update(self, change=None) -> None:
        """Redraw the lists for the chosen territory and capacity."""
        self.tables = territory_changes(self.plan, self.territory.value, rows=self.rows)
        chosen = self.plan if self.territory.value == ALL else \
            self.plan[self.plan["territory_id"].astype(str) == self.territory.value]
        cap = self.capacity if self.territory.value == ALL else self.capacity.loc[[self.territory.value]]
        factor = 1 + self.capacity_change.value / 100
        units = chosen["expected_incremental_units"].sum() if "expected_incremental_units" in chosen else float("nan")
        self.status.value = (f"<p>Capacity {cap.sum() * factor:,.0f} visits a month; recommended "
                             f"{chosen['recommended_visits_per_month'].sum():,.0f} (now "
                             f"{chosen['current_visits_per_month'].sum():,.0f}); expected {units:,.0f} incremental "
                             "units a month.</p>")
        for name, table in self.tables.items():
            self.html[name].value = changes_html(name, table)
