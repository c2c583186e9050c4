"""What the simulated world planted, as the JSON written to ``truth.json``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from crmlab.simulation.config import OPTIONS


class Truth:
    """The truth step (mixed into the simulator)."""

    def _truth(self, effective, raw, counts, visit_lift, onset, seminar_month, launch_month_doc,
               base, multiplier, campaign_region, policy, events) -> dict:
        cfg = self.cfg
        r, decay = cfg.visit_saturation, cfg.visit_decay
        visits = {}
        for p in ("P01", "P02"):
            beta = cfg.visit_beta[p]
            saturated = (1 - r ** effective[p]) / (1 - r)
            # average over the visits actually made: what a completed visit detailing p is worth
            average = float(saturated.sum() / max(raw[p].sum(), 1))
            visits[p] = {
                "beta_same_month": beta,
                "first_visit_same_month": beta,
                "first_visit_long_run": beta / (1 - decay),
                "per_visit_same_month": round(beta * average, 6),
                "per_visit_long_run": round(beta * average / (1 - decay), 6),
                "marginal_by_visit_number": [round(beta * r ** (k - 1), 6) for k in range(1, 7)],
            }
        n_months = cfg.n_months
        t = np.arange(n_months)
        in_campaign = (t >= cfg.campaign_start_month)
        truth = {
            "seed": self.seed, "scale": self.scale,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()
                       if (k not in OPTIONS or self.options_on) and k != "shocks"},
            "months": {"first": str(self.months[0].date()), "last": str(self.months[-1].date()),
                       "n": n_months},
            "visits": {
                "product_id": "P01", "decay": decay, "saturation": r,
                "channel_weights": cfg.channel_weights,
                **visits["P01"],
                "by_product": visits,
                "note": ("lift_t = beta * sum_k decay^k * s(e_{t-k}), s(x) = (1 - r^x)/(1 - r), "
                         "e = channel-weighted completed visits detailing the product; "
                         "per_visit_* average over the visits actually made; "
                         "the lift applies while the doctor prescribes (not after a lapse)."),
            },
            "events": {
                "seminar": {"product_id": "P01", "per_attendee_month": cfg.seminar_lift,
                            "months_after": [1, cfg.seminar_months],
                            "per_attendee_total": cfg.seminar_lift * cfg.seminar_months,
                            "attendees": int((seminar_month >= 0).sum())},
                "launch": {"product_id": "P02", "per_attendee_month": cfg.launch_lift,
                           "months_after": [1, cfg.launch_months],
                           "per_attendee_total": cfg.launch_lift * cfg.launch_months,
                           "attendees": int((launch_month_doc >= 0).sum())},
                "conference": {"product_id": "P01", "per_attendee_month": 0.0, "per_attendee_total": 0.0},
            },
            "campaign": {
                "region": campaign_region, "product_id": "P01", "event_type": "advertising",
                "start_month": str(self.months[cfg.campaign_start_month].date()),
                "lift_pct": cfg.campaign_lift_pct,
                "event_id": events.loc[events["event_type"] == "advertising", "event_id"].iat[0],
            },
            "lapse": {
                "base_hazard": cfg.lapse_base_hazard, "coef": cfg.lapse_coef,
                "decline": list(cfg.lapse_decline),
                "doctors_lapsing": int((onset >= 0).sum()),
                "share_lapsing": round(float((onset >= 0).mean()), 6),
                "note": "onset at month m: own-product trx x 0.7, 0.45, 0.2, then 0 from m+3",
            },
            "channel": {
                "quarter_end_loading": cfg.quarter_end_loading, "lot_months": cfg.lot_months,
                "policy": policy.round(4).to_dict(orient="records"),
            },
            "demand": {"seasonal_amplitude": cfg.seasonal_amplitude, "monthly_trend": cfg.monthly_trend,
                       "seasonal_peak_month": 1},
        }
        if self.options_on:
            truth["targeting"] = self._targeting_truth()
        if self.shock_truth is not None:
            truth["shocks"] = self.shock_truth
        return json.loads(json.dumps(truth, default=_json_default))

    def _targeting_truth(self) -> dict:
        """The options switched on: how reps chose visits and what moved them from outside."""
        cfg = self.cfg
        out = {
            "feedback_targeting": cfg.feedback_targeting,
            "feedback_expectation_weight": cfg.feedback_expectation_weight,
            "demand_shock_sd": cfg.demand_shock_sd,
            "demand_shock_persistence": cfg.demand_shock_persistence,
            "rep_absence_rate": cfg.rep_absence_rate,
            "note": ("visit rate_{t+1} = planned rate x territory effort x exp(feedback_targeting x "
                     "clip(surprise_t, -1, 1)), surprise_t = log((trx_t + 1) / (expected_t + 1)) of the main "
                     "product, expected_t the rep's smoothed level (weight feedback_expectation_weight) times "
                     "seasonality; demand x exp(z_it - sd^2/2), z an AR(1) with the given sd and persistence, "
                     "not in the data; rep absences (rep_absences table) remove a rep's days, so a territory's "
                     "visit rate falls by the share of days lost. The visit effect itself is unchanged: "
                     "visits.first_visit_long_run is the planted long-run effect, visits.per_visit_long_run "
                     "the realised one."),
        }
        if self.absent_days is not None:
            out["rep_absence_days"] = int(self.absent_days.sum())
        return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp,)):
        return str(value.date())
    raise TypeError(f"not JSON serialisable: {type(value)}")
