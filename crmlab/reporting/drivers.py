"""The drivers report: key findings, waterfalls, the shortfalls explained, the territory grid, the scorecard."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from crmlab.features.drivers import DRIVERS
from crmlab.reporting import style
from crmlab.reporting.findings import month_period, plural
from crmlab.reporting.tables import Table, heatmap, table

#: Drivers in words.
DRIVER_NAMES = {"market": "market", "visits": "visits", "events": "events",
                "lapsed_prescribers": "lapsed prescribers", "new_prescribers": "new prescribers",
                "existing_prescribers": "existing prescribers", "channel_stock": "channel stock",
                "other": "other", "total": "total"}
OUTCOME_NAMES = {"sell_in": "sell-in", "sell_out": "sell-out", "prescriptions": "prescriptions"}


def data_period(result) -> str:
    """The months compared, e.g. "2025-10 to 2025-12 against 2024-10 to 2024-12"."""
    return (f"{month_period(result.current[0], result.current[-1])} against "
            f"{month_period(result.comparison[0], result.comparison[-1])}")


def bridge(result, level: str = "national", unit_id: str = "", product_id: str = "") -> pd.Series:
    """One unit's bridge: change per driver and ``total``, in the order shown."""
    b = result.bridge if hasattr(result, "bridge") else result
    rows = b[(b["level"] == level) & (b["unit_id"].astype(str) == str(unit_id))
             & (b["product_id"].fillna("").astype(str) == product_id)]
    return rows.set_index("driver")["change"].reindex([*DRIVERS, "total"]).fillna(0.0)


def by_unit(result, level: str, product_id: str = "") -> pd.DataFrame:
    """Units of a level × drivers (and ``total``)."""
    b = result.bridge
    rows = b[(b["level"] == level) & (b["product_id"] == product_id)]
    return rows.pivot(index="unit_id", columns="driver", values="change").reindex(columns=[*DRIVERS, "total"])


def _before(result) -> pd.Series:
    """Units in the comparison window per territory (all own products, the bridged outcome)."""
    return result.units["units_before"]


def shortfalls(result, rows: int | None = None) -> pd.DataFrame:
    """The ``rows`` territories (default all) furthest short of market (total − market), worst first,
    each with its explaining sentence."""
    grid = by_unit(result, "territory")
    frame = grid.assign(shortfall=grid["total"] - grid["market"]).sort_values("shortfall").head(rows)
    frame["explanation"] = [explain(result, unit) for unit in frame.index]
    return frame


def explain(result, unit_id: str) -> str:
    """One sentence: the territory's change, its prescribers who stopped, its main drivers.

    E.g. "T0001: -20% against a year earlier; 45 of 93 prescribers stopped (-1,400 units); visits -120 units".
    """
    b = bridge(result, "territory", unit_id)
    counts = result.units.loc[unit_id] if unit_id in result.units.index else None
    against = "a year earlier" if result.params.compare == "previous_year" else "the months before"
    base = float(counts["units_before"]) if counts is not None else 0.0
    pct = f"{b['total'] / base:+.0%}" if base > 0 else f"{b['total']:+,.0f} units"
    parts = [f"{unit_id}: {pct} against {against} ({b['total']:+,.0f} units)"]
    word = "prescribers" if result.level == "doctor" else "accounts"
    if counts is not None and counts["lapsed"] > 0:
        parts.append(f"{int(counts['lapsed'])} of {int(counts['prescribers_before'])} {word} stopped "
                     f"({b['lapsed_prescribers']:+,.0f} units)")
    scale = max(abs(b.drop("total")).max(), 1.0)
    visits = b["visits"]
    parts.append("visits unchanged" if abs(visits) < 0.05 * scale else f"visits {visits:+,.0f} units")
    rest = b.drop(["total", "visits", "lapsed_prescribers"])
    main = rest.abs().idxmax()
    if abs(rest[main]) >= 0.2 * scale:
        parts.append(f"{DRIVER_NAMES[main]} {rest[main]:+,.0f}")
    return "; ".join(parts)


def main_negative_driver(result) -> pd.Series:
    """Per territory: its most negative driver other than market (``none`` when none is negative)."""
    grid = by_unit(result, "territory")[[d for d in DRIVERS if d != "market"]]
    worst = grid.idxmin(axis=1)
    return worst.where(grid.min(axis=1) < 0, "none")


