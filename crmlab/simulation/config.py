"""Constants and the planted parameters of the simulated world (``WorldConfig``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")

SCALES: dict[str, dict] = {
    "sample": dict(n_regions=4, territories_per_region=2, n_accounts=40, n_doctors=300,
                   distributors_per_region=2, n_months=36),
    "demo": dict(n_regions=8, territories_per_region=4, n_accounts=400, n_doctors=3000,
                 distributors_per_region=3, n_months=36),
    "national": dict(n_regions=10, territories_per_region=150, n_accounts=30000,
                     n_doctors=200000, distributors_per_region=30, n_months=36),
}

REGIONS = ["North", "East", "South", "West", "Central", "Northeast", "Northwest",
           "Southwest", "Southeast", "Coast", "Inland", "Islands"]
TIERS = np.array(["3A", "3B", "2A", "2B", "1"])
TITLES = np.array(["chief", "associate_chief", "attending", "resident"])
SPECIALTIES = np.array(["cardiology", "endocrinology", "neurology", "internal_medicine",
                        "general_practice"])
CHANNELS = np.array(["face_to_face", "remote", "phone", "messaging"])
SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
            "Novak", "Kowalski", "Horvath", "Popescu", "Ivanova", "Petrov"]
GIVEN = ["Wei", "Fang", "Min", "Jing", "Lei", "Yan", "Jun", "Hui", "Anna", "Marek",
         "Elena", "Pavel", "Irina", "Tomas", "Katarina", "Bogdan"]


@dataclass
class WorldConfig:
    """Every planted parameter of the simulated world (written to ``truth.json``)."""

    n_regions: int = 4
    territories_per_region: int = 2
    n_accounts: int = 40
    n_doctors: int = 300
    distributors_per_region: int = 2
    n_months: int = 36
    # prescriptions of the main product without promotion: log-normal
    potential_log_mean: float = 1.7
    potential_log_sd: float = 0.45
    # visit targeting: monthly visits by potential band (top 10%, next 20%, next 30%, rest)
    target_frequency: tuple = (3.0, 2.0, 1.0, 0.35)
    effort_sd: float = 0.3
    rep_leave_probability: float = 0.45
    # visit effect (main product P01, second product P02)
    visit_beta: dict = field(default_factory=lambda: {"P01": 0.6, "P02": 0.3})
    visit_decay: float = 0.5
    visit_saturation: float = 0.9
    channel_weights: dict = field(default_factory=lambda: {
        "face_to_face": 1.0, "remote": 0.5, "phone": 0.25, "messaging": 0.1})
    channel_shares: tuple = (0.75, 0.15, 0.06, 0.04)
    # events: lift per attendee per month over months (event month + 1 ... + n)
    seminar_lift: float = 1.5
    seminar_months: int = 6
    launch_lift: float = 1.2
    launch_months: int = 4
    seminar_share_attending: float = 0.25
    campaign_lift_pct: float = 0.12
    campaign_start_month: int = 24
    # lapse hazard (monthly) and its drivers (log hazard ratios)
    lapse_base_hazard: float = 0.004
    lapse_coef: dict = field(default_factory=lambda: {
        "no_visit_3m": 1.0, "peer_lapse_6m": 0.9, "log_potential_z": -0.5, "resident": 0.5})
    lapse_decline: tuple = (0.7, 0.45, 0.2)
    pharmacy_lapse_hazard: float = 0.004
    # demand shape
    seasonal_amplitude: float = 0.08
    monthly_trend: float = 0.004
    overdispersion_shape: float = 20.0
    # channel
    target_doh_range: tuple = (25.0, 45.0)
    lot_months: float = 0.75
    quarter_end_loading: float = 0.3
    prices: dict = field(default_factory=lambda: {"P01": 50.0, "P02": 80.0, "C01": 45.0})
    # ---- options, off by default (see OPTIONS); their randomness has its own streams,
    # so a world with every option off is draw for draw the default world
    # a persistent doctor-level demand shock (AR(1) in logs, stationary sd), not in the data
    demand_shock_sd: float = 0.0
    demand_shock_persistence: float = 0.85
    # feedback targeting: elasticity of next month's visit rate to the surprise in this
    # month's main-product prescriptions (log of actual over the rep's expectation)
    feedback_targeting: float = 0.0
    feedback_expectation_weight: float = 0.2
    # rep absences (leave, training, sick days): spells per rep and year; written to
    # the optional ``rep_absences`` table; an absent rep makes no visits
    rep_absence_rate: float = 0.0
    # heterogeneous, saturating visit response per doctor (issue 12): a shape of
    # crmlab.simulation.response.RESPONSE_SHAPES, "" = off (one beta and r for all)
    visit_response: str = ""
    # planted shocks with a known cost (vacancy, competitor, destocking, cancelled events):
    # None = off, True = defaults, or a dict of crmlab.simulation.shocks.ShockPlan fields
    shocks: dict | bool | None = None


#: Option fields and their "off" values: written to ``truth.json`` only when switched on.
OPTIONS: dict[str, float] = {"demand_shock_sd": 0.0, "demand_shock_persistence": 0.85,
                             "feedback_targeting": 0.0, "feedback_expectation_weight": 0.2,
                             "rep_absence_rate": 0.0, "visit_response": ""}

#: A world where reps chase demand (issue 17): visits respond to last month's prescribing
#: surprise, part of which is a persistent demand shock the data do not show; reps are
#: absent some days (leave, training), an exogenous capacity shock written to the data.
#: Strengths as issue 17 measured them: the fixed-effects visit lift overstates the
#: realised long-run effect per visit by about 60% (+76% and +56% on seeds 3 and 6 at
#: demo scale, the calibration seeds; tests use others).
FEEDBACK_WORLD: dict[str, float] = {"demand_shock_sd": 0.2, "feedback_targeting": 1.3,
                                    "rep_absence_rate": 4.0}


@dataclass
class World:
    """The simulated tables (contract tables plus per-entity truth) and ``truth``."""

    tables: dict[str, pd.DataFrame]
    truth: dict
    truth_doctors: pd.DataFrame
    truth_accounts: pd.DataFrame
