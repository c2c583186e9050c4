"""Heterogeneous, saturating visit response (issue 12): an option of the simulated world.

Switched on by ``visit_response`` (a shape name, ``""`` = off). Each doctor ``i`` gets
its own response to main-product (P01) visits::

    lift_it = beta_i * sum_k decay**k * s_i(e_{i,t-k}),   s_i(x) = (1 - r_i**x) / (1 - r_i)

* ``beta_i`` (first face-to-face visit of a month, same month) =
  ``scale * g(q_i, specialty_i) * u_i * responder_i`` with ``q_i`` the doctor's
  potential percentile, ``g`` the *shape* (below), ``u_i`` log-normal doctor noise
  (sd ``NOISE_SD``) and ``responder_i`` = 0 for a random ``NON_RESPONDER_SHARE`` of
  doctors (non-responders: nothing observable tells them apart).
* ``r_i`` (saturation) around ``SATURATION``: the 4th visit of a month adds
  ``r**3`` ≈ 0.17 of the first. In the ``default`` shape top prescribers saturate
  faster (lower ``r``).

Shapes of ``g`` (mean about 1 over doctors), so tests can judge a plan on response
curves the model did not choose:

``default``     a hump in potential (mid-potential doctors respond most) times a mild
                specialty factor, and faster saturation for the top decile;
``hump``        a hump in potential only;
``increasing``  rising with potential;
``decreasing``  falling with potential;
``specialty``   flat in potential, strongly by specialty.

The current plan is visibly suboptimal: reps' planned visits by potential band are
multiplied by ``PLAN_TILT`` (more to the top 10%, fewer to the middle), and lapsed
doctors go on being visited (as in every world). Everything is drawn from its own
stream ``default_rng([seed, 12, 1])``; a world without the option is draw for draw the
default world. :func:`true_plan_value` values any plan with the planted truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.simulation.config import CHANNELS

#: Response shapes (``WorldConfig.visit_response``).
RESPONSE_SHAPES = ("default", "hump", "increasing", "decreasing", "specialty")
#: First-visit same-month effect (trx) of a doctor with g = 1.
SCALE = 0.8
NON_RESPONDER_SHARE = 0.15
NOISE_SD = 0.25
SATURATION = 0.55
SATURATION_SD = 0.04
#: Multiplier of the planned visits by potential band (top 10%, next 20%, next 30%, rest).
PLAN_TILT = (1.5, 1.1, 0.8, 1.0)
#: Share of visits after the second product's launch that detail the main product.
MAIN_PRODUCT_SHARE = 0.55
SPECIALTY_STRONG = {"cardiology": 1.7, "endocrinology": 1.0, "neurology": 0.25, "internal_medicine": 1.0,
                    "general_practice": 0.4}
SPECIALTY_MILD = {"cardiology": 1.25, "endocrinology": 1.0, "neurology": 0.75, "internal_medicine": 1.0,
                  "general_practice": 0.8}


def _hump(q: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-((q - centre) / width) ** 2)


def response_shape(shape: str, q: np.ndarray, specialty: np.ndarray) -> np.ndarray:
    """``g(q, specialty)``: the relative effect per visit of each doctor (mean about 1).

    Examples
    --------
    >>> response_shape("increasing", np.array([0.0, 0.5, 1.0]), np.array(["neurology"] * 3)).round(2).tolist()
    [0.3, 1.0, 1.7]
    """
    if shape == "hump":
        return 0.35 + 1.9 * _hump(q, 0.5, 0.2)
    if shape == "increasing":
        return 0.3 + 1.4 * q
    if shape == "decreasing":
        return 1.7 - 1.4 * q
    if shape == "specialty":
        return pd.Series(specialty).map(SPECIALTY_STRONG).fillna(1.0).to_numpy()
    if shape == "default":
        return (0.45 + 1.3 * _hump(q, 0.55, 0.25)) * pd.Series(specialty).map(SPECIALTY_MILD).fillna(1.0).to_numpy()
    raise ValueError(f"visit_response must be one of {', '.join(RESPONSE_SHAPES)} (or '' for off), got {shape!r}")


def effective_per_visit(cfg) -> float:
    """Channel-weighted main-product detailing per completed visit after the launch (the plan's unit)."""
    mix = sum(s * cfg.channel_weights[c] for s, c in zip(cfg.channel_shares, CHANNELS))
    return MAIN_PRODUCT_SHARE * mix


class VisitResponse:
    """Steps of the heterogeneous response (mixed into the simulator)."""

    response = None

    def _draw_response(self, doctors: pd.DataFrame, potential: np.ndarray) -> None:
        """Draw each doctor's ``beta`` and ``r`` (sets ``self.response``; None when off)."""
        shape = self.cfg.visit_response
        if not shape:
            self.response = None
            return
        rng = np.random.default_rng([self.seed, 12, 1])
        n = len(potential)
        q = pd.Series(potential).rank(pct=True).to_numpy()
        g = response_shape(shape, q, doctors["specialty"].to_numpy())
        responder = rng.random(n) >= NON_RESPONDER_SHARE
        noise = rng.lognormal(-NOISE_SD ** 2 / 2, NOISE_SD, n)
        beta = SCALE * g * noise * responder
        r = SATURATION + rng.normal(0, SATURATION_SD, n)
        if shape == "default":
            r = r - 0.12 * (q > 0.9)
        self.response = {"beta": beta, "saturation": np.clip(r, 0.3, 0.85), "responder": responder,
                         "shape_value": g, "shape": shape}

    def _tilt_plan(self, frequency: np.ndarray, potential: np.ndarray) -> np.ndarray:
        """Reps' planned visits with the option on: more to the top, fewer to the middle."""
        if self.response is None:
            return frequency
        rank = pd.Series(potential).rank(pct=True).to_numpy()
        tilt = np.select([rank > 0.9, rank > 0.7, rank > 0.4], PLAN_TILT[:3], PLAN_TILT[3])
        return frequency * tilt

    def _response_lift(self, effective: np.ndarray) -> np.ndarray:
        """The main product's visit lift per doctor and month under the drawn response."""
        r = self.response["saturation"][:, None]
        saturated = (1 - r ** effective) / (1 - r)
        lift = np.zeros_like(saturated)
        carry = np.zeros(saturated.shape[0])
        for t in range(saturated.shape[1]):
            carry = saturated[:, t] + self.cfg.visit_decay * carry
            lift[:, t] = self.response["beta"] * carry
        return lift

    def _response_truth(self) -> tuple[dict, dict]:
        """Per-doctor truth columns and the ``response`` block of ``truth.json``."""
        resp, cfg = self.response, self.cfg
        columns = {"response_beta": resp["beta"].round(6), "response_saturation": resp["saturation"].round(6),
                   "responder": resp["responder"],
                   # what the observables (true potential, specialty) say: E[beta | q, specialty]
                   "response_expected_beta": (SCALE * (1 - NON_RESPONDER_SHARE) * resp["shape_value"]).round(6)}
        block = {"shape": resp["shape"], "decay": cfg.visit_decay, "scale": SCALE,
                 "non_responder_share": NON_RESPONDER_SHARE, "noise_sd": NOISE_SD,
                 "effective_per_visit": round(effective_per_visit(cfg), 6), "plan_tilt": list(PLAN_TILT),
                 "note": ("main product: lift_it = response_beta_i * sum_k decay^k * s_i(e_{i,t-k}), "
                          "s_i(x) = (1 - r_i^x)/(1 - r_i), r_i = response_saturation; a plan of v completed visits "
                          "a month is worth response_beta_i * s_i(effective_per_visit * v) / (1 - decay) units a "
                          "month in the long run (true_plan_value)")}
        return columns, block


def true_response(truth_doctors: pd.DataFrame, truth: dict, visits_per_month) -> np.ndarray:
    """Long-run incremental units a month of each doctor at ``visits_per_month``, by the planted truth.

    Doctors who have started to lapse (``lapse_onset_month >= 0``) are worth 0.
    """
    block = truth["response"]
    v = np.asarray(visits_per_month, dtype=float)
    r = truth_doctors["response_saturation"].to_numpy(float)
    beta = truth_doctors["response_beta"].to_numpy(float)
    x = block["effective_per_visit"] * v
    value = beta * (1 - r ** x) / (1 - r) / (1 - block["decay"])
    return np.where(truth_doctors["lapse_onset_month"].to_numpy() >= 0, 0.0, value)


def true_plan_value(truth_doctors: pd.DataFrame, truth: dict, plan: pd.DataFrame,
                    column: str = "recommended_visits_per_month") -> float:
    """Long-run incremental units a month of a plan (``doctor_id`` + ``column``), summed over non-lapsed doctors.

    Doctors missing from ``plan`` get no visits.
    """
    visits = plan.set_index("doctor_id")[column].reindex(truth_doctors["doctor_id"]).fillna(0.0).to_numpy()
    return float(true_response(truth_doctors, truth, visits).sum())
