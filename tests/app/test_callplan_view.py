"""The Call plan view without a browser: set a widget's ``.value``, read the lists."""

from __future__ import annotations

import pandas as pd
import pytest

from crmlab.analyses import callplan
from crmlab.app.callplan import CallplanView, territory_changes
from crmlab.config import SAMPLE_DIR

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def result():
    return callplan.run(SAMPLE_DIR, n_draws=50)


def test_lists_follow_the_territory_and_match_the_pure_function(result):
    view = CallplanView.from_result(result)
    territory = sorted(result.plan["territory_id"].unique())[0]
    view.territory.value = territory
    expected = territory_changes(result.plan, territory)
    for name in ("see more", "see less"):
        pd.testing.assert_frame_equal(view.tables[name], expected[name])
        assert (view.tables[name]["territory_id"] == territory).all()
    assert (expected["see more"]["change"] > 0).all() and (expected["see less"]["change"] < 0).all()
    assert "name" not in view.tables["see more"]


def test_capacity_slider_replans_within_the_new_capacity(result):
    view = CallplanView.from_result(result)
    assert not view.capacity_change.disabled
    before = view.plan["recommended_visits_per_month"].sum()
    view.capacity_change.value = -50
    after = view.plan["recommended_visits_per_month"].sum()
    assert after < before
    caps = result.territories.set_index("territory_id")["capacity"] * 0.5
    per_territory = view.plan.groupby("territory_id")["recommended_visits_per_month"].sum()
    assert (per_territory <= caps.reindex(per_territory.index) + 1e-6).all()
    assert "Capacity" in view.status.value
    view.capacity_change.value = 0
    pd.testing.assert_frame_equal(view.plan, result.plan)


def test_published_plan_without_replanning_disables_the_slider(result):
    view = CallplanView(result.plan, result.territories.set_index("territory_id")["capacity"], note="published")
    assert view.capacity_change.disabled
    assert "published plan is shown" in view.widget.children[0].value
    assert view.tables["see more"].equals(territory_changes(result.plan)["see more"])
