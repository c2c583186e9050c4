"""Prescriptions of the simulated world: demand, its planted effects and the noisy counts."""

from __future__ import annotations

import numpy as np
import pandas as pd


class Outcomes:
    """Steps turning demand and effects into prescriptions (mixed into the simulator)."""

    def _demand_shape(self):
        cfg = self.cfg
        month_of_year = self.months.month.to_numpy()
        t = np.arange(cfg.n_months)
        return ((1 + cfg.seasonal_amplitude * np.cos(2 * np.pi * (month_of_year - 1) / 12))
                * (1 + cfg.monthly_trend) ** t)

    def _noisy(self, mean: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        shape = self.cfg.overdispersion_shape
        rng = self.rng if rng is None else rng
        return rng.poisson(mean * rng.gamma(shape, 1 / shape, mean.shape)).astype(float)

    def _demand_shock(self, n: int) -> np.ndarray | None:
        """Persistent doctor demand shock (multiplier, mean 1), or None when switched off.

        ``log m_it = z_it - sd**2 / 2`` with ``z`` a stationary AR(1) of standard
        deviation ``demand_shock_sd`` and persistence ``demand_shock_persistence``:
        a new patient flow, a colleague leaving. Never written to the data.
        """
        cfg = self.cfg
        if cfg.demand_shock_sd <= 0:
            return None
        rng, rho, sd = self.shock_rng, cfg.demand_shock_persistence, cfg.demand_shock_sd
        z = np.zeros((n, cfg.n_months))
        z[:, 0] = rng.normal(0, sd, n)
        for t in range(1, cfg.n_months):
            z[:, t] = rho * z[:, t - 1] + rng.normal(0, sd * np.sqrt(1 - rho ** 2), n)
        return np.exp(z - sd ** 2 / 2)

    def _demand(self, accounts, account_idx, potential, campaign_region, launch_month,
                seminar_month, launch_month_doc, shock):
        """Demand without visits (``base`` per own product, ``competitor``) and event lifts."""
        cfg = self.cfg
        n_m = cfg.n_months
        shape = self._demand_shape()
        t = np.arange(n_m)
        in_campaign = (accounts["region"].to_numpy()[account_idx] == campaign_region)[:, None] \
            & (t >= cfg.campaign_start_month)[None, :]
        campaign = 1 + cfg.campaign_lift_pct * in_campaign
        adoption = 1 / (1 + np.exp(-(t - launch_month - 8) / 4))

        def event_lift(month_of_event, lift, months):
            since = t[None, :] - month_of_event[:, None]
            return lift * ((month_of_event[:, None] >= 0) & (since >= 1) & (since <= months))

        base = {
            "P01": potential[:, None] * shape[None, :] * campaign,
            "P02": 0.4 * potential[:, None] * shape[None, :] * adoption[None, :],
        }
        competitor = 0.9 * potential[:, None] * shape[None, :]
        if shock is not None:
            base = {p: b * shock for p, b in base.items()}
            competitor = competitor * shock
        return {"shape": shape, "adoption": adoption, "base": base, "competitor": competitor,
                "events": {"P01": event_lift(seminar_month, cfg.seminar_lift, cfg.seminar_months),
                           "P02": event_lift(launch_month_doc, cfg.launch_lift, cfg.launch_months)}}

    def _prescriptions(self, doctors, demand, effective, multiplier, trx_main=None):
        """Noisy prescriptions per product (``trx`` grids), the visit lift and the table.

        ``trx_main``: main-product prescriptions already drawn month by month (feedback
        targeting), else drawn here.
        """
        cfg, rng = self.cfg, self.rng
        base, events = demand["base"], demand["events"]
        visit_lift = {p: self._visit_lift(effective[p], cfg.visit_beta[p]) for p in ("P01", "P02")}
        if self.response is not None:
            visit_lift["P01"] = self._response_lift(effective["P01"])
        mean = {p: multiplier * (base[p] + visit_lift[p] + events[p]) for p in ("P01", "P02")}
        lost = (1 - multiplier) * (base["P01"] + base["P02"])
        mean["C01"] = demand["competitor"] + lost
        trx = {p: trx_main if p == "P01" and trx_main is not None else self._noisy(m) for p, m in mean.items()}
        frames = []
        for p in ("P01", "P02", "C01"):
            rows_, cols_ = np.nonzero(trx[p] > 0)
            values = trx[p][rows_, cols_]
            frames.append(pd.DataFrame({
                "doctor_id": doctors["doctor_id"].to_numpy()[rows_], "product_id": p,
                "month": self.months[cols_], "trx": values,
                "nrx": rng.binomial(values.astype(int), 0.2).astype(float)}))
        prescriptions = (pd.concat(frames, ignore_index=True)
                         .sort_values(["month", "doctor_id", "product_id"], kind="stable").reset_index(drop=True))
        return trx, visit_lift, prescriptions
