"""Attribution's visit designs for an analysis that builds on them (the call plan).

In a refresh whose attribution fitted them with the same settings (:mod:`crmlab.analyses.shared`),
its fits are reused; else they are fitted here, as attribution fits them.
"""

from __future__ import annotations

from crmlab.analyses.attribution import AttributionParams
from crmlab.analyses.shared import find
from crmlab.models.attribution import VisitLift
from crmlab.models.attribution.capacity_design import WARNING_NOTE, fit_capacity_design


def visit_designs(data, tables, months, panel, counts, product_id: str, notes: list[str],
                  params: AttributionParams, *, with_iv: bool = True):
    """The fixed-effects and capacity-shock IV designs of ``product_id`` (doctor level), and why the IV is missing.

    ``params`` are attribution's parameters the caller's settings amount to (its
    ``product_id`` as the caller was given it: empty = the most-detailed product). The IV
    (and its warnings, added to ``notes``) only ``with_iv``. Returns ``(fixed_effects, iv or
    None, why the IV is missing or None)``.
    """
    attr = find("attribution", data, params)
    if attr is not None and attr.product_id == product_id and attr.visit_model is not None:
        notes += [n for n in attr.notes if n.startswith(WARNING_NOTE)] if with_iv else []
        return attr.visit_model, attr.iv_model, attr.visit_iv_skipped
    lift = VisitLift(max_units=params.max_units, random_state=params.seed, alpha=params.alpha).fit(panel, counts)
    if not with_iv:
        return lift, None, None
    iv, skipped = fit_capacity_design(tables, months, panel, counts, lift, notes, doctor_level=True, y="trx",
                                      alpha=params.alpha, max_units=params.max_units, seed=params.seed)
    return lift, iv, skipped
