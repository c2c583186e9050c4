"""Validate once per data version: the loader's parquet cache (crmlab.io.cache)."""

from __future__ import annotations

import importlib
import os
import warnings

import pandas as pd
import pytest
from contract_tables import write_tables

from crmlab.io import TABLES, DataContractError, load
LOAD = importlib.import_module("crmlab.io.load")
cache = importlib.import_module("crmlab.io.cache")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("CRMLAB_CACHE", str(root))
    monkeypatch.setattr(cache, "MIN_BYTES", 0)  # the contract tables are tiny
    return root


def _folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir(exist_ok=True)
    return folder


def _count_checks(monkeypatch) -> list:
    """Record every full validation pass (the loader's _check)."""
    calls = []
    real = LOAD._check

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(LOAD, "_check", counting)
    return calls


def assert_same_dataset(left, right):
    for table in TABLES:
        pd.testing.assert_frame_equal(left[table], right[table], check_exact=True, obj=table)
        assert left[table].dtypes.to_dict() == right[table].dtypes.to_dict(), table
    assert left.present == right.present
    assert left.data_dir == right.data_dir
    pd.testing.assert_frame_equal(left.rejects, right.rejects)
    pd.testing.assert_frame_equal(left.issues.reset_index(drop=True),
                                  right.issues.reset_index(drop=True))


def test_second_load_reuses_the_validated_copy(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path))
    calls = _count_checks(monkeypatch)

    first = load(data)
    second = load(data)

    assert len(calls) == 1  # validated once
    assert len([p for p in fresh_cache.iterdir() if p.is_dir()]) == 1
    assert_same_dataset(first, second)
    monkeypatch.setenv("CRMLAB_CACHE", "off")
    assert_same_dataset(load(data), second)
    assert len(calls) == 2


def test_cached_sample_is_identical_to_a_fresh_load(fresh_cache, monkeypatch):
    # the committed sample world: every table, dtypes and all
    monkeypatch.setenv("CRMLAB_CACHE", "off")
    uncached = load("data/sample")
    monkeypatch.setenv("CRMLAB_CACHE", str(fresh_cache))
    calls = _count_checks(monkeypatch)
    load("data/sample")
    cached = load("data/sample")
    assert len(calls) == 1
    assert_same_dataset(uncached, cached)
    assert cached.visits["doctor_id"].dtype == pd.StringDtype("pyarrow")


def test_changed_file_invalidates(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path))
    calls = _count_checks(monkeypatch)
    before = load(data)
    visits = pd.read_csv(data / "visits.csv", dtype=str)
    visits.loc[0, "duration_min"] = "45"  # same size class, different content
    stat = (data / "visits.csv").stat()
    visits.to_csv(data / "visits.csv", index=False)
    os.utime(data / "visits.csv", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same mtime

    after = load(data)

    assert len(calls) == 2
    assert after.visits["duration_min"].iloc[0] == 45
    assert before.visits["duration_min"].iloc[0] != 45
    load(data)
    assert len(calls) == 2  # the new version is cached in turn


def test_added_or_removed_file_invalidates(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path), events=None, event_attendance=None)
    calls = _count_checks(monkeypatch)
    assert "events" not in load(data).present
    write_tables(data)  # adds the events files
    assert "events" in load(data).present
    (data / "events.csv").unlink()
    (data / "event_attendance.csv").unlink()
    assert len(calls) == 2
    assert "events" not in load(data).present
    assert len(calls) == 2  # back to the first version: its entry is used again


def test_bad_data_is_not_cached_and_still_raises(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path))
    visits = pd.read_csv(data / "visits.csv", dtype=str)
    visits.loc[0, "doctor_id"] = "NOBODY"
    visits.to_csv(data / "visits.csv", index=False)
    for _ in range(2):
        with pytest.raises(DataContractError, match="NOBODY|doctor_id"):
            load(data)
    allowed = load(data, allow_rejects=True)
    again = load(data, allow_rejects=True)
    assert len(again.rejects) == len(allowed.rejects) > 0
    assert_same_dataset(allowed, again)


def test_warnings_are_repeated_on_a_hit(tmp_path, fresh_cache):
    data = write_tables(_folder(tmp_path))
    pd.read_csv(data / "accounts.csv", dtype=str).to_parquet(data / "accounts.parquet")
    with pytest.warns(UserWarning, match="accounts.parquet"):
        first = load(data)
    with pytest.warns(UserWarning, match="accounts.parquet"):
        second = load(data)
    assert_same_dataset(first, second)


def test_an_earlier_today_is_checked_again(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path))
    load(data)
    monkeypatch.setattr(LOAD, "today", lambda: pd.Timestamp("2025-03-30"))
    with pytest.raises(DataContractError, match="after today"):
        load(data)


def test_unwritable_cache_falls_back_to_the_files(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("CRMLAB_CACHE", str(blocker / "cache"))
    data = write_tables(_folder(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = load(data)
    assert ds.has("visits")


def test_corrupt_entry_is_ignored(tmp_path, fresh_cache, monkeypatch):
    data = write_tables(_folder(tmp_path))
    first = load(data)
    entry = next(p for p in fresh_cache.iterdir() if p.is_dir())
    (entry / "visits.parquet").write_bytes(b"not parquet")
    assert_same_dataset(first, load(data))


def test_small_directories_are_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("CRMLAB_CACHE", str(tmp_path / "cache"))
    data = write_tables(_folder(tmp_path))
    assert sum(p.stat().st_size for p in data.iterdir()) < cache.MIN_BYTES
    calls = _count_checks(monkeypatch)
    load(data)
    load(data)
    assert len(calls) == 2
    assert not (tmp_path / "cache").exists()
