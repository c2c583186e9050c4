"""The simulator: runs the steps of the world in a fixed order, so a seed gives one world.

The order of the steps is the order of the random draws: changing it changes every
world, including the committed sample. Options (``OPTIONS``) draw from their own
streams (``default_rng([seed, 17, k])``), so switching them off gives the default world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.simulation.activity import Activity
from crmlab.simulation.capacity import Capacity
from crmlab.simulation.channel import Channel
from crmlab.simulation.config import OPTIONS, START, World, WorldConfig
from crmlab.simulation.feedback import FeedbackTargeting
from crmlab.simulation.master import MasterData
from crmlab.simulation.outcomes import Outcomes
from crmlab.simulation.response import VisitResponse
from crmlab.simulation.shocks import ShockPlan, Shocks
from crmlab.simulation.truth import Truth


class Simulator(MasterData, Activity, Capacity, FeedbackTargeting, Outcomes, Channel, Shocks, Truth,
                VisitResponse):
    """One simulated world: ``Simulator(cfg, seed, scale).run()``."""

    def __init__(self, cfg: WorldConfig, seed: int, scale: str):
        self.cfg = cfg
        self.seed = seed
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.absence_rng = np.random.default_rng([seed, 17, 1])
        self.feedback_rng = np.random.default_rng([seed, 17, 2])
        self.shock_rng = np.random.default_rng([seed, 17, 3])
        self.options_on = any(getattr(cfg, k) != v for k, v in OPTIONS.items()
                              if k not in ("demand_shock_persistence", "feedback_expectation_weight"))
        self.months = pd.date_range(START, periods=cfg.n_months, freq="MS")
        self.shock_plan = ShockPlan.of(cfg.shocks)
        if self.shock_plan is not None and cfg.feedback_targeting:
            raise ValueError("shocks are not planted in a world with feedback targeting")

    def run(self) -> World:
        cfg = self.cfg
        territories, accounts = self._geography()
        doctors, account_idx, potential = self._doctors(accounts)
        self._draw_response(doctors, potential)
        reps, holder, effort, active = self._reps(territories)
        self._rep_ids, self._holder = reps["rep_id"].to_numpy(), holder
        self._shock_setup(territories, active, cfg.n_regions * cfg.distributors_per_region)
        reps = self._shock_reps(reps, holder)
        rep_absences = None
        if cfg.rep_absence_rate > 0:
            rep_absences = self._rep_absences(holder, active)
            effort = effort * (1 - self._absent_share())
        territory_index = pd.Index(territories["territory_id"])
        doctor_territory = territory_index.get_indexer(accounts["territory_id"].to_numpy()[account_idx])

        events, attendance, seminar_month, launch_month_doc, campaign_region, launch_month = \
            self._events(doctors, accounts, account_idx, potential)
        events, attendance, seminar_month = self._shock_events(events, attendance, seminar_month, doctors)
        self._seminar_month = seminar_month
        demand = self._demand(accounts, account_idx, potential, campaign_region, launch_month,
                              seminar_month, launch_month_doc, self._demand_shock(len(doctors)))
        trx_main = None
        if cfg.feedback_targeting:
            visits, counts, effective, raw, band, onset, multiplier, trx_main = self._feedback_activity(
                doctors, doctor_territory, holder, effort, potential, launch_month, account_idx, demand)
        else:
            visits, counts, effective, raw, band = self._visits(
                doctors, doctor_territory, holder, effort, potential, launch_month)
            visits, counts, effective, raw = self._shock_visits(visits, counts, effective, raw, doctor_territory)
            onset, multiplier = self._lapse(account_idx, potential, doctors["title"].to_numpy(), counts)
            if self.shock_plan is not None:
                onset = self._shock_lapse(onset, doctor_territory)
                multiplier = self._lapse_multiplier(onset)
        trx, visit_lift, prescriptions = self._prescriptions(doctors, demand, effective, multiplier, trx_main)
        self._shock_costs(doctor_territory, demand, effective, multiplier, visit_lift)

        pharmacy_base, pharmacy_onset, pharmacy_multiplier = self._pharmacy_lapses(accounts)
        sell_out = self._sell_out(accounts, account_idx, trx, demand, campaign_region, pharmacy_base,
                                  pharmacy_multiplier)
        distributors, distributor_of_account = self._distributors(accounts)
        sales = self._sales(accounts, sell_out, distributors, distributor_of_account)
        shipments, inventory, policy = self._channel(accounts, sell_out, distributor_of_account, distributors)

        tables = {
            "accounts": accounts, "doctors": doctors, "reps": reps, "products": self._products(),
            "distributors": distributors, "visits": visits, "events": events,
            "event_attendance": attendance, "prescriptions": prescriptions, "sales": sales,
            "shipments": shipments, "inventory": inventory,
        }
        if rep_absences is not None:
            tables["rep_absences"] = rep_absences
        truth_doctors = pd.DataFrame({
            "doctor_id": doctors["doctor_id"], "potential": potential.round(4),
            "target_frequency": band, "seminar_month": seminar_month, "launch_month": launch_month_doc,
            "lapse_onset_month": onset,
            "lapse_month": np.where(onset >= 0, onset + len(cfg.lapse_decline), -1),
        })
        is_pharmacy = (accounts["account_type"] == "pharmacy").to_numpy()
        account_potential = np.bincount(account_idx, weights=potential, minlength=len(accounts))
        truth_accounts = pd.DataFrame({
            "account_id": accounts["account_id"],
            "potential": np.where(is_pharmacy, pharmacy_base, account_potential).round(4),
            "lapse_onset_month": pharmacy_onset,
            "distributor_id": distributors["distributor_id"].to_numpy()[distributor_of_account],
        })
        truth = self._truth(effective, raw, counts, visit_lift, onset, seminar_month, launch_month_doc,
                            demand["base"], multiplier, campaign_region, policy, events)
        if self.response is not None:
            columns, truth["response"] = self._response_truth()
            truth_doctors = truth_doctors.assign(**columns)
        return World(tables=tables, truth=truth, truth_doctors=truth_doctors, truth_accounts=truth_accounts)

    def _products(self) -> pd.DataFrame:
        prices = self.cfg.prices
        return pd.DataFrame({
            "product_id": ["P01", "P02", "C01"],
            "brand": ["Cardiva", "Glucora", "Rivalix"],
            "therapeutic_area": ["cardiovascular", "metabolic", "cardiovascular"],
            "unit_price": [prices["P01"], prices["P02"], prices["C01"]],
            "is_competitor": [False, False, True],
        })
