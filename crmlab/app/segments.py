"""The Segments view: grading sliders, region → territory → specialty filters, live tables.

:func:`segment_tables` is the pure function behind the view: it regrades the doctors
with :class:`crmlab.models.segmentation.DoctorGrader` (the estimator the segmentation
analysis fitted) and recounts the call plan with
:func:`crmlab.reporting.segmentation_explorer.explorer_tables`, so the dashboard shows
what the analysis would publish with those parameters. On published runs (no data to
regrade) :func:`published_segment_tables` filters the published grades instead.
:class:`SegmentsView` only gathers widget values and calls one of them; its tests set
widget ``.value`` without a browser.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

ALL = "All"
GRADES = ["A", "B", "C", "D"]
PLACE_COLUMNS = ["doctor_id", "region", "territory_id", "specialty"]


def territory_options(places: pd.DataFrame, region: str = ALL) -> list[str]:
    """The territories to choose from: those of ``region`` (all when ``region`` is All).

    Examples
    --------
    >>> p = pd.DataFrame({"region": ["N", "N", "S"], "territory_id": ["T2", "T1", "T3"]})
    >>> territory_options(p, "N"), territory_options(p)
    (['All', 'T1', 'T2'], ['All', 'T1', 'T2', 'T3'])
    """
    rows = places if region in (None, ALL) else places[places["region"] == region]
    return [ALL, *sorted(rows["territory_id"].dropna().astype(str).unique())]


def reset_territories(territory, places: pd.DataFrame, region: str = ALL) -> None:
    """Narrow a territory dropdown to ``region``'s territories and set it to All."""
    with territory.hold_trait_notifications():
        territory.options = territory_options(places, region)
        territory.value = ALL


def specialty_options(places: pd.DataFrame, region: str = ALL, territory: str = ALL) -> list[str]:
    """The specialties present in the chosen region and territory."""
    return [ALL, *sorted(_filter(places, region, territory)["specialty"].dropna().astype(str).unique())]


def _filter(view: pd.DataFrame, region: str = ALL, territory: str = ALL, specialty: str = ALL) -> pd.DataFrame:
    keep = np.ones(len(view), dtype=bool)
    for column, choice in (("region", region), ("territory_id", territory), ("specialty", specialty)):
        if choice not in (None, ALL) and column in view:
            keep &= (view[column].astype(str) == choice).to_numpy()
    return view[keep]


