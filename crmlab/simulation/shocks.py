"""Planted shocks with a known cost: why sales moved, for the drivers analysis to recover.

Four shocks, all in the last months of the world, each written to ``truth.json``
(``shocks``) with where it hit and its cost in own-product units per month
(negative = units lost against the same world without the shock):

* **vacancy**: one territory is left without a rep for the last ``vacancy_months``
  months (its rep leaves, nobody is hired). Its doctors get no visits, so the visit
  lift fades with the carry-over; the doctors left unvisited also lapse more (the
  lapse hazard rises after three months without a visit; those lapses are *not* in
  the vacancy's cost, which is the visit lift lost while the doctors still prescribe).
* **competitor**: a competitor enters one other territory: ``competitor_share`` of its
  prescribing doctors start to lapse (own products decline over three months to zero,
  volume goes to the competitor) in the three months from ``competitor_start`` months
  before the end. Cost: their own-product units lost.
* **destocking**: one distributor lowers its days-on-hand target to ``destock_factor``
  of its policy for the last ``destock_months`` months: sell-in falls, sell-out does
  not. ``cost``: the stock the lower target removes (units, at the month it starts);
  ``cost_by_month`` / ``realised_cost``: the sell-in lost against the same orders under
  the usual target (lot rounding included).
* **cancelled_events**: one region's seminars of the last ``cancel_months`` months are
  cancelled (not held, not in the data). Cost: the seminar lift those attendees would
  have had.

Territories whose rep leaves anyway (a natural vacancy) are not chosen for the vacancy.
``placement`` picks which territory, distributor and region are hit, from a random
stream of its own (``default_rng([seed, 13, placement])``); with shocks off nothing
is drawn, so the default worlds are unchanged draw for draw.

Examples
--------
>>> from crmlab.simulate import simulate
>>> world = simulate("sample", 3, shocks={"placement": 1})
>>> sorted(world.truth["shocks"])
['cancelled_events', 'competitor', 'destocking', 'months', 'placement', 'vacancy']
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from crmlab.simulation.config import REGIONS


@dataclasses.dataclass(frozen=True)
class ShockPlan:
    """Which shocks, how strong, and the placement index choosing where they hit."""

    placement: int = 0
    vacancy_months: int = 6
    competitor_share: float = 0.35
    competitor_start: int = 8
    destock_factor: float = 0.3
    destock_months: int = 3
    cancel_months: int = 18
    kinds: tuple = ("vacancy", "competitor", "destocking", "cancelled_events")

    @classmethod
    def of(cls, value) -> "ShockPlan | None":
        """A plan from ``WorldConfig.shocks``: None/False (off), True (defaults), a dict or a plan."""
        if value is None or value is False:
            return None
        if value is True:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            known = {f.name for f in dataclasses.fields(cls)}
            unknown = set(value) - known
            if unknown:
                raise ValueError(f"unknown shock setting(s) {sorted(unknown)}; known: {sorted(known)}")
            value = dict(value)
            if "kinds" in value:
                value["kinds"] = tuple(value["kinds"])
            return cls(**value)
        raise ValueError(f"shocks must be None, True, a dict or a ShockPlan, got {type(value).__name__}")


class Shocks:
    """Steps planting the shocks (mixed into the simulator); no-ops when ``shock_plan`` is None."""

    shock_plan: ShockPlan | None = None
    shock_truth: dict | None = None

    def _shock_setup(self, territories: pd.DataFrame, active: np.ndarray, n_distributors: int) -> None:
        """Choose where each shock hits (own stream), before anything is drawn from it."""
        plan = self.shock_plan
        if plan is None:
            return
        rng = np.random.default_rng([self.seed, 13, plan.placement])
        n_m = self.cfg.n_months
        ids = territories["territory_id"].to_numpy()
        regions = territories["region"].to_numpy()
        steady = np.flatnonzero(active.all(axis=1))  # no natural vacancy in this territory
        pool = steady if len(steady) else np.arange(len(ids))
        vacancy = int(rng.choice(pool))
        competitor = int(rng.choice(np.setdiff1d(np.arange(len(ids)), [vacancy])))
        distributor = int(rng.integers(0, n_distributors))
        region = str(rng.choice(np.unique(regions)))
        self._shock_where = {"vacancy": vacancy, "competitor": competitor, "distributor": distributor,
                             "region": region, "rng": rng}
        self.shock_truth = {
            "placement": plan.placement,
            "months": {"first": str(self.months[0].date()), "n": n_m},
            "vacancy": {"territory_id": ids[vacancy], "region": regions[vacancy],
                        "months": [str(m.date()) for m in self.months[n_m - plan.vacancy_months:]]}
            if "vacancy" in plan.kinds else None,
            "competitor": {"territory_id": ids[competitor], "region": regions[competitor],
                           "share": plan.competitor_share} if "competitor" in plan.kinds else None,
            "destocking": {"distributor_id": f"DS{distributor + 1:04d}",
                           "region": REGIONS[distributor // self.cfg.distributors_per_region],
                           "factor": plan.destock_factor,
                           "months": [str(m.date()) for m in self.months[n_m - plan.destock_months:]]}
            if "destocking" in plan.kinds else None,
            "cancelled_events": {"region": region, "event_type": "seminar",
                                 "months": [str(m.date()) for m in self.months[n_m - plan.cancel_months:]]}
            if "cancelled_events" in plan.kinds else None,
        }

    # ------------------------------------------------------------------ vacancy
    def _vacancy_start(self) -> int | None:
        plan = self.shock_plan
        if plan is None or "vacancy" not in plan.kinds:
            return None
        return self.cfg.n_months - plan.vacancy_months

    def _shock_reps(self, reps: pd.DataFrame, holder: np.ndarray) -> pd.DataFrame:
        """The vacancy territory's rep leaves at the start of the vacancy."""
        start = self._vacancy_start()
        if start is None:
            return reps
        s = self._shock_where["vacancy"]
        reps = reps.copy()
        reps.loc[holder[s, start], "end_date"] = self.months[start] - pd.Timedelta(days=1)
        return reps

    def _shock_visits(self, visits, counts, effective, raw, territory_idx):
        """Remove the vacancy's visits; keep the grids without the shock for its cost."""
        start = self._vacancy_start()
        if start is None:
            return visits, counts, effective, raw
        s = self._shock_where["vacancy"]
        hit = territory_idx == s
        self._effective_no_vacancy = {p: v.copy() for p, v in effective.items()}
        counts = counts.copy()
        counts[hit, start:] = 0
        effective = {p: v.copy() for p, v in effective.items()}
        raw = {p: v.copy() for p, v in raw.items()}
        for grid in (*effective.values(), *raw.values()):
            grid[hit, start:] = 0
        rep = self._rep_ids[self._holder[s, start]]
        gone = (visits["rep_id"] == rep) & (visits["date"] >= self.months[start])
        visits = visits.loc[~gone].reset_index(drop=True)
        return visits, counts, effective, raw

    # ------------------------------------------------------------------ competitor
    def _shock_lapse(self, onset: np.ndarray, territory_idx: np.ndarray) -> np.ndarray:
        """Competitor entry: a share of the territory's prescribing doctors start to lapse."""
        plan = self.shock_plan
        self._onset_no_competitor = onset
        if plan is None or "competitor" not in plan.kinds:
            return onset
        rng, s = self._shock_where["rng"], self._shock_where["competitor"]
        start = self.cfg.n_months - plan.competitor_start
        candidates = np.flatnonzero((territory_idx == s) & ((onset < 0) | (onset >= start)))
        k = int(round(plan.competitor_share * len(candidates)))
        chosen = np.sort(rng.choice(candidates, size=k, replace=False))
        onset = onset.copy()
        new_onset = start + rng.integers(0, 3, size=k)
        onset[chosen] = np.where(onset[chosen] >= 0, np.minimum(onset[chosen], new_onset), new_onset)
        self.shock_truth["competitor"]["doctors"] = k
        self.shock_truth["competitor"]["doctors_in_territory"] = int((territory_idx == s).sum())
        self.shock_truth["competitor"]["onset_months"] = [str(self.months[start].date()),
                                                          str(self.months[start + 2].date())]
        return onset

    # ------------------------------------------------------------------ events
    def _shock_events(self, events, attendance, seminar_month, doctors):
        """Cancel one region's seminars of the last months: no event, no attendance, no lift."""
        plan = self.shock_plan
        self._seminar_no_cancel = seminar_month
        if plan is None or "cancelled_events" not in plan.kinds:
            return events, attendance, seminar_month
        start = self.months[self.cfg.n_months - plan.cancel_months]
        region = self._shock_where["region"]
        cancelled = ((events["event_type"] == "seminar") & (events["region"] == region)
                     & (events["start_date"] >= start))
        ids = set(events.loc[cancelled, "event_id"])
        gone = attendance["event_id"].isin(ids)
        doctor_index = pd.Index(doctors["doctor_id"]).get_indexer(attendance.loc[gone, "doctor_id"])
        seminar_month = seminar_month.copy()
        seminar_month[doctor_index] = -1
        self.shock_truth["cancelled_events"]["events"] = len(ids)
        self.shock_truth["cancelled_events"]["attendees"] = int(gone.sum())
        return (events.loc[~cancelled].reset_index(drop=True), attendance.loc[~gone].reset_index(drop=True),
                seminar_month)

    # ------------------------------------------------------------------ channel
    def _stock_factor(self, d: int, t: int) -> float:
        """Share of its days-on-hand target distributor ``d`` keeps in month ``t``."""
        plan = self.shock_plan
        if plan is None or "destocking" not in plan.kinds or d != self._shock_where["distributor"]:
            return 1.0
        return plan.destock_factor if t >= self.cfg.n_months - plan.destock_months else 1.0

    def _same_draws(self, d: int) -> bool:
        """True for the distributor a plan may destock: it draws a shipment day for every order slot, so a world
        with the destocking and one without (same plan, other kinds) draw the same numbers everywhere else."""
        return self.shock_plan is not None and d == self._shock_where["distributor"]

    def _record_destock(self, product: str, forecast: float, target: float) -> None:
        """The stock the lower target removes, when it starts (units, negative)."""
        truth = self.shock_truth["destocking"]
        cost = -forecast * target * (1 - self.shock_plan.destock_factor) / 30
        truth.setdefault("cost_by_product", {})[product] = round(float(cost), 2)
        truth["cost"] = round(sum(truth["cost_by_product"].values()), 2)

    def _destock_realised(self, d: int, product: str, level, target: float, lot: float, path: list) -> None:
        """Sell-in lost per month: the distributor's orders against the same policy without the lower target.

        The counterfactual reruns the order-up-to rule from the stock held the month
        before the destocking (same lots, quarter-end loading and returns), so the cost is
        what the shock took out of sell-in, lot rounding included.
        """
        plan = self.shock_plan
        if plan is None or "destocking" not in plan.kinds or d != self._shock_where["distributor"]:
            return
        cfg, n_m = self.cfg, self.cfg.n_months
        start = n_m - plan.destock_months
        stock = path[start - 1][0]
        cost = np.zeros(n_m)
        for t in range(start, n_m):
            forecast = level[max(0, t - 3):t].mean()
            order = np.ceil(max(0.0, forecast * (1 + target / 30) - stock) / lot) * lot
            if self.months[t].month in (3, 6, 9, 12):
                order += np.round(cfg.quarter_end_loading * forecast / lot) * lot
            emergency = np.ceil((level[t] - stock - order) / lot) * lot if stock + order - level[t] < 0 else 0.0
            returned = path[t][1]
            shocked = path[t][0] - path[t - 1][0] + level[t]
            cost[t] = shocked - (order + emergency + returned)
            stock = stock + order + emergency + returned - level[t]
        truth = self.shock_truth["destocking"]
        months = [str(m.date()) for m in self.months]
        previous = np.array(list(truth.get("cost_by_month", dict.fromkeys(months, 0.0)).values()))
        truth["cost_by_month"] = dict(zip(months, np.round(previous + cost, 2).tolist()))
        truth["realised_cost"] = round(float((previous + cost).sum()), 2)

    # ------------------------------------------------------------------ costs
    def _shock_costs(self, territory_idx, demand, effective, multiplier, visit_lift) -> None:
        """Own-product units each shock cost, per month, against the world without it."""
        plan = self.shock_plan
        if plan is None:
            return
        truth = self.shock_truth
        cfg = self.cfg
        months = [str(m.date()) for m in self.months]
        if truth["vacancy"] is not None:
            hit = territory_idx == self._shock_where["vacancy"]
            cost = np.zeros(cfg.n_months)
            for p in ("P01", "P02"):
                without = self._visit_lift(self._effective_no_vacancy[p][hit], cfg.visit_beta[p])
                cost += (multiplier[hit] * (visit_lift[p][hit] - without)).sum(axis=0)
            truth["vacancy"]["cost_by_month"] = dict(zip(months, np.round(cost, 2).tolist()))
            truth["vacancy"]["cost"] = round(float(cost.sum()), 2)
        if truth["competitor"] is not None:
            natural = self._lapse_multiplier(self._onset_no_competitor)
            cost = np.zeros(cfg.n_months)
            for p in ("P01", "P02"):
                level = demand["base"][p] + visit_lift[p] + demand["events"][p]
                cost += ((multiplier - natural) * level).sum(axis=0)
            truth["competitor"]["cost_by_month"] = dict(zip(months, np.round(cost, 2).tolist()))
            truth["competitor"]["cost"] = round(float(cost.sum()), 2)
        if truth["cancelled_events"] is not None:
            t = np.arange(cfg.n_months)
            since = t[None, :] - self._seminar_no_cancel[:, None]
            lost = (self._seminar_no_cancel >= 0)[:, None] & (since >= 1) & (since <= cfg.seminar_months)
            lost &= (self._seminar_no_cancel != self._seminar_month)[:, None]
            cost = -(cfg.seminar_lift * lost * multiplier).sum(axis=0)
            truth["cancelled_events"]["cost_by_month"] = dict(zip(months, np.round(cost, 2).tolist()))
            truth["cancelled_events"]["cost"] = round(float(cost.sum()), 2)


def window_cost(shock: dict, months) -> float:
    """A shock's planted cost summed over ``months`` (``YYYY-MM-DD`` strings or timestamps).

    Examples
    --------
    >>> window_cost({"cost_by_month": {"2025-01-01": -2.0, "2025-02-01": -3.0}}, ["2025-02-01"])
    -3.0
    """
    by_month = shock.get("cost_by_month", {})
    keys = [str(pd.Timestamp(m).date()) for m in months]
    return float(sum(by_month.get(k, 0.0) for k in keys))
