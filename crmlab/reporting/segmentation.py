"""Segmentation report pieces: output tables, plots and the manager explorer (ipywidgets).

The explorer's callbacks only gather widget values and call
:func:`explorer_tables`, a pure function over crmlab features and models, so the
tables a manager sees are the ones a test can recompute.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlab.features.segmentation import GRADES, call_plan_compliance, sfe_kpis
from crmlab.models.segmentation import DoctorGrader, grading_params

ALL = "All"


# ---------------------------------------------------------------------------- tables
def grade_table(graded: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Doctors per grade (A–D, all present), with shares; per ``by`` column if given.

    Examples
    --------
    >>> grade_table(pd.DataFrame({"grade": ["A", "B", "B"]}))["doctors"].tolist()
    [1, 2, 0, 0]
    """
    if by is None:
        counts = graded["grade"].value_counts().reindex(list(GRADES), fill_value=0)
        out = pd.DataFrame({"grade": list(GRADES), "doctors": counts.to_numpy().astype(int)})
        out["share"] = (out["doctors"] / max(int(out["doctors"].sum()), 1)).round(3)
        return out
    table = pd.crosstab(graded[by], graded["grade"]).reindex(columns=list(GRADES), fill_value=0)
    table.columns.name = None
    return table


def grade_shift(indicators: pd.DataFrame, params: Mapping, changes: Mapping) -> pd.DataFrame:
    """Doctors by grade under ``params`` (rows) and under ``params`` updated by ``changes`` (columns).

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.segmentation import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> int(grade_shift(ind, {}, {"weight_tier": 0.6}).to_numpy().sum())
    300
    """
    before = DoctorGrader(**grading_params(params)).fit(indicators).predict(indicators)
    after = DoctorGrader(**grading_params({**params, **changes})).fit(indicators).predict(indicators)
    table = pd.crosstab(pd.Series(before, name="grade_before"), pd.Series(after, name="grade_after"))
    return table.reindex(index=list(GRADES), columns=list(GRADES), fill_value=0)


def doctor_output(indicators: pd.DataFrame, graded: pd.DataFrame, **columns) -> pd.DataFrame:
    """The ``doctors.csv`` table: IDs, place, grading, plus ``columns`` (Series by doctor_id).

    Only IDs and analysis results are kept: no name or other personal field.

    Examples
    --------
    >>> ind = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"], "region": ["N"], "territory_id": ["T1"],
    ...     "specialty": ["cardiology"], "tier": ["3A"], "title": ["chief"], "name": ["X"]})
    >>> list(doctor_output(ind, pd.DataFrame({"score": [80.0], "grade": ["A"]}), decile=pd.Series({"D1": 3})))
    ['doctor_id', 'score', 'grade', 'decile', 'account_id', 'region', 'territory_id', 'specialty', 'tier', 'title']
    """
    out = pd.DataFrame({"doctor_id": indicators["doctor_id"].to_numpy(),
                        "score": graded["score"].to_numpy().round(2), "grade": graded["grade"].to_numpy()})
    for name, values in columns.items():
        out[name] = out["doctor_id"].map(values).to_numpy()
    for column in ("account_id", "region", "territory_id", "specialty", "tier", "title"):
        out[column] = indicators[column].to_numpy()
    return out


# ---------------------------------------------------------------------------- explorer
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
    >>> from crmlab.features.segmentation import doctor_indicators
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

    visit_month = visits["date"].dt.to_period("M").dt.to_timestamp()
    month = visit_month.max() if month is None else pd.Timestamp(month)
    compliance = call_plan_compliance(visits[visit_month == month], reps, view, quota,
                                      months=pd.DatetimeIndex([month]))
    kpis = sfe_kpis(compliance, quota)
    columns = ["rep_id", "target_doctors", "planned", "actual", "compliance", "reach", "a_coverage"]
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
    >>> from crmlab.features.segmentation import doctor_indicators
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
        self._segments = segments
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
        params = dict(self._params)
        params.update({f"weight_{k}": s.value for k, s in self.weights.items()})
        params.update({f"grade_{g.lower()}_min": s.value for g, s in self.thresholds.items()})
        return params

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


