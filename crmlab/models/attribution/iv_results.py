"""Results of the visit lift from capacity shocks, and what they say in plain words."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmlab.models.uncertainty import ESTIMATE_COLUMNS


@dataclass
class VisitLiftIVResults:
    """Effects with intervals (``effects``), the design's diagnostics and the method in words."""

    effects: pd.DataFrame
    diagnostics: dict
    method: str

    def summary(self) -> pd.DataFrame:
        """One row per effect: ``effect, estimate, std_error, ci_low, ci_high, meaning``."""
        return self.effects

    def effect(self, name: str) -> dict:
        """One effect as ``{estimate, std_error, ci_low, ci_high}``."""
        row = self.effects.set_index("effect").loc[name]
        return {k: float(row[k]) for k in ESTIMATE_COLUMNS}

    @property
    def design(self) -> str:
        """``"iv"`` when the instruments identify the effect, else ``"fixed_effects"`` (the fallback)."""
        d = self.diagnostics
        return "fixed_effects" if d["weak_instruments"] or not d["converged"] else "iv"

    def finding(self) -> str:
        """The design used and why, in plain words with the numbers (for the report).

        Examples
        --------
        >>> rows = [("per_visit_long_run", 1.2, 0.1), ("fe_per_visit_long_run", 1.9, 0.1), ("lead_iv", 0.02, 0.05)]
        >>> effects = pd.DataFrame([{"effect": e, "estimate": m, "std_error": s, "ci_low": m - 2 * s,
        ...                          "ci_high": m + 2 * s} for e, m, s in rows])
        >>> d = {"alpha": 0.05, "weak_instruments": False, "converged": True, "first_stage_f": 240.0,
        ...      "min_first_stage_f": 10.0, "hausman_p_value": 0.001}
        >>> VisitLiftIVResults(effects, d, "").finding()[:89]
        'Reps visit more after prescribing rises, so the simple within-doctor estimate (1.90) over'
        """
        d = self.diagnostics
        iv, fe, lead = (self.effect(k) for k in ("per_visit_long_run", "fe_per_visit_long_run", "lead_iv"))
        level = f"{100 * (1 - d['alpha']):.0f}% CI"
        if d["weak_instruments"]:
            return (f"Territory capacity shocks move visits too little to identify the effect (first-stage F "
                    f"{d['first_stage_f']:.0f}, below {d['min_first_stage_f']:.0f}); the within-doctor estimate "
                    f"({fe['estimate']:.2f} per visit) is kept, and it overstates if reps visit more after "
                    "prescribing rises.")
        if not d["converged"]:
            return (f"Capacity shocks do not pin down how long a visit keeps working (the carry-over sits on its "
                    f"bound); the within-doctor estimate ({fe['estimate']:.2f} per visit) is kept.")
        placebo = (f"next month's visits do not predict this month's prescriptions (placebo {lead['estimate']:.2f}, "
                   f"{level} {lead['ci_low']:.2f}–{lead['ci_high']:.2f})"
                   if lead["ci_low"] <= 0 <= lead["ci_high"] else
                   f"but next month's visits still predict this month's prescriptions (placebo "
                   f"{lead['estimate']:.2f}, {level} {lead['ci_low']:.2f}–{lead['ci_high']:.2f}): read the "
                   "estimate with caution")
        if d["hausman_p_value"] < d["alpha"]:
            opening = (f"Reps visit more after prescribing rises, so the simple within-doctor estimate "
                       f"({fe['estimate']:.2f}) overstates" if fe["estimate"] > iv["estimate"] else
                       f"The simple within-doctor estimate ({fe['estimate']:.2f}) understates")
        else:
            opening = (f"The within-doctor estimate ({fe['estimate']:.2f}) and the estimate from capacity shocks "
                       f"agree within their uncertainty (Hausman p = {d['hausman_p_value']:.2f})")
        return (f"{opening}; using months when territories lost capacity (rep absences, vacancies, fewer visits "
                f"to the territory's other doctors), the long-run effect per visit is {iv['estimate']:.2f} "
                f"({level} {iv['ci_low']:.2f}–{iv['ci_high']:.2f}). The instruments are strong (first-stage F "
                f"{d['first_stage_f']:.0f}); {placebo}.")
