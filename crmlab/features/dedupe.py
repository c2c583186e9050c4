"""Records for duplicate detection: one row per doctor or account, with what is compared.

A doctor's record holds its name keys (:mod:`crmlab.features.names`), account and city,
specialty, title, department size and its visit behaviour: the (rep, month) pairs in
which it had a completed visit and its first and last visited month. An account's record
holds its name keys, city, type, tier and size.

The records keep personal data (name keys) and must stay inside crmlab: they go to the
linkage model only. :func:`doctor_activity` and :func:`account_activity` give the
visits and volume per ID that the reports quote.

Examples
--------
>>> from crmlab.io import load
>>> ds = load("data/sample")  # doctest: +SKIP
>>> doctor_records(ds).columns.tolist()[:3]  # doctest: +SKIP
['unique_id', 'name_key', 'name_letters']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import completed_visits, ids_as_str, own_product_ids, sorted_unique
from crmlab.features.names import name_keys
from crmlab.features.panels import codes_in

#: Seniority order of doctor titles; "adjacent" titles differ by one step.
TITLE_RANK = {"resident": 0, "attending": 1, "associate_chief": 2, "chief": 3}


def _text(values: pd.Series) -> pd.Series:
    """Text as object dtype with None for missing (what DuckDB reads as NULL)."""
    values = values.astype(object)
    return values.where(values.notna(), None)


def _month_index(dates: pd.Series) -> np.ndarray:
    return (dates.dt.year * 12 + dates.dt.month - 1).to_numpy()


def visit_behaviour(visits: pd.DataFrame) -> pd.DataFrame:
    """Per doctor: ``rep|month`` pairs and months with a completed visit, first and last month.

    Examples
    --------
    >>> visits = pd.DataFrame({"doctor_id": ["D1", "D1", "D2"], "rep_id": ["R1", "R1", "R2"],
    ...     "date": pd.to_datetime(["2024-01-05", "2024-03-02", "2024-01-09"]),
    ...     "status": "completed"})
    >>> visit_behaviour(visits).loc["D1", "rep_months"]
    ['R1|24288', 'R1|24290']
    >>> int(visit_behaviour(visits).loc["D1", "last_month"] - visit_behaviour(visits).loc["D1", "first_month"])
    2
    """
    done = completed_visits(visits, ["doctor_id", "rep_id", "date"])
    done = done[done["doctor_id"].notna().to_numpy() & done["date"].notna().to_numpy()]
    month = _month_index(done["date"]).astype(np.int64)
    # integer codes, not a Python string per visit: doctors in sorted order, reps as found
    doctor, doctor_ids = pd.factorize(ids_as_str(done["doctor_id"]), sort=True)
    rep, rep_ids = pd.factorize(ids_as_str(done["rep_id"]).fillna("<NA>"))  # as astype(str) writes it
    first = int(month.min()) if len(month) else 0
    n_months = int(month.max()) - first + 1 if len(month) else 1
    # each (rep, month) pair once, with its text and its rank in the text's sort order
    pair, pair_at = np.unique(rep.astype(np.int64) * n_months + (month - first), return_inverse=True)
    pair_text = np.array([f"{r}|{m}" for r, m in zip(np.asarray(rep_ids, dtype=object)[pair // n_months],
                                                        pair % n_months + first)], dtype=object)
    pair_rank = np.argsort(np.argsort(pair_text, kind="stable"), kind="stable")
    doctor = doctor.astype(np.int64)
    rep_months = sorted_unique(doctor * len(pair) + pair_rank[pair_at])  # sorted by doctor, then text
    visit_months = sorted_unique(doctor * n_months + (month - first))
    by_text = pair_text[np.argsort(pair_rank)]
    return pd.DataFrame({
        "rep_months": _lists(by_text[rep_months % len(pair)], rep_months // len(pair), len(doctor_ids)),
        "visit_months": _lists((visit_months % n_months + first).tolist(), visit_months // n_months,
                               len(doctor_ids)),
        "first_month": pd.Series(month).groupby(doctor).min().to_numpy(np.int32),
        "last_month": pd.Series(month).groupby(doctor).max().to_numpy(np.int32),
    }, index=pd.Index(np.asarray(doctor_ids, dtype=object), name="doctor_id"))


def _lists(values, owner: np.ndarray, n_owners: int) -> list[list]:
    """``values`` (sorted by ``owner``) as one list per owner 0 … n_owners − 1."""
    bounds = np.searchsorted(owner, np.arange(n_owners + 1))
    values = list(values)
    return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def doctor_records(doctors: pd.DataFrame, accounts: pd.DataFrame,
                   visits: pd.DataFrame) -> pd.DataFrame:
    """One linkage record per doctor (``unique_id`` = ``doctor_id``).

    Columns: ``unique_id``, the name keys, ``account_id``, ``city``, ``specialty``,
    ``title``, ``title_rank``, ``department_outpatients``, ``department_beds``,
    ``rep_months``, ``visit_months``, ``first_month``, ``last_month``.
    """
    city = accounts.set_index("account_id")["city"] if "city" in accounts else None
    names = doctors["name"] if "name" in doctors else pd.Series(None, index=doctors.index)
    records = pd.DataFrame({
        "unique_id": doctors["doctor_id"].astype(str).to_numpy(),
        **{k: v.to_numpy() for k, v in name_keys(names).items()},
        "account_id": _text(doctors["account_id"]).to_numpy(),
        "city": (_text(doctors["account_id"].map(city)).to_numpy() if city is not None
                 else None),
        "specialty": _text(doctors["specialty"]).to_numpy(),
        "title": _text(doctors.get("title", pd.Series(None, index=doctors.index))).to_numpy(),
    })
    records["title_rank"] = records["title"].map(TITLE_RANK).astype("Int64")
    for column in ("department_outpatients", "department_beds"):
        values = doctors[column] if column in doctors else pd.Series(np.nan, index=doctors.index)
        records[column] = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    behaviour = visit_behaviour(visits).reindex(records["unique_id"])
    records["rep_months"] = behaviour["rep_months"].to_numpy()
    records["visit_months"] = behaviour["visit_months"].to_numpy()
    records["first_month"] = behaviour["first_month"].astype("Int64").to_numpy()
    records["last_month"] = behaviour["last_month"].astype("Int64").to_numpy()
    return records


def account_records(accounts: pd.DataFrame) -> pd.DataFrame:
    """One linkage record per account (``unique_id`` = ``account_id``).

    Columns: ``unique_id``, the name keys, ``city``, ``account_type``, ``tier``,
    ``beds``, ``annual_outpatients``.
    """
    names = accounts["name"] if "name" in accounts else pd.Series(None, index=accounts.index)
    records = pd.DataFrame({
        "unique_id": accounts["account_id"].astype(str).to_numpy(),
        **{k: v.to_numpy() for k, v in name_keys(names).items()},
        **{c: _text(accounts[c]).to_numpy() if c in accounts else None
           for c in ("city", "account_type", "tier")},
    })
    for column in ("beds", "annual_outpatients"):
        values = accounts[column] if column in accounts else pd.Series(np.nan, index=accounts.index)
        records[column] = pd.to_numeric(values, errors="coerce").astype(float).to_numpy()
    return records


def doctor_activity(doctors: pd.DataFrame, visits: pd.DataFrame,
                    prescriptions: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Completed visits and own-product prescriptions (``volume``) per doctor ID."""
    ids = pd.Index(doctors["doctor_id"].astype(str), name="id")
    own = own_product_ids(products)
    rx = prescriptions if own is None else prescriptions[prescriptions["product_id"].isin(own)]
    return pd.DataFrame({"visits": _per_id(completed_visits(visits, ["doctor_id"])["doctor_id"], ids).astype(np.int64),
                         "volume": _per_id(rx["doctor_id"], ids, rx["trx"])}, index=ids)


