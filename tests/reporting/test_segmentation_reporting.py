"""Segmentation reporting: the manager explorer's widgets recompute its tables."""

from __future__ import annotations

import pytest

from crmlab.features.indicators import doctor_indicators
from crmlab.reporting.segmentation_explorer import SegmentationExplorer, explorer_tables
from crmlab.simulate import simulate


QUOTA = {"A": 4, "B": 2, "C": 1, "D": 0}


@pytest.fixture(scope="module")
def sample_world():
    return simulate("sample", seed=7)


def _indicators(world, prescriptions=True):
    t = world.tables
    return doctor_indicators(t["doctors"], t["accounts"], t["prescriptions"] if prescriptions else None,
        products=t["products"])


def test_explorer_widgets_update_tables(sample_world):
    t = sample_world.tables
    indicators = _indicators(sample_world)
    explorer = SegmentationExplorer(indicators, t["visits"], t["reps"], params={}, quota=QUOTA)
    before = {k: v.copy() for k, v in explorer.tables.items()}
    html_before = explorer.html["grades"].value

    explorer.weights["tier"].value = 0.9
    assert not explorer.tables["grades"].equals(before["grades"])
    assert explorer.html["grades"].value != html_before
    assert explorer.tables["grades"].equals(
        explorer_tables(indicators, t["visits"], t["reps"], params={**explorer.current_params()},
        quota=QUOTA)["grades"])

    explorer.thresholds["A"].value = 100.0
    assert explorer.tables["grades"].set_index("grade").loc["A", "doctors"] == 0

    region = sorted(indicators["region"].unique())[0]
    explorer.region.value = region
    assert explorer.tables["grades"]["doctors"].sum() == (indicators["region"] == region).sum()
    reps_in_region = set(t["reps"].loc[t["reps"]["territory_id"].isin(
        indicators.loc[indicators["region"] == region, "territory_id"]), "rep_id"])
    assert set(explorer.tables["compliance"]["rep_id"]) <= reps_in_region
    assert not explorer.tables["compliance"].equals(before["compliance"])

    explorer.thresholds["B"].value = 100.0  # B above C is fine, A < B is not: the message shows
    explorer.thresholds["A"].value = 50.0
    assert "A >= B >= C" in explorer.html["grades"].value
