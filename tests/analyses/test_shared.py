"""Results shared in a refresh: the call plan and the drivers reuse attribution's fits, with the same results."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from crmlab.analyses import attribution, callplan, drivers, shared
from crmlab.config import SAMPLE_DIR
from crmlab.io import load
from crmlab.models.attribution import VisitLift


def _outputs(result):
    return result.summary(), result.tables


def _assert_same(a, b):
    assert a[0] == b[0]
    assert a[1].keys() == b[1].keys()
    for name in a[1]:
        pd.testing.assert_frame_equal(a[1][name], b[1][name])


@pytest.fixture(scope="module")
def alone():
    """Drivers and call plan on the sample, nothing shared."""
    assert not os.environ.get(shared.ENV)
    return _outputs(drivers.run(SAMPLE_DIR)), _outputs(callplan.run(SAMPLE_DIR))


def test_callplan_and_drivers_reuse_attribution_in_a_refresh_with_the_same_results(alone, tmp_path, monkeypatch):
    monkeypatch.setenv(shared.ENV, str(tmp_path))
    attribution.run(SAMPLE_DIR)
    kept = list(tmp_path.glob("attribution-*.pkl"))
    assert len(kept) == 1

    def no_fit(*args, **kwargs):
        raise AssertionError("refitted although attribution's fit was shared")

    monkeypatch.setattr(attribution, "_estimate", no_fit)
    _assert_same(_outputs(drivers.run(SAMPLE_DIR)), alone[0])  # (its own fit of the other product remains)
    monkeypatch.setattr(VisitLift, "fit", no_fit)
    _assert_same(_outputs(callplan.run(SAMPLE_DIR)), alone[1])
    assert list(tmp_path.glob("attribution-*.pkl")) == kept


def test_a_result_is_found_only_for_the_same_data_version_and_fitting_parameters(tmp_path, monkeypatch):
    data = load(SAMPLE_DIR)
    params = attribution.AttributionParams()
    assert shared.result_path("attribution", data, params) is None  # outside a refresh
    monkeypatch.setenv(shared.ENV, str(tmp_path / "shared"))
    path = shared.result_path("attribution", data, params)
    # how the data were loaded is in the data version, not in the key
    assert shared.result_path("attribution", data, attribution.AttributionParams(allow_rejects=True)) == path
    assert shared.result_path("attribution", data, attribution.AttributionParams(alpha=0.1)) != path
    assert shared.result_path("callplan", data, params) != path

    copy = tmp_path / "copy"
    shutil.copytree(SAMPLE_DIR, copy)
    assert shared.result_path("attribution", load(copy), params) == path  # same files, same version
    visits = pd.read_csv(copy / "visits.csv")
    visits.iloc[:-1].to_csv(copy / "visits.csv", index=False)
    assert shared.result_path("attribution", load(copy), params) != path

    changed = load(SAMPLE_DIR)
    changed.visits = changed.visits.iloc[:-1]
    assert changed.version is None
    assert shared.result_path("attribution", changed, params) is None
    assert shared.result_path("attribution", {"accounts": data.accounts}, params) is None


def test_merged_duplicates_are_a_new_data_version(tmp_path):
    data = load(SAMPLE_DIR)
    first, second = data.doctors["doctor_id"].astype(str)[:2]
    clusters = tmp_path / "clusters.csv"
    pd.DataFrame({"table": ["doctors"], "id": [second], "surviving_id": [first]}).to_csv(clusters, index=False)
    merged = load(SAMPLE_DIR, duplicates=clusters)
    assert data.version and merged.version and merged.version != data.version


def test_an_unwritable_folder_only_means_nothing_is_shared(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(shared.ENV, str(blocked))
    result = shared.shared("attribution", load(SAMPLE_DIR), attribution.AttributionParams(), lambda: "computed")
    assert result == "computed"
