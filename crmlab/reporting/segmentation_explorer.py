"""The manager explorer: sliders for grading weights and thresholds, filters by place.

Its callbacks only gather widget values and call :func:`explorer_tables`, a pure
function over crmlab features and models, so the tables a manager sees are the ones a
test can recompute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlab.features.callplan import call_plan_compliance, sfe_kpis
from crmlab.features.common import completed_visits
from crmlab.features.segmentation import present, run_part, skippable
from crmlab.models.segmentation import DoctorGrader, control_params, grade_table, grading_params

if TYPE_CHECKING:
    from crmlab.analyses.segmentation import SegmentationResult

ALL = "All"


def explorer_tables(indicators: pd.DataFrame, visits: pd.DataFrame, reps: pd.DataFrame, *,
                    params: Mapping, quota: Mapping[str, float], segments: pd.Series | None = None,
                    region: str = ALL, territory: str = ALL, specialty: str = ALL,
                    month: pd.Timestamp | None = None) -> dict[str, pd.DataFrame]:
    """The explorer's three tables for one choice of grading parameters and filters.

    The grader is fitted on all doctors (percentiles do not move with the filters);
    the filters select the doctors shown and the doctors that count in the plan.

    Returns
    -------
    dict
        ``grades`` (doctors and share per grade), ``segments`` (segment × grade counts),
        ``compliance`` (per rep in ``month``, default the latest visit month: target
        doctors, planned, actual, compliance, reach, grade-A coverage).

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.indicators import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> t = explorer_tables(ind, w.tables["visits"], w.tables["reps"], params={}, quota={"A": 4, "B": 2})
    >>> sorted(t)
    ['compliance', 'grades', 'segments']
    """
    graded = DoctorGrader(**grading_params(params)).fit(indicators).transform(indicators)
    view = indicators[["doctor_id", "region", "territory_id", "specialty"]].assign(
        grade=graded["grade"].to_numpy(), score=graded["score"].to_numpy())
    keep = np.ones(len(view), dtype=bool)
    for column, choice in (("region", region), ("territory_id", territory), ("specialty", specialty)):
        if choice not in (None, ALL):
            keep &= (view[column] == choice).to_numpy()
    view = view[keep]
    if segments is None:
        view = view.assign(segment="all")
    else:
        view = view.assign(segment=view["doctor_id"].map(segments).fillna("none").to_numpy())
    segment_table = grade_table(view, by="segment").reset_index().rename(columns={"index": "segment"})

    columns = ["rep_id", "target_doctors", "planned", "actual", "compliance", "reach", "a_coverage"]
    if visits is None or reps is None or not len(reps) or not len(completed_visits(visits, [])):
        # no field-force data (e.g. doctor profiles without a CRM): grades only
        kpis = pd.DataFrame(columns=columns)
    else:
        visit_month = visits["date"].dt.to_period("M").dt.to_timestamp()
        month = visit_month.max() if month is None else pd.Timestamp(month)
        compliance = call_plan_compliance(visits[visit_month == month], reps, view, quota,
                                          months=pd.DatetimeIndex([month]))
        kpis = sfe_kpis(compliance, quota)
        kpis = kpis[columns].round(3) if len(kpis) else pd.DataFrame(columns=columns)
    return {"grades": grade_table(view), "segments": segment_table, "compliance": kpis.reset_index(drop=True)}


class SegmentationExplorer:
    """Sliders for grading weights and thresholds, dropdowns for region/territory/specialty.

    Moving a control recomputes :func:`explorer_tables` and rewrites the three HTML
    tables. ``tables`` holds the DataFrames currently shown; ``widget`` is the box to
    display.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.indicators import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> ex = SegmentationExplorer(ind, w.tables["visits"], w.tables["reps"], params={}, quota={"A": 4})
    >>> ex.thresholds["A"].value = 90.0
    >>> int(ex.tables["grades"].loc[0, "doctors"]) < 50
    True
    """

    def __init__(self, indicators: pd.DataFrame, visits: pd.DataFrame, reps: pd.DataFrame, *,
                 params: Mapping, quota: Mapping[str, float], segments: pd.Series | None = None):
        import ipywidgets as widgets

        self._data = dict(indicators=indicators, visits=visits, reps=reps)
        self._quota = dict(quota)
        # segments of a skipped clustering part: show one "all" segment
        self._segments = present(segments)
        self._params = dict(params)
        grading = grading_params(params)
        style = {"description_width": "90px"}
        self.weights = {k: widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.05, description=f"w {k}",
                                               continuous_update=False, style=style)
                        for k, v in grading["weights"].items()}
        self.thresholds = {g: widgets.FloatSlider(value=v, min=0.0, max=100.0, step=1.0, description=f"{g} from",
                                                  continuous_update=False, style=style)
                           for g, v in grading["thresholds"].items()}

        def options(column):
            return [ALL, *sorted(indicators[column].dropna().astype(str).unique())]

        self.region = widgets.Dropdown(options=options("region"), value=ALL, description="region", style=style)
        self.territory = widgets.Dropdown(options=options("territory_id"), value=ALL, description="territory",
                                          style=style)
        self.specialty = widgets.Dropdown(options=options("specialty"), value=ALL, description="specialty",
                                          style=style)
        self.html = {name: widgets.HTML() for name in ("grades", "segments", "compliance")}
        for control in [*self.weights.values(), *self.thresholds.values(), self.region, self.territory,
                        self.specialty]:
            control.observe(self.update, names="value")
        self.widget = widgets.VBox([
            widgets.HBox([widgets.VBox(list(self.weights.values())),
                          widgets.VBox([*self.thresholds.values()]),
                          widgets.VBox([self.region, self.territory, self.specialty])]),
            widgets.HBox([self.html["grades"], self.html["segments"]]),
            self.html["compliance"],
        ])
        self.tables: dict[str, pd.DataFrame] = {}
        self.update()

    def current_params(self) -> dict:
        """The flat grading parameters the controls currently say."""
        return control_params(self._params, self.weights, self.thresholds)

    def update(self, change=None) -> None:
        """Recompute and redraw the tables (the callback of every control)."""
        try:
            self.tables = explorer_tables(**self._data, params=self.current_params(), quota=self._quota,
                                          segments=self._segments, region=self.region.value,
                                          territory=self.territory.value, specialty=self.specialty.value)
        except ValueError as err:  # e.g. thresholds out of order while a slider moves
            self.html["grades"].value = f"<p><b>{err}</b></p>"
            return
        for name, table in self.tables.items():
            self.html[name].value = f"<h4>{name}</h4>" + table.to_html(index=False, na_rep="")
        if not len(self.tables["compliance"]):
            self.html["compliance"].value = "<h4>compliance</h4><p>No completed visits (or no reps) in the data.</p>"


def segmentation_explorer(result: SegmentationResult) -> SegmentationExplorer:
    """The manager explorer on a segmentation result (a Skipped note when there are no doctors)."""
    return run_part(result.parts, "explorer", SegmentationExplorer, result.indicators, result.visits,
                    result.reps, params=result.params.flat(), quota=result.quota, segments=result.segments)


def explorer_compliance(result: SegmentationResult, explorer: SegmentationExplorer) -> pd.DataFrame:
    """The explorer's compliance table, or the call plan's Skipped note when it did not run."""
    return run_part(result.parts, "call_plan", explorer_table, explorer, "compliance")


@skippable
def explorer_widget(explorer: "SegmentationExplorer"):
    """The explorer's widget box, to display."""
    return explorer.widget


@skippable
def explorer_table(explorer: "SegmentationExplorer", name: str) -> pd.DataFrame:
    """One of the explorer's current tables (``grades``, ``segments``, ``compliance``)."""
    return explorer.tables[name]
