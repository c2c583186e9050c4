"""A regional advertising campaign's effect: synthetic control of the region's sales."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.features.attribution import campaign_donors
from crmlab.features.panels import account_month_panel, month_start
from crmlab.models.attribution.roi import roi
from crmlab.models.attribution.synth import SyntheticControl


@dataclass
class CampaignEffect:
    """One campaign: what it cost, what it added, and the synthetic control behind it.

    Attributes
    ----------
    event_id, region, product_id, start : str
    cost : float
    lift_pct : float, optional
        Post-campaign gap as a share of the synthetic region's sales.
    incremental_units, incremental_revenue, roi : float, optional
    pre_rmspe : float, optional
        Fit before the campaign (units).
    placebo_p_value : float, optional
        Rank of the region's post/pre RMSPE ratio among all units, over their number.
    placebo_rank, donors : int, optional
    method : str, optional
    note : str, optional
        Why the campaign was not estimated (then the effect fields are None).
    model : SyntheticControl, optional
    path, placebo : DataFrame, optional
        Monthly actual, synthetic and gap; the placebo ratios.
    """

    event_id: str
    region: str | None
    product_id: str | None
    start: str
    cost: float
    lift_pct: float | None = None
    incremental_units: float | None = None
    incremental_revenue: float | None = None
    roi: float | None = None
    pre_rmspe: float | None = None
    placebo_p_value: float | None = None
    placebo_rank: int | None = None
    donors: int | None = None
    method: str | None = None
    note: str | None = None
    model: SyntheticControl | None = field(default=None, repr=False)
    path: pd.DataFrame | None = field(default=None, repr=False)
    placebo: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def estimated(self) -> bool:
        return self.model is not None

    def summary(self) -> dict:
        """The campaign as written in ``summary.json``."""
        keys = ["event_id", "region", "product_id", "start", "cost"]
        keys += (["lift_pct", "incremental_units", "incremental_revenue", "roi", "pre_rmspe", "placebo_p_value",
                  "placebo_rank", "donors", "method"] if self.estimated else ["note"])
        return {key: getattr(self, key) for key in keys}

    def event_summary(self) -> dict:
        """The campaign as one row of the summary's ``events`` (event type ``advertising``)."""
        return {"event_type": "advertising", "product_id": self.product_id, "events": 1, "attendees": 0,
                "cost": self.cost, "incremental_units": self.incremental_units,
                "incremental_revenue": self.incremental_revenue, "roi": self.roi, "per_attendee_month": None,
                "per_attendee_total": None, "method": self.method, "note": self.note}


def campaign_effect(ad: pd.Series, accounts, sales, prescriptions, doctors, months, prices, *,
                    max_donors: int = 60) -> CampaignEffect:
    """Synthetic control of a region's sales of the promoted product against other regions' territories.

    Donors (:func:`crmlab.features.attribution.campaign_donors`) are each normalised by
    their pre-campaign mean, so the match is on shape and the effect is a percentage of
    the region's level.

    Parameters
    ----------
    ad : Series
        One ``events`` row of type ``advertising`` (``event_id, region, product_id,
        start_date, cost``).
    accounts, sales, prescriptions, doctors : DataFrame
        Contract tables; sales (sell-out) when present, else prescriptions.
    months : DatetimeIndex
    prices : Series
        Unit price by product.

    Examples
    --------
    >>> campaign_effect(ads.iloc[0], t["accounts"], t["sales"], t["prescriptions"],
    ...                 t["doctors"], months, prices).lift_pct  # doctest: +SKIP
    """
    product = str(ad.get("product_id")) if pd.notna(ad.get("product_id")) else None
    region = ad.get("region")
    cost = float(ad["cost"]) if pd.notna(ad.get("cost")) else np.nan
    effect = CampaignEffect(event_id=str(ad["event_id"]), region=None if pd.isna(region) else str(region),
                            product_id=product, start=str(pd.Timestamp(ad["start_date"]).date()), cost=cost)
    if pd.isna(region):
        effect.note = "campaign without a region: not estimated"
        return effect
    if len(sales):
        panel = account_month_panel(accounts, sales, product_ids=product, months=months)
        y = "sell_out"
    else:
        panel = account_month_panel(accounts, None, doctors=doctors, prescriptions=prescriptions,
                                    product_ids=product, months=months)
        y = "trx"
    wide, per_region, pooled = campaign_donors(panel, str(region), y, max_donors=max_donors)
    start = month_start(pd.Series([pd.Timestamp(ad["start_date"])])).iloc[0]
    try:
        model = SyntheticControl(normalize=True).fit(wide, "treated", start)
    except ValueError as error:
        effect.note = f"not estimated: {error}"
        return effect
    res = model.results_
    units = float(res.path.loc[res.path["post"], "gap"].sum())
    revenue = units * float(prices.get(product, np.nan))
    effect.lift_pct, effect.incremental_units, effect.incremental_revenue = res.post_gap_pct, units, revenue
    effect.roi = roi(revenue, cost)
    effect.pre_rmspe, effect.placebo_p_value, effect.placebo_rank = res.pre_rmspe, res.p_value, res.rank
    effect.donors = int(len(res.weights))
    effect.method = (
        "Synthetic control of the region's monthly sales against the territories of the other regions (each "
        "normalised by its pre-campaign mean); convex weights fitted on pre-campaign months; placebo p-value = "
        "rank of the region's post/pre RMSPE ratio among all units."
        + (f" The other regions' territories are pooled round-robin into {per_region} groups per region (at most "
           f"{max_donors} donors)." if pooled else ""))
    effect.model = model
    effect.path = res.path.rename(columns={"period": "month"})
    effect.placebo = res.placebo.assign(unit=lambda d: d["unit"].replace({"treated": str(region)}))
    return effect
