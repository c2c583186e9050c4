"""What every part of the attribution analysis shares: the tables, level, product, months, sizes and panels."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crmlab.features.attribution import analysed_product, outcome_panel, unit_prices, unit_size
from crmlab.features.common import ids_as_str
from crmlab.features.panels import month_range, month_start

if TYPE_CHECKING:
    from crmlab.analyses.attribution import AttributionParams


@dataclasses.dataclass
class Setting:
    """What every part of the analysis shares: tables, level, months, size, prices, panels."""

    tables: dict
    params: AttributionParams
    doctor_level: bool
    product_id: str
    months: pd.DatetimeIndex
    prices: pd.Series
    size_bin: np.ndarray
    size: np.ndarray
    panels: dict = dataclasses.field(default_factory=dict)
    sample: tuple | None = None  # (doctor IDs, the tables with only theirs, their panel rows)

    @property
    def unit(self) -> str:
        return "doctor_id" if self.doctor_level else "account_id"

    @property
    def y(self) -> str:
        return "trx" if self.doctor_level else "sell_out"

    def price(self, product_id) -> float:
        return float(self.prices.get(product_id, np.nan))

    def panel(self, product_id: str, doctor_ids: np.ndarray | None = None) -> pd.DataFrame:
        """The outcome panel of a product, built once (the visit lift and event types share it).

        With ``doctor_ids`` (a sample, doctor level), only their rows, built from their
        visits and prescriptions alone (a tenth of the rows to scan at national scale);
        the event studies share the sample, so its rows are selected once.
        """
        if doctor_ids is None:
            key, tables, size_bin, size = product_id, self.tables, self.size_bin, self.size
        else:
            key, (tables, rows) = (product_id, "sample"), self._sampled(doctor_ids)
            size_bin, size = self.size_bin[rows], self.size[rows]
        if key not in self.panels:
            self.panels[key] = outcome_panel(tables, product_id, self.months, doctor_level=self.doctor_level,
                                             size_bin=size_bin, size=size)
        return self.panels[key]

    def _sampled(self, doctor_ids: np.ndarray) -> tuple[dict, np.ndarray]:
        """The tables with only the sample's doctors, visits and prescriptions, and its panel rows."""
        if self.sample is None or not np.array_equal(self.sample[0], doctor_ids):
            for key in [key for key in self.panels if isinstance(key, tuple)]:  # another sample's panels
                del self.panels[key]
            sampled = {name: self.tables[name][_of_doctors(self.tables[name], doctor_ids)]
                       for name in ("doctors", "visits", "prescriptions")}
            rows = np.repeat(_of_doctors(self.tables["doctors"], doctor_ids), len(self.months))
            self.sample = (doctor_ids, {**self.tables, **sampled}, rows)
        return self.sample[1], self.sample[2]

    def keep_panels(self, product_ids) -> None:
        """Free the outcome panels, whole or a sample's, of every other product (7.2M rows each at national scale)."""
        product_ids = set(product_ids)
        for key in list(self.panels):
            if (key[0] if isinstance(key, tuple) else key) not in product_ids:
                del self.panels[key]


def setting_of(tables: dict, params: AttributionParams) -> Setting:
    """Check the tables and fix the level, the product, the months and the size bins."""
    prescriptions, sales = tables["prescriptions"], tables["sales"]
    if not len(prescriptions) and not len(sales):
        raise ValueError("attribution needs an outcome: the 'prescriptions' or the 'sales' table is empty or "
                         "missing; add prescriptions.csv (doctor level) or sales.csv (account level)")
    if not len(tables["accounts"]):
        raise ValueError("attribution needs the 'accounts' table (account_id, region, territory_id)")
    doctor_level = len(prescriptions) > 0 and len(tables["doctors"]) > 0
    product_id = params.product_id or analysed_product(tables["visits"], tables["products"],
                                                       sales if len(sales) else prescriptions)
    months = month_range(prescriptions["month"] if doctor_level else month_start(sales["date"]))
    size_bin, size = unit_size(tables, months, doctor_level=doctor_level, n_bins=params.n_bins)
    return Setting(tables=tables, params=params, doctor_level=doctor_level, product_id=product_id,
                   months=months, prices=unit_prices(tables["products"]), size_bin=size_bin, size=size)


def _of_doctors(table: pd.DataFrame, doctor_ids: np.ndarray) -> np.ndarray:
    """Rows of ``table`` whose ``doctor_id`` is one of ``doctor_ids`` (strings; arrow strings are not copied)."""
    if not len(table):
        return np.zeros(0, bool)
    return ids_as_str(table["doctor_id"]).isin(doctor_ids).to_numpy()
