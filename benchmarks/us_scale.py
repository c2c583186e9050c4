"""US scale: churn panels out of core (DuckDB) and churn scoring on a Dask cluster.

Usage::

    python benchmarks/us_scale.py [--data data/us] [--doctors 1000000] [--cluster local]
                                  [--duckdb-memory 4GB] [--json out.json]

A missing ``--data`` directory is first simulated (``crmlab simulate --scale us
--doctors N``, division by division, not timed). Then, timed:

1. **panels** — DuckDB scans the partitioned parquet and returns the doctor × month
   volume, visit and remote-visit grids (:func:`crmlab.features.churn.parquet.
   doctor_history_from_parquet`), within ``--duckdb-memory``;
2. **scoring** — :func:`crmlab.models.churn.score_churn` as of the last month: gradient
   boosting fitted on the driver on a seeded subsample of ``--max-train-rows`` training
   snapshots, then every active doctor scored, with its reasons, by partition on the
   cluster (``--cluster``: ``local`` = one worker process per core, ``local:N``, or a
   scheduler address).

Printed: wall time of each step, the driver's peak resident memory, each worker's peak,
and their sum (an upper bound of the peak of the whole run). Nothing is compared with a
target: the numbers are the README's ``us`` row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _peak_gb() -> float:
    """This process' peak resident memory: VmHWM on Linux (reset when a process execs, so a
    spawned worker does not report its parent's peak, as ru_maxrss would), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(data_dir: Path, cluster: str, *, max_train_rows: int, duckdb_memory: str, seed: int = 7) -> dict:
    from crmlab.distributed import backend
    from crmlab.features.churn.parquet import doctor_history_from_parquet
    from crmlab.models.churn import score_churn

    out: dict = {"data": str(data_dir), "cluster": cluster, "cores": os.cpu_count(),
                 "load_average_at_start": os.getloadavg()}
    start = time.perf_counter()
    history = doctor_history_from_parquet(data_dir, memory_limit=duckdb_memory)
    out["panels_s"] = round(time.perf_counter() - start, 1)
    out["doctors"] = int(len(history.entity_ids))
    out["months"] = int(len(history.months))
    out["peak_rss_after_panels_gb"] = round(_peak_gb(), 2)
    t = len(history.months) - 1
    step = time.perf_counter()
    with backend(cluster) as active:
        client = None if active is None else active.client
        if client is not None:
            out["workers"] = len(client.nthreads())
        scored = score_churn(history, t, model="boosting", horizon_months=3, active_months=6,
                             min_active_months=3, train_origins=12, seed=seed,
                             max_train_rows=max_train_rows)
        out["scoring_s"] = round(time.perf_counter() - step, 1)
        if client is not None:
            peaks = client.run(_peak_gb)
            out["worker_peak_rss_gb"] = sorted(round(v, 2) for v in peaks.values())
    out["scored"] = int(len(scored.scores))
    out["alerts_at_0.3"] = int((scored.scores["risk"] >= 0.3).sum())
    out["model"] = scored.model_name
    out["total_s"] = round(time.perf_counter() - start, 1)
    out["driver_peak_rss_gb"] = round(_peak_gb(), 2)
    out["peak_rss_sum_gb"] = round(out["driver_peak_rss_gb"] + sum(out.get("worker_peak_rss_gb", [])), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT / "data" / "us"))
    parser.add_argument("--doctors", type=int, default=1_000_000, help="doctors when simulating --data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cluster", default="local")
    parser.add_argument("--max-train-rows", type=int, default=300_000)
    parser.add_argument("--duckdb-memory", default="4GB")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "doctors.parquet").exists():
        print(f"simulating {args.doctors:,} doctors into {data} (not timed) …", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crmlab.cli", "simulate", "--scale", "us", "--out", str(data),
                        "--doctors", str(args.doctors), "--seed", str(args.seed)], check=True)
        print(f"simulated in {time.perf_counter() - start:.0f} s", flush=True)
    numbers = measure(data, args.cluster, max_train_rows=args.max_train_rows, duckdb_memory=args.duckdb_memory,
                      seed=args.seed)
    print(json.dumps(numbers, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
