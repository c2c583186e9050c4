"""A simulated pharmaceutical market, written in the data contract, with its truth.

The world is the test bed that proves crmlab's estimators right: every effect an
analysis estimates is planted here with a known value, recorded in ``truth.json``
(and, per doctor and per account, in ``truth_doctors.csv`` / ``truth_accounts.csv``).

What is planted (``t`` is the month index, ``i`` a doctor):

* **Potential.** ``potential_i`` = the doctor's monthly prescriptions of the main own
  product without promotion; log-normal, driven by account tier, title, department
  outpatient volume and noise. Observable grading indicators are noisy proxies of it.
* **Targeting.** Reps visit doctors by potential (target frequency by potential band,
  with doctor-level noise), so visits and prescriptions are correlated across doctors
  far beyond the causal effect. Within a doctor, visits vary with rep effort
  (holidays, month-to-month noise) and with vacancies when a rep leaves.
* **Visit effect.** For product ``p`` the lift in month ``t`` is
  ``beta_p * sum_k decay**k * s(e_{i,t-k})`` where ``e`` is the channel-weighted count
  of completed visits detailing ``p`` and ``s(x) = (1 - r**x) / (1 - r)`` gives
  diminishing returns (the n-th visit in a month adds ``r**(n-1)`` of the first).
* **Events.** Seminars (main product) and launches (second product) with attendees
  chosen by potential; attendees' prescriptions rise by a constant amount per month
  over a known window after the event month. Conferences have no effect (a placebo).
  A region-level advertising campaign lifts the main product by a known percentage.
* **Lapse.** A doctor starts to lapse with a monthly hazard driven by observable
  signals (no visit for 3 months, a peer in the same account lapsing, low potential,
  junior title); own-product prescriptions then decline over three months to zero and
  switch to the competitor. Pharmacies lapse likewise.
* **Channel.** Account sell-out (``sales``) through one distributor per account; each
  distributor orders (``shipments``) to an order-up-to days-on-hand target in whole
  lots, with quarter-end loading, so sell-in is lumpier than sell-out; month-end
  ``inventory`` follows the identity ``I_t = I_{t-1} + sell_in_t - sell_out_t``.
* Seasonality (winter peak) and a slow trend on all demand.

Examples
--------
>>> world = simulate(scale="sample", seed=1)
>>> sorted(world.tables)[:3]
['accounts', 'distributors', 'doctors']
>>> world.truth["visits"]["decay"]
0.5
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass
class World:
    """The simulated tables (contract tables plus per-entity truth) and ``truth``."""

    tables: dict[str, pd.DataFrame]
    truth: dict
    truth_doctors: pd.DataFrame
    truth_accounts: pd.DataFrame


def simulate(scale: str = "sample", seed: int = 7, **overrides) -> World:
    """Simulate a pharma market.

    Parameters
    ----------
    scale : {"sample", "demo", "national"}
        Size preset; see ``SCALES``.
    seed : int
        Seed of the only random generator used; the same seed gives the same world.
    **overrides
        Any ``WorldConfig`` field, e.g. ``n_doctors=2000`` or ``visit_decay=0.3``.

    Returns
    -------
    World
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cfg = WorldConfig(**{**SCALES[scale], **overrides})
    return _Simulator(cfg, seed, scale).run()


