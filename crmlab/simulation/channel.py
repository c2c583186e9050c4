"""The channel of the simulated world: pharmacies, distributors, sell-out with returns, sell-in."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.simulation.config import REGIONS


class Channel:
    """Steps drawing account sell-out and the distributors' orders (mixed into the simulator)."""

    def _pharmacy_lapses(self, accounts):
        """Retail demand level of each pharmacy and its lapse (onset month or -1, multiplier)."""
        cfg, rng = self.cfg, self.rng
        n_a, n_m = len(accounts), cfg.n_months
        t = np.arange(n_m)
        is_pharmacy = (accounts["account_type"] == "pharmacy").to_numpy()
        pharmacy_base = rng.lognormal(3.3, 0.5, n_a)
        pharmacy_onset = np.where(rng.random((n_a, n_m)) < cfg.pharmacy_lapse_hazard, t[None, :], n_m + 99).min(axis=1)
        pharmacy_onset = np.where(is_pharmacy & (pharmacy_onset < n_m), pharmacy_onset, -1)
        decline = np.r_[cfg.lapse_decline, 0.0]
        since = t[None, :] - pharmacy_onset[:, None]
        pharmacy_multiplier = np.where((pharmacy_onset[:, None] >= 0) & (since >= 0),
                                       decline[np.clip(since, 0, len(decline) - 1)], 1.0)
        return pharmacy_base, pharmacy_onset, pharmacy_multiplier

    def _sell_out(self, accounts, account_idx, trx, demand, campaign_region, pharmacy_base, pharmacy_multiplier):
        """Account sell-out per own product: its doctors' prescriptions, or a pharmacy's retail demand."""
        cfg = self.cfg
        n_a, n_m = len(accounts), cfg.n_months
        t = np.arange(n_m)
        is_pharmacy = (accounts["account_type"] == "pharmacy").to_numpy()
        shape, adoption = demand["shape"], demand["adoption"]
        account_campaign = 1 + cfg.campaign_lift_pct * (
            (accounts["region"].to_numpy() == campaign_region)[:, None] & (t >= cfg.campaign_start_month)[None, :])
        sell_out = []
        for p, retail in (("P01", 1.0), ("P02", 0.4)):
            units = np.zeros((n_a, n_m))
            np.add.at(units, account_idx, trx[p])
            retail_mean = retail * pharmacy_base[:, None] * shape[None, :] * pharmacy_multiplier
            if p == "P01":
                retail_mean = retail_mean * account_campaign
            else:
                retail_mean = retail_mean * adoption[None, :]
            units = np.where(is_pharmacy[:, None], self._noisy(retail_mean), units)
            sell_out.append(units)
        return sell_out

    def _distributors(self, accounts):
        """Level-1 distributors, listed region by region, and each account's distributor."""
        cfg, rng = self.cfg, self.rng
        distributors = pd.DataFrame({
            "distributor_id": [f"DS{i + 1:04d}" for i in range(cfg.n_regions * cfg.distributors_per_region)],
            "level": 1,
            "parent_id": pd.NA,
            "region": np.repeat(REGIONS[: cfg.n_regions], cfg.distributors_per_region),
        })
        region_position = pd.Index(REGIONS[: cfg.n_regions]).get_indexer(accounts["region"].to_numpy())
        distributor_of_account = (region_position * cfg.distributors_per_region
                                  + rng.integers(0, cfg.distributors_per_region, len(accounts)))
        return distributors, distributor_of_account

    def _sales(self, accounts, sell_out, distributors, distributor_of_account):
        """The ``sales`` table; returns (a share of a delivery back later the same month) leave ``sell_out``."""
        cfg, rng = self.cfg, self.rng
        account_ids = accounts["account_id"].to_numpy()
        distributor_ids = distributors["distributor_id"].to_numpy()
        sales = []
        for p_i, p in enumerate(("P01", "P02")):
            rows_, cols_ = np.nonzero(sell_out[p_i] > 0)
            units = sell_out[p_i][rows_, cols_]
            days = self.months.days_in_month.to_numpy()[cols_]
            sales.append(pd.DataFrame({
                "date": self.months[cols_] + pd.to_timedelta((rng.random(len(rows_)) * days).astype(int), "D"),
                "account_id": account_ids[rows_], "product_id": p,
                "units": units, "distributor_id": distributor_ids[distributor_of_account[rows_]],
            }))
            back = rng.random(len(rows_)) < 0.01
            sales.append(pd.DataFrame({
                "date": self.months[cols_[back]] + pd.Timedelta(days=27),
                "account_id": account_ids[rows_[back]], "product_id": p,
                "units": -np.ceil(0.2 * units[back]),
                "distributor_id": distributor_ids[distributor_of_account[rows_[back]]],
            }))
            np.subtract.at(sell_out[p_i], (rows_[back], cols_[back]), np.ceil(0.2 * units[back]))
        sales = pd.concat(sales, ignore_index=True)
        sales["revenue"] = (sales["units"] * sales["product_id"].map(cfg.prices)).round(2)
        return sales.sort_values(["date", "account_id", "product_id"], kind="stable").reset_index(drop=True)

    def _channel(self, accounts, sell_out_units, distributor_of_account, distributors):
        """Distributor sell-in from an order-up-to days-on-hand policy in whole lots."""
        cfg, rng = self.cfg, self.rng
        n_d, n_m = len(distributors), cfg.n_months
        products = ["P01", "P02"]
        shipments, inventory, policy = [], [], []
        target = rng.uniform(*cfg.target_doh_range, n_d).round(1)
        for p_i, product in enumerate(products):
            demand = np.zeros((n_d, n_m))
            np.add.at(demand, distributor_of_account, sell_out_units[p_i])
            for d in range(n_d):
                level = demand[d]
                base = max(level[:3].mean(), 1.0)
                lot = max(10.0, np.round(base * cfg.lot_months, -1))
                stock = base * target[d] / 30
                policy.append((distributors["distributor_id"].iat[d], product, target[d], lot))
                path = []
                for t in range(n_m):
                    forecast = level[max(0, t - 3):t].mean() if t >= 1 else base
                    factor = self._stock_factor(d, t)
                    if factor != 1.0 and self._stock_factor(d, t - 1) == 1.0:
                        self._record_destock(product, forecast, target[d])
                    order_up_to = forecast * (1 + factor * target[d] / 30)
                    order = np.ceil(max(0.0, order_up_to - stock) / lot) * lot
                    if self.months[t].month in (3, 6, 9, 12):
                        order += np.round(cfg.quarter_end_loading * forecast / lot) * lot
                    emergency = 0.0
                    if stock + order - level[t] < 0:
                        emergency = np.ceil((level[t] - stock - order) / lot) * lot
                    returned = 0.0
                    if rng.random() < 0.01 and stock > lot:
                        returned = -np.round(0.1 * stock)
                    stock = stock + order + emergency + returned - level[t]
                    path.append((stock, returned))
                    day0 = self.months[t]
                    for qty, day in ((order, 2), (emergency, 18), (returned, 25)):
                        if qty != 0 or self._same_draws(d):
                            offset = int(rng.integers(0, 3))
                            if qty != 0:
                                shipments.append((day0 + pd.Timedelta(days=day + offset),
                                                  distributors["distributor_id"].iat[d], product, qty))
                    inventory.append((day0 + pd.offsets.MonthEnd(0), distributors["distributor_id"].iat[d],
                                      product, round(stock, 1)))
                self._destock_realised(d, product, level, target[d], lot, path)
        shipments = pd.DataFrame(shipments, columns=["date", "distributor_id", "product_id", "units"])
        inventory = pd.DataFrame(inventory, columns=["date", "distributor_id", "product_id", "units_on_hand"])
        policy = pd.DataFrame(policy, columns=["distributor_id", "product_id", "target_days_on_hand", "lot"])
        return (shipments.sort_values(["date", "distributor_id", "product_id"], kind="stable").reset_index(drop=True),
                inventory.sort_values(["date", "distributor_id", "product_id"], kind="stable").reset_index(drop=True),
                policy)
