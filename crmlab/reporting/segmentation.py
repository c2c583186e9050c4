"""Segmentation report pieces: key findings, tables and plots.

Every function takes parts of a :class:`~crmlab.analyses.segmentation.SegmentationResult`
and returns sentences, a table or a plot; given a
:class:`~crmlab.features.segmentation.Skipped` part it returns the note unchanged, so a
skipped part shows as one line. The manager explorer is in
:mod:`crmlab.reporting.segmentation_explorer`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlab.features.deciles import decile_migration
from crmlab.features.segmentation import present, skippable
from crmlab.models import segmentation as grading
from crmlab.models.clusters import BehaviourClusters
from crmlab.models.segmentation import GRADES, DoctorGrader, grading_params
from crmlab.reporting import checks, style
from crmlab.reporting.tables import Table, fmt_interval, heatmap, table

if TYPE_CHECKING:
    from crmlab.analyses.segmentation import SegmentationResult

#: Clustering figures recorded on ``data/sample`` with the default parameters. k-means,
#: silhouette and the bootstrap depend on floating-point summation order (BLAS kernel,
#: threads), so the notebook does not compare their printed digits; it checks them here
#: within a stated tolerance (``"se"``: the figure's own standard error).
RECORDED_ON_SAMPLE = {
    "clusters chosen": (7, 0),
    "silhouette of the chosen k": (0.235, 0.005),
    "stability (bootstrap adjusted Rand index)": (0.56, "se"),
}


def data_period(result: SegmentationResult) -> str | None:
    """The months the volumes and the latest call plan cover, e.g. "12 months to 2025-12"."""
    latest = result.summary()["latest_month"]
    if latest is None and isinstance(present(result.compliance), pd.DataFrame):
        latest = result.compliance["month"].max()
    if latest is None:
        return None
    return f"{result.params.volume_months} months to {pd.Timestamp(latest).strftime('%Y-%m')}"


def _top_decile_slip(result: SegmentationResult) -> str | None:
    """Doctors in the top two deciles the period before who fell below them."""
    before, after = present(result.deciles_before), present(result.deciles)
    if before is None or after is None or "decile" not in before:
        return None
    top = before.index[before["decile"] >= 9]
    if not len(top):
        return None
    slipped = int((after["decile"].reindex(top).fillna(0) < 9).sum())
    return (f"{slipped} of the {len(top)} doctors in the top two prescription deciles the period before "
            f"fell below them: ask their reps why before the next plan.")


def key_findings(result: SegmentationResult) -> list[str]:
    """The findings in words, one sentence per part that ran, from :meth:`SegmentationResult.summary`.

    Only figures that do not move with the numerical library are quoted (counts, the
    chosen number of clusters, compliance as a whole percentage); skipped parts are
    named with the table they need. Three to six sentences, each with what to do.
    """
    summary = result.summary()
    findings = []
    if summary["grade_counts"] is not None:
        counts = ", ".join(f"{n:,} {g}" for g, n in summary["grade_counts"].items())
        basis = "prescription volume included" if summary["volume_used_in_grading"] else \
            "tier, title and department size only: no prescriptions"
        findings.append(f"{summary['doctors']:,} doctors graded ({basis}): {counts}.")
    if summary["quadrant_counts"] is not None:
        counts = summary["quadrant_counts"]
        findings.append(f"{sum(counts.values()):,} accounts by potential × adoption: "
                        + ", ".join(f"{n:,} {q}" for q, n in counts.items())
                        + f"; the {counts.get('Win', 0):,} Win accounts have high potential and low adoption: "
                          "extra visits go there first.")
    slip = _top_decile_slip(result)
    if slip:
        findings.append(slip)
    if summary["clusters"] is not None:
        findings.append(f"Doctors fall into {summary['clusters']} behavioural segments (k chosen by silhouette).")
    if summary["latest_month_compliance"] is not None:
        month = pd.Timestamp(summary["latest_month"]).strftime("%B %Y")
        reps, unseen = summary["reps_below_alert"], summary["grade_a_unseen"]
        findings.append(f"Call plan compliance in {month} was {summary['latest_month_compliance']:.0%}; "
                        f"{reps} rep{'s' * (reps != 1)} below {result.params.compliance_alert:.0%}; "
                        f"{unseen} grade-A doctor{'s' * (unseen != 1)} not seen for "
                        f"{result.params.unseen_weeks} weeks (listed under Alerts).")
    skipped = [f"{result.parts.loc[part, 'label']} (needs {needs.removeprefix('skipped: needs ')})"
               for part, needs in summary["parts"].items() if needs != "ran"]
    if skipped:
        findings.append("Not possible with these data: " + "; ".join(skipped) + ".")
    elif len(findings) < 3:
        findings.append("Every part of the segmentation ran on these data.")
    return findings


def product_label(column: str, names: Mapping) -> str:
    """A decile column as people read it: ``decile_P01`` -> ``Cardiva (P01)``, ``decile`` -> ``all own products``.

    Examples
    --------
    >>> product_label("decile_P01", {"P01": "Cardiva"}), product_label("decile", {}), product_label("decile_C01", {})
    ('Cardiva (P01)', 'all own products', 'C01')
    """
    if column == "decile":
        return "all own products"
    product = column.removeprefix("decile_")
    return f"{names[product]} ({product})" if product in names else product


def parts_table(parts: pd.DataFrame) -> pd.DataFrame:
    """What runs on this data: one row per part, ``runs`` yes/no and what a skipped part needs."""
    return pd.DataFrame({"part": parts["label"].to_numpy(),
                         "runs": np.where(parts["available"], "yes", "no"),
                         "needs": parts["needs"].to_numpy()})


@skippable
def view(table: pd.DataFrame, decimals: int = 3, rows: int | None = None) -> pd.DataFrame:
    """A table rounded to ``decimals`` and cut to its first ``rows`` rows, for display."""
    table = table.round(decimals)
    return table if rows is None else table.head(rows)


@skippable
def value_check_table(value_check: pd.DataFrame) -> Table:
    """The rank correlation of the value estimate with observed prescription volume, as a table."""
    names = {"volume": "observed volume", "value_estimate": "value estimate"}
    frame = value_check.rename(index=names, columns=names).rename_axis("")
    return table(frame, "Rank correlation (Spearman) of the value estimate with the doctors' observed "
                 "prescription volume (1 = same order).", decimals=dict.fromkeys(frame.columns, 2))


@skippable
def grading_weights(grader: DoctorGrader) -> Table:
    """The weights the grader used (volume is 0 when there are no prescriptions), as a table."""
    weights = pd.Series(grader.weights_, name="weight").rename_axis("indicator")
    return table(weights, "Weight of each grading indicator in the doctor's score (they add up to 100%).",
                 percent=["weight"])


@skippable
def grade_table(graded: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """:func:`crmlab.models.segmentation.grade_table`: doctors per grade, with shares; per ``by``.

    Examples
    --------
    >>> grade_table(pd.DataFrame({"grade": ["A", "B", "B"]}))["doctors"].tolist()
    [1, 2, 0, 0]
    """
    return grading.grade_table(graded, by=by)


@skippable
def grades(graded: pd.DataFrame) -> Table:
    """Doctors per grade with their share, as a table."""
    return table(grade_table(graded), "Doctors per grade.", percent=["share"], decimals={"share": 1})


@skippable
def grade_shift(indicators: pd.DataFrame, params, changes: Mapping) -> pd.DataFrame:
    """Doctors by grade under ``params`` (rows) and under ``params`` updated by ``changes`` (columns).

    ``params`` is a mapping of the flat grading parameters or a ``SegmentationParams``.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.indicators import doctor_indicators
    >>> w = simulate("sample", seed=1)
    >>> ind = doctor_indicators(w.tables["doctors"], w.tables["accounts"])
    >>> int(grade_shift(ind, {}, {"weight_tier": 0.6}).to_numpy().sum())
    300
    """
    params = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else dict(params)
    before = DoctorGrader(**grading_params(params)).fit(indicators).predict(indicators)
    after = DoctorGrader(**grading_params({**params, **changes})).fit(indicators).predict(indicators)
    table = pd.crosstab(pd.Series(before, name="grade_before"), pd.Series(after, name="grade_after"))
    return table.reindex(index=list(GRADES), columns=list(GRADES), fill_value=0)


@skippable
def decile_counts(deciles: pd.DataFrame) -> pd.DataFrame:
    """Rows (doctors or accounts) per decile, one column per decile column."""
    return deciles.drop(columns="basis", errors="ignore").apply(pd.Series.value_counts).fillna(0).astype(int)


@skippable
def deciles_table(deciles: pd.DataFrame, names: Mapping, who: str) -> Table:
    """:func:`decile_counts` with products named by brand and a caption."""
    counts = decile_counts(deciles)
    counts = counts.rename(columns={c: product_label(c, names) for c in counts.columns}).rename_axis("decile")
    return table(counts, f"{who.capitalize()} per decile (10 = top, 0 = no volume), for all own products "
                 "and per product.")


@skippable
def migration(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Decile migration (rows: earlier period, columns: latest) of the ``decile`` columns."""
    return decile_migration(before["decile"], after["decile"])