def key_findings(result) -> list[str]:
    """3 to 6 sentences with numbers: the national change and its drivers, the worst units, the scorecard."""
    nat = bridge(result)
    outcome = OUTCOME_NAMES[result.outcome]
    against = "a year earlier" if result.params.compare == "previous_year" else "the months before"
    base = float(result.units["units_before"].sum())
    drivers = nat.drop("total")
    up, down = drivers.idxmax(), drivers.idxmin()
    findings = [f"Own-product {outcome} over {month_period(result.current[0], result.current[-1])} "
                f"{'rose' if nat['total'] >= 0 else 'fell'} by {abs(nat['total']):,.0f} units against {against}"
                + (f" ({nat['total'] / base:+.0%} of prescriber volume)" if base > 0 else "")
                + f"; the largest driver up is {DRIVER_NAMES[up]} ({drivers[up]:+,.0f}), the largest down "
                  f"{DRIVER_NAMES[down]} ({drivers[down]:+,.0f})."]
    regions = by_unit(result, "region")
    if len(regions):
        worst = (regions["total"] - regions["market"]).idxmin()
        r = regions.loc[worst]
        d = r.drop(["total", "market"]).idxmin()
        findings.append(f"{worst} fell furthest short of its market ({r['total'] - r['market']:+,.0f} units); "
                        f"its main negative driver is {DRIVER_NAMES[d]} ({r[d]:+,.0f}).")
    short = shortfalls(result, 1)
    if len(short):
        findings.append(f"Largest territory shortfall against market: {short['explanation'].iloc[0]}.")
    lapsed = by_unit(result, "territory")["lapsed_prescribers"]
    if len(lapsed) and lapsed.min() < 0:
        findings.append(f"Prescribers who stopped cost {abs(nat['lapsed_prescribers']):,.0f} units nationally; "
                        f"{lapsed.idxmin()} lost most ({lapsed.min():+,.0f}).")
    if abs(nat["channel_stock"]) > 0:
        findings.append(f"Distributors {'built' if nat['channel_stock'] > 0 else 'drew down'} "
                        f"{abs(nat['channel_stock']):,.0f} units of stock, which moves sell-in but not sell-out.")
    quadrant = activity_vs_results(result)
    odd = quadrant[quadrant["quadrant"] == "good activity, poor results"]
    if len(odd):
        findings.append(f"{plural(len(odd), 'territory', 'territories')} had good activity but poor results "
                        f"({', '.join(odd.index[:4])}): their shortfall is not explained by visits.")
    return findings[:6]


def notes(result) -> list[str]:
    """What the bridge could not separate or estimate, in words."""
    return list(result.notes)


# ---------------------------------------------------------------------------------------- charts
def plot_waterfall(series: pd.Series, title: str, ax=None):
    """A bridge as a waterfall: each driver a step from zero to the total."""
    steps = series.drop("total")
    if ax is None:
        ax = plt.subplots(figsize=(8, 3.6))[1]
    start = np.r_[0.0, np.cumsum(steps.to_numpy())[:-1]]
    colours = [style.PALETTE[2] if v >= 0 else style.PALETTE[3] for v in steps]
    labels = [DRIVER_NAMES[d] for d in steps.index] + ["total"]
    ax.bar(range(len(steps)), steps.to_numpy(), bottom=start, color=colours)
    ax.bar(len(steps), series["total"], color=style.PALETTE[0])
    ax.axhline(0, color=style.MUTED, linewidth=0.8)
    ax.margins(y=0.08)  # room above the tallest step and below the lowest
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_title(title, loc="left")
    ax.set_ylabel("units")
    return ax


def plot_waterfalls(result):
    """The nation and each region, one waterfall each."""
    regions = sorted(by_unit(result, "region").index)
    fig, axes = plt.subplots(len(regions) + 1, 1, figsize=(8, 3.2 * (len(regions) + 1)))
    axes = np.atleast_1d(axes)
    plot_waterfall(bridge(result), "National: change in own-product units by driver", axes[0])
    for ax, region in zip(axes[1:], regions):
        plot_waterfall(bridge(result, "region", region), f"{region}", ax)
    fig.tight_layout()
    return fig


def plot_driver_grid(result):
    """Territories (rows, by region) × drivers: the change in units, centred on zero."""
    grid = by_unit(result, "territory")
    region = result.units["region"].reindex(grid.index).fillna("")
    grid.index = [f"{r} · {t}" for r, t in zip(region, grid.index)]
    grid = grid.sort_index().rename(columns=DRIVER_NAMES)
    limit = float(np.nanmax(np.abs(grid.drop(columns="total").to_numpy()))) or 1.0
    return heatmap(grid, "Territories by driver (units; red = down)", cmap="RdBu", center=0, vmin=-limit, vmax=limit, xlabel="", ylabel="",
                   colorbar="units")


