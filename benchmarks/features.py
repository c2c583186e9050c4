"""Wall time and peak memory of loading the data and building the three shared panels.

Usage: ``python benchmarks/features.py [--scales sample demo national] [--national-dir data/national]
[--json] [--no-duckdb]``

Each scale runs in its own process so that its peak resident memory is its own. A scale
whose data directory is missing is simulated first (not timed). National data is made by
``make national``.

``load_s`` is the load of a data version already validated (the dataset cache,
:mod:`crmlab.io.cache`, filled by an untimed load first); ``validate_s`` is that first
load. For comparison, ``duckdb_raw_s`` is DuckDB reading the same files and aggregating
visits and prescriptions to doctor × product × month into pandas, in a process of its own
(``duckdb_peak_rss_gb``). With ``--json`` each scale is printed as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(data_dir: str) -> dict:
    """Load + build the doctor, account and channel panels; return timings in seconds."""
    from crmlab.features import account_month_panel, channel_panel, doctor_month_panel
    from crmlab.io import load

    timings = {}
    start = time.perf_counter()
    load(data_dir)  # validates once and fills the cache, unless already done
    timings["validate_s"] = time.perf_counter() - start
    start = time.perf_counter()
    ds = load(data_dir)
    timings["load_s"] = time.perf_counter() - start
    step = time.perf_counter()
    doctor = doctor_month_panel(ds.doctors, ds.visits, ds.prescriptions, events=ds.events,
                                event_attendance=ds.event_attendance, products=ds.products)
    timings["doctor_month_s"] = time.perf_counter() - step
    step = time.perf_counter()
    account = account_month_panel(ds.accounts, ds.sales, doctors=ds.doctors, visits=ds.visits,
                                  prescriptions=ds.prescriptions, products=ds.products)
    timings["account_month_s"] = time.perf_counter() - step
    step = time.perf_counter()
    channel = channel_panel(ds.shipments, ds.sales, ds.inventory, distributors=ds.distributors)
    timings["channel_s"] = time.perf_counter() - step
    timings["total_s"] = time.perf_counter() - start
    timings["rows"] = {"doctor_month": len(doctor), "account_month": len(account), "channel": len(channel),
                       "prescriptions_in": len(ds.prescriptions), "visits_in": len(ds.visits)}
    timings["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return timings


def duckdb_raw(data_dir: str) -> dict:
    """DuckDB alone: read visits and prescriptions, aggregate to doctor × product × month, into pandas."""
    import duckdb

    data = Path(data_dir)

    def source(table: str) -> str:
        parquet, csv = data / f"{table}.parquet", data / f"{table}.csv"
        return f"read_parquet('{parquet}')" if parquet.exists() else f"read_csv_auto('{csv}')"

    start = time.perf_counter()
    con = duckdb.connect()
    frame = con.execute(f"""
        WITH v AS (
            SELECT doctor_id, product_id, date_trunc('month', CAST(date AS DATE)) AS month,
                   count(*) AS visits
            FROM {source('visits')} WHERE coalesce(status, 'completed') = 'completed'
            GROUP BY ALL),
        r AS (
            SELECT doctor_id, product_id, date_trunc('month', CAST(month AS DATE)) AS month,
                   sum(trx) AS trx, sum(nrx) AS nrx
            FROM {source('prescriptions')} GROUP BY ALL)
        SELECT * FROM r FULL OUTER JOIN v USING (doctor_id, product_id, month)""").df()
    return {"duckdb_raw_s": time.perf_counter() - start, "duckdb_rows": len(frame),
            "duckdb_peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", nargs="+", default=["sample", "demo", "national"])
    parser.add_argument("--national-dir", default=str(ROOT / "data" / "national"))
    parser.add_argument("--json", action="store_true", help="print one JSON object per scale")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB comparison")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--duckdb", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    if args.duckdb:
        print(json.dumps(duckdb_raw(args.duckdb)))
        return
    dirs = {"sample": ROOT / "data" / "sample", "demo": ROOT / "data" / "demo",
            "national": Path(args.national_dir)}
    scratch = Path(tempfile.mkdtemp(prefix="crmlab-bench-"))
    if not args.json:
        print(f"{'scale':<10}{'valid. s':>9}{'load s':>9}{'doctor s':>10}{'account s':>11}{'channel s':>11}"
              f"{'total s':>9}{'peak GB':>9}{'duckdb s':>10}{'ratio':>7}  rows (doctor x month)")
    for scale in args.scales:
        data_dir = dirs[scale]
        if not (data_dir / "truth.json").exists():
            data_dir = scratch / scale
            fmt = "parquet" if scale == "national" else "csv"
            subprocess.run([sys.executable, "-m", "crmlab.cli", "simulate", "--out", str(data_dir),
                            "--scale", scale, "--format", fmt], check=True, stdout=subprocess.DEVNULL)
        r = {"scale": scale, "data_dir": str(data_dir), "load_average": round(os.getloadavg()[0], 1),
             **_child("--measure", data_dir)}
        if not args.no_duckdb:
            r.update(_child("--duckdb", data_dir))
            r["ratio_to_duckdb"] = r["total_s"] / r["duckdb_raw_s"]
        if args.json:
            print(json.dumps(r), flush=True)
            continue
        duck = (f"{r['duckdb_raw_s']:>10.1f}{r['ratio_to_duckdb']:>7.2f}" if "duckdb_raw_s" in r
                else f"{'-':>10}{'-':>7}")
        print(f"{scale:<10}{r['validate_s']:>9.1f}{r['load_s']:>9.1f}{r['doctor_month_s']:>10.1f}"
              f"{r['account_month_s']:>11.1f}{r['channel_s']:>11.1f}{r['total_s']:>9.1f}{r['peak_rss_gb']:>9.2f}"
              f"{duck}  {r['rows']['doctor_month']:,}", flush=True)


def _child(flag: str, data_dir) -> dict:
    out = subprocess.run([sys.executable, __file__, flag, str(data_dir)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
