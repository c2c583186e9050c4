"""Account potential and adoption, and the potential × adoption quadrants.

Potential is the account's monthly category volume where its doctors' prescriptions
are observed, else predicted from size by a log-log fit; adoption is own volume over
potential.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from crmlab.features.common import own_product_ids, require
from crmlab.features.deciles import volume_deciles
from crmlab.features.volumes import (
    account_sell_out,
    as_float,
    as_text,
    category_product_ids,
    doctor_product_volume,
    last_month,
    period_months,
)

QUADRANTS = {("high", "low"): "Win", ("high", "high"): "Defend",
             ("low", "low"): "Grow", ("low", "high"): "Maintain"}


def account_potential_adoption(accounts: pd.DataFrame, *, doctors: pd.DataFrame | None = None,
                               prescriptions: pd.DataFrame | None = None,
                               sales: pd.DataFrame | None = None,
                               products: pd.DataFrame | None = None, months: int = 12) -> pd.DataFrame:
    """Potential and adoption per account, the inputs of the potential × adoption matrix.

    * ``category_volume`` — monthly prescriptions of the category (own products and
      competitors in the same therapeutic areas) written by the account's doctors.
    * ``potential`` — ``category_volume`` where observed; elsewhere (pharmacies, no
      doctor-level data) predicted from size by a log-log fit of category volume on
      ``annual_outpatients`` (or, without any category volume, own sell-out
      predicted from size the same way).
    * ``own_volume`` — monthly own-product sell-out (``sales``), else own ``trx``.
    * ``adoption`` — ``own_volume / potential`` (the own share where potential is the
      category volume).

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "region": ["N", "N"],
    ...     "territory_id": ["T1", "T1"], "annual_outpatients": [1000, 4000]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-05", "2025-01-09"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P1"], "units": [10.0, 10.0]})
    >>> account_potential_adoption(accounts, sales=sales, months=1)["adoption"].round(2).tolist()
    [2.5, 0.62]
    """
    require(accounts, "accounts", ["account_id", "region", "territory_id"], "account segments")
    has_rx = prescriptions is not None and len(prescriptions) and doctors is not None and len(doctors)
    has_sales = sales is not None and len(sales)
    if not has_rx and not has_sales:
        raise ValueError("account segments need 'sales' or 'prescriptions' (with 'doctors'); "
                         "both are missing or empty")
    ids = as_text(accounts["account_id"])
    out = pd.DataFrame({"account_id": ids.to_numpy(), "region": as_text(accounts["region"]).to_numpy(),
                        "territory_id": as_text(accounts["territory_id"]).to_numpy()})
    out["account_type"] = as_text(accounts["account_type"]).to_numpy() if "account_type" in accounts else None
    size = as_float(accounts["annual_outpatients"]) if "annual_outpatients" in accounts else np.full(len(out), np.nan)
    anchors = [prescriptions["month"] if has_rx else None, sales["date"] if has_sales else None]
    period = period_months(last_month(*anchors), months)
    own = own_product_ids(products)
    out["category_volume"] = np.nan
    own_trx = None
    if has_rx:
        account_of = pd.Series(as_text(doctors["account_id"]).to_numpy(), index=as_text(doctors["doctor_id"]).to_numpy())
        volume = doctor_product_volume(prescriptions, period, category_product_ids(products))
        by_account = volume.groupby(volume.index.map(account_of)).sum()
        observed = set(account_of.unique())
        category = by_account.sum(axis=1)
        out["category_volume"] = np.where(ids.isin(observed), ids.map(category).fillna(0.0), np.nan)
        own_cols = [c for c in by_account.columns if own is None or c in own]
        own_trx = by_account[own_cols].sum(axis=1)
    if has_sales:
        out["own_volume"] = ids.map(account_sell_out(sales, period, own)).fillna(0.0).to_numpy()
    else:
        out["own_volume"] = ids.map(own_trx).fillna(0.0).to_numpy()
    out["size"] = size
    anchor = out["category_volume"] if out["category_volume"].notna().any() else out["own_volume"]
    fitted = _size_fit(size, anchor.to_numpy(float))
    use_category = out["category_volume"].notna().any()
    out["potential"] = np.where(use_category & out["category_volume"].notna(), out["category_volume"], fitted)
    out["potential_source"] = np.where(use_category & out["category_volume"].notna(), "category_volume", "size")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["adoption"] = np.where(out["potential"] > 0, out["own_volume"] / out["potential"], np.nan)
    return out


def _size_fit(size: np.ndarray, volume: np.ndarray) -> np.ndarray:
    """Volume predicted from size by least squares on logs (accounts with both observed)."""
    ok = (size > 0) & (volume > 0) & np.isfinite(size) & np.isfinite(volume)
    if ok.sum() < 3:
        # too few points for a slope: assume volume proportional to size
        ratio = np.nansum(volume[ok]) / max(np.nansum(size[ok]), 1.0) if ok.any() else np.nan
        return size * ratio
    slope, intercept = np.polyfit(np.log(size[ok]), np.log(volume[ok]), 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(size > 0, np.exp(intercept + slope * np.log(size)), np.nan)


def potential_adoption_quadrants(table: pd.DataFrame, *, potential_split: float = 0.5,
                                 adoption_split: float = 0.5,
                                 labels: Mapping[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """Add ``potential_level``, ``adoption_level`` and ``quadrant`` (Win/Defend/Grow/Maintain).

    Cut points are quantiles of potential and adoption over the accounts given:
    high potential & low adoption = **Win** (largest gain), high & high = **Defend**,
    low & low = **Grow** (cheap gains), low & high = **Maintain**.

    Examples
    --------
    >>> t = pd.DataFrame({"potential": [1.0, 9.0, 1.0, 9.0], "adoption": [0.1, 0.1, 0.9, 0.9]})
    >>> potential_adoption_quadrants(t)["quadrant"].tolist()
    ['Grow', 'Win', 'Maintain', 'Defend']
    """
    labels = dict(QUADRANTS if labels is None else labels)
    out = table.copy()
    p_cut = out["potential"].quantile(potential_split)
    a_cut = out["adoption"].quantile(adoption_split)
    out["potential_cut"] = p_cut
    out["adoption_cut"] = a_cut
    out["potential_level"] = np.where(out["potential"] > p_cut, "high", "low")
    out["adoption_level"] = np.where(out["adoption"] > a_cut, "high", "low")
    out["quadrant"] = [labels[(p, a)] for p, a in zip(out["potential_level"], out["adoption_level"])]
    out.loc[out["potential"].isna() | out["adoption"].isna(), "quadrant"] = "unknown"
    return out


def account_segments(accounts: pd.DataFrame, *, doctors: pd.DataFrame | None = None,
                     prescriptions: pd.DataFrame | None = None, sales: pd.DataFrame | None = None,
                     products: pd.DataFrame | None = None, months: int = 12, potential_split: float = 0.5,
                     adoption_split: float = 0.5) -> pd.DataFrame:
    """Potential × adoption quadrants plus an own-volume ``decile`` per account.

    :func:`account_potential_adoption`, then :func:`potential_adoption_quadrants`; empty
    ``doctors``/``prescriptions`` are fine (sales-only markets: potential from size).

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "region": ["N", "N"],
    ...     "territory_id": ["T1", "T1"], "annual_outpatients": [1000, 4000]})
    >>> sales = pd.DataFrame({"date": pd.to_datetime(["2025-01-05", "2025-01-09"]),
    ...     "account_id": ["A1", "A2"], "product_id": ["P1", "P1"], "units": [10.0, 10.0]})
    >>> account_segments(accounts, sales=sales, months=1)[["quadrant", "decile"]].values.tolist()
    [['Maintain', 5], ['Win', 10]]
    """
    table = account_potential_adoption(accounts, doctors=doctors, prescriptions=prescriptions, sales=sales,
                                       products=products, months=months)
    out = potential_adoption_quadrants(table, potential_split=potential_split, adoption_split=adoption_split)
    out["decile"] = volume_deciles(out["own_volume"]).to_numpy()
    return out
