"""Call-plan models: the per-doctor visit response and the allocation of visits to doctors.

The analysis composing them is :mod:`crmlab.analyses.callplan`.
"""

from crmlab.models.callplan.allocation import allocate, saturating_value
from crmlab.models.callplan.response import HeterogeneousVisitResponse

__all__ = ["HeterogeneousVisitResponse", "allocate", "saturating_value"]
