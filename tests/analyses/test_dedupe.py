"""The dedupe analysis: its outputs hold IDs and evidence, never names; its clusters merge."""

import json
import re

import pandas as pd
import pytest

from crmlab.analyses import dedupe
from crmlab.config import SAMPLE_DIR
from crmlab.io import load
from crmlab.simulate import simulate, write_world
from crmlab.simulate_duplicates import plant_duplicates


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    world = plant_duplicates(simulate("sample", seed=5), rate=0.05, seed=5)
    data_dir = write_world(world, tmp_path_factory.mktemp("planted"))
    result = dedupe.run(data_dir, seed=3)
    out = tmp_path_factory.mktemp("out")
    result.save(out)
    return world, data_dir, result, out


def _name_words(world) -> set:
    words = set()
    for table in ("doctors", "accounts"):
        for name in world.tables[table]["name"]:
            words |= {w.lower() for w in re.findall(r"[^\W\d_]+", name) if len(w) > 3}
    # account names are made of places and common words that outputs may use
    return words - {"city", "hospital", "clinic", "pharmacy", "central", "family", "medical",
                    "university", "first", "second", "third", "health", "centre", "community",
                    "people", "children", "municipal", "traditional", "medicine", "healthway",
                    "fourth", "fifth", "sixth"}


def test_outputs_hold_ids_and_evidence(planted):
    _, _, result, out = planted
    assert result.duplicates.columns.tolist() == ["table", "id", "duplicate_of",
                                                   "match_probability", "evidence"]
    assert {"duplicates", "clusters", "match_weights"} <= {p.stem for p in out.glob("*.csv")}
    doctors = result.duplicates[result.duplicates["table"] == "doctors"]
    assert len(doctors) > 5 and (doctors["match_probability"] >= 0.5).all()
    assert doctors["evidence"].str.startswith("name").all()
    clusters = result.clusters
    assert clusters.groupby(["table", "cluster"])["surviving_id"].nunique().eq(1).all()
    survivors = clusters[clusters["id"] == clusters["surviving_id"]]
    assert len(survivors) == clusters.groupby(["table", "cluster"]).ngroups
    summary = json.loads((out / "summary.json").read_text())
    assert summary["doctors"]["ids_to_merge"] == len(clusters[(clusters["table"] == "doctors")
                                                              & (clusters["id"] != clusters["surviving_id"])])
    assert summary["doctors"]["visits_split"] > 0


def test_no_name_in_any_output(planted):
    world, _, _, out = planted
    words = _name_words(world)
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8").lower()
        found = {w for w in words if re.search(rf"\b{re.escape(w)}\b", text)}
        assert not found, f"{path.name} shows names: {sorted(found)[:5]}"


def test_reviewed_clusters_merge_on_load(planted):
    _, data_dir, result, out = planted
    plain = load(data_dir)
    merged = load(data_dir, duplicates=out / "clusters.csv")
    summary = result.summary()
    assert len(merged.doctors) == len(plain.doctors) - summary["doctors"]["ids_to_merge"]
    assert len(merged.accounts) == len(plain.accounts) - summary["accounts"]["ids_to_merge"]
    gone = result.clusters.loc[result.clusters["id"] != result.clusters["surviving_id"], "id"]
    for table, column in (("visits", "doctor_id"), ("prescriptions", "doctor_id"),
                          ("doctors", "account_id"), ("sales", "account_id")):
        assert not merged[table][column].isin(gone).any(), table
    assert len(merged.visits) == len(plain.visits)
    assert merged.prescriptions["trx"].sum() == pytest.approx(plain.prescriptions["trx"].sum())
    assert not merged.prescriptions.duplicated(["doctor_id", "product_id", "month"]).any()


def test_bad_duplicates_file_is_named(planted, tmp_path):
    _, data_dir, _, _ = planted
    bad = tmp_path / "clusters.csv"
    pd.DataFrame({"table": ["doctors"], "id": ["D1"]}).to_csv(bad, index=False)
    with pytest.raises(Exception, match="clusters.csv lacks column"):
        load(data_dir, duplicates=bad)


@pytest.mark.slow
def test_committed_sample_has_no_duplicates():
    result = dedupe.run(SAMPLE_DIR)
    assert result.summary()["doctors"]["duplicate_pairs"] == 0
    assert result.summary()["doctors"]["ids_to_merge"] == 0


def test_every_analysis_merges_reviewed_duplicates(planted):
    """`-p merge_duplicates=FILE` (here through run()) re-keys the data before the analysis."""
    from crmlab.analyses import overview

    _, data_dir, result, out = planted
    plain = overview.run(data_dir).summary()["tables"]
    merged = overview.run(data_dir, merge_duplicates=str(out / "clusters.csv")).summary()["tables"]
    assert merged["doctors"] == plain["doctors"] - result.summary()["doctors"]["ids_to_merge"]
    assert merged["visits"] == plain["visits"]
