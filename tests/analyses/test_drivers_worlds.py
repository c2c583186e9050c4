"""The driver bridge recovers planted shocks it has not seen (issue 13's judging criteria).

Worlds: the sample geography (4 regions × 2 territories) with 1,200 doctors and 120
accounts, so a territory holds ~150 doctors; shocks from
:mod:`crmlab.simulation.shocks` with their default strengths (a 6-month vacancy to the
end of the data, 35% of a territory's doctors lapsing to a competitor from 8 months
before the end, a distributor keeping 30% of its days-on-hand target for the last 3
months, one region's seminars of the last 18 months cancelled). Each world has its own
seed and placement (which territory, distributor and region is hit). The analysis runs
with its defaults (last 3 months against a year earlier).

Planted against recovered (units, all own products; planted = the shock's cost in the
current window minus that in the comparison window, from ``truth.json``), measured when
this module was written:

======  =========  ==================  ====================  ==========================
seed    placement  vacancy: visits     competitor: lapsed    destocking: planted stock /
                   planted/recovered   planted/recovered     sell-in lost / channel_stock moved
======  =========  ==================  ====================  ==========================
101     0          -547 / -338         -1885 / -2094         -698 / -180 / -180
102     1          -425 / -313         -2255 / -2378         -1971 / -1880 / -1880
103     2          -240 / -239         -2360 / -2602         -1148 / -1280 / -1280
104     0          -314 / -361          -699 / -857          -1504 / -2040 / -2040
105     1          -276 / -237         -2090 / -2618         -1121 / -1220 / -1220
106     2          -140 / -140         -3817 / -3923         -2147 / -2170 / -2170
312     0 (a)      -397 / -381         -1263 / -1585         -1886 / -2390 / -2390
314     2 (b)      -312 / -223         -1168 / -1625         -1656 / -1660 / -1660
======  =========  ==================  ====================  ==========================

(a) a 9-month vacancy; (b) a visit effect peaking at mid potential (``visit_response="hump"``).

The vacancy territory always had the most negative ``visits`` driver (within 62–115% of
the planted loss) and the competitor territory the most negative ``lapsed_prescribers``.
In seeds 101 and 102 attribution's IV once read the vacancy as demand-chasing (its
carry-over, hence its long-run effect, leans low after a vacancy that lasts to the end of
the data; Hausman p 0.02 and 0.003) and the bridge recovered under half the loss in 101
(-264); in world 314 the IV, measuring the effect on the doctors capacity shocks move,
gave -120. The design rule now takes only the lead placebo as the sign of demand-chasing
(:attr:`~crmlab.models.attribution.iv_results.VisitLiftIVResults.demand_chasing`). The
destocking is checked against a twin world without it (same draws everywhere else): the
region's ``channel_stock`` moves by exactly the sell-in the destocking took, its ``market``
not at all; "planted stock" is the stock the lower target removes, "sell-in lost" what it
took out of the window's sell-in (lot rounding included).
"""

from __future__ import annotations

import numpy as np
import pytest

from crmlab.analyses import drivers
from crmlab.simulate import simulate
from crmlab.simulation.shocks import window_cost

WORLD = dict(n_doctors=1200, n_accounts=120)
#: (seed, shock plan, world options): seeds and placements the bridge was never tuned on, and
#: two other structures: a 9-month vacancy, and a visit effect peaking at mid potential.
WORLDS = [(101, {"placement": 0}, {}), (102, {"placement": 1}, {}), (103, {"placement": 2}, {}),
          (104, {"placement": 0}, {}), (105, {"placement": 1}, {}), (106, {"placement": 2}, {}),
          (312, {"placement": 0, "vacancy_months": 9}, {}), (314, {"placement": 2}, {"visit_response": "hump"})]


def _simulate(seed, plan, options):
    return simulate("sample", seed, shocks=plan, **WORLD, **options)


@pytest.fixture(scope="module", params=WORLDS,
                ids=lambda w: "-".join([f"seed{w[0]}", *(f"{k}{v}" for k, v in {**w[1], **w[2]}.items())]))
def shocked(request):
    world = _simulate(*request.param)
    result = drivers.run(dict(world.tables))
    return world, result, request.param


