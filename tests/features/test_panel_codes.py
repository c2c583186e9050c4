"""The panels' fast ID and month lookups equal pandas categoricals (issue 15)."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd

PANELS = importlib.import_module("crmlab.features.panels")


def test_codes_equal_pandas_categoricals(monkeypatch):
    monkeypatch.setattr(PANELS, "_FAST_CODES_FROM", 0)
    rng = np.random.default_rng(0)
    ids = pd.Index([f"D{i:05d}" for i in range(3000)], dtype="string[pyarrow]")
    values = pd.Series(rng.choice(np.r_[ids.to_numpy(object), ["X1", "", None]], 20000), dtype="string[pyarrow]")
    fast = PANELS.codes_in(values, ids)
    assert (fast == pd.Categorical(values, categories=ids).codes).all()
    assert fast.dtype == pd.Categorical(values, categories=ids).codes.dtype
    months = pd.date_range("2023-01-01", periods=36, freq="MS")
    dates = pd.Series(rng.choice(np.r_[months.to_numpy(), np.datetime64("2023-01-02"), np.datetime64("2031-01-01"),
                                       np.datetime64("2019-01-01"), np.datetime64("NaT")], 20000))
    assert (PANELS.codes_in(dates, months) == pd.Categorical(dates, categories=months).codes).all()


def test_panels_identical_on_either_path(monkeypatch):
    from crmlab.features.attribution import detailing_by_channel
    from crmlab.features.capacity import capacity_instruments
    from crmlab.io import load

    ds = load("data/sample")
    months = PANELS.month_range(ds.prescriptions["month"])
    build = {
        "doctor": lambda: PANELS.doctor_month_panel(ds.doctors, ds.visits, ds.prescriptions, events=ds.events,
                                                    event_attendance=ds.event_attendance, products=ds.products),
        "account": lambda: PANELS.account_month_panel(ds.accounts, ds.sales, doctors=ds.doctors, visits=ds.visits,
                                                      prescriptions=ds.prescriptions, products=ds.products),
        "detailing": lambda: detailing_by_channel(ds.visits, ds.doctors, months, "P01"),
        "capacity": lambda: capacity_instruments(ds.doctors, ds.accounts, ds.reps, ds.visits, months,
                                                 ds["rep_absences"]),
    }
    for name, make in build.items():
        monkeypatch.setattr(PANELS, "_FAST_CODES_FROM", 10**12)  # pandas all the way
        slow = make()
        monkeypatch.setattr(PANELS, "_FAST_CODES_FROM", 0)
        fast = make()
        pd.testing.assert_frame_equal(slow, fast, check_exact=True, obj=name)
        assert (fast.select_dtypes("number").sum() > 0).sum() >= 2, name  # not an empty grid


def test_account_rows_equal_mapping_doctors_to_accounts():
    doctors = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "account_id": ["A2", "A1", None]},
                           dtype="string[pyarrow]")
    ids = pd.Index(["A1", "A2"], dtype="string[pyarrow]")
    values = pd.Series(["D3", "D2", "D9", None, "D1"], dtype="string[pyarrow]")
    expected = pd.Categorical(values.map(doctors.set_index("doctor_id")["account_id"]), categories=ids).codes
    assert PANELS._account_rows(doctors, ids)(values).tolist() == expected.tolist() == [-1, 0, -1, -1, 1]


def test_month_grid_equals_a_pandas_pivot(monkeypatch):
    from crmlab.features.drivers import month_grid

    monkeypatch.setattr(PANELS, "_FAST_CODES_FROM", 0)
    rng = np.random.default_rng(1)
    ids = pd.Index([f"U{i:04d}" for i in range(500)])
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    n = 20000
    frame = pd.DataFrame({
        "unit": pd.Series(rng.choice(np.r_[ids.to_numpy(object), ["X1", None]], n), dtype="string[pyarrow]"),
        "month": rng.choice(np.r_[months.to_numpy(), np.datetime64("2026-01-01")], n),
        "units": rng.integers(0, 9, n).astype(float)})
    grid = month_grid(frame, "unit", "units", ids, months)
    expected = frame.groupby(["unit", "month"])["units"].sum().unstack(fill_value=0.0) \
        .reindex(index=ids, columns=months, fill_value=0.0)
    np.testing.assert_array_equal(grid, expected.to_numpy())
    assert grid.sum() < frame["units"].sum()  # the unknown unit and the month outside are left out


def test_doctor_month_panel_columns_are_those_of_the_whole_panel():
    from crmlab.config import SAMPLE_DIR
    from crmlab.io import load

    ds = load(SAMPLE_DIR)
    kw = dict(events=ds.events, event_attendance=ds.event_attendance, products=ds.products)
    whole = PANELS.doctor_month_panel(ds.doctors, ds.visits, ds.prescriptions, **kw)
    for columns in (["trx"], ["trx", "detailing_visits"], ["visit_adstock", "nrx"], ["visits_remote"]):
        lean = PANELS.doctor_month_panel(ds.doctors, ds.visits, ds.prescriptions, columns=columns, **kw)
        expected = whole[["doctor_id", "account_id", "month", *(c for c in whole.columns[3:] if c in columns)]]
        pd.testing.assert_frame_equal(lean, expected, check_exact=True)