@skippable
def plot_migration(before: pd.DataFrame, after: pd.DataFrame, who: str, *, ax=None):
    """Heat map of the decile migration: how many moved from each decile (rows) to each (columns)."""
    return heatmap(migration(before, after), f"{who.capitalize()}: decile migration",
                   xlabel="decile, latest period", ylabel="decile, period before",
                   colorbar=f"{who}", ax=ax)


@skippable
def plot_grade_shift(indicators: pd.DataFrame, params, changes: Mapping, *, ax=None):
    """Heat map of :func:`grade_shift`."""
    return heatmap(grade_shift(indicators, params, changes), "Grades before and after the change",
                   xlabel="grade with the change", ylabel="grade now", colorbar="doctors", ax=ax)


@skippable
def quadrant_table(accounts: pd.DataFrame) -> Table:
    """Accounts, potential and own volume per quadrant."""
    grouped = accounts.groupby("quadrant")
    frame = pd.DataFrame({"accounts": grouped.size(), "potential": grouped["potential"].sum(),
                          "own volume": grouped["own_volume"].sum()})
    frame["adoption"] = frame["own volume"] / frame["potential"].where(frame["potential"] > 0)
    return table(frame, "Accounts per quadrant, with their monthly potential and own volume (units).",
                 percent=["adoption"], decimals={"potential": 0, "own volume": 0})


