"""The dashboard: a progress line, then tabs for each view (what ``dashboard.ipynb`` shows).

Segments is built at start (on data: one :func:`crmlab.analyses.segmentation.run`); every
other view (Early warning, Call plan, ...) is read or computed when its tab is first opened,
so the page opens without waiting for the churn model or the call plan. Every computation shows a progress bar and
says what it is doing. No view shows a name: tables carry IDs only.
"""

from __future__ import annotations

import contextlib
import time

import pandas as pd

from crmlab.app.callplan import CallplanView
from crmlab.app.drivers import DriversView
from crmlab.app.early_warning import EarlyWarningView, churn_caption
from crmlab.app.segments import PLACE_COLUMNS, SegmentsView, published_segment_tables, segment_tables
from crmlab.app.sources import Source, read_published

#: Tab title -> view key; each view is built by ``Dashboard._<key>_view`` when its tab first opens.
TABS = {"Segments": "segments", "Early warning": "early_warning", "Call plan": "callplan",
        "Why sales moved": "drivers"}

STYLE = """<style>
.crmlab-table { border-collapse: collapse; font-size: 13px; margin: 4px 16px 12px 0; }
.crmlab-table th, .crmlab-table td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
.crmlab-table td:last-child { text-align: left; }
.crmlab-grade-counts { font-size: 16px; margin: 8px 0; }
.crmlab-note { color: #555; font-size: 13px; }
.crmlab-error { color: #b00020; }
</style>"""