# ---------------------------------------------------------------------------------------- tables
def bridge_table(result, level: str = "national") -> Table:
    """Drivers with their bounds, for the nation or per region."""
    b = result.bridge
    rows = b[(b["level"] == level) & (b["product_id"] == "")].copy()
    rows["driver"] = rows["driver"].map(DRIVER_NAMES)
    frame = rows[["unit_id", "driver", "change", "lower", "upper"]] if level != "national" \
        else rows[["driver", "change", "lower", "upper"]]
    what = "the nation" if level == "national" else "each region"
    return table(frame.rename(columns={"unit_id": level}),
                 f"Change in own-product units by driver for {what}, with bounds where the driver is estimated "
                 f"({100 * (1 - result.params.alpha):g}% for market, visits and events); the drivers add up to the "
                 "total.", decimals={"change": 0, "lower": 0, "upper": 0})


def product_table(result) -> Table:
    """The national bridge per product (columns)."""
    frame = pd.DataFrame({p: bridge(result, product_id=p) for p in result.products})
    frame.index = frame.index.map(DRIVER_NAMES)
    return table(frame.rename_axis("driver"), "National change in units by driver, per own product.",
                 decimals=dict.fromkeys(frame.columns, 0))


def shortfall_table(result, rows: int | None = None) -> Table:
    """The territories furthest short of their market, each explained in one sentence."""
    rows = rows or result.params.top_units
    short = shortfalls(result, rows)
    frame = short[["market", "total", "shortfall", "explanation"]]
    return table(frame.rename_axis("territory"),
                 f"The {rows} territories with the largest shortfall against market (total change minus the "
                 "market driver, units), worst first.", decimals={"market": 0, "total": 0, "shortfall": 0})


def main_driver_table(result) -> Table:
    """Territories per main negative driver."""
    worst = main_negative_driver(result)
    frame = worst.rename("main negative driver").map(DRIVER_NAMES | {"none": "none"}).to_frame()
    frame["region"] = result.units["region"].reindex(frame.index)
    return table(frame.rename_axis("territory").reset_index()[["region", "territory", "main negative driver"]]
                 .sort_values(["region", "territory"]),
                 "Each territory's most negative driver apart from market.", index=False)


def activity_vs_results(result) -> pd.DataFrame:
    """Per territory over the current window: activity score against result, and the quadrant.

    Activity = mean of plan compliance and share of visits to A/B doctors, each as a
    rank among territories; result = the shortfall against market per unit of volume
    before, as a rank. Good = above the median.
    """
    card = result.scorecard
    card = card[card["level"] == "territory"]
    if not len(card):
        return pd.DataFrame(columns=["activity", "result", "quadrant"])
    act = card.groupby("unit_id")[["visits", "plan_compliance", "ab_share", "events"]].mean()
    score = act[["plan_compliance", "ab_share", "visits"]].rank(pct=True).mean(axis=1)
    grid = by_unit(result, "territory")
    before = _before(result).reindex(grid.index).replace(0, np.nan)
    res = ((grid["total"] - grid["market"]) / before).reindex(act.index)
    res_rank = res.rank(pct=True)
    good_act, good_res = score > 0.5, res_rank > 0.5
    quadrant = np.select([good_act & ~good_res, ~good_act & good_res, good_act & good_res],
                         ["good activity, poor results", "poor activity, good results", "good activity, good results"],
                         "poor activity, poor results")
    return act.assign(activity=score, result=res, quadrant=quadrant)


def scorecard_table(result) -> Table:
    """Per territory over the current window: activity and results, with the quadrant."""
    frame = activity_vs_results(result)
    card = result.scorecard
    card = card[card["level"] == "territory"]
    agg = card.groupby("unit_id").agg(units=("units", "sum"), reach=("reach", "mean"),
                                      frequency=("frequency", "mean"), attainment=("attainment", "mean"))
    frame = frame.join(agg)[["visits", "reach", "frequency", "plan_compliance", "ab_share", "events", "units",
                             "result", "quadrant"] + (["attainment"] if agg["attainment"].notna().any() else [])]
    frame = frame.sort_values(["quadrant", "result"])
    return table(frame.rename_axis("territory"),
                 "Process against result per territory, monthly means over the current window: visits, reach "
                 "(doctors visited), frequency (visits per doctor visited), plan compliance (visits up to each "
                 "doctor's grade quota, A 4, B 2, C 1 a month), share of visits to A/B doctors, event attendances; "
                 "result = shortfall against market as a share of the units before.",
                 percent=["plan_compliance", "ab_share", "result", "attainment"],
                 decimals={"visits": 0, "reach": 0, "frequency": 1, "events": 1, "units": 0})
