"""The doctor-level churn history of a parquet world, built out of core with DuckDB.

:func:`~crmlab.features.churn.history.churn_history` reads every prescription and visit
row into memory; at US scale (a million doctors: about 90 million prescription rows and
40 million visits) that is most of a laptop. Here DuckDB scans the parquet files (single
files or directories of part files, ``crmlab simulate --scale us``) and returns only the
doctor × month panels churn reads:

* own-product prescriptions summed per doctor and month (up to ``as_of``), handed to
  ``churn_history`` with the doctor as integer codes (no string per row);
* completed visits and completed remote visits counted per doctor and month, the grids
  ``churn_history`` would count from the visit rows.

The result equals ``churn_history(load(data_dir), level="doctor", ...)``, grid for grid
(``tests/test_distributed.py``). The data are assumed valid (``crmlab validate`` first):
nothing is checked against the contract here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.features.churn.history import ChurnHistory, churn_history
from crmlab.features.common import own_product_ids

__all__ = ["doctor_history_from_parquet", "parquet_source"]


def parquet_source(data_dir: str | Path, table: str) -> str | None:
    """DuckDB's ``read_parquet(...)`` of ``<table>.parquet`` (a file or a directory of parts)."""
    path = Path(data_dir) / f"{table}.parquet"
    if path.is_dir():
        return f"read_parquet('{(path / '*.parquet').as_posix()}')"
    if path.is_file():
        return f"read_parquet('{path.as_posix()}')"
    return None


def doctor_history_from_parquet(data_dir: str | Path, *, product_id=None, as_of=None,
                                memory_limit: str | None = None, threads: int | None = None) -> ChurnHistory:
    """The doctor-level :class:`ChurnHistory` of a parquet data directory, out of core.

    Parameters
    ----------
    data_dir : str or Path
        Holds ``products``, ``doctors``, ``accounts`` and ``prescriptions`` as parquet
        (files or part directories); ``visits``, ``events`` and ``event_attendance`` when
        there are any.
    product_id : str or list, optional
        Default: every own product.
    as_of : date, optional
        Default: the end of the last month of prescriptions.
    memory_limit, threads : optional
        DuckDB's ``memory_limit`` (e.g. ``"4GB"``; it spills to disk beyond) and threads.
    """
    import duckdb

    src = {t: parquet_source(data_dir, t) for t in ("products", "doctors", "accounts", "prescriptions",
                                                     "visits", "events", "event_attendance")}
    missing = [t for t in ("products", "doctors", "accounts", "prescriptions") if src[t] is None]
    if missing:
        raise FileNotFoundError(f"no {', '.join(t + '.parquet' for t in missing)} in {data_dir}")
    con = duckdb.connect()
    try:
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        products = con.sql(f"SELECT * FROM {src['products']}").df()
        own = own_product_ids(products, product_id)
        doctors = con.sql(f"SELECT * FROM {src['doctors']}").df()
        accounts = con.sql(f"SELECT * FROM {src['accounts']}").df()
        ids = pd.Index(doctors["doctor_id"].astype(str))
        con.register("doctor_index", pd.DataFrame({"doctor_id": ids.to_numpy(object),
                                                   "pos": np.arange(len(ids), dtype=np.int32)}))
        con.register("own_products", pd.DataFrame({"product_id": list(own)}))
        rx = f"(SELECT * FROM {src['prescriptions']} WHERE product_id IN (SELECT product_id FROM own_products))"
        if as_of is None:
            last = con.sql(f"SELECT max(month) FROM {rx}").fetchall()[0][0]
            as_of = pd.Timestamp(last) + pd.offsets.MonthEnd(0)
        as_of = pd.Timestamp(as_of)
        stamp = f"TIMESTAMP '{as_of.isoformat(sep=' ')}'"
        volume = con.sql(f"""
            SELECT d.pos, r.month, coalesce(sum(r.trx), 0) AS trx
            FROM {rx} r JOIN doctor_index d ON r.doctor_id = d.doctor_id
            WHERE r.month <= {stamp}
            GROUP BY d.pos, r.month""").df()
        tables = {"products": products, "doctors": doctors, "accounts": accounts,
                  "prescriptions": pd.DataFrame({
                      "doctor_id": pd.Categorical.from_codes(volume["pos"].to_numpy(np.int32), categories=ids),
                      "product_id": pd.Categorical.from_codes(np.zeros(len(volume), np.int8), categories=[own[0]]),
                      "month": pd.to_datetime(volume["month"]), "trx": volume["trx"].to_numpy(float)})}
        del volume
        if src["events"] is not None and src["event_attendance"] is not None:
            tables["events"] = con.sql(f"SELECT event_id, start_date FROM {src['events']}").df()
            tables["event_attendance"] = con.sql(f"SELECT * FROM {src['event_attendance']}").df()
        history = churn_history(tables, level="doctor", product_id=own, as_of=as_of)
        if src["visits"] is None:
            return history
        first = history.months[0]
        n_m = len(history.months)
        counts = con.sql(f"""
            SELECT d.pos,
                   (year(v.date) - {first.year}) * 12 + month(v.date) - {first.month} AS m,
                   count(*) FILTER (WHERE coalesce(v.status, 'completed') = 'completed') AS completed,
                   count(*) FILTER (WHERE coalesce(v.status, 'completed') = 'completed'
                                    AND coalesce(v.channel, 'face_to_face') <> 'face_to_face') AS remote
            FROM {src['visits']} v JOIN doctor_index d ON v.doctor_id = d.doctor_id
            WHERE v.date <= {stamp}
            GROUP BY ALL""").df()
    finally:
        con.close()
    keep = (counts["m"] >= 0) & (counts["m"] < n_m)
    cells = counts["pos"].to_numpy(np.int64)[keep] * n_m + counts["m"].to_numpy(np.int64)[keep]
    shape = (len(ids), n_m)
    grids = {name: np.bincount(cells, weights=counts[name].to_numpy(float)[keep], minlength=shape[0] * shape[1])
             .reshape(shape) for name in ("completed", "remote")}
    return dataclasses.replace(history, visits=grids["completed"], remote_visits=grids["remote"])
