"""Test worlds for churn that crmlab's simulator does not make: retailer-like account
histories (irregular repeat buyers, sales only) and CDNOW's real transactions.

Written as contract data directories, so the analysis runs on them as a user's data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).parents[1] / "reference"

_EMPTY = {
    "doctors": ["doctor_id", "account_id", "specialty"],
    "reps": ["rep_id", "territory_id"],
    "visits": ["visit_id", "date", "rep_id", "doctor_id"],
}


def write_sales_world(out: Path, sales: pd.DataFrame) -> Path:
    """A contract data directory of accounts and their sales only (no field force)."""
    out.mkdir(parents=True, exist_ok=True)
    ids = sorted(sales["account_id"].unique())
    pd.DataFrame({"account_id": ids, "account_type": "pharmacy", "region": "R1",
                  "territory_id": [f"T{i % 4}" for i in range(len(ids))]}).to_csv(out / "accounts.csv", index=False)
    pd.DataFrame({"product_id": ["P1"], "is_competitor": [False]}).to_csv(out / "products.csv", index=False)
    for name, columns in _EMPTY.items():
        pd.DataFrame(columns=columns).to_csv(out / f"{name}.csv", index=False)
    sales.assign(product_id="P1")[["date", "account_id", "product_id", "units"]].to_csv(out / "sales.csv",
                                                                                          index=False)
    return out


def bgnbd_sales(n: int, *, start: str, end: str, r: float, alpha: float, a: float, b: float,
                entry_days: int = 60, seed: int = 0) -> pd.DataFrame:
    """Daily sales of ``n`` accounts buying as the BG/NBD says (rates per day).

    Each account's first purchase falls in the first ``entry_days`` days; while alive it
    buys as a Poisson process with rate ``λ ~ Gamma(r, α)``; after each repeat purchase
    it drops out with probability ``p ~ Beta(a, b)``. Returns ``date, account_id, units``
    and, in ``attrs["truth"]``, whether each account is alive at ``end``.
    """
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    span = (end - start).days
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    rows, alive = [], np.ones(n, bool)
    for i in range(n):
        t = float(rng.integers(0, entry_days))
        rows.append((i, t))
        while True:
            t += rng.exponential(1 / lam[i])
            if t > span:
                break
            rows.append((i, t))
            if rng.random() < p[i]:
                alive[i] = False
                break
    frame = pd.DataFrame(rows, columns=["account", "day"])
    sales = pd.DataFrame({"date": start + pd.to_timedelta(frame["day"].astype(int), "D"),
                          "account_id": frame["account"].map(lambda i: f"A{i:05d}"),
                          "units": rng.integers(1, 6, len(frame)).astype(float)})
    sales.attrs["truth"] = pd.Series(alive, index=[f"A{i:05d}" for i in range(n)], name="alive")
    return sales


def cdnow_sales() -> pd.DataFrame:
    """CDNOW's 2,357-customer sample: one row per purchase (customer, date, CDs)."""
    raw = pd.read_csv(REFERENCE / "cdnow_sample_transactions.txt", sep=r"\s+", header=None,
                      names=["master_id", "customer", "date", "cds", "dollars"], dtype={"customer": str})
    return pd.DataFrame({"date": pd.to_datetime(raw["date"].astype(str), format="%Y%m%d"),
                         "account_id": "C" + raw["customer"], "units": raw["cds"].astype(float)})


def regular_sales(n: int, *, start: str, end: str, shape: float, mean_gap_days: float, lifetime_days: float,
                  entry_days: int = 30, seed: int = 0) -> pd.DataFrame:
    """Daily sales of ``n`` accounts that reorder regularly, unlike the BG/NBD's Poisson buyers.

    Gaps between purchases are Gamma(``shape``) with a mean drawn per account around
    ``mean_gap_days`` (shape > 1: more regular than Poisson); each account stops buying
    after an exponential lifetime of mean ``lifetime_days`` (in calendar time, not after
    a purchase as in the BG/NBD).
    """
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    span = (end - start).days
    means = mean_gap_days * rng.lognormal(0.0, 0.5, n)
    rows = []
    for i in range(n):
        t = float(rng.integers(0, entry_days))
        death = t + rng.exponential(lifetime_days)
        while t <= min(span, death):
            rows.append((i, t))
            t += rng.gamma(shape, means[i] / shape)
    frame = pd.DataFrame(rows, columns=["account", "day"])
    return pd.DataFrame({"date": start + pd.to_timedelta(frame["day"].astype(int), "D"),
                         "account_id": frame["account"].map(lambda i: f"A{i:05d}"),
                         "units": rng.integers(1, 6, len(frame)).astype(float)})
