"""Judge a call plan on a simulated world with the planted per-doctor response (issue 12).

``value(plan)`` = long-run incremental units a month by the planted truth, summed over
doctors who have not lapsed (:func:`crmlab.simulation.response.true_plan_value`). The
oracle allocates the same capacity per territory knowing the truth; the share of the
oracle's gain is ``(value(rec) - value(cur)) / (value(oracle) - value(cur))``. The
*observable ceiling* is the oracle restricted to what observables can tell: it knows the
planted shape exactly (each doctor's expected effect given true potential and specialty,
``response_expected_beta``: non-responders and doctor noise averaged out), the true
saturation, and sees lapses as the data show them. No model of observables can do better
(up to chance).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from crmlab.analyses import callplan
from crmlab.models.callplan import allocate
from crmlab.simulate import simulate
from crmlab.simulation.response import true_response

#: Scale of the judging worlds (3,000 doctors, 32 territories).
SCALE = "demo"


@functools.lru_cache(maxsize=None)
def world(shape: str, seed: int):
    return simulate(SCALE, seed, visit_response=shape)


@functools.lru_cache(maxsize=None)
def result(shape: str, seed: int, **params):
    return callplan.run(world(shape, seed).tables, seed=seed, **params)


def judge(shape: str, seed: int) -> dict:
    """Values of the current, grade-quota, recommended, observable-ceiling and oracle plans."""
    w, res = world(shape, seed), result(shape, seed)
    truth_doctors = w.truth_doctors.set_index("doctor_id").reindex(res.doctors["doctor_id"]).reset_index()
    block = w.truth["response"]
    lapsed = truth_doctors["lapse_onset_month"].to_numpy() >= 0
    amplitude = np.where(lapsed, 0.0, truth_doctors["response_beta"].to_numpy() / (1 - block["decay"]))
    r = truth_doctors["response_saturation"].to_numpy()
    terr = res.territories
    code = pd.Index(terr["territory_id"]).get_indexer(res.doctors["territory_id"])
    kw = dict(max_visits=res.params.max_visits, step=res.params.step)
    oracle = allocate(amplitude, r, block["effective_per_visit"], code, terr["capacity"].to_numpy(), **kw)
    # observable ceiling: the planted shape known exactly, individual draws unknown, lapses as observed
    d = res.doctors
    observed_lapse = (d["status"] == "lapsed").to_numpy()
    expected = truth_doctors["response_expected_beta"].to_numpy() / (1 - block["decay"])
    ceiling = allocate(np.where(observed_lapse, 0, expected), r, block["effective_per_visit"], code,
                       terr["capacity"].to_numpy(), **kw)

    def value(visits):
        return float(true_response(truth_doctors, w.truth, visits).sum())

    values = {"current": value(d["current_visits_per_month"]), "grade_quota": value(d["grade_quota_visits_per_month"]),
              "recommended": value(d["recommended_visits_per_month"]), "ceiling": value(ceiling),
              "oracle": value(oracle)}
    span = values["oracle"] - values["current"]
    return {**values, "share": (values["recommended"] - values["current"]) / span,
            "ceiling_share": (values["ceiling"] - values["current"]) / span,
            "true_gain": values["recommended"] - values["current"], "gain": res.gain,
            "covered": res.gain["ci_low"] <= values["recommended"] - values["current"] <= res.gain["ci_high"],
            "within_capacity": bool((terr["recommended_visits"] <= terr["capacity"] + 1e-6).all())}
