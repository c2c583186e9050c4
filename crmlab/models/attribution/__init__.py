"""Attribution: causal lift of visits and events on prescriptions and sales, with ROI."""

from crmlab.models.attribution.analysis import (
    AttributionReport,
    account_roi,
    attribution_report,
    campaign_effect,
    most_detailed_product,
)
from crmlab.models.attribution.events import EventStudy, EventStudyResults
from crmlab.models.attribution.synth import SyntheticControl, SyntheticControlResults, simplex_weights
from crmlab.models.attribution.visits import (
    VisitLift,
    VisitLiftResults,
    linear_lags_fe,
    naive_pooled_slope,
    saturation_curve,
)

__all__ = [
    "AttributionReport", "EventStudy", "EventStudyResults", "SyntheticControl", "SyntheticControlResults",
    "VisitLift", "VisitLiftResults", "account_roi", "attribution_report", "campaign_effect", "linear_lags_fe",
    "most_detailed_product", "naive_pooled_slope", "saturation_curve", "simplex_weights",
]
