"""Feedback targeting: reps visit more after a doctor's prescribing beat their expectation.

The central problem of the detailing literature (Manchanda, Rossi & Chintagunta 2004):
visits respond to demand. Here reps read each doctor's main-product prescriptions at
the end of the month and set next month's visit rate from the surprise::

    rate_{i,t+1} = planned_i * effort_{s,t+1} * exp(phi * clip(surprise_it, -1, 1))
    surprise_it  = log((trx_it + 1) / (expected_it + 1))
    expected_it  = level_{i,t-1} * season_t,  level_it = (1 - w) level_{i,t-1} + w trx_it / season_t

Part of the surprise is the persistent demand shock (``demand_shock_sd``), which the
data do not show and which carries on into next month's prescriptions: within a doctor,
months with more visits are months of higher unobserved demand, so a fixed-effects
regression overstates the visit effect. Visits, lapses and main-product prescriptions
are therefore drawn month by month, from their own random stream.
"""

from __future__ import annotations

import numpy as np

from crmlab.simulation.config import CHANNELS


class FeedbackTargeting:
    """The month-by-month activity step of a world with feedback targeting (mixed into the simulator)."""

    def _feedback_activity(self, doctors, territory_idx, holder, effort, potential, launch_month,
                           account_idx, demand):
        cfg, rng = self.cfg, self.feedback_rng
        n, n_m = len(doctors), cfg.n_months
        band, frequency = self._visit_frequency(potential)
        static = self._lapse_static(potential, doctors["title"].to_numpy())
        onset = np.full(n, -1)
        account_onsets = np.zeros((account_idx.max() + 1, n_m))
        counts = np.zeros((n, n_m), dtype=np.int64)
        trx = np.zeros((n, n_m))
        decline = np.r_[cfg.lapse_decline, 0.0]
        r, decay, beta = cfg.visit_saturation, cfg.visit_decay, cfg.visit_beta["P01"]
        if self.response is not None:
            r, beta = self.response["saturation"], self.response["beta"]
        weights = np.array([cfg.channel_weights[c] for c in CHANNELS])
        base, seminar, season = demand["base"]["P01"], demand["events"]["P01"], demand["shape"]
        carry = np.zeros(n)
        response = np.ones(n)
        level = None
        records = []
        for t in range(n_m):
            rate = frequency * effort[territory_idx, t] * response
            counts[:, t] = rng.poisson(rate)
            cancelled = rng.poisson(0.05 * rate)
            if t >= 3:
                self._lapse_step(t, onset, account_onsets, account_idx, static, counts, rng)
            since = t - onset
            multiplier = np.where((onset >= 0) & (since >= 0), decline[np.clip(since, 0, len(decline) - 1)], 1.0)
            doctor_idx = np.r_[np.repeat(np.arange(n), counts[:, t]), np.repeat(np.arange(n), cancelled)]
            is_cancelled = np.r_[np.zeros(counts[:, t].sum(), bool), np.ones(cancelled.sum(), bool)]
            month_idx = np.full(len(doctor_idx), t)
            channel, product = self._visit_mix(rng, month_idx, launch_month)
            records.append((doctor_idx, month_idx, is_cancelled, channel, product))
            main = (product == "P01") & ~is_cancelled
            effective = np.bincount(doctor_idx[main], weights=weights[channel[main]], minlength=n)
            carry = (1 - r ** effective) / (1 - r) + decay * carry
            mean = multiplier * (base[:, t] + beta * carry + seminar[:, t])
            trx[:, t] = self._noisy(mean, rng)
            # the rep's reading of the month sets next month's visit rate
            seen = trx[:, t] / season[t]
            level = seen if level is None else level
            surprise = np.log((trx[:, t] + 1) / (level * season[t] + 1))
            response = np.exp(cfg.feedback_targeting * np.clip(surprise, -1, 1))
            level = (1 - cfg.feedback_expectation_weight) * level + cfg.feedback_expectation_weight * seen
        doctor_idx, month_idx, is_cancelled, channel, product = (np.concatenate(part) for part in zip(*records))
        visits, effective, raw = self._visit_table(doctors, territory_idx, holder, doctor_idx, month_idx,
                                                   is_cancelled, channel, product)
        return visits, counts, effective, raw, band, onset, self._lapse_multiplier(onset), trx
