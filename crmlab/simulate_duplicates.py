"""Plant duplicate doctors and accounts in a simulated world, the way CRMs acquire them.

:func:`plant_duplicates` first gives every doctor and account a plausible name
(:mod:`crmlab.simulation_names`: several naming cultures, many namesakes), then enters
a share of them a second time:

* **Doctor copies.** A new ID with the name typed differently (swapped order, case,
  spacing, transliteration, typo, dropped letter); at the same account or, after a
  move, at another account in the same city; mostly the same specialty, sometimes
  another title; the same department size when the department is the same. From the
  copy's creation on, part of the doctor's activity is logged against the copy: either
  everything after a switch month (a move, or a new rep who created a new record), or,
  when two reps use one ID each, a share of the visits (logged by a rep of a
  neighbouring territory) and of the months' prescriptions. A copy at an account of
  another territory is visited by that territory's rep. Volume is split, not doubled.
* **Account copies.** A new ID with a name variant, same city, type and tier, about
  the same size; sales of part of the months and some of the doctors move to it.

The planted pairs are written to the truth: column ``duplicate_of`` of
``truth_doctors`` / ``truth_accounts`` (the original's ID on each copy's row, empty
elsewhere) and ``truth["duplicates"]``.

Examples
--------
>>> from crmlab.simulate import simulate
>>> world = plant_duplicates(simulate("sample", seed=1), rate=0.05, seed=1)
>>> world.truth["duplicates"]["doctors"]
15
>>> int(world.truth_doctors["duplicate_of"].notna().sum())
15
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pandas as pd

from crmlab.simulation_names import account_names, doctor_names, name_variant

TITLE_ORDER = ["resident", "attending", "associate_chief", "chief"]


def plant_duplicates(world, rate: float = 0.03, seed: int = 7,
                     account_rate: float | None = None):
    """Name the world's doctors and accounts and enter a share of them twice.

    Parameters
    ----------
    world : crmlab.simulate.World
        A simulated world; it is not modified.
    rate : float, default 0.03
        Share of doctors entered a second time (0 only renames).
    seed : int
        Seed of the random generator of this step.
    account_rate : float, optional
        Share of accounts entered twice; default ``rate / 2``.

    Returns
    -------
    World
        A new world with names, the copies and their activity, and the planted pairs
        in ``truth_doctors.duplicate_of``, ``truth_accounts.duplicate_of`` and
        ``truth["duplicates"]``.
    """
    if not 0 <= rate < 0.5:
        raise ValueError(f"rate must be in [0, 0.5), got {rate}")
    account_rate = rate / 2 if account_rate is None else account_rate
    rng = np.random.default_rng([seed, 16])
    tables = {name: table.copy() for name, table in world.tables.items()}
    truth_doctors = world.truth_doctors.copy()
    truth_accounts = world.truth_accounts.copy()
    n_months = int(world.truth["months"]["n"])
    months = pd.date_range(world.truth["months"]["first"], periods=n_months, freq="MS")

    tables["doctors"]["name"] = doctor_names(len(tables["doctors"]), rng)
    tables["accounts"]["name"] = account_names(tables["accounts"], rng)

    account_pairs, truth_accounts = _plant_accounts(tables, truth_accounts, account_rate, rng,
                                                    months)
    doctor_pairs, truth_doctors = _plant_doctors(tables, truth_doctors, rate, rng, months)

    truth_doctors["duplicate_of"] = truth_doctors["doctor_id"].map(
        dict(zip(doctor_pairs["copy"], doctor_pairs["original"])))
    truth_accounts["duplicate_of"] = truth_accounts["account_id"].map(
        dict(zip(account_pairs["copy"], account_pairs["original"])))
    truth = copy.deepcopy(world.truth)
    truth["duplicates"] = {
        "seed": seed, "rate": rate, "account_rate": account_rate,
        "doctors": int(len(doctor_pairs)), "accounts": int(len(account_pairs)),
        "doctor_modes": {k: int(v) for k, v in doctor_pairs["mode"].value_counts().items()},
        "note": ("truth_doctors.duplicate_of / truth_accounts.duplicate_of: the ID a copy "
                 "duplicates; the copy holds part of the activity (switch: everything from "
                 "one month on; parallel: a share of the visits, logged by a second rep, and "
                 "of the months of prescriptions)."),
    }
    return type(world)(tables=tables, truth=truth, truth_doctors=truth_doctors,
                       truth_accounts=truth_accounts)


def _copy_months(n_months: int, rng: np.random.Generator, switch: bool | None = None
                 ) -> tuple[str, np.ndarray, float]:
    """How activity is split: the mode, the months logged against the copy, the share.

    ``switch``: every month from one on (a move, or a new rep who created a new record).
    ``parallel``: from one month on, two reps each use their own ID: a share of the
    visits and of the months' prescriptions go to the copy. A doctor who moved to
    another account or department (``switch=True``) is always a ``switch``.
    """
    if rng.random() < 0.55 or switch:
        start = int(rng.integers(4, n_months - 4))
        return "switch", np.arange(n_months) >= start, 1.0
    first = int(rng.integers(0, n_months // 2))
    share = rng.uniform(0.3, 0.7)
    mask = (rng.random(n_months) < share) & (np.arange(n_months) >= first)
    return "parallel", mask, share


def _rep_on(reps: pd.DataFrame, territory: str, date: pd.Timestamp) -> str | None:
    """The rep covering ``territory`` on ``date`` (the last one hired if none is)."""
    mine = reps[reps["territory_id"] == territory]
    if mine.empty:
        return None
    active = mine[(mine["hire_date"] <= date) & (mine["end_date"].isna() | (mine["end_date"] >= date))]
    return (active if len(active) else mine).sort_values("hire_date")["rep_id"].iloc[-1]


def _move_visits(visits: pd.DataFrame, plans: dict, reps: pd.DataFrame,
                 months: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """Log the copies' visits against them, by the rep who would have entered the copy.

    ``plans`` maps an original ID to a dict with ``copy``, ``mode``, ``mask``, ``share``
    and ``territory`` (of the rep who uses the copy; None keeps the visit's own rep).
    """
    if not plans or visits.empty:
        return visits
    doctor = visits["doctor_id"].to_numpy(dtype=object).copy()
    rep = visits["rep_id"].to_numpy(dtype=object).copy()
    dates = visits["date"].to_numpy()
    month = months.get_indexer(visits["date"].dt.to_period("M").dt.to_timestamp())
    covering = functools.lru_cache(maxsize=None)(lambda territory, date: _rep_on(reps, territory, date))
    rows = np.flatnonzero(pd.Index(list(plans)).get_indexer(doctor) >= 0)
    for row in rows:
        plan = plans[doctor[row]]
        if month[row] < 0:
            continue
        if plan["mode"] == "switch":
            moved = plan["mask"][month[row]]
        else:
            moved = month[row] >= plan["first"] and rng.random() < plan["share"]
        if moved:
            doctor[row] = plan["copy"]
            if plan["territory"] is not None:
                rep[row] = covering(plan["territory"], pd.Timestamp(dates[row])) or rep[row]
    visits = visits.copy()
    visits["doctor_id"] = pd.array(doctor, dtype=visits["doctor_id"].dtype)
    visits["rep_id"] = pd.array(rep, dtype=visits["rep_id"].dtype)
    return visits


def _move_rows(table: pd.DataFrame, key: str, date_column: str, moves: dict,
               months: pd.DatetimeIndex) -> pd.DataFrame:
    """Re-key the rows of ``table`` whose ``key`` and month fall in ``moves``.

    ``moves`` maps an original ID to ``(copy_id, month mask)``.
    """
    if not moves or table.empty:
        return table
    ids = table[key].to_numpy()
    hit = np.flatnonzero(pd.Index(list(moves)).get_indexer(ids) >= 0)
    if not len(hit):
        return table
    month = months.get_indexer(table[date_column].iloc[hit].dt.to_period("M").dt.to_timestamp())
    new_ids = table[key].to_numpy(dtype=object).copy()
    for row, m in zip(hit, month):
        copy_id, mask = moves[ids[row]][:2]
        if m >= 0 and mask[m]:
            new_ids[row] = copy_id
    table = table.copy()
    table[key] = pd.array(new_ids, dtype=table[key].dtype)
    return table


def _plant_doctors(tables, truth_doctors, rate, rng, months) -> pd.DataFrame:
    doctors, accounts = tables["doctors"], tables["accounts"]
    n = len(doctors)
    n_copies = int(round(rate * n))
    originals = np.sort(rng.choice(n, size=n_copies, replace=False))
    city = accounts.set_index("account_id")["city"]
    prescribing = accounts[accounts["account_type"] != "pharmacy"]
    by_city = prescribing.groupby("city")["account_id"].apply(list)
    territory = accounts.set_index("account_id")["territory_id"]
    region = accounts.set_index("account_id")["region"]
    territories_of_region = accounts.groupby("region")["territory_id"].apply(
        lambda t: sorted(set(t)))
    rows, pairs, moves, plans = [], [], {}, {}
    for k, i in enumerate(originals):
        original = doctors.iloc[i]
        row = original.copy()
        row["doctor_id"] = f"D{n + k + 1:07d}"
        row["name"] = name_variant(original["name"], rng)
        moved = rng.random() < 0.25
        if moved:
            others = [a for a in by_city.get(city[original["account_id"]], [])
                      if a != original["account_id"]]
            moved = bool(others)
            if moved:
                row["account_id"] = others[rng.integers(len(others))]
        new_department = moved or rng.random() < 0.1
        if rng.random() < 0.1:
            choices = [s for s in doctors["specialty"].unique() if s != original["specialty"]]
            row["specialty"] = choices[rng.integers(len(choices))]
            new_department = True
        if rng.random() < 0.15 and original["title"] in TITLE_ORDER:
            rank = TITLE_ORDER.index(original["title"])
            rank = min(rank + 1, 3) if rank < 3 and rng.random() < 0.7 else max(rank - 1, 0)
            row["title"] = TITLE_ORDER[rank]
        if new_department:
            factor = rng.lognormal(0, 0.5)
            row["department_outpatients"] = int(round(original["department_outpatients"] * factor, -1))
            row["department_beds"] = int(round(original["department_beds"] * factor ** 0.8))
        elif rng.random() < 0.3:  # the same department, its size typed from another source
            row["department_outpatients"] = int(round(original["department_outpatients"]
                                                      * rng.uniform(0.9, 1.1), -1))
        # a move (another account or department) re-enters the doctor from then on
        mode, mask, share = _copy_months(len(months), rng, switch=new_department or None)
        moves[original["doctor_id"]] = (row["doctor_id"], mask)
        home, there = territory[original["account_id"]], territory[row["account_id"]]
        if mode == "parallel" and there == home:  # a second rep, from a neighbouring territory
            others = [t for t in territories_of_region[region[original["account_id"]]] if t != home]
            there = others[rng.integers(len(others))] if others else home
        plans[original["doctor_id"]] = {
            "copy": row["doctor_id"], "mode": mode, "mask": mask, "share": share,
            "first": int(np.argmax(mask)) if mask.any() else len(months),
            "territory": None if there == home else there}
        rows.append(row)
        pairs.append((row["doctor_id"], original["doctor_id"], mode))
    if rows:
        tables["doctors"] = pd.concat(
            [doctors, pd.DataFrame(rows).astype(doctors.dtypes.to_dict())], ignore_index=True)
    truth_doctors = _copy_truth(truth_doctors, "doctor_id", pairs)
    tables["visits"] = _move_visits(tables["visits"], plans, tables["reps"], months, rng)
    tables["prescriptions"] = _move_rows(tables["prescriptions"], "doctor_id", "month", moves, months)
    if len(tables["event_attendance"]):
        start = tables["events"].set_index("event_id")["start_date"]
        attendance = tables["event_attendance"].assign(
            date=lambda t: t["event_id"].map(start).to_numpy())
        attendance = _move_rows(attendance, "doctor_id", "date", moves, months)
        tables["event_attendance"] = attendance.drop(columns="date")
    return pd.DataFrame(pairs, columns=["copy", "original", "mode"]), truth_doctors


def _copy_truth(truth: pd.DataFrame, key: str, pairs: list) -> pd.DataFrame:
    """``truth`` with a row per copy: the truth of the person or place it duplicates."""
    if not pairs:
        return truth
    extra = truth.set_index(key).loc[[original for _, original, _ in pairs]].reset_index()
    extra[key] = [copy_id for copy_id, _, _ in pairs]
    return pd.concat([truth, extra], ignore_index=True)


def _plant_accounts(tables, truth_accounts, rate, rng, months):
    """Enter ``rate`` of the accounts twice; sales of some months and some doctors move."""
    accounts = tables["accounts"]
    n = len(accounts)
    n_copies = int(round(rate * n))
    originals = np.sort(rng.choice(n, size=n_copies, replace=False))
    rows, pairs, moves = [], [], {}
    doctors = tables["doctors"]
    doctor_account = doctors["account_id"].to_numpy(dtype=object).copy()
    for k, i in enumerate(originals):
        original = accounts.iloc[i]
        row = original.copy()
        row["account_id"] = f"{n + k + 1:06d}"
        row["name"] = name_variant(original["name"], rng)
        if pd.notna(row["beds"]) and rng.random() < 0.3:
            row["beds"] = int(round(row["beds"] * rng.uniform(0.85, 1.15)))
        if rng.random() < 0.3:
            row["annual_outpatients"] = int(round(row["annual_outpatients"]
                                                  * rng.uniform(0.85, 1.15), -2))
        mode, mask, _ = _copy_months(len(months), rng)
        moves[original["account_id"]] = (row["account_id"], mask)
        # some of its doctors were entered under the copy
        staff = np.flatnonzero(doctor_account == original["account_id"])
        moved = staff[rng.random(len(staff)) < 0.3]
        doctor_account[moved] = row["account_id"]
        rows.append(row)
        pairs.append((row["account_id"], original["account_id"], mode))
    if rows:
        tables["accounts"] = pd.concat(
            [accounts, pd.DataFrame(rows).astype(accounts.dtypes.to_dict())], ignore_index=True)
        tables["doctors"] = doctors.assign(
            account_id=pd.array(doctor_account, dtype=doctors["account_id"].dtype))
    tables["sales"] = _move_rows(tables["sales"], "account_id", "date", moves, months)
    return (pd.DataFrame(pairs, columns=["copy", "original", "mode"]),
            _copy_truth(truth_accounts, "account_id", pairs))
