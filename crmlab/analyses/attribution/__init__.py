"""Attribution: what visits, events and campaigns add to prescriptions or sales, with ROI.

Visit lift: :class:`~crmlab.models.attribution.VisitLift` (unit and month × size fixed
effects, estimated carry-over, saturation and channel weights) and, with doctor-level
data, :class:`~crmlab.models.attribution.iv.VisitLiftIV` (visits instrumented by
territory capacity shocks) beside two benchmarks (the naive pooled slope and linear
lags). The main design is the IV when its instruments are strong and the data show
that reps chase demand (the rule and its reasoning:
:attr:`crmlab.models.attribution.iv_results.VisitLiftIVResults.design`), else fixed
effects; both are reported. Events with an attendance list: one
:class:`~crmlab.models.attribution.EventStudy` per event type. Regional campaigns:
:func:`~crmlab.models.attribution.campaign_effect` (synthetic control). ROI per account
and per event type. Doctor-level prescriptions when present, else account-level sales.

In a refresh (``crmlab run all``) the result is kept for the call plan and the drivers,
which build on its fits (:mod:`crmlab.analyses.shared`).

This module holds the parameters, the result and :func:`run`; the shared tables and panels
are in :mod:`.setting`, the visit lift in :mod:`.visits`, the event lift in :mod:`.events`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import pandas as pd

from crmlab.analyses.attribution.events import event_lift
from crmlab.analyses.attribution.setting import setting_of
from crmlab.analyses.attribution.visits import visit_lift
from crmlab.analyses.base import (AnalysisResult, ParameterError, Params, check_params, contract_tables, load_data,
                                  param)
from crmlab.analyses.shared import shared
from crmlab.distributed import on_backend
from crmlab.io import Dataset
from crmlab.models.attribution import CampaignEffect, EventStudy, VisitLift, campaign_effect, event_roi_table
from crmlab.models.attribution.iv import VisitLiftIV
from crmlab.models.attribution.roi import EventTypeEffect
from crmlab.models.uncertainty import ESTIMATE_COLUMNS

#: The contract tables attribution reads.
TABLES = ("accounts", "doctors", "visits", "products", "prescriptions", "sales", "events", "event_attendance",
          "reps", "rep_absences")
EVENT_STUDY_COLUMNS = ["event_type", "product_id", "months_after", *ESTIMATE_COLUMNS]
#: Effects of the visit model reported in the summary.
VISIT_EFFECTS = ("per_visit_same_month", "carryover", "per_visit_long_run", "first_visit_long_run", "saturation")
#: Names of the visit designs, in words.
DESIGN_NAMES = {"fixed_effects": "fixed effects, adstock + saturation",
                "iv": "IV: territory capacity shocks, adstock + saturation"}


@dataclasses.dataclass(frozen=True)
class AttributionParams(Params):
    """Parameters of the attribution analysis."""

    product_id: str = param("", "product of the visit lift; empty = the most-detailed own product")
    cost_per_visit: float = param(30.0, "cost of one completed visit, for the account ROI")
    n_bins: int = param(10, "size bins of the month x size fixed effects")
    leads: int = param(6, "event study: months shown before the event")
    lags: int = param(9, "event study: months estimated after the event")
    max_units: int | None = param(20000, "larger panels (national): the visit-lift profile and each event "
                                         "study are fitted on a seeded sample of this many units")
    alpha: float = param(0.05, "intervals cover 1 - alpha (0.05: 95%)")


@dataclasses.dataclass
class AttributionResult(AnalysisResult):
    """What visits, events and campaigns added.

    Attributes
    ----------
    outcome : str
        ``prescriptions`` (doctor level) or ``sales`` (account level).
    product_id : str
        Product of the visit lift.
    unit : str
        ``doctor`` or ``account``.
    months : DatetimeIndex
    notes : list of str
        What was estimated differently or not at all, in words.
    visit_designs : dict of str to fitted model
        Designs estimating the visit effect: ``fixed_effects`` (a :class:`VisitLift`)
        and, when the data allow it, ``iv`` (a :class:`VisitLiftIV`). Empty when visits
        cannot be estimated.
    visit_design : str or None
        The main design (``fixed_effects`` or ``iv``), whose long-run effect per visit
        the summary, the account ROI and the report use.
    visit_design_reason : str or None
        Why, in plain words with the numbers.
    visit_benchmarks : dict of str to dict
        ``naive`` (pooled slope) and ``linear_lags`` (fixed effects, lags 0-4), each
        ``estimate, std_error, ci_low, ci_high``.
    visit_effects_by_segment : DataFrame or None
        Long-run effect per visit by potential tercile.
    visits_not_estimated : str or None
        Why there is no visit lift.
    visit_iv_skipped : str or None
        Why the capacity-shock IV design was not fitted (None when it was, or without visit lift).
    roi_accounts : DataFrame
        Per account: visits, incremental units and revenue, cost, ROI, rank.
    event_studies : dict of str to EventStudy
        One fitted study per attended event type.
    event_effects : list of EventTypeEffect
        Per attended event type: attendees, effects per attendee, ROI (or a note).
    campaigns : list of CampaignEffect
    """

    outcome: str
    product_id: str
    unit: str
    months: pd.DatetimeIndex
    notes: list[str]
    visit_designs: dict
    visit_design: str | None
    visit_design_reason: str | None
    visit_benchmarks: dict
    visit_effects_by_segment: pd.DataFrame | None
    visits_not_estimated: str | None
    visit_iv_skipped: str | None
    roi_accounts: pd.DataFrame
    event_studies: dict[str, EventStudy]
    event_effects: list[EventTypeEffect]
    campaigns: list[CampaignEffect]

    @property
    def visit_model(self) -> VisitLift | None:
        """The fixed-effects visit model (response shape: carry-over, saturation, channels), or None."""
        return self.visit_designs.get("fixed_effects")

    @property
    def iv_model(self) -> VisitLiftIV | None:
        """The capacity-shock IV design, None when the data do not allow it."""
        return self.visit_designs.get("iv")

    @property
    def campaign_model(self):
        """The synthetic control of the last estimated campaign (None without one)."""
        fitted = [c for c in self.campaigns if c.estimated]
        return fitted[-1].model if fitted else None

    @property
    def events(self) -> list[dict]:
        """Every event type, attended ones then one row per advertising campaign."""
        return [e.summary() for e in self.event_effects] + [c.event_summary() for c in self.campaigns]

    @property
    def event_study(self) -> pd.DataFrame:
        """Event-time coefficients of every event type (month -1 is the reference)."""
        frames = [self.event_studies[e.event_type].results_.coefficients.assign(
            event_type=e.event_type, product_id=e.product_id)
            for e in self.event_effects if e.event_type in self.event_studies]
        if not frames:
            return pd.DataFrame(columns=EVENT_STUDY_COLUMNS)
        return pd.concat(frames, ignore_index=True)[EVENT_STUDY_COLUMNS]

    @property
    def roi_events(self) -> pd.DataFrame:
        """Per event type: attendees, effect per attendee, incremental revenue, cost, ROI."""
        return event_roi_table(self.events)

    @property
    def naive_vs_causal(self) -> pd.DataFrame | None:
        """Long-run effect per visit by the naive slope, linear lags and the main model."""
        if self.visit_model is None:
            return None
        rows = [{"method": "naive pooled (no fixed effects)", **self.visit_benchmarks["naive"]},
                {"method": "fixed effects, linear lags 0-4", **self.visit_benchmarks["linear_lags"]}]
        for name, effect in self.design_effects().items():
            main = " (main)" if name == self.visit_design else ""
            rows.append({"method": DESIGN_NAMES[name] + main, **effect})
        return pd.DataFrame(rows)

    def design_effects(self) -> dict:
        """Long-run effect per visit by each fitted design."""
        out = {"fixed_effects": self.visit_model.results_.effect("per_visit_long_run")}
        if self.iv_model is not None:
            out["iv"] = self.iv_model.results_.effect("per_visit_long_run")
        return out

    def visit_effect(self, name: str) -> dict:
        """An effect of the main design (the fixed-effects model for what the IV does not estimate)."""
        if self.visit_design == "iv" and name in set(self.iv_model.results_.effects["effect"]):
            return self.iv_model.results_.effect(name)
        return self.visit_model.results_.effect(name)

    def design_summary(self) -> dict:
        """The design block: which design and why, both estimates, first-stage F, Hausman p, lead placebos."""
        out = {"design": self.visit_design, "design_reason": self.visit_design_reason,
               "fixed_effects": self.design_effects()["fixed_effects"], "iv": None, "first_stage_f": None,
               "hausman_p_value": None, "lead_fe": None, "lead_iv": None}
        if self.iv_model is not None:
            res = self.iv_model.results_
            out |= {"iv": res.effect("per_visit_long_run"), "first_stage_f": res.diagnostics["first_stage_f"],
                    "hausman_p_value": res.diagnostics["hausman_p_value"], "lead_fe": res.effect("lead_fe"),
                    "lead_iv": res.effect("lead_iv")}
        return out

    def visit_summary(self) -> dict:
        """The ``visits`` block of the summary: effects, benchmarks, segments, method."""
        model = self.visit_model
        if model is None:
            return {"per_visit_same_month": None, "carryover": None, "per_visit_long_run": None,
                    "naive_per_visit": None, "method": f"Visit lift cannot be estimated: {self.visits_not_estimated}."}
        naive, lags = self.visit_benchmarks["naive"], self.visit_benchmarks["linear_lags"]
        coverage = f"{100 * (1 - self.params.alpha):g}%"
        method = model.results_.method
        if self.iv_model is not None:
            method += " " + self.iv_model.results_.method
        if self.visit_design == "iv":
            method += (" Main design: the IV (strong instruments and evidence that reps chase demand). The account "
                       "ROI uses its long-run effect per visit (the fixed-effects lift per account scaled to it); "
                       "saturation, channel weights, the response curve and the effects by segment are the "
                       "fixed-effects model's.")
        else:
            method += (" Main design: fixed effects (consistent, and more precise than the IV, when visits are not "
                       "chasing demand).")
        return {
            **{name: self.visit_effect(name) for name in VISIT_EFFECTS},
            **self.design_summary(),
            "channel_weights": model.channel_weights_, "naive_per_visit": naive["estimate"],
            "linear_lags_long_run": lags["estimate"],
            "naive_over_causal": naive["estimate"] / self.visit_effect("per_visit_long_run")["estimate"],
            "n_obs": model.n_obs_, "n_units": model.n_units_, "method": method,
            "by_segment": {
                "method": ("Units split into terciles of their mean outcome over the first 6 months (potential); "
                           "the fitted adstock regressor interacted with the tercile, same fixed effects; long-run "
                           f"effect per visit made in each tercile, cluster-robust {coverage} interval conditional "
                           "on the pooled carry-over and saturation. High-potential units get more visits a month, "
                           "so saturation alone makes their effect per visit differ; overlapping intervals are no "
                           "evidence of a different response."),
                "segments": self.visit_effects_by_segment.to_dict("records")}}

    def summary(self) -> dict:
        return super().summary() | {
            "outcome": self.outcome, "product_id": self.product_id, "unit": self.unit,
            "months": {"first": str(self.months[0].date()), "last": str(self.months[-1].date()),
                       "n": len(self.months)},
            "visits": self.visit_summary(),
            "campaigns": [c.summary() for c in self.campaigns],
            "events": self.events,
            "notes": self.notes,
            "cost_per_visit": self.params.cost_per_visit}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        out = {}
        model = self.visit_model
        if model is not None:
            out["visit_effects"] = model.results_.effects
            out["visit_effects_by_segment"] = self.visit_effects_by_segment
            out["response_curve"] = model.results_.response_curve
            out["carryover_curve"] = model.results_.carryover_curve
            out["naive_vs_causal"] = self.naive_vs_causal
            if self.iv_model is not None:
                out["visit_iv_effects"] = self.iv_model.results_.effects
        out["roi_accounts"] = self.roi_accounts
        fitted = [c for c in self.campaigns if c.estimated]
        if fitted:
            out["campaign_path"], out["campaign_placebo"] = fitted[-1].path, fitted[-1].placebo
        out["event_study"] = self.event_study
        out["roi_events"] = self.roi_events
        return out


@on_backend
def run(data: str | Dataset | Mapping = "data/sample", **params) -> AttributionResult:
    """Estimate what visits, events and campaigns added, with ROI.

    Parameters
    ----------
    data : str, Path, Dataset or mapping of DataFrames
        A data directory in the data contract, a loaded dataset, or contract tables by
        name (e.g. a simulated world's ``tables``). Needs ``accounts`` and an outcome:
        ``prescriptions`` (doctor level) or ``sales`` (account level).
    **params
        :class:`AttributionParams`.

    Raises
    ------
    ParameterError
        Unknown or ill-typed parameter, or ``alpha`` outside (0, 1).
    ValueError
        No outcome table or no accounts table.

    Examples
    --------
    >>> result = run("data/sample")
    >>> result.summary()["outcome"], result.product_id, len(result.months)
    ('prescriptions', 'P01', 36)
    """
    params = check_params(AttributionParams, params)
    if not 0 < params.alpha < 1:
        raise ParameterError(f"parameter 'alpha' must be between 0 and 1, got {params.alpha!r}")
    if not isinstance(data, Mapping):
        data = load_data(data, params)
    return shared("attribution", data, params, lambda: _estimate(data, params))


def _estimate(data: Dataset | Mapping, params: AttributionParams) -> AttributionResult:
    tables, rejects = contract_tables(data, params, TABLES)
    setting = setting_of(tables, params)
    notes = []
    if not setting.doctor_level:
        notes.append("No doctor-level prescriptions: visit and event lift are estimated on account x month "
                     "sell-out (units), with visits to the account's doctors; effects are per visit / per attendee "
                     "on account sales, less precise than doctor-level estimates.")
    visits, visit_notes = visit_lift(setting)
    notes += visit_notes
    if visits["visits_not_estimated"]:
        notes.append(f"Visit lift cannot be estimated: {visits['visits_not_estimated']}.")
    event_studies, event_effects = event_lift(setting)
    events = tables["events"]
    ads = events[events["event_type"].astype(str) == "advertising"] if len(events) else pd.DataFrame()
    campaigns = [campaign_effect(ad, tables["accounts"], tables["sales"], tables["prescriptions"], tables["doctors"],
                                 setting.months, setting.prices) for _, ad in ads.iterrows()]
    return AttributionResult(
        params=params, rejects=rejects, outcome="prescriptions" if setting.doctor_level else "sales",
        product_id=setting.product_id, unit="doctor" if setting.doctor_level else "account",
        months=setting.months, notes=notes, **visits, event_studies=event_studies, event_effects=event_effects,
        campaigns=campaigns)
