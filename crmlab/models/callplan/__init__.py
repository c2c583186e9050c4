"""Call-plan models: the per-doctor visit response and the allocation of visits to doctors.

A plan's value under drawn effects: :mod:`crmlab.models.callplan.draws`. The analysis
composing them is :mod:`crmlab.analyses.callplan`.
"""

from crmlab.models.callplan.allocation import allocate, saturating_value
from crmlab.models.callplan.draws import doctor_intervals, draw_totals
from crmlab.models.callplan.response import HeterogeneousVisitResponse

__all__ = ["HeterogeneousVisitResponse", "allocate", "doctor_intervals", "draw_totals", "saturating_value"]
