"""Helpers every feature builder shares: own products, completed visits, table checks."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def own_product_ids(products: pd.DataFrame | None,
                    product_ids: Iterable[str] | str | None = None) -> list[str] | None:
    """The products whose volume counts: ``product_ids`` if given, else the own products.

    Own products are those not flagged ``is_competitor``. Returns None when neither
    ``product_ids`` nor a non-empty ``products`` table is given. An empty list or tuple
    of ``product_ids`` counts as not given.

    Examples
    --------
    >>> products = pd.DataFrame({"product_id": ["P1", "C1"], "is_competitor": [False, True]})
    >>> own_product_ids(products)
    ['P1']
    >>> own_product_ids(products, "C1")
    ['C1']
    >>> own_product_ids(None) is None
    True
    """
    if product_ids is not None and not (isinstance(product_ids, (list, tuple))
                                        and len(product_ids) == 0):
        return [product_ids] if isinstance(product_ids, str) else [str(p) for p in product_ids]
    if products is None or not len(products):
        return None
    competitor = products.get("is_competitor", pd.Series(False, index=products.index))
    competitor = competitor.astype("boolean").fillna(False).to_numpy(bool)
    return [str(p) for p in products.loc[~competitor, "product_id"]]


def completed_visits(visits: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The visits whose ``status`` is ``completed`` (a missing status counts as completed).

    With ``columns``, only those of them the table has: a copy of the columns a caller
    reads, not of every column of millions of visits.

    Examples
    --------
    >>> visits = pd.DataFrame({"doctor_id": ["D1", "D2", "D3"], "status": ["completed", "cancelled", None]})
    >>> len(completed_visits(visits))
    2
    >>> completed_visits(visits, ["doctor_id", "rep_id"])["doctor_id"].tolist()
    ['D1', 'D3']
    """
    kept = visits if columns is None else visits[[c for c in columns if c in visits]]
    if "status" not in visits:
        return kept
    status = visits["status"]  # compared as it is: no Python string per row of millions of visits
    done = status.isna().to_numpy() | (status == "completed").fillna(False).to_numpy(bool)
    return kept if done.all() else kept[done]


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """The distinct ``keys``, sorted: by sorting, faster than numpy's hashing ``unique`` on millions.

    Examples
    --------
    >>> sorted_unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def require(table: pd.DataFrame | None, name: str, columns: Iterable[str], what: str) -> None:
    """Raise a ValueError naming the table and what is missing for ``what``.

    Examples
    --------
    >>> require(pd.DataFrame({"a": [1]}), "sales", ["a", "units"], "the forecast")
    Traceback (most recent call last):
    ...
    ValueError: the forecast: table 'sales' lacks column(s) units
    """
    if table is None:
        raise ValueError(f"{what} needs the '{name}' table; add {name}.csv (or .parquet) "
                         "to the data directory")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what}: table '{name}' lacks column(s) {', '.join(missing)}")


def ids_as_str(ids: pd.Series) -> pd.Series:
    """IDs as strings; a categorical column stays categorical (no string per row of a 7.2M-row panel)
    and arrow strings stay arrow strings (not one Python string per row).

    Examples
    --------
    >>> ids_as_str(pd.Series([1, 2, 1], dtype="category")).isin(["1"]).tolist()
    [True, False, True]
    """
    if isinstance(ids.dtype, pd.CategoricalDtype):
        return ids.cat.rename_categories(ids.cat.categories.astype(str))
    if isinstance(ids.dtype, pd.StringDtype):
        return ids
    return ids.astype(str)
