"""Report of the duplicate search: key findings, Splink's match-weights chart, tables.

Nothing here shows a name: the tables hold IDs, counts and agreement flags.
"""

from __future__ import annotations

import pandas as pd

from crmlab.analyses.dedupe import DedupeResult


def key_findings(result: DedupeResult) -> str:
    """Key findings in words and numbers, as Markdown.

    Examples
    --------
    >>> print(key_findings(result))  # doctest: +SKIP
    """
    summary = result.summary()
    lines = []
    for table, word in (("doctors", "doctor"), ("accounts", "account")):
        if table not in summary:
            continue
        found = summary[table]
        if not found["ids_to_merge"]:
            lines.append(f"- **No {word} looks entered twice** among {found['records']:,} "
                         f"{table} (match probability ≥ {result.params.threshold:g}).")
            continue
        volume = "prescriptions" if table == "doctors" else "units sold"
        lines.append(
            f"- **{found['ids_to_merge']:,} {table} IDs ({found['ids_to_merge'] / found['records']:.1%}) "
            f"look like second entries** of another {word}: {found['duplicate_pairs']:,} likely "
            f"duplicate pairs in {found['clusters']:,} clusters.")
        lines.append(
            f"- They hold **{found['visits_split']:,} visits ({found['share_of_visits']:.1%})** and "
            f"**{found['volume_split']:,.0f} {volume} ({found['share_of_volume']:.1%})** that belong "
            f"with the surviving ID.")
    largest = result.largest("doctors")
    if len(largest):
        top = largest.iloc[0]
        lines.append(f"- The largest case by volume: doctor {top['surviving_id']} with "
                     f"{len(top['ids'].split()) - 1} other ID(s), {top['volume_on_merged_ids']:,.0f} "
                     f"prescriptions logged under the other ID(s).")
    lines += [f"- Note: {note}." for note in summary["notes"]]
    return "\n".join(lines)


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

    return Image(data=vl_convert.vegalite_to_png(spec, scale=1), width=width)


def parameters_table(result: DedupeResult, table: str = "doctors") -> pd.DataFrame:
    """m, u and match weight per comparison level of one table's model."""
    params = result.parameters()
    params = params[params["table"] == table].drop(columns="table")
    return (params.rename(columns={"m": "m (duplicates)", "u": "u (other pairs)",
                                   "match_weight": "match weight (bits)"})
            .set_index(["comparison", "level"]).round(3))


def evidence_counts(result: DedupeResult, table: str = "doctors") -> pd.DataFrame:
    """How often each agreement pattern occurs among the listed duplicate pairs."""
    pairs = result.duplicates[result.duplicates["table"] == table]
    if pairs.empty:
        return pd.DataFrame(columns=["pairs", "mean probability"]).rename_axis("evidence")
    return (pairs.groupby("evidence")["match_probability"].agg(["size", "mean"])
            .rename(columns={"size": "pairs", "mean": "mean probability"})
            .sort_values("pairs", ascending=False, kind="stable").round(3))


def largest_cases(result: DedupeResult, table: str = "doctors") -> pd.DataFrame:
    """The largest clusters by volume, with readable column names."""
    return result.largest(table).rename(columns={
        "surviving_id": "surviving ID", "ids": "IDs", "volume_on_merged_ids": "volume on merged IDs",
    }).set_index("cluster").round(1)
