"""The Drivers view shows the chosen unit's bridge, from a result or from a published drivers.csv."""

import pandas as pd
import pytest

from crmlab.app.drivers import DriversView, read_bridge, unit_bridge


def _bridge():
    rows = []
    for level, unit in (("national", ""), ("region", "North"), ("region", "South"), ("territory", "T1")):
        for product in ("", "P01"):
            values = {"market": 10.0, "visits": -30.0 if unit == "T1" else -5.0, "lapsed_prescribers": -2.0}
            values["total"] = sum(values.values())
            rows += [(level, unit, product, d, v, v - 1, v + 1) for d, v in values.items()]
    return pd.DataFrame(rows, columns=["level", "unit_id", "product_id", "driver", "change", "lower", "upper"])


def test_view_follows_level_unit_and_product():
    view = DriversView(_bridge(), caption="2025-10 to 2025-12")
    assert view.shown.set_index("driver")["change"].to_dict() == {
        "market": 10.0, "visits": -5.0, "lapsed_prescribers": -2.0, "total": 3.0}
    view.level.value = "territory"
    assert list(view.unit.options) == ["T1"]
    assert view.shown.set_index("driver")["change"]["visits"] == -30.0
    assert "Territory T1" in view.html.value and "<svg" in view.chart.value
    view.level.value = "region"
    view.unit.value = "South"
    view.product.value = "P01"
    assert view.shown["driver"].tolist() == ["market", "visits", "lapsed_prescribers", "total"]


def test_view_from_published_csv(tmp_path):
    path = tmp_path / "drivers.csv"
    _bridge().to_csv(path, index=False)
    frame = read_bridge(tmp_path)
    assert (frame["product_id"] == "").sum() == len(frame) // 2
    view = DriversView.from_csv(tmp_path)
    assert unit_bridge(frame, "national")["change"].sum() == pytest.approx(6.0)
    assert view.shown["change"].sum() == pytest.approx(6.0)


@pytest.mark.slow
def test_view_from_a_result():
    from crmlab.analyses import drivers
    from crmlab.config import SAMPLE_DIR

    result = drivers.run(SAMPLE_DIR)
    view = DriversView.from_result(result)
    total = result.national()["total"]
    assert view.shown.set_index("driver")["change"]["total"] == pytest.approx(total)
    view.level.value = "region"
    assert len(view.shown) == 9
