"""Feature builders: pure functions from contract tables to analysis panels."""

from crmlab.features.panels import (
    CHANNELS,
    account_month_panel,
    channel_panel,
    days_on_hand,
    doctor_month_panel,
    month_range,
    month_start,
    visit_adstock,
)

__all__ = [
    "CHANNELS",
    "account_month_panel",
    "channel_panel",
    "days_on_hand",
    "doctor_month_panel",
    "month_range",
    "month_start",
    "visit_adstock",
]
