"""Churn features and labels, as of a date, from the past only.

An *entity* is a doctor (volume = own-product prescriptions) or an account (volume =
sell-out from ``sales``, or its doctors' prescriptions when there are no sales).
:mod:`~crmlab.features.churn.history` builds the month grids once,
:mod:`~crmlab.features.churn.snapshots` reads features and labels from them as of a
month, :mod:`~crmlab.features.churn.occasions` gives the purchase occasions of the BG/NBD.
"""

from crmlab.features.churn.history import (
    LEVELS,
    ChurnHistory,
    churn_history,
    default_as_of,
    entity_codes,
    volume_source,
)
from crmlab.features.churn.occasions import (
    TIME_UNITS,
    data_grain,
    horizon_length,
    occasions_between,
    parse_date,
    resolve_time_unit,
    rfm_at,
)
from crmlab.features.churn.snapshots import (
    LOOKBACK,
    active_mask,
    churn_features,
    churn_frame,
    churn_labels,
    features_at,
)

__all__ = ["LEVELS", "LOOKBACK", "TIME_UNITS", "ChurnHistory", "active_mask", "churn_features", "churn_frame",
           "churn_history", "churn_labels", "data_grain", "default_as_of", "entity_codes", "features_at",
           "horizon_length", "occasions_between", "parse_date", "resolve_time_unit", "rfm_at", "volume_source"]
