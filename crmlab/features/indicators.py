"""The raw indicators a doctor is graded on: account tier, title, department size, volume.

Points, weights and grades are in :mod:`crmlab.models.segmentation`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids, require
from crmlab.features.volumes import as_float, as_text, doctor_product_volume, last_month, period_months


def doctor_indicators(doctors: pd.DataFrame, accounts: pd.DataFrame,
                      prescriptions: pd.DataFrame | None = None, *,
                      products: pd.DataFrame | None = None, volume_months: int = 12) -> pd.DataFrame:
    """One row per doctor with the raw grading indicators and where the doctor sits.

    Parameters
    ----------
    doctors, accounts, prescriptions, products : DataFrame
        Contract tables; ``prescriptions`` may be None or empty (then ``volume`` is NaN).
    volume_months : int
        ``volume`` is the monthly mean of own-product ``trx`` over the last
        ``volume_months`` months of the prescriptions.

    Returns
    -------
    DataFrame
        ``doctor_id, account_id, region, territory_id, account_type, specialty, title,
        tier, outpatients, beds, volume``. ``outpatients``/``beds`` are the department's;
        ``tier`` is the account's (``"other"`` when missing). No personal fields.

    Examples
    --------
    >>> doctors = pd.DataFrame({"doctor_id": ["D1"], "account_id": ["A1"], "specialty": ["cardiology"],
    ...     "title": ["chief"], "department_beds": [40], "department_outpatients": [900]})
    >>> accounts = pd.DataFrame({"account_id": ["A1"], "account_type": ["hospital"], "tier": ["3A"],
    ...     "region": ["North"], "territory_id": ["T1"]})
    >>> doctor_indicators(doctors, accounts)[["tier", "title", "outpatients", "beds"]].to_dict("records")
    [{'tier': '3A', 'title': 'chief', 'outpatients': 900.0, 'beds': 40.0}]
    """
    require(doctors, "doctors", ["doctor_id", "account_id", "specialty"], "doctor grading")
    require(accounts, "accounts", ["account_id", "region", "territory_id"], "doctor grading")
    account = accounts.assign(account_id=as_text(accounts["account_id"])).set_index("account_id")
    account_id = as_text(doctors["account_id"])
    out = pd.DataFrame({"doctor_id": as_text(doctors["doctor_id"]).to_numpy(),
                        "account_id": account_id.to_numpy()})
    for column in ("region", "territory_id", "account_type"):
        source = account[column] if column in account else pd.Series(dtype=object)
        out[column] = as_text(account_id.map(source)).to_numpy()
    out["specialty"] = as_text(doctors["specialty"]).to_numpy()
    title = doctors["title"] if "title" in doctors else pd.Series(None, index=doctors.index)
    out["title"] = as_text(title).fillna("other").to_numpy()
    tier = account_id.map(account["tier"]) if "tier" in account else pd.Series(None, index=doctors.index)
    out["tier"] = as_text(tier).fillna("other").to_numpy()
    for column, source in (("outpatients", "department_outpatients"), ("beds", "department_beds")):
        out[column] = as_float(doctors[source]) if source in doctors else np.nan
    out["volume"] = np.nan
    if prescriptions is not None and len(prescriptions):
        months = period_months(last_month(prescriptions["month"]), volume_months)
        volume = doctor_product_volume(prescriptions, months, own_product_ids(products)).sum(axis=1)
        out["volume"] = out["doctor_id"].map(volume).fillna(0.0).to_numpy(float)
    return out
