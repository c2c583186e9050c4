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
seed    placement  vacancy: visits     competitor: lapsed    destocking: channel_stock
                   planted/recovered   planted/recovered     planted / region recovered
======  =========  ==================  ====================  ==========================
RESULTS_TABLE
======  =========  ==================  ====================  ==========================

The vacancy territory always had the most negative ``visits`` driver and the competitor
territory the most negative ``lapsed_prescribers``. The destocking region's market is
computed from prescriber volume only, so it cannot absorb the stock drawn down; the test
checks it stays within the other regions' market growth.
"""

from __future__ import annotations

import numpy as np
import pytest

from crmlab.analyses import drivers
from crmlab.simulate import simulate
from crmlab.simulation.shocks import window_cost

WORLD = dict(n_doctors=1200, n_accounts=120)
#: (seed, placement): seeds and placements the bridge was never tuned on.
WORLDS = [(101, 0), (102, 1), (103, 2), (104, 0), (105, 1), (106, 2)]


@pytest.fixture(scope="module", params=WORLDS, ids=lambda w: f"seed{w[0]}-placement{w[1]}")
def shocked(request):
    seed, placement = request.param
    world = simulate("sample", seed, shocks={"placement": placement}, **WORLD)
    result = drivers.run(dict(world.tables))
    return world, result


def _grid(result, level):
    b = result.bridge[(result.bridge["level"] == level) & (result.bridge["product_id"] == "")]
    return b.pivot(index="unit_id", columns="driver", values="change")


def _planted(world, result, shock):
    truth = world.truth["shocks"][shock]
    return window_cost(truth, result.current) - window_cost(truth, result.comparison)


@pytest.mark.slow
def test_vacancy_shows_in_visits(shocked):
    world, result = shocked
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
    world, result = shocked
    territory = world.truth["shocks"]["competitor"]["territory_id"]
    lapsed = _grid(result, "territory")["lapsed_prescribers"]
    print(f"competitor {territory}: planted {_planted(world, result, 'competitor'):.0f}, "
          f"recovered {lapsed[territory]:.0f}")
    assert lapsed.idxmin() == territory, lapsed.sort_values().head(3).to_dict()


@pytest.mark.slow
def test_destocking_shows_in_channel_stock_not_market(shocked):
    world, result = shocked
    truth = world.truth["shocks"]["destocking"]
    region = truth["region"]
    grid = _grid(result, "region")
    before = result.units.groupby("region")["units_before"].sum()
    print(f"destocking {truth['distributor_id']} ({region}): planted {truth['cost']:.0f}, "
          f"channel_stock {grid.loc[region, 'channel_stock']:.0f}, market {grid.loc[region, 'market']:.0f}")
    # at least half of the stock drawn down is in channel_stock
    assert grid.loc[region, "channel_stock"] <= 0.5 * truth["cost"] < 0
    # the market of the region grows like the others' (share of its volume before)
    growth = grid["market"] / before.reindex(grid.index)
    others = growth.drop(region)
    assert others.min() - 0.03 <= growth[region] <= others.max() + 0.03, growth.round(3).to_dict()


@pytest.mark.slow
def test_drivers_add_up_in_every_unit(shocked):
    _, result = shocked
    wide = result.bridge.pivot_table(index=["level", "unit_id", "product_id"], columns="driver", values="change")
    assert np.allclose(wide.drop(columns="total").sum(axis=1), wide["total"], atol=1e-6)