def account_activity(accounts: pd.DataFrame, doctors: pd.DataFrame, visits: pd.DataFrame,
                     sales: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Completed visits to its doctors and own-product sell-out units (``volume``) per account."""
    ids = pd.Index(accounts["account_id"].astype(str), name="id")
    per_doctor = _per_id(completed_visits(visits, ["doctor_id"])["doctor_id"],
                         pd.Index(doctors["doctor_id"].astype(str)))
    own = own_product_ids(products)
    sold = sales if own is None else sales[sales["product_id"].isin(own)]
    return pd.DataFrame({"visits": _per_id(doctors["account_id"], ids, per_doctor).astype(np.int64),
                         "volume": _per_id(sold["account_id"], ids, sold["units"])}, index=ids)


def _per_id(keys: pd.Series, ids: pd.Index, weights=None) -> np.ndarray:
    """Rows (or the sum of ``weights``) per ID of ``ids``; keys not among them are left out.

    Examples
    --------
    >>> _per_id(pd.Series(["b", "a", "b", "x"]), pd.Index(["a", "b", "c"])).tolist()
    [1.0, 2.0, 0.0]
    """
    codes = codes_in(ids_as_str(keys), ids)
    known = codes >= 0
    weights = None if weights is None else np.asarray(weights, dtype=float)[known]
    return np.bincount(codes[known], weights, minlength=len(ids)).astype(float)