@skippable
def cluster_selection(clusters: BehaviourClusters) -> pd.DataFrame:
    """Silhouette (3 decimals), BIC and inertia (1 decimal) per k tried."""
    return clusters.selection_.round({"silhouette": 3, "bic": 1, "inertia": 1})


@skippable
def cluster_selection_table(clusters: BehaviourClusters) -> Table:
    """:func:`cluster_selection` as a table."""
    return table(cluster_selection(clusters), "Number of clusters tried: silhouette (higher is better), "
                 "Gaussian mixture BIC and k-means inertia (lower is better).", rename={"bic": "BIC"},
                 decimals={"silhouette": 3, "bic": 0, "inertia": 0})


@skippable
def cluster_stability(clusters: BehaviourClusters) -> Table:
    """Bootstrap adjusted Rand index of the chosen clustering, "0.56 (0.40–0.74)" (its standard error is ~0.1)."""
    row = clusters.stability_.iloc[0]
    frame = pd.DataFrame({"adjusted Rand index (95% CI)": [fmt_interval(row["estimate"], row["ci_low"],
                                                                        row["ci_high"], 2)],
                          "standard error": [row["std_error"]], "bootstrap resamples": [int(row["n_bootstrap"])]})
    return table(frame, "Stability of the chosen clustering: adjusted Rand index against clusterings "
                 "refitted on bootstrap resamples (1 = identical, 0 = chance).", decimals={"standard error": 2})


@skippable
def profiles_table(profiles: pd.DataFrame) -> Table:
    """The clusters' feature means per doctor, one row per cluster."""
    return table(profiles, "Behavioural segments: doctors and the mean of each feature per doctor.",
                 index="cluster", decimals=dict.fromkeys(profiles.columns.drop(["cluster", "name", "doctors"]), 2))


def recorded_checks(result: SegmentationResult, data_dir, recorded: Mapping = RECORDED_ON_SAMPLE) -> pd.DataFrame:
    """The clustering's key figures against the values recorded on the sample (:mod:`crmlab.reporting.checks`).

    Empty unless the result is the committed sample's with default parameters and the
    clusters ran.
    """
    clusters = present(result.clusters)
    if clusters is None:
        return checks.recorded_checks({}, recorded, applies=False)
    stability = clusters.stability_.loc[0]
    figures = {"clusters chosen": (clusters.n_clusters_, np.nan),
               "silhouette of the chosen k": (clusters.silhouette_, np.nan),
               "stability (bootstrap adjusted Rand index)": (stability["estimate"], stability["std_error"])}
    return checks.recorded_checks(figures, recorded, applies=checks.is_committed_sample(data_dir, result.params))


#: KPI columns that are shares, shown as percentages.
SHARES = ["compliance", "reach", "a_coverage", "reach_rate", "prescribing_rate", "growing_rate", "share"]
#: Readable names of the call-plan columns.
NAMES = {"rep_id": "rep", "manager_id": "manager", "territory_id": "territory", "product_id": "product",
         "doctor_id": "doctor", "a_doctors": "grade-A doctors", "a_reached": "grade-A reached",
         "a_coverage": "grade-A coverage", "weeks_since": "weeks since last visit"}


