"""Capacity instruments: absences and vacancies as the contract states them, leave-one-out visits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmlab.features.capacity import capacity_instruments, territory_capacity
from crmlab.simulate import FEEDBACK_WORLD, simulate


@pytest.fixture(scope="module")
def world():
    return simulate("sample", seed=5, **FEEDBACK_WORLD)


def _months(world):
    return pd.date_range(world.truth["months"]["first"], world.truth["months"]["last"], freq="MS")


def test_absent_days_add_up_to_the_planted_ones(world):
    t = world.tables
    months = _months(world)
    capacity = territory_capacity(t["accounts"], t["reps"], months, t["rep_absences"])
    days = np.tile(months.days_in_month.to_numpy(), capacity["territory_id"].nunique())
    rep_days = (1 - capacity["vacant_share"]) * days  # one rep per territory in the simulated world
    assert round(float((capacity["absent_share"] * rep_days).sum())) == world.truth["targeting"]["rep_absence_days"]


def test_vacancies_come_from_hire_and_end_dates(world):
    t = world.tables
    capacity = territory_capacity(t["accounts"], t["reps"], _months(world))
    left = t["reps"].dropna(subset=["end_date"])
    assert (capacity["vacant_share"] > 0).any() == (len(left) > 0)
    assert capacity["absent_share"].eq(0).all()  # no absence table: no absences
    # a territory is vacant after its rep's end date until the successor's hire date
    row = left.iloc[0]
    successor = t["reps"][(t["reps"]["territory_id"] == row["territory_id"])
                          & (t["reps"]["hire_date"] > row["end_date"])]
    month = (row["end_date"] + pd.Timedelta(days=1)).to_period("M").to_timestamp()
    got = capacity.set_index(["territory_id", "month"]).loc[(row["territory_id"], month), "vacant_share"]
    if len(successor) and successor["hire_date"].iat[0] >= month + pd.offsets.MonthEnd(0):
        assert got == 1.0
    else:
        assert 0 < got <= 1


def test_leave_one_out_visits_exclude_the_doctor(world):
    t = world.tables
    months = _months(world)
    out = capacity_instruments(t["doctors"], t["accounts"], t["reps"], t["visits"], months, t["rep_absences"])
    assert len(out) == len(t["doctors"]) * len(months)
    done = t["visits"][t["visits"]["status"] == "completed"]
    territory = t["doctors"]["account_id"].map(t["accounts"].set_index("account_id")["territory_id"])
    doctor = t["doctors"]["doctor_id"].iat[0]
    peers = t["doctors"]["doctor_id"][(territory == territory.iat[0]).to_numpy()]
    first = months[0]
    in_month = done[done["date"].dt.to_period("M").dt.to_timestamp() == first]
    expected = in_month["doctor_id"].isin(peers.drop(peers.index[0])).sum() / (len(peers) - 1)
    got = out.set_index(["doctor_id", "month"]).loc[(doctor, first), "loo_visits"]
    assert got == pytest.approx(expected)
    assert out["coverage_gap"].between(0, 1).all() and (out["coverage_gap"] > 0).any()
