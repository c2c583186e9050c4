"""Field-force activity of the simulated world: visits, events, doctor lapses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.simulation.config import CHANNELS, REGIONS


class Activity:
    """Steps drawing visits, events and lapses (mixed into the simulator)."""

    # ------------------------------------------------------------------ visits
    def _visit_frequency(self, potential):
        """Targeting: a doctor's planned visits a month, by potential band with doctor noise."""
        cfg, rng = self.cfg, self.rng
        rank = pd.Series(potential).rank(pct=True).to_numpy()
        band = np.select([rank > 0.9, rank > 0.7, rank > 0.4], cfg.target_frequency[:3],
                         cfg.target_frequency[3])
        frequency = band * rng.lognormal(-0.045, 0.3, len(potential))
        return band, self._tilt_plan(frequency, potential)

    def _visits(self, doctors, territory_idx, holder, effort, potential, launch_month):
        n, n_m = len(doctors), self.cfg.n_months
        band, frequency = self._visit_frequency(potential)
        counts = self.rng.poisson(frequency[:, None] * effort[territory_idx])  # completed visits
        cancelled = self.rng.poisson(0.05 * frequency[:, None] * effort[territory_idx])
        cell_doctor = np.repeat(np.arange(n), n_m)
        cell_month = np.tile(np.arange(n_m), n)
        doctor_idx = np.r_[np.repeat(cell_doctor, counts.ravel()), np.repeat(cell_doctor, cancelled.ravel())]
        month_idx = np.r_[np.repeat(cell_month, counts.ravel()), np.repeat(cell_month, cancelled.ravel())]
        is_cancelled = np.r_[np.zeros(counts.sum(), bool), np.ones(cancelled.sum(), bool)]
        channel, product = self._visit_mix(self.rng, month_idx, launch_month)
        visits, effective, raw = self._visit_table(doctors, territory_idx, holder, doctor_idx, month_idx,
                                                   is_cancelled, channel, product)
        return visits, counts, effective, raw, band

    def _visit_mix(self, rng, month_idx, launch_month):
        """Channel and product detailed of each visit."""
        m = len(month_idx)
        channel = rng.choice(len(CHANNELS), size=m, p=list(self.cfg.channel_shares))
        # the second product is detailed from its launch on
        p02_share = np.where(month_idx >= launch_month, 0.35, 0.0)
        u = rng.random(m)
        product = np.where(u < 0.1, "", np.where(u < 0.1 + p02_share, "P02", "P01"))
        return channel, product

    def _effective_visits(self, doctor_idx, month_idx, is_cancelled, channel, product, n, n_m):
        """Channel-weighted completed visits (``effective``) and completed visits (``raw``) per product."""
        weight = np.array([self.cfg.channel_weights[c] for c in CHANNELS])[channel] * ~is_cancelled
        effective, raw = {}, {}
        for p in ("P01", "P02"):
            sel = product == p
            effective[p] = np.bincount(doctor_idx[sel] * n_m + month_idx[sel], weights=weight[sel],
                                       minlength=n * n_m).reshape(n, n_m)
            raw[p] = np.bincount(doctor_idx[sel & ~is_cancelled] * n_m + month_idx[sel & ~is_cancelled],
                                 minlength=n * n_m).reshape(n, n_m)
        return effective, raw

    def _visit_table(self, doctors, territory_idx, holder, doctor_idx, month_idx, is_cancelled, channel, product):
        """The ``visits`` table (dates and durations drawn here) and the visit grids."""
        rng = self.rng
        n, n_m = len(doctors), self.cfg.n_months
        m = len(doctor_idx)
        days = self.months.days_in_month.to_numpy()[month_idx]
        date = self.months.to_numpy()[month_idx] + (rng.random(m) * days).astype("timedelta64[D]")
        if self.absent_days is not None:
            date = self._present_dates(date, territory_idx[doctor_idx], month_idx)
        duration = np.where(channel == 0, rng.normal(15, 5, m), rng.normal(8, 3, m)).clip(2).round(0)
        order = np.lexsort((doctor_idx, date))
        visits = pd.DataFrame({
            "visit_id": [f"V{i + 1:08d}" for i in range(m)],
            "date": pd.to_datetime(date[order]),
            "rep_id": self._rep_ids[holder[territory_idx[doctor_idx], month_idx]][order],
            "doctor_id": doctors["doctor_id"].to_numpy()[doctor_idx][order],
            "product_id": product[order],
            "channel": CHANNELS[channel][order],
            "duration_min": duration[order],
            "status": np.where(is_cancelled, "cancelled", "completed")[order],
        })
        effective, raw = self._effective_visits(doctor_idx, month_idx, is_cancelled, channel, product, n, n_m)
        return visits, effective, raw

    def _visit_lift(self, effective: np.ndarray, beta: float) -> np.ndarray:
        r, decay = self.cfg.visit_saturation, self.cfg.visit_decay
        saturated = (1 - r ** effective) / (1 - r)
        lift = np.zeros_like(saturated)
        carry = np.zeros(saturated.shape[0])
        for t in range(saturated.shape[1]):
            carry = saturated[:, t] + decay * carry
            lift[:, t] = beta * carry
        return lift

    # ------------------------------------------------------------------ events
    def _events(self, doctors, accounts, account_idx, potential):
        """Seminars, launches, placebo conferences and one regional campaign."""
        cfg, rng = self.cfg, self.rng
        n, n_m = len(doctors), cfg.n_months
        region = accounts["region"].to_numpy()[account_idx]
        rows, attendance = [], []
        seminar_month = np.full(n, -1)
        launch_month_doc = np.full(n, -1)

        def pick(pool, k):
            w = potential[pool] ** 1.5
            return rng.choice(pool, size=min(k, len(pool)), replace=False, p=w / w.sum())

        launch_month = 3
        for reg in REGIONS[: cfg.n_regions]:
            in_region = np.flatnonzero(region == reg)
            hosts = accounts.index[(accounts["region"] == reg) & (accounts["account_type"] == "hospital")]
            # seminars: attendees never attended one before (staggered, absorbing treatment)
            size = int(np.clip(round(len(in_region) * 0.04), 3, 30))
            n_seminars = max(4, round(len(in_region) * cfg.seminar_share_attending / size))
            for month in np.sort(rng.integers(3, n_m - cfg.seminar_months - 1, n_seminars)):
                pool = in_region[seminar_month[in_region] < 0]
                if len(pool) == 0:
                    break
                chosen = pick(pool, size)
                seminar_month[chosen] = month
                rows.append(("seminar", month, "P01", reg, accounts["account_id"].iat[rng.choice(hosts)],
                             round(3000 + 150 * len(chosen), 2), chosen))
            # launches of the second product, early in the period
            n_launches = max(2, round(len(in_region) * 0.15 / size))
            for month in np.sort(rng.integers(launch_month, launch_month + 12, n_launches)):
                pool = in_region[launch_month_doc[in_region] < 0]
                chosen = pick(pool, size)
                launch_month_doc[chosen] = month
                rows.append(("launch", month, "P02", reg, accounts["account_id"].iat[rng.choice(hosts)],
                             round(5000 + 200 * len(chosen), 2), chosen))
        # national conferences: attendees chosen by potential, no effect on prescriptions
        conference_size = max(5, round(n * 0.03))
        for month in (10, 22):
            chosen = pick(np.arange(n), conference_size)
            rows.append(("conference", month, "P01", pd.NA, pd.NA, round(20000 + 300 * len(chosen), 2), chosen))
        campaign_region = REGIONS[0]
        rows.append(("advertising", cfg.campaign_start_month, "P01", campaign_region, pd.NA,
                     round(2000.0 * len(np.flatnonzero(region == campaign_region)) + 50000, 2),
                     np.array([], dtype=int)))
        events, k = [], 0
        for event_type, month, product, reg, account, cost, chosen in rows:
            k += 1
            event_id = f"E{k:05d}"
            start = self.months[month] + pd.Timedelta(days=int(rng.integers(0, 25)))
            end = self.months[-1] + pd.offsets.MonthEnd(0) if event_type == "advertising" else start
            events.append((event_id, event_type, start, end, product, reg, account, cost))
            attendance += [(event_id, d) for d in np.sort(chosen)]
        events = pd.DataFrame(events, columns=["event_id", "event_type", "start_date", "end_date",
                                               "product_id", "region", "account_id", "cost"])
        attendance = pd.DataFrame(attendance, columns=["event_id", "doctor_idx"])
        attendance["doctor_id"] = doctors["doctor_id"].to_numpy()[attendance.pop("doctor_idx").to_numpy()]
        return events, attendance, seminar_month, launch_month_doc, campaign_region, launch_month

    # ------------------------------------------------------------------ lapse
    def _lapse_static(self, potential, titles):
        """The time-invariant part of a doctor's log lapse hazard."""
        coef = self.cfg.lapse_coef
        z = (np.log(potential) - np.log(potential).mean()) / np.log(potential).std()
        return coef["log_potential_z"] * z + coef["resident"] * (titles == "resident")

    def _lapse_step(self, t, onset, account_onsets, accounts_idx, static, completed_visits, rng):
        """Draw month ``t``'s lapse onsets (``onset`` and ``account_onsets`` updated in place)."""
        cfg = self.cfg
        at_risk = onset < 0
        no_visit = completed_visits[:, t - 3:t].sum(axis=1) == 0
        peers = account_onsets[accounts_idx, max(0, t - 6):t].sum(axis=1)
        own_recent = (onset >= max(0, t - 6)) & (onset < t)
        peer_lapse = (peers - own_recent) > 0
        hazard = cfg.lapse_base_hazard * np.exp(static + cfg.lapse_coef["no_visit_3m"] * no_visit
                                                + cfg.lapse_coef["peer_lapse_6m"] * peer_lapse)
        new = at_risk & (rng.random(len(onset)) < hazard)
        onset[new] = t
        np.add.at(account_onsets[:, t], accounts_idx[new], 1)

    def _lapse(self, accounts_idx, potential, titles, completed_visits):
        """Monthly lapse onsets with hazard from observable signals."""
        n, n_m = len(potential), self.cfg.n_months
        static = self._lapse_static(potential, titles)
        onset = np.full(n, -1)
        account_onsets = np.zeros((accounts_idx.max() + 1, n_m))
        for t in range(3, n_m):
            self._lapse_step(t, onset, account_onsets, accounts_idx, static, completed_visits, self.rng)
        return onset, self._lapse_multiplier(onset)

    def _lapse_multiplier(self, onset):
        """Own-product demand multiplier per doctor and month: 1, then the decline, then 0."""
        n_m = self.cfg.n_months
        multiplier = np.ones((len(onset), n_m))
        decline = np.r_[self.cfg.lapse_decline, 0.0]
        for t in range(n_m):
            since = t - onset
            idx = (onset >= 0) & (since >= 0)
            multiplier[idx, t] = decline[np.minimum(since[idx], len(decline) - 1)]
        return multiplier
