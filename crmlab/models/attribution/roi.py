"""Return on investment of visits and events: incremental revenue against cost."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from crmlab.models.attribution.visits import VisitLift

#: Columns of the per-account ROI table.
ACCOUNT_ROI_COLUMNS = ["account_id", "visits", "incremental_units", "incremental_revenue", "visit_cost", "roi",
                       "marginal_value_per_extra_visit", "rank"]

#: Columns of the per-event-type ROI table.
EVENT_ROI_COLUMNS = ["event_type", "product_id", "events", "attendees", "per_attendee_total",
                     "per_attendee_total_ci_low", "per_attendee_total_ci_high", "incremental_units",
                     "incremental_revenue", "cost", "roi"]


def roi(revenue: float, cost: float) -> float:
    """``(revenue - cost) / cost``; NaN when the cost is zero.

    Examples
    --------
    >>> roi(150.0, 100.0)
    0.5
    >>> roi(150.0, 0.0)
    nan
    """
    return (revenue - cost) / cost if cost else np.nan


def account_roi(model: VisitLift, panel: pd.DataFrame, counts: pd.DataFrame, unit: str, price: float,
                cost_per_visit: float, scale: float = 1.0) -> pd.DataFrame:
    """Incremental units and revenue from visits per account against their cost, ranked.

    ``marginal_value_per_extra_visit`` is the long-run revenue of one more face-to-face
    visit per month at the account's current visit rate, minus its cost; accounts are
    ranked by it (where extra visits would pay most). ``scale`` multiplies the model's
    lift: the ratio of the chosen design's long-run effect per visit to the model's
    (1 keeps the model's; the IV design keeps its shape, saturation and carry-over
    timing, at the identified level).

    Examples
    --------
    >>> account_roi(model, panel, counts, "doctor_id", price=50.0, cost_per_visit=30.0)  # doctest: +SKIP
    """
    lift = scale * model.unit_month_lift().sum(axis=1)
    marginal = scale * model.unit_marginal_long_run()
    units = pd.DataFrame({unit: model.units_, "incremental_units": lift, "marginal_units": marginal})
    if unit == "doctor_id":
        first_rows = panel.drop_duplicates("doctor_id")
        account_of = first_rows.set_index(first_rows["doctor_id"].astype(str))["account_id"].astype(str)
        units["account_id"] = units["doctor_id"].map(account_of)
        by_account = units.groupby("account_id").agg(incremental_units=("incremental_units", "sum"),
                                                      marginal_units=("marginal_units", "mean"))
    else:
        by_account = units.set_index("account_id")[["incremental_units", "marginal_units"]]
    visits = counts.filter(like="detailing_").sum(axis=1).groupby(counts["account_id"].astype(str)).sum()
    out = by_account.join(visits.rename("visits"), how="outer").fillna(0.0)
    out["incremental_revenue"] = out["incremental_units"] * price
    out["visit_cost"] = out["visits"] * cost_per_visit
    out["roi"] = np.where(out["visit_cost"] > 0, (out["incremental_revenue"] - out["visit_cost"])
                          / out["visit_cost"].where(out["visit_cost"] > 0, 1), np.nan)
    out["marginal_value_per_extra_visit"] = out["marginal_units"] * price - cost_per_visit
    out = out.reset_index().rename(columns={"index": "account_id"})
    out = out.sort_values(["marginal_value_per_extra_visit", "account_id"], ascending=[False, True], kind="stable")
    out["rank"] = np.arange(1, len(out) + 1)
    return out[ACCOUNT_ROI_COLUMNS].reset_index(drop=True)


def event_roi_table(effects: list[dict]) -> pd.DataFrame:
    """One row per event type: attendees, effect per attendee, incremental revenue, cost, ROI.

    ``effects`` are the per-event-type dicts of the attribution summary (a
    ``per_attendee_total`` dict with ``estimate, ci_low, ci_high`` where estimated).

    Examples
    --------
    >>> event_roi_table([{"event_type": "seminar", "events": 2, "cost": 10.0}])[["event_type", "roi"]]
      event_type   roi
    0    seminar  None
    """
    rows = []
    for effect in effects:
        total = effect.get("per_attendee_total") or {}
        rows.append({"event_type": effect["event_type"], "product_id": effect.get("product_id"),
                     "events": effect.get("events"), "attendees": effect.get("attendees"),
                     "per_attendee_total": total.get("estimate"),
                     "per_attendee_total_ci_low": total.get("ci_low"),
                     "per_attendee_total_ci_high": total.get("ci_high"),
                     "incremental_units": effect.get("incremental_units"),
                     "incremental_revenue": effect.get("incremental_revenue"),
                     "cost": effect.get("cost"), "roi": effect.get("roi")})
    return pd.DataFrame(rows, columns=EVENT_ROI_COLUMNS)


@dataclasses.dataclass
class EventTypeEffect:
    """What one attended event type added: effects per attendee, incremental revenue, ROI.

    Attributes
    ----------
    event_type, product_id : str
    events, attendees : int
    cost : float
        Total cost of the type's events.
    per_attendee_month, per_attendee_total : dict, optional
        ``estimate, std_error, ci_low, ci_high`` (None when not estimated).
    effect_months : int, optional
        Months after the event with a lift.
    pretrend_p_value : float, optional
    incremental_units, incremental_revenue, roi : float, optional
    method : str, optional
    note : str, optional
        Why the type was not estimated.
    """

    event_type: str
    product_id: str
    events: int
    attendees: int
    cost: float
    per_attendee_month: dict | None = None
    per_attendee_total: dict | None = None
    effect_months: int | None = None
    pretrend_p_value: float | None = None
    incremental_units: float | None = None
    incremental_revenue: float | None = None
    roi: float | None = None
    method: str | None = None
    note: str | None = None

    @property
    def estimated(self) -> bool:
        return self.per_attendee_total is not None

    def summary(self) -> dict:
        """The event type as written in ``summary.json``."""
        keys = ["event_type", "product_id", "events", "attendees", "cost"]
        keys += (["per_attendee_month", "per_attendee_total", "effect_months", "pretrend_p_value",
                  "incremental_units", "incremental_revenue", "roi", "method"] if self.estimated else ["note"])
        return {key: getattr(self, key) for key in keys}
