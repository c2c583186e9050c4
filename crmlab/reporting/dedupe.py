"""Report of the duplicate search: key findings, Splink's match-weights chart, tables.

Nothing here shows a name: the tables hold IDs, counts and agreement flags.
"""

from __future__ import annotations

import pandas as pd

from crmlab.analyses.dedupe import DedupeResult
from crmlab.reporting.style import vega_config
from crmlab.reporting.tables import Table, table


def data_period(result: DedupeResult) -> None:
    """The duplicate search looks at the master data, not at a period."""
    return None


def key_findings(result: DedupeResult) -> list[str]:
    """Key findings in words and numbers (Markdown bold for the headline figures).

    Examples
    --------
    >>> key_findings(result)  # doctest: +SKIP
    """
    summary = result.summary()
    lines = []
    for table, word in (("doctors", "doctor"), ("accounts", "account")):
        if table not in summary:
            continue
        found = summary[table]
        if not found["ids_to_merge"]:
            lines.append(f"**No {word} looks entered twice** among {found['records']:,} "
                         f"{table} (match probability ≥ {result.params.threshold:g}): nothing to merge.")
            continue
        volume = "prescriptions" if table == "doctors" else "units sold"
        lines.append(
            f"**{found['ids_to_merge']:,} {table} IDs ({found['ids_to_merge'] / found['records']:.1%}) "
            f"look like second entries** of another {word}: {found['duplicate_pairs']:,} likely "
            f"duplicate pairs in {found['clusters']:,} clusters; they hold **{found['visits_split']:,} visits "
            f"({found['share_of_visits']:.1%})** and **{found['volume_split']:,.0f} {volume} "
            f"({found['share_of_volume']:.1%})** that belong with the surviving ID.")
    largest = result.largest("doctors")
    if len(largest):
        top = largest.iloc[0]
        lines.append(f"The largest case by volume: doctor {top['surviving_id']} with "
                     f"{len(top['ids'].split()) - 1} other ID(s), {top['volume_on_merged_ids']:,.0f} "
                     f"prescriptions logged under the other ID(s).")
    if any(summary[t]["ids_to_merge"] for t in ("doctors", "accounts") if t in summary):
        lines.append("Review `clusters.csv`, then run any analysis on the merged base with "
                     "`-p merge_duplicates=clusters.csv`.")
    else:
        lines.append("The analyses can run on these IDs as they are; rerun this check after each master-data load.")
    if summary["notes"]:
        lines.append(f"{len(summary['notes'])} note(s) on the fit (listed below): read the match probabilities "
                     "with caution where the estimation did not converge.")
    return lines


def notes(result: DedupeResult) -> list[str]:
    """The model's notes on its fit, one sentence each."""
    return [f"Note: {note}." for note in result.summary()["notes"]]


def match_weights_image(model, width: int = 500):
    """Splink's match-weights chart of a fitted model, as a PNG image for the report.

    The chart is Splink's own Vega-Lite specification rendered offline by
    ``vl-convert``, so it shows in ``report.html`` without a kernel or network.
    Returns None for a model fitted on fewer than two records.
    """
    from IPython.display import Image

    spec = model.match_weights_chart()
    if spec is None:
        return None
    import vl_convert

    spec = {**spec, "config": {**spec.get("config", {}), **vega_config()}}
    return Image(data=vl_convert.vegalite_to_png(spec, scale=1), width=width)


def parameters_table(result: DedupeResult, which: str = "doctors") -> Table:
    """m, u and match weight per comparison level of one table's model."""
    params = result.parameters()
    params = params[params["table"] == which].drop(columns="table")
    return table(params.rename(columns={"m": "m (duplicates)", "u": "u (other pairs)",
                                        "match_weight": "match weight (bits)"}),
                 f"Model of the {which}: how often each comparison level occurs among duplicates (m) and "
                 "other pairs (u), and its match weight.", index=False,
                 decimals={"m (duplicates)": 3, "u (other pairs)": 3, "match weight (bits)": 2})


def evidence_counts(result: DedupeResult, which: str = "doctors") -> Table:
    """How often each agreement pattern occurs among the listed duplicate pairs."""
    pairs = result.duplicates[result.duplicates["table"] == which]
    caption = f"Agreement patterns among the listed {which[:-1]} pairs, with their mean match probability."
    if pairs.empty:
        return table(pd.DataFrame(columns=["evidence", "pairs", "mean probability"]), caption)
    counts = (pairs.groupby("evidence")["match_probability"].agg(["size", "mean"])
              .rename(columns={"size": "pairs", "mean": "mean probability"})
              .sort_values("pairs", ascending=False, kind="stable"))
    return table(counts, caption, percent=["mean probability"])


def largest_cases(result: DedupeResult, which: str = "doctors") -> Table:
    """The largest clusters by volume, with readable column names."""
    return table(result.largest(which), f"The largest clusters of {which[:-1]} IDs by volume (surviving ID: the one "
                 "with the most visits).", rename={"surviving_id": "surviving ID", "ids": "IDs",
                                                  "volume_on_merged_ids": "volume on merged IDs"},
                 index="cluster")