# ---------------------------------------------------------------------------- plots
def plot_grade_distribution(graded: pd.DataFrame, *, by: str = "region", ax=None):
    """Stacked bars: share of doctors in each grade per ``by``."""
    import matplotlib.pyplot as plt

    table = grade_table(graded, by=by)
    share = table.div(table.sum(axis=1), axis=0)
    ax = ax or plt.subplots()[1]
    share.plot.bar(stacked=True, ax=ax, colormap="viridis", width=0.8)
    ax.set_ylabel("share of doctors")
    ax.set_xlabel(by)
    ax.set_title(f"Grade distribution by {by}")
    ax.legend(title="grade", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


def plot_potential_adoption(accounts: pd.DataFrame, *, ax=None):
    """Scatter of account potential (log scale) × adoption, with the quadrant cut lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots()[1]
    shown = accounts[(accounts["potential"] > 0) & accounts["adoption"].notna()]
    for quadrant, group in shown.groupby("quadrant"):
        ax.scatter(group["potential"], group["adoption"], label=quadrant, s=18, alpha=0.8)
    ax.set_xscale("log")
    ax.axvline(accounts["potential_cut"].iloc[0], color="grey", lw=1, ls="--")
    ax.axhline(accounts["adoption_cut"].iloc[0], color="grey", lw=1, ls="--")
    ax.set_xlabel("potential (monthly category volume, log scale)")
    ax.set_ylabel("adoption (own volume / potential)")
    ax.set_title("Accounts: potential × adoption")
    ax.legend(title="quadrant", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


def plot_cluster_selection(selection: pd.DataFrame, *, axes=None):
    """Silhouette (higher is better) and BIC (lower is better) by number of clusters."""
    import matplotlib.pyplot as plt

    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(9, 3.5))[1]
    axes[0].plot(selection["k"], selection["silhouette"], marker="o")
    axes[0].set(xlabel="clusters k", ylabel="silhouette", title="Silhouette (higher is better)")
    axes[1].plot(selection["k"], selection["bic"], marker="o", color="C1")
    axes[1].set(xlabel="clusters k", ylabel="BIC", title="Gaussian mixture BIC (lower is better)")
    return axes


def plot_cluster_profiles(profiles: pd.DataFrame, *, ax=None):
    """Heat map of the clusters' feature means, standardised across clusters."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    features = profiles.drop(columns=["cluster", "name", "doctors"])
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    z.index = [f"{c}: {n} ({d})" for c, n, d in zip(profiles["cluster"], profiles["name"], profiles["doctors"])]
    ax = ax or plt.subplots()[1]
    sns.heatmap(z, annot=features.round(2).to_numpy(), fmt="", cmap="RdBu_r", center=0, ax=ax, cbar=False)
    ax.set_title("Cluster profiles (colour: standardised mean; number: mean)")
    return ax


def plot_compliance_heatmap(kpis: pd.DataFrame, *, by: str = "rep_id", max_rows: int = 40, ax=None):
    """Heat map of compliance, ``by`` (rep) × month; at most ``max_rows`` rows, lowest mean first.

    A national field force has thousands of reps: the map shows those with the lowest
    mean compliance, where a manager looks first.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    table = kpis.pivot_table(index=by, columns=kpis["month"].dt.strftime("%Y-%m"), values="compliance")
    if len(table) > max_rows:
        table = table.loc[table.mean(axis=1).sort_values(kind="stable").index[:max_rows]]
    ax = ax or plt.subplots(figsize=(10, max(3.0, 0.25 * len(table))))[1]
    sns.heatmap(table, cmap="RdYlGn", vmin=0, vmax=1.5, center=1.0, ax=ax,
                cbar_kws={"label": "compliance (actual / planned)"})
    ax.set_xlabel("month")
    ax.set_title("Call plan compliance")
    return ax