def _grid(result, level):
    b = result.bridge[(result.bridge["level"] == level) & (result.bridge["product_id"] == "")]
    return b.pivot(index="unit_id", columns="driver", values="change")


def _planted(world, result, shock):
    truth = world.truth["shocks"][shock]
    return window_cost(truth, result.current) - window_cost(truth, result.comparison)


@pytest.mark.slow
def test_vacancy_shows_in_visits(shocked):
    world, result, _ = shocked
    territory = world.truth["shocks"]["vacancy"]["territory_id"]
    visits = _grid(result, "territory")["visits"]
    planted = _planted(world, result, "vacancy")
    print(f"vacancy {territory}: planted {planted:.0f}, recovered {visits[territory]:.0f}")
    assert visits.idxmin() == territory, visits.sort_values().head(3).to_dict()
    assert planted < 0
    assert 0.5 * abs(planted) <= abs(visits[territory]) <= 1.5 * abs(planted), (planted, visits[territory])
    assert visits[territory] < 0


@pytest.mark.slow
def test_competitor_shows_in_lapsed_prescribers(shocked):
    world, result, _ = shocked
    territory = world.truth["shocks"]["competitor"]["territory_id"]
    lapsed = _grid(result, "territory")["lapsed_prescribers"]
    print(f"competitor {territory}: planted {_planted(world, result, 'competitor'):.0f}, "
          f"recovered {lapsed[territory]:.0f}")
    assert lapsed.idxmin() == territory, lapsed.sort_values().head(3).to_dict()


@pytest.mark.slow
def test_destocking_shows_in_channel_stock_not_market(shocked):
    """Against the same world without the destocking: channel_stock moves by the planted stock, market not at all."""
    world, result, (seed, plan, options) = shocked
    truth = world.truth["shocks"]["destocking"]
    region = truth["region"]
    twin = _simulate(seed, {**plan, "kinds": ["vacancy", "competitor", "cancelled_events"]}, options)
    without = drivers.run(dict(twin.tables))
    grid, grid0 = _grid(result, "region"), _grid(without, "region")
    moved = grid.loc[region, "channel_stock"] - grid0.loc[region, "channel_stock"]
    print(f"destocking {truth['distributor_id']} ({region}): planted {truth['cost']:.0f}, channel_stock "
          f"{grid.loc[region, 'channel_stock']:.0f} (without the destocking {grid0.loc[region, 'channel_stock']:.0f}: "
          f"moved {moved:.0f}), market {grid.loc[region, 'market']:.0f} / {grid0.loc[region, 'market']:.0f}")
    realised = window_cost(truth, result.current) - window_cost(truth, result.comparison)
    print(f"  sell-in lost against the usual target: {realised:.0f}")
    assert truth["cost"] < 0
    # the twin draws the same numbers: the region's channel_stock moves by exactly the sell-in the shock took
    assert moved == pytest.approx(realised, abs=1e-6)
    assert np.allclose(grid["market"], grid0["market"])
    # and in the shocked world alone, the region's market grows like the others': market over the volume it
    # applies to, that of continuing prescribers before (lapsed prescribers' volume before is -lapsed_prescribers)
    before = result.units.groupby("region")["units_before"].sum().reindex(grid.index) + grid["lapsed_prescribers"]
    growth = grid["market"] / before
    others = growth.drop(region)
    assert others.min() - 0.03 <= growth[region] <= others.max() + 0.03, growth.round(3).to_dict()


@pytest.mark.slow
def test_drivers_add_up_in_every_unit(shocked):
    world, result, _ = shocked
    cancelled = world.truth["shocks"]["cancelled_events"]
    events = _grid(result, "region")["events"]
    print(f"cancelled seminars in {cancelled['region']}: planted {_planted(world, result, 'cancelled_events'):.0f}, "
          f"events driver {events[cancelled['region']]:.0f} (other regions {events.drop(cancelled['region']).round(0).tolist()})")
    wide = result.bridge.pivot_table(index=["level", "unit_id", "product_id"], columns="driver", values="change")
    assert np.allclose(wide.drop(columns="total").sum(axis=1), wide["total"], atol=1e-6)