def write_world(world: World, out_dir: str | Path, fmt: str = "csv") -> Path:
    """Write the contract tables, ``truth.json`` and the per-entity truth files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, table in world.tables.items():
        _write_table(table, out / name, fmt)
    _write_table(world.truth_doctors, out / "truth_doctors", "csv")
    _write_table(world.truth_accounts, out / "truth_accounts", "csv")
    (out / "truth.json").write_text(json.dumps(world.truth, indent=2, sort_keys=True) + "\n",
                                    encoding="utf-8")
    return out


def _write_table(table: pd.DataFrame, stem: Path, fmt: str) -> None:
    for old in (stem.with_suffix(".csv"), stem.with_suffix(".parquet")):
        old.unlink(missing_ok=True)
    if fmt == "parquet":
        table.to_parquet(stem.with_suffix(".parquet"), index=False)
    else:
        table.to_csv(stem.with_suffix(".csv"), index=False, date_format="%Y-%m-%d",
                     float_format="%.10g", lineterminator="\n")


class _Simulator:
    def __init__(self, cfg: WorldConfig, seed: int, scale: str):
        self.cfg = cfg
        self.seed = seed
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.months = pd.date_range(START, periods=cfg.n_months, freq="MS")

    # ------------------------------------------------------------------ master data
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

    # ------------------------------------------------------------------ activity
    def _visits(self, doctors, territory_idx, holder, effort, potential, launch_month):
        cfg, rng = self.cfg, self.rng
        n, n_m = len(doctors), cfg.n_months
        rank = pd.Series(potential).rank(pct=True).to_numpy()
        band = np.select([rank > 0.9, rank > 0.7, rank > 0.4], cfg.target_frequency[:3],
                         cfg.target_frequency[3])
        frequency = band * rng.lognormal(-0.045, 0.3, n)
        counts = rng.poisson(frequency[:, None] * effort[territory_idx])  # completed visits
        cancelled = rng.poisson(0.05 * frequency[:, None] * effort[territory_idx])
        cell_doctor = np.repeat(np.arange(n), n_m)
        cell_month = np.tile(np.arange(n_m), n)
        doctor_idx = np.r_[np.repeat(cell_doctor, counts.ravel()), np.repeat(cell_doctor, cancelled.ravel())]
        month_idx = np.r_[np.repeat(cell_month, counts.ravel()), np.repeat(cell_month, cancelled.ravel())]
        is_cancelled = np.r_[np.zeros(counts.sum(), bool), np.ones(cancelled.sum(), bool)]
        m = len(doctor_idx)
        channel = rng.choice(len(CHANNELS), size=m, p=list(cfg.channel_shares))
        # the second product is detailed from its launch on
        p02_share = np.where(month_idx >= launch_month, 0.35, 0.0)
        u = rng.random(m)
        product = np.where(u < 0.1, "", np.where(u < 0.1 + p02_share, "P02", "P01"))
        days = self.months.days_in_month.to_numpy()[month_idx]
        date = self.months.to_numpy()[month_idx] + (rng.random(m) * days).astype("timedelta64[D]")
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
        # channel-weighted completed visits per doctor x month x product
        weight = np.array([cfg.channel_weights[c] for c in CHANNELS])[channel] * ~is_cancelled
        effective, raw = {}, {}
        for p in ("P01", "P02"):
            sel = product == p
            effective[p] = np.bincount(doctor_idx[sel] * n_m + month_idx[sel], weights=weight[sel],
                                       minlength=n * n_m).reshape(n, n_m)
            raw[p] = np.bincount(doctor_idx[sel & ~is_cancelled] * n_m + month_idx[sel & ~is_cancelled],
                                 minlength=n * n_m).reshape(n, n_m)
        return visits, counts, effective, raw, band

    def _visit_lift(self, effective: np.ndarray, beta: float) -> np.ndarray:
        r, decay = self.cfg.visit_saturation, self.cfg.visit_decay
        saturated = (1 - r ** effective) / (1 - r)
        lift = np.zeros_like(saturated)
        carry = np.zeros(saturated.shape[0])
        for t in range(saturated.shape[1]):
            carry = saturated[:, t] + decay * carry
            lift[:, t] = beta * carry
        return lift

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

    def _lapse(self, accounts_idx, potential, titles, completed_visits):
        """Monthly lapse onsets with hazard from observable signals."""
        cfg, rng = self.cfg, self.rng
        n, n_m = len(potential), cfg.n_months
        z = (np.log(potential) - np.log(potential).mean()) / np.log(potential).std()
        static = cfg.lapse_coef["log_potential_z"] * z + cfg.lapse_coef["resident"] * (titles == "resident")
        onset = np.full(n, -1)
        account_onsets = np.zeros((accounts_idx.max() + 1, n_m))
        for t in range(3, n_m):
            at_risk = onset < 0
            no_visit = completed_visits[:, t - 3:t].sum(axis=1) == 0
            peers = account_onsets[accounts_idx, max(0, t - 6):t].sum(axis=1)
            own_recent = (onset >= max(0, t - 6)) & (onset < t)
            peer_lapse = (peers - own_recent) > 0
            hazard = cfg.lapse_base_hazard * np.exp(static + cfg.lapse_coef["no_visit_3m"] * no_visit
                                                    + cfg.lapse_coef["peer_lapse_6m"] * peer_lapse)
            new = at_risk & (rng.random(n) < hazard)
            onset[new] = t
            np.add.at(account_onsets[:, t], accounts_idx[new], 1)
        multiplier = np.ones((n, n_m))
        decline = np.r_[cfg.lapse_decline, 0.0]
        for t in range(n_m):
            since = t - onset
            idx = (onset >= 0) & (since >= 0)
            multiplier[idx, t] = decline[np.minimum(since[idx], len(decline) - 1)]
        return onset, multiplier

    # ------------------------------------------------------------------ outcomes
    def _demand_shape(self):
        cfg = self.cfg
        month_of_year = self.months.month.to_numpy()
        t = np.arange(cfg.n_months)
        return ((1 + cfg.seasonal_amplitude * np.cos(2 * np.pi * (month_of_year - 1) / 12))
                * (1 + cfg.monthly_trend) ** t)

    def _noisy(self, mean: np.ndarray) -> np.ndarray:
        shape = self.cfg.overdispersion_shape
        return self.rng.poisson(mean * self.rng.gamma(shape, 1 / shape, mean.shape)).astype(float)

    def _channel(self, accounts, sell_out_units, distributor_of_account, distributors):
        """Distributor sell-in from an order-up-to days-on-hand policy in whole lots."""
        cfg, rng = self.cfg, self.rng
        n_d, n_m = len(distributors), cfg.n_months
        products = ["P01", "P02"]
        shipments, inventory, policy = [], [], []
        target = rng.uniform(*cfg.target_doh_range, n_d).round(1)
        for p_i, product in enumerate(products):
            demand = np.zeros((n_d, n_m))
            np.add.at(demand, distributor_of_account, sell_out_units[p_i])
            for d in range(n_d):
                level = demand[d]
                base = max(level[:3].mean(), 1.0)
                lot = max(10.0, np.round(base * cfg.lot_months, -1))
                stock = base * target[d] / 30
                policy.append((distributors["distributor_id"].iat[d], product, target[d], lot))
                for t in range(n_m):
                    forecast = level[max(0, t - 3):t].mean() if t >= 1 else base
                    order_up_to = forecast * (1 + target[d] / 30)
                    order = np.ceil(max(0.0, order_up_to - stock) / lot) * lot
                    if self.months[t].month in (3, 6, 9, 12):
                        order += np.round(cfg.quarter_end_loading * forecast / lot) * lot
                    emergency = 0.0
                    if stock + order - level[t] < 0:
                        emergency = np.ceil((level[t] - stock - order) / lot) * lot
                    returned = 0.0
                    if rng.random() < 0.01 and stock > lot:
                        returned = -np.round(0.1 * stock)
                    stock = stock + order + emergency + returned - level[t]
                    day0 = self.months[t]
                    for qty, day in ((order, 2), (emergency, 18), (returned, 25)):
                        if qty != 0:
                            shipments.append((day0 + pd.Timedelta(days=day + int(rng.integers(0, 3))),
                                              distributors["distributor_id"].iat[d], product, qty))
                    inventory.append((day0 + pd.offsets.MonthEnd(0), distributors["distributor_id"].iat[d],
                                      product, round(stock, 1)))
        shipments = pd.DataFrame(shipments, columns=["date", "distributor_id", "product_id", "units"])
        inventory = pd.DataFrame(inventory, columns=["date", "distributor_id", "product_id", "units_on_hand"])
        policy = pd.DataFrame(policy, columns=["distributor_id", "product_id", "target_days_on_hand", "lot"])
        return (shipments.sort_values(["date", "distributor_id", "product_id"], kind="stable").reset_index(drop=True),
                inventory.sort_values(["date", "distributor_id", "product_id"], kind="stable").reset_index(drop=True),
                policy)

    # ------------------------------------------------------------------ assemble
    def run(self) -> World:
        cfg, rng = self.cfg, self.rng
        n_m = cfg.n_months
        territories, accounts = self._geography()
        doctors, account_idx, potential = self._doctors(accounts)
        reps, holder, effort, active = self._reps(territories)
        self._rep_ids = reps["rep_id"].to_numpy()
        territory_index = pd.Index(territories["territory_id"])
        doctor_territory = territory_index.get_indexer(accounts["territory_id"].to_numpy()[account_idx])

        events, attendance, seminar_month, launch_month_doc, campaign_region, launch_month = \
            self._events(doctors, accounts, account_idx, potential)
        visits, counts, effective, raw, band = self._visits(
            doctors, doctor_territory, holder, effort, potential, launch_month)
        onset, multiplier = self._lapse(account_idx, potential, doctors["title"].to_numpy(), counts)

        shape = self._demand_shape()
        t = np.arange(n_m)
        in_campaign = (accounts["region"].to_numpy()[account_idx] == campaign_region)[:, None] \
            & (t >= cfg.campaign_start_month)[None, :]
        campaign = 1 + cfg.campaign_lift_pct * in_campaign
        adoption = 1 / (1 + np.exp(-(t - launch_month - 8) / 4))

        def event_lift(month_of_event, lift, months):
            since = t[None, :] - month_of_event[:, None]
            return lift * ((month_of_event[:, None] >= 0) & (since >= 1) & (since <= months))

        visit_lift = {p: self._visit_lift(effective[p], cfg.visit_beta[p]) for p in ("P01", "P02")}
        seminar = event_lift(seminar_month, cfg.seminar_lift, cfg.seminar_months)
        launch = event_lift(launch_month_doc, cfg.launch_lift, cfg.launch_months)
        base = {
            "P01": potential[:, None] * shape[None, :] * campaign,
            "P02": 0.4 * potential[:, None] * shape[None, :] * adoption[None, :],
        }
        mean = {
            "P01": multiplier * (base["P01"] + visit_lift["P01"] + seminar),
            "P02": multiplier * (base["P02"] + visit_lift["P02"] + launch),
        }
        lost = (1 - multiplier) * (base["P01"] + base["P02"])
        mean["C01"] = 0.9 * potential[:, None] * shape[None, :] + lost
        trx = {p: self._noisy(m) for p, m in mean.items()}

        n = len(doctors)
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

        # account sell-out: hospital/clinic = its doctors' prescriptions; pharmacies: retail demand
        n_a = len(accounts)
        is_pharmacy = (accounts["account_type"] == "pharmacy").to_numpy()
        pharmacy_base = rng.lognormal(3.3, 0.5, n_a)
        pharmacy_onset = np.where(rng.random((n_a, n_m)) < cfg.pharmacy_lapse_hazard, t[None, :], n_m + 99).min(axis=1)
        pharmacy_onset = np.where(is_pharmacy & (pharmacy_onset < n_m), pharmacy_onset, -1)
        decline = np.r_[cfg.lapse_decline, 0.0]
        since = t[None, :] - pharmacy_onset[:, None]
        pharmacy_multiplier = np.where((pharmacy_onset[:, None] >= 0) & (since >= 0),
                                       decline[np.clip(since, 0, len(decline) - 1)], 1.0)
        account_campaign = 1 + cfg.campaign_lift_pct * (
            (accounts["region"].to_numpy() == campaign_region)[:, None] & (t >= cfg.campaign_start_month)[None, :])
        sell_out = []
        for p, retail in (("P01", 1.0), ("P02", 0.4)):
            units = np.zeros((n_a, n_m))
            np.add.at(units, account_idx, trx[p])
            retail_mean = retail * pharmacy_base[:, None] * shape[None, :] * pharmacy_multiplier
            if p == "P01":
                retail_mean = retail_mean * account_campaign
            else:
                retail_mean = retail_mean * adoption[None, :]
            units = np.where(is_pharmacy[:, None], self._noisy(retail_mean), units)
            sell_out.append(units)

        region_of_account = accounts["region"].to_numpy()
        distributors = pd.DataFrame({
            "distributor_id": [f"DS{i + 1:04d}" for i in range(cfg.n_regions * cfg.distributors_per_region)],
            "level": 1,
            "parent_id": pd.NA,
            "region": np.repeat(REGIONS[: cfg.n_regions], cfg.distributors_per_region),
        })
        # distributors are listed region by region: pick one of the account's region
        region_position = pd.Index(REGIONS[: cfg.n_regions]).get_indexer(region_of_account)
        distributor_of_account = (region_position * cfg.distributors_per_region
                                  + rng.integers(0, cfg.distributors_per_region, len(accounts)))

        sales = []
        for p_i, p in enumerate(("P01", "P02")):
            rows_, cols_ = np.nonzero(sell_out[p_i] > 0)
            units = sell_out[p_i][rows_, cols_]
            days = self.months.days_in_month.to_numpy()[cols_]
            sales.append(pd.DataFrame({
                "date": self.months[cols_] + pd.to_timedelta((rng.random(len(rows_)) * days).astype(int), "D"),
                "account_id": accounts["account_id"].to_numpy()[rows_], "product_id": p,
                "units": units, "distributor_id": distributors["distributor_id"].to_numpy()[distributor_of_account[rows_]],
            }))
            # returns: a share of a delivery comes back later the same month
            back = rng.random(len(rows_)) < 0.01
            sales.append(pd.DataFrame({
                "date": self.months[cols_[back]] + pd.Timedelta(days=27),
                "account_id": accounts["account_id"].to_numpy()[rows_[back]], "product_id": p,
                "units": -np.ceil(0.2 * units[back]),
                "distributor_id": distributors["distributor_id"].to_numpy()[distributor_of_account[rows_[back]]],
            }))
            np.subtract.at(sell_out[p_i], (rows_[back], cols_[back]), np.ceil(0.2 * units[back]))
        sales = pd.concat(sales, ignore_index=True)
        sales["revenue"] = (sales["units"] * sales["product_id"].map(cfg.prices)).round(2)
        sales = sales.sort_values(["date", "account_id", "product_id"], kind="stable").reset_index(drop=True)
        shipments, inventory, policy = self._channel(accounts, sell_out, distributor_of_account, distributors)

        products = pd.DataFrame({
            "product_id": ["P01", "P02", "C01"],
            "brand": ["Cardiva", "Glucora", "Rivalix"],
            "therapeutic_area": ["cardiovascular", "metabolic", "cardiovascular"],
            "unit_price": [cfg.prices["P01"], cfg.prices["P02"], cfg.prices["C01"]],
            "is_competitor": [False, False, True],
        })

        tables = {
            "accounts": accounts, "doctors": doctors, "reps": reps, "products": products,
            "distributors": distributors, "visits": visits, "events": events,
            "event_attendance": attendance, "prescriptions": prescriptions, "sales": sales,
            "shipments": shipments, "inventory": inventory,
        }
        truth_doctors = pd.DataFrame({
            "doctor_id": doctors["doctor_id"], "potential": potential.round(4),
            "target_frequency": band, "seminar_month": seminar_month, "launch_month": launch_month_doc,
            "lapse_onset_month": onset,
            "lapse_month": np.where(onset >= 0, onset + len(cfg.lapse_decline), -1),
        })
        account_potential = np.bincount(account_idx, weights=potential, minlength=n_a)
        truth_accounts = pd.DataFrame({
            "account_id": accounts["account_id"],
            "potential": np.where(is_pharmacy, pharmacy_base, account_potential).round(4),
            "lapse_onset_month": pharmacy_onset,
            "distributor_id": distributors["distributor_id"].to_numpy()[distributor_of_account],
        })
        truth = self._truth(effective, raw, counts, visit_lift, onset, seminar_month, launch_month_doc,
                            base, multiplier, campaign_region, policy, events)
        return World(tables=tables, truth=truth, truth_doctors=truth_doctors, truth_accounts=truth_accounts)

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
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
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
        return json.loads(json.dumps(truth, default=_json_default))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp,)):
        return str(value.date())
    raise TypeError(f"not JSON serialisable: {type(value)}")
