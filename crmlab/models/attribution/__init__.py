"""Attribution models: causal lift of visits and events on prescriptions and sales, with ROI.

The analysis composing them is :mod:`crmlab.analyses.attribution`.
"""

from crmlab.models.attribution.benchmarks import linear_lags_fe, naive_pooled_slope
from crmlab.models.attribution.campaign import CampaignEffect, campaign_effect
from crmlab.models.attribution.events import EventStudy, EventStudyResults
from crmlab.models.attribution.inference import EstimationWarning
from crmlab.models.attribution.roi import (ACCOUNT_ROI_COLUMNS, EVENT_ROI_COLUMNS, account_roi, event_roi_table,
                                           roi)
from crmlab.models.attribution.synth import SyntheticControl, SyntheticControlResults, simplex_weights
from crmlab.models.attribution.visits import VisitLift, saturation_curve
from crmlab.models.attribution.visits_results import VisitLiftResults

__all__ = [
    "ACCOUNT_ROI_COLUMNS", "CampaignEffect", "EVENT_ROI_COLUMNS", "EstimationWarning", "EventStudy",
    "EventStudyResults", "SyntheticControl", "SyntheticControlResults", "VisitLift", "VisitLiftResults",
    "account_roi", "campaign_effect", "event_roi_table", "linear_lags_fe", "naive_pooled_slope", "roi",
    "saturation_curve", "simplex_weights",
]
