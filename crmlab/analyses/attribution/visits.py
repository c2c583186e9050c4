"""Attribution's visit lift: the visit designs, the main one, benchmarks, effects by segment and account ROI."""

from __future__ import annotations

import pandas as pd

from crmlab.analyses.attribution.setting import Setting
from crmlab.features.attribution import detailing_by_channel, detailing_per_unit
from crmlab.models.attribution import ACCOUNT_ROI_COLUMNS, VisitLift, account_roi, linear_lags_fe, naive_pooled_slope
from crmlab.models.attribution.capacity_design import fit_capacity_design


def visit_lift(setting: Setting) -> tuple[dict, list[str]]:
    """The visit designs, the chosen one, benchmarks, effects by segment and account ROI.

    Returns the fields of the result and notes. The IV design is fitted on the same
    panel and counts as the fixed-effects one; which one is the main design is decided
    by :attr:`VisitLiftIVResults.design <crmlab.models.attribution.iv_results.VisitLiftIVResults.design>`.
    """
    params, tables, product_id = setting.params, setting.tables, setting.product_id
    visits, doctors = tables["visits"], tables["doctors"]
    panel, unit, y = setting.panel(product_id), setting.unit, setting.y
    reason = None
    if not (len(visits) and len(doctors)):
        reason = "no doctors/visits in the data"
    else:
        counts = detailing_by_channel(visits, doctors, setting.months, product_id)
        if counts.filter(like="detailing_").to_numpy().sum() == 0:
            reason = f"no completed visits detail product {product_id}"
    if reason:
        return {"visit_designs": {}, "visit_design": None, "visit_design_reason": None, "visit_benchmarks": {},
                "visit_effects_by_segment": None, "visits_not_estimated": reason,
                "visit_iv_skipped": None, "roi_accounts": pd.DataFrame(columns=ACCOUNT_ROI_COLUMNS)}, []
    model = VisitLift(max_units=params.max_units, random_state=params.seed, alpha=params.alpha).fit(
        panel, counts, unit=unit, y=y)
    designs, notes = {"fixed_effects": model}, []
    iv, skipped = fit_capacity_design(setting.tables, setting.months, panel, counts, model, notes,
                                      doctor_level=setting.doctor_level, y=setting.y, alpha=params.alpha,
                                      max_units=params.max_units, seed=params.seed)
    fe_long_run = model.results_.effect("per_visit_long_run")["estimate"]
    if iv is None:
        design = "fixed_effects"
        why = (f"The within-doctor (fixed-effects) estimate is used: the design from territory capacity shocks could "
               f"not be fitted ({skipped}); it overstates if reps visit more after prescribing rises.")
        notes.append(f"Visit effect from capacity shocks (IV) not estimated: {skipped}.")
    else:
        designs["iv"] = iv
        design, why = iv.results_.design, iv.results_.finding()
    scale = 1.0
    if design == "iv" and fe_long_run:
        scale = iv.results_.effect("per_visit_long_run")["estimate"] / fe_long_run
    detailing = detailing_per_unit(counts, panel, unit)
    rows = panel[unit].isin(model.fitted_units_).to_numpy() if model.sampled_ else slice(None)
    # (national scale: the benchmarks on the visit model's seeded sample of units too)
    benchmarks = {"naive": naive_pooled_slope(panel[rows], detailing[rows], y=y, alpha=params.alpha),
                  "linear_lags": linear_lags_fe(panel[rows], detailing[rows], len(setting.months), y=y, unit=unit,
                                                alpha=params.alpha)}
    return {"visit_designs": designs, "visit_design": design, "visit_design_reason": why,
            "visit_benchmarks": benchmarks, "visit_effects_by_segment": model.effects_by_segment(),
            "visits_not_estimated": None, "visit_iv_skipped": skipped,
            "roi_accounts": account_roi(model, panel, counts, unit, setting.price(product_id),
                                        params.cost_per_visit, scale=scale)}, notes