@skippable
def latest_month(kpis: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """Rows of the latest month of a KPI table, rounded."""
    return kpis[kpis["month"] == kpis["month"].max()].round(decimals)


@skippable
def kpi_table(kpis: pd.DataFrame, caption: str, rows: int | None = None) -> Table:
    """A call-plan table with readable names, shares as percentages."""
    return table(kpis, caption, index=False, rename=NAMES, percent=[c for c in SHARES if c in kpis], rows=rows)


@skippable
def quality_table(rep_quality: pd.DataFrame) -> Table:
    """Visit quality per rep: completed visits and mean quality score."""
    return kpi_table(rep_quality.rename(columns={"size": "visits", "mean": "mean quality"}),
                     "Visit quality per rep: completed visits and mean quality score (0–100).")


@skippable
def last_weeks(weekly: pd.DataFrame, weeks: int = 4, rows: int = 16) -> pd.DataFrame:
    """The last ``weeks`` weeks of :func:`weekly_plan_vs_actual`, first ``rows`` rows, rounded."""
    recent = weekly[weekly["week"] >= weekly["week"].max() - pd.Timedelta(weeks=weeks - 1)]
    return recent.round(2).head(rows)


@skippable
def plot_grade_distribution(graded: pd.DataFrame, *, by: str = "region", ax=None):
    """Stacked bars: share of doctors in each grade per ``by``."""
    import matplotlib.pyplot as plt

    table = grade_table(graded, by=by)
    share = table.div(table.sum(axis=1), axis=0)
    ax = ax or plt.subplots()[1]
    share.plot.bar(stacked=True, ax=ax, color=style.PALETTE[:share.shape[1]], width=0.8)
    ax.set_ylabel("share of doctors")
    ax.set_xlabel(by)
    ax.set_title(f"Grade distribution by {by}")
    ax.legend(title="grade", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


@skippable
def plot_potential_adoption(accounts: pd.DataFrame, *, ax=None):
    """Scatter of account potential (log scale) × adoption, with the quadrant cut lines."""
    import matplotlib.pyplot as plt

    ax = ax or plt.subplots()[1]
    shown = accounts[(accounts["potential"] > 0) & accounts["adoption"].notna()]
    for quadrant, group in shown.groupby("quadrant"):
        ax.scatter(group["potential"], group["adoption"], label=quadrant, s=18, alpha=0.8)
    ax.set_xscale("log")
    ax.axvline(accounts["potential_cut"].iloc[0], color=style.MUTED, lw=1, ls="--")
    ax.axhline(accounts["adoption_cut"].iloc[0], color=style.MUTED, lw=1, ls="--")
    ax.set_xlabel("potential (monthly category volume, log scale)")
    ax.set_ylabel("adoption (own volume / potential)")
    ax.set_title("Accounts: potential × adoption")
    ax.legend(title="quadrant", bbox_to_anchor=(1.01, 1), loc="upper left")
    return ax


@skippable
def plot_cluster_selection(selection: pd.DataFrame, *, axes=None):
    """Silhouette (higher is better) and BIC (lower is better) by number of clusters."""
    import matplotlib.pyplot as plt

    axes = axes if axes is not None else plt.subplots(1, 2, figsize=(9, 3.5))[1]
    axes[0].plot(selection["k"], selection["silhouette"], marker="o")
    axes[0].set(xlabel="clusters k", ylabel="silhouette", title="Silhouette (higher is better)")
    axes[1].plot(selection["k"], selection["bic"], marker="o", color="C1")
    axes[1].set(xlabel="clusters k", ylabel="BIC", title="Gaussian mixture BIC (lower is better)")
    return axes


@skippable
def plot_cluster_profiles(profiles: pd.DataFrame, *, ax=None):
    """Heat map of the clusters' feature means, standardised across clusters."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    features = profiles.drop(columns=["cluster", "name", "doctors"])
    z = (features - features.mean()) / features.std(ddof=0).replace(0, 1)
    z.index = [f"{c}: {n} ({d})" for c, n, d in zip(profiles["cluster"], profiles["name"], profiles["doctors"])]
    ax = ax or plt.subplots()[1]
    sns.heatmap(z, annot=features.round(2).to_numpy(), fmt="", cmap=style.DIVERGING, center=0, ax=ax, cbar=False)
    ax.set_title("Cluster profiles (colour: standardised mean; number: mean)")
    return ax


@skippable
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
    sns.heatmap(table, cmap=style.GOOD_BAD, vmin=0, vmax=1.5, center=1.0, ax=ax,
                cbar_kws={"label": "compliance (actual / planned)"})
    ax.set_xlabel("month")
    ax.set_title("Call plan compliance")
    return ax