class Dashboard:
    """The managers' dashboard over one :class:`~crmlab.app.sources.Source`.

    ``widget`` is shown at once (title, progress); :meth:`start` builds the Segments
    view; opening another tab builds that tab's view. ``views`` holds the built views,
    for tests.
    """

    def __init__(self, source: Source):
        import ipywidgets as widgets

        self.source = source
        self.progress = widgets.IntProgress(value=0, min=0, max=3, description="", bar_style="info",
                                            layout=widgets.Layout(width="300px"))
        self.status = widgets.HTML()
        self.status.add_class("crmlab-status")
        self.tabs = widgets.Tab(children=[widgets.VBox() for _ in TABS])
        for i, name in enumerate(TABS):
            self.tabs.set_title(i, name)
        self.tabs.observe(self._tab_opened, names="selected_index")
        self.views: dict = {}
        self.widget = widgets.VBox([
            widgets.HTML(STYLE + "<h2>crmlab — managers' dashboard</h2>"
                         f"<p class='crmlab-note'>{source.note}</p>"),
            widgets.HBox([self.progress, self.status]), self.tabs])
        self._segmentation = None

    @classmethod
    def from_environment(cls) -> "Dashboard":
        """The dashboard ``crmlab app`` asked for (see :meth:`Source.from_environment`)."""
        return cls(Source.from_environment())

    @contextlib.contextmanager
    def busy(self, message: str, steps: int = 1):
        """Show ``message`` and a moving bar while the block runs; then how long it took."""
        self.progress.max, self.progress.value = steps + 1, 1
        self.progress.bar_style, self.progress.layout.visibility = "info", "visible"
        self.status.value = f"⏳ {message} …"
        start = time.perf_counter()
        try:
            yield self.progress
        except Exception as err:  # shown on the page, not as a traceback
            self.progress.bar_style = "danger"
            self.status.value = f"<span class='crmlab-error'>{message} failed: {err}</span>"
            raise
        self.progress.value = self.progress.max
        self.progress.bar_style = "success"
        self.status.value = f"{message}: done in {time.perf_counter() - start:.0f} s."

    def start(self) -> "Dashboard":
        """Build the Segments view (the first tab)."""
        self._open(0)
        return self

    def _tab_opened(self, change) -> None:
        self._open(change["new"])

    def _open(self, index) -> None:
        """Build the view of tab ``index`` once, and show it in its tab."""
        key = list(TABS.values())[index] if index is not None else None
        if key is None or key in self.views:
            return
        try:
            self.views[key] = getattr(self, f"_{key}_view")()
        except Exception:  # noqa: BLE001 - the message is on the page
            return
        children = list(self.tabs.children)
        children[index] = self.views[key].widget
        self.tabs.children = tuple(children)

    # ----------------------------------------------------------------- Segments
    def _segments_view(self) -> SegmentsView:
        from crmlab.analyses import segmentation

        if self.source.kind == "reports":
            with self.busy(f"Reading the published segmentation in {self.source.path}"):
                published = read_published(self.source.path, "segmentation", ["doctors", "rep_kpis"])
                doctors = published.tables.get("doctors", pd.DataFrame(columns=[*PLACE_COLUMNS, "grade"]))
                rep_kpis = published.tables.get("rep_kpis")

                def compute(params, **filters):
                    return published_segment_tables(doctors, rep_kpis, **filters)

                note = (f"Grades as published ({published.caption}). Sliders are off: regrading needs the data "
                        "(crmlab app --data DIR)." if published.tables else
                        f"No published segmentation in {self.source.path}: run `crmlab run segmentation`.")
                return SegmentsView(doctors[PLACE_COLUMNS], compute, params=segmentation.SegmentationParams.defaults(),
                                    live=False, note=note)
        with self.busy(f"Computing the segmentation on {self.source.path.name}", steps=2):
            result = segmentation.run(self.source.path)
            self._segmentation = result
            if not result.ran("doctor_grading"):
                raise ValueError("this data has no doctors to grade")
            indicators = result.indicators
            baseline = pd.Series(result.graded["grade"].to_numpy(), index=indicators["doctor_id"].to_numpy())
            params = result.params.flat()

            def compute(params, **filters):
                return segment_tables(indicators, result.visits, result.reps, params=params, quota=result.quota,
                                      baseline=baseline, **filters)

            return SegmentsView(indicators[PLACE_COLUMNS], compute, params=params, live=True,
                                note="Move a slider to regrade every doctor; the grade shift compares with the "
                                     "grading published with the default parameters.")

    # ------------------------------------------------------------ Early warning
    def _early_warning_view(self) -> EarlyWarningView:
        if self.source.kind == "reports":
            with self.busy(f"Reading the published churn lists in {self.source.path}"):
                published = read_published(self.source.path, "churn", ["early_warning", "win_back"])
                if published.missing:
                    caption = (f"The churn run in {self.source.path} has no {' or '.join(published.missing)} "
                               "list (published before the lists were split, or not run): run `crmlab run churn`.")
                else:
                    caption = churn_caption(published.summary, f"Precomputed: {published.caption}.")
                return EarlyWarningView(published.tables, caption=caption)
        from crmlab.analyses import churn

        with self.busy(f"Computing the churn early warning on {self.source.path.name} (about a minute on the "
                       "sample)"):
            result = churn.run(self.source.path)
            lists = {"early_warning": result.early_warning, "win_back": result.win_back}
            return EarlyWarningView(lists, caption=churn_caption(result.summary(), self.source.note))

    # ---------------------------------------------------------------- Call plan
    def _callplan_view(self) -> CallplanView:
        if self.source.kind == "reports":
            with self.busy(f"Reading the published call plan in {self.source.path}"):
                published = read_published(self.source.path, "callplan", ["plan", "territories"])
                if published.missing:
                    raise ValueError(f"no published call plan in {self.source.path}: run `crmlab run callplan`")
                return CallplanView(published.tables["plan"], published.tables["territories"][["territory_id", "capacity"]],
                                    note=f"Precomputed: {published.caption}.")
        from crmlab.analyses import callplan

        with self.busy(f"Computing the call plan on {self.source.path.name} (under a minute on the sample)"):
            return CallplanView.from_result(callplan.run(self.source.path))

    # ---------------------------------------------------------- Why sales moved
    def _drivers_view(self) -> DriversView:
        if self.source.kind == "reports":
            with self.busy(f"Reading the published sales bridge in {self.source.path}"):
                path = self.source.path / "drivers" / "drivers.csv"
                if not path.exists():
                    raise ValueError(f"no published sales bridge in {self.source.path}: run `crmlab run drivers`")
                return DriversView.from_csv(path, caption=f"Precomputed: {read_published(self.source.path, 'drivers', []).caption}.")
        from crmlab.analyses import drivers

        with self.busy(f"Computing why sales moved on {self.source.path.name} (under a minute on the sample)"):
            return DriversView.from_result(drivers.run(self.source.path))
