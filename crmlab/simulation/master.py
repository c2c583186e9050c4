"""Master data of the simulated world: territories and accounts, doctors, reps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.simulation.config import GIVEN, REGIONS, SPECIALTIES, START, SURNAMES, TIERS, TITLES


class MasterData:
    """Steps drawing the master data (mixed into :class:`~crmlab.simulation.simulator.Simulator`)."""

    def _geography(self):
        cfg, rng = self.cfg, self.rng
        regions = REGIONS[: cfg.n_regions]
        territories = pd.DataFrame({
            "territory_id": [f"T{i + 1:04d}" for i in range(cfg.n_regions * cfg.territories_per_region)],
            "region": np.repeat(regions, cfg.territories_per_region),
        })
        n = cfg.n_accounts
        kind = rng.choice(["hospital", "clinic", "pharmacy"], size=n, p=[0.6, 0.15, 0.25])
        kind[: max(1, cfg.n_regions)] = "hospital"
        territory_idx = rng.integers(0, len(territories), size=n)
        tier = np.where(kind == "hospital", rng.choice(TIERS, size=n, p=[0.15, 0.2, 0.25, 0.25, 0.15]),
                        np.where(kind == "clinic", "1", ""))
        tier_size = pd.Series({"3A": 6.5, "3B": 6.0, "2A": 5.5, "2B": 5.1, "1": 4.4, "": 3.0})
        log_beds = tier_size.reindex(tier).to_numpy() + rng.normal(0, 0.3, n)
        beds = np.where(kind == "pharmacy", 0, np.round(np.exp(log_beds))).astype(int)
        outpatients = np.round(np.exp(log_beds + 5.3 + rng.normal(0, 0.3, n)), -2).astype(int)
        accounts = pd.DataFrame({
            "account_id": [f"{i + 1:06d}" for i in range(n)],  # numeric-looking: zeros matter
            "name": [f"{k.title()} {i + 1:05d}" for i, k in enumerate(kind)],
            "account_type": kind,
            "tier": pd.Series(tier).replace("", pd.NA),
            "region": territories["region"].to_numpy()[territory_idx],
            "city": [f"City {c:03d}" for c in rng.integers(1, max(2, n // 8) + 1, size=n)],
            "territory_id": territories["territory_id"].to_numpy()[territory_idx],
            "beds": pd.array(np.where(kind == "pharmacy", pd.NA, beds), dtype="Int64"),
            "annual_outpatients": outpatients,
        })
        return territories, accounts

    def _doctors(self, accounts: pd.DataFrame):
        cfg, rng = self.cfg, self.rng
        prescribing = accounts.index[accounts["account_type"] != "pharmacy"].to_numpy()
        weight = np.log1p(accounts.loc[prescribing, "annual_outpatients"].to_numpy()) ** 3
        account_idx = rng.choice(prescribing, size=cfg.n_doctors, p=weight / weight.sum())
        account_idx.sort()
        n = cfg.n_doctors
        title = rng.choice(TITLES, size=n, p=[0.12, 0.23, 0.4, 0.25])
        specialty = rng.choice(SPECIALTIES, size=n, p=[0.35, 0.2, 0.15, 0.2, 0.1])
        tier = accounts["tier"].fillna("1").to_numpy()[account_idx]
        tier_effect = pd.Series({"3A": 0.45, "3B": 0.3, "2A": 0.15, "2B": 0.0, "1": -0.25})
        title_effect = pd.Series({"chief": 0.35, "associate_chief": 0.2, "attending": 0.0,
                                  "resident": -0.35})
        specialty_effect = pd.Series({"cardiology": 0.2, "endocrinology": 0.1, "neurology": -0.1,
                                      "internal_medicine": 0.0, "general_practice": -0.3})
        dept_size = rng.normal(0, 0.5, n) + tier_effect.reindex(tier).to_numpy()
        department_outpatients = np.round(np.exp(7.0 + dept_size), -1).astype(int)
        department_beds = np.round(np.exp(3.3 + 0.8 * dept_size + rng.normal(0, 0.3, n))).astype(int)
        log_potential = (cfg.potential_log_mean + 0.5 * dept_size
                         + 0.6 * tier_effect.reindex(tier).to_numpy()
                         + title_effect.reindex(title).to_numpy()
                         + specialty_effect.reindex(specialty).to_numpy()
                         + rng.normal(0, cfg.potential_log_sd, n))
        names = [f"{SURNAMES[a]} {GIVEN[b]}" for a, b in
                 zip(rng.integers(0, len(SURNAMES), n), rng.integers(0, len(GIVEN), n))]
        doctors = pd.DataFrame({
            "doctor_id": [f"D{i + 1:07d}" for i in range(n)],
            "account_id": accounts["account_id"].to_numpy()[account_idx],
            "specialty": specialty,
            "title": title,
            "department_beds": department_beds,
            "department_outpatients": department_outpatients,
            "name": names,
        })
        return doctors, account_idx, np.exp(log_potential)

    def _reps(self, territories: pd.DataFrame):
        """One rep slot per territory; some reps leave and are replaced after a vacancy."""
        cfg, rng = self.cfg, self.rng
        n_t, n_m = len(territories), cfg.n_months
        active = np.ones((n_t, n_m), dtype=bool)
        rows = []
        # the rep holding slot s in month t (index into rows)
        holder = np.zeros((n_t, n_m), dtype=np.int64)
        manager = {r: f"M{k + 1:03d}" for k, r in enumerate(REGIONS[: cfg.n_regions])}
        for s, (territory, region) in enumerate(territories.itertuples(index=False)):
            hire = START - pd.Timedelta(days=int(rng.integers(60, 2500)))
            rows.append((territory, manager[region], hire, pd.NaT))
            holder[s, :] = len(rows) - 1
            if rng.random() < cfg.rep_leave_probability:
                leave = int(rng.integers(3, n_m - 6))
                gap = int(rng.integers(1, 5))
                end = self.months[leave] - pd.Timedelta(days=1)
                rows[-1] = (territory, manager[region], hire, end)
                active[s, leave:leave + gap] = False
                back = leave + gap
                if back < n_m:
                    rows.append((territory, manager[region],
                                 self.months[back] + pd.Timedelta(days=int(rng.integers(0, 5))), pd.NaT))
                    holder[s, back:] = len(rows) - 1
        reps = pd.DataFrame(rows, columns=["territory_id", "manager_id", "hire_date", "end_date"])
        reps.insert(0, "rep_id", [f"R{i + 1:05d}" for i in range(len(reps))])
        seasonal_effort = np.array([0.9, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 0.85, 1.0, 1.0, 1.0, 0.9])
        effort = (rng.lognormal(-cfg.effort_sd ** 2 / 2, cfg.effort_sd, (n_t, n_m))
                  * seasonal_effort[self.months.month.to_numpy() - 1] * active)
        return reps, holder, effort, active