def grade_views(view: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Grade counts, grades per region and, with a ``before`` column, the grade shift.

    ``view`` holds one row per doctor shown, with ``region``, ``grade`` and optionally
    ``before`` (the published grade).

    Examples
    --------
    >>> v = pd.DataFrame({"region": ["N", "N", "S"], "grade": ["A", "B", "B"], "before": ["A", "A", "B"]})
    >>> t = grade_views(v)
    >>> t["grade_counts"]["doctors"].tolist(), int(t["grade_shift"].loc["A", "B"])
    ([1, 2, 0, 0], 1)
    """
    counts = view["grade"].value_counts().reindex(GRADES, fill_value=0)
    counts = pd.DataFrame({"doctors": counts.astype(int),
                           "share": (counts / max(len(view), 1)).round(3)}).rename_axis("grade")
    by_region = pd.crosstab(view["region"].astype(str), view["grade"]).reindex(columns=GRADES, fill_value=0)
    by_region["total"] = by_region.sum(axis=1)
    by_region = by_region.rename_axis(index="region", columns=None)
    out = {"grade_counts": counts, "grades_by_region": by_region}
    if "before" in view:
        shift = pd.crosstab(view["before"], view["grade"]).reindex(index=GRADES, columns=GRADES, fill_value=0)
        out["grade_shift"] = shift.rename_axis(index="published grade", columns="grade with these settings")
    return out


def segment_tables(indicators: pd.DataFrame, visits: pd.DataFrame | None, reps: pd.DataFrame | None, *,
                   params: Mapping, quota: Mapping[str, float], baseline: pd.Series | None = None,
                   region: str = ALL, territory: str = ALL, specialty: str = ALL) -> dict[str, pd.DataFrame]:
    """The Segments view's tables for one choice of grading parameters and filters.

    The grader is fitted on every doctor (percentiles do not move with the filters);
    the filters choose the doctors shown and counted in the call plan.

    Parameters
    ----------
    indicators : DataFrame
        ``SegmentationResult.indicators``.
    visits, reps : DataFrame or None
        The visits and reps tables (``SegmentationResult.visits``, ``.reps``).
    params : mapping
        Flat segmentation parameters (``SegmentationParams.flat()`` with slider values).
    quota : mapping
        Monthly visits per doctor by grade.
    baseline : Series, optional
        The published grade per doctor_id, for the grade shift.

    Returns
    -------
    dict of DataFrame
        ``grade_counts``, ``grades_by_region``, ``grade_shift`` (with a baseline) and
        ``compliance`` (per rep in the latest visit month).

    Raises
    ------
    ValueError
        Thresholds out of order (the grader's own message).
    """
    from crmlab.models.segmentation import DoctorGrader, grading_params
    from crmlab.reporting.segmentation_explorer import explorer_tables

    graded = DoctorGrader(**grading_params(params)).fit(indicators).transform(indicators)
    view = indicators[PLACE_COLUMNS].assign(grade=graded["grade"].to_numpy())
    if baseline is not None:
        view["before"] = view["doctor_id"].map(baseline).to_numpy()
    tables = grade_views(_filter(view, region, territory, specialty))
    compliance = explorer_tables(indicators, visits, reps, params=params, quota=quota, region=region,
                                 territory=territory, specialty=specialty)["compliance"]
    tables["compliance"] = compliance
    return tables


def published_segment_tables(doctors: pd.DataFrame, rep_kpis: pd.DataFrame | None = None, *,
                             region: str = ALL, territory: str = ALL, specialty: str = ALL
                             ) -> dict[str, pd.DataFrame]:
    """The same tables from a published ``doctors.csv`` (grades as published, no regrading).

    Compliance per rep is the published ``rep_kpis.csv`` of the latest month, for every
    rep (the published tables do not say which rep covers which doctors).
    """
    tables = grade_views(_filter(doctors, region, territory, specialty))
    if rep_kpis is not None and len(rep_kpis):
        latest = rep_kpis[rep_kpis["month"] == rep_kpis["month"].max()]
        columns = [c for c in ["rep_id", "target_doctors", "planned", "actual", "compliance", "reach",
                               "a_coverage"] if c in latest]
        tables["compliance"] = latest[columns].round(3).reset_index(drop=True)
    else:
        tables["compliance"] = pd.DataFrame()
    return tables


TITLES = {"grade_counts": "Doctors per grade", "grades_by_region": "Grades per region",
          "grade_shift": "Grade shift: published grade (rows) against the grade with these settings (columns)",
          "compliance": "Call-plan compliance by rep, latest month"}


def html_table(name: str, table: pd.DataFrame, *, index: bool = True) -> str:
    """One table as HTML with its caption; compliance-like shares as percentages."""
    if not len(table):
        return f"<h4>{TITLES.get(name, name)}</h4><p>Not available for this data.</p>"
    shown = table.copy()
    for column in ("share", "compliance", "reach", "a_coverage"):
        if column in shown:
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    return (f"<h4>{TITLES.get(name, name)}</h4>"
            + shown.to_html(index=index, na_rep="", classes=f"crmlab-table crmlab-{name.replace('_', '-')}",
                            border=0))


def grade_counts_html(counts: pd.DataFrame) -> str:
    """The headline: doctors per grade, in one line (what the browser test reads)."""
    parts = " · ".join(f"<b>{grade}</b>: <span class='crmlab-count-{grade}'>{int(n):,}</span>"
                       for grade, n in counts["doctors"].items())
    return f"<div class='crmlab-grade-counts'>Doctors per grade — {parts}</div>"


class SegmentsView:
    """Sliders and filters over a ``compute(params, region, territory, specialty)`` function.

    Parameters
    ----------
    places : DataFrame
        doctor_id, region, territory_id, specialty (the filters' options).
    compute : callable
        Returns the tables (:func:`segment_tables` or :func:`published_segment_tables`
        bound to their data); called on every change.
    params : mapping
        The flat segmentation parameters the sliders start from.
    live : bool
        False: the grades are published ones, the sliders are shown but disabled.

    Attributes
    ----------
    tables : dict of DataFrame
        What the page shows now.
    widget : ipywidgets.VBox
    """

    def __init__(self, places: pd.DataFrame, compute: Callable[..., dict], *, params: Mapping,
                 live: bool = True, note: str = ""):
        import ipywidgets as widgets

        from crmlab.models.segmentation import grading_params

        self._places, self._compute, self._params = places, compute, dict(params)
        grading = grading_params(params)
        style = {"description_width": "130px"}
        layout = widgets.Layout(width="360px")
        self.weights = {k: widgets.FloatSlider(value=v, min=0.0, max=1.0, step=0.05, description=f"weight {k}",
                                               continuous_update=False, disabled=not live, style=style,
                                               layout=layout)
                        for k, v in grading["weights"].items()}
        self.thresholds = {g: widgets.FloatSlider(value=v, min=0.0, max=100.0, step=1.0,
                                                  description=f"grade {g} from", continuous_update=False,
                                                  disabled=not live, style=style, layout=layout)
                           for g, v in grading["thresholds"].items()}
        for name, slider in self.weights.items():
            slider.add_class(f"crmlab-weight-{name}")
        for grade, slider in self.thresholds.items():
            slider.add_class(f"crmlab-threshold-{grade}")
        self.region = widgets.Dropdown(options=[ALL, *sorted(places["region"].dropna().astype(str).unique())],
                                       value=ALL, description="region", style=style)
        self.territory = widgets.Dropdown(options=territory_options(places), value=ALL, description="territory",
                                          style=style)
        self.specialty = widgets.Dropdown(options=specialty_options(places), value=ALL,
                                          description="specialty", style=style)
        self.message = widgets.HTML()
        self.counts = widgets.HTML()
        self.html = {name: widgets.HTML() for name in TITLES}
        for control in [*self.weights.values(), *self.thresholds.values(), self.territory, self.specialty]:
            control.observe(self.update, names="value")
        self.region.observe(self._region_changed, names="value")
        note_html = widgets.HTML(f"<p class='crmlab-note'>{note}</p>" if note else "")
        self.widget = widgets.VBox([
            note_html,
            widgets.HBox([widgets.VBox([widgets.HTML("<b>Grading weights</b>"), *self.weights.values()]),
                          widgets.VBox([widgets.HTML("<b>Grade thresholds (score)</b>"),
                                        *self.thresholds.values()]),
                          widgets.VBox([widgets.HTML("<b>Filters</b>"), self.region, self.territory,
                                        self.specialty])]),
            self.message, self.counts,
            widgets.HBox([self.html["grades_by_region"], self.html["grade_shift"]]),
            self.html["compliance"],
        ])
        self.tables: dict[str, pd.DataFrame] = {}
        self.update()

    def current_params(self) -> dict:
        """The flat grading parameters the sliders say now."""
        from crmlab.models.segmentation import control_params

        return control_params(self._params, self.weights, self.thresholds)

    def _region_changed(self, change=None) -> None:
        # picking a region narrows the territories (and specialties) to those in it
        reset_territories(self.territory, self._places, self.region.value)
        self.update()

    def update(self, change=None) -> None:
        """Recompute and redraw (the callback of every control)."""
        options = specialty_options(self._places, self.region.value, self.territory.value)
        if list(self.specialty.options) != options:
            keep = self.specialty.value if self.specialty.value in options else ALL
            self.specialty.unobserve(self.update, names="value")
            self.specialty.options, self.specialty.value = options, keep
            self.specialty.observe(self.update, names="value")
        try:
            self.tables = self._compute(params=self.current_params(), region=self.region.value,
                                        territory=self.territory.value, specialty=self.specialty.value)
        except ValueError as err:  # e.g. thresholds out of order while a slider moves
            self.message.value = f"<p class='crmlab-error'><b>{err}</b></p>"
            return
        self.message.value = ""
        self.counts.value = grade_counts_html(self.tables["grade_counts"])
        for name in ("grades_by_region", "grade_shift"):
            table = self.tables.get(name)
            self.html[name].value = ("" if table is None else html_table(name, table))
        self.html["compliance"].value = html_table("compliance", self.tables["compliance"], index=False)
