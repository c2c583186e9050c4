"""Wall time and peak memory of a full refresh: every analysis of ``crmlab run all``.

Usage: ``python benchmarks/refresh.py --data /work/data/national [--out DIR] [--json FILE]
[--analyses overview churn ...] [--cold]``

Each analysis runs as ``crmlab run <analysis>``, one after the other, in its own process
(the notebook's kernel is a child of it), so its peak resident memory is its own: the
largest resident set of the process and its kernel (``wait4``'s ``ru_maxrss``). The first
analysis of a new data version validates the files and fills the dataset cache
(:mod:`crmlab.io.cache`); ``--cold`` starts from an empty cache to count that too. As in
``crmlab run all``, the analyses share results through one temporary folder
(:mod:`crmlab.analyses.shared`: the call plan and the drivers reuse attribution's fits). The
machine's load average is printed beside each analysis: on a shared machine, wall times
are only comparable at similar load; CPU seconds (user + system, the run and its kernel
and workers) much less depend on it. System seconds are shown on their own: on a virtual
machine, fresh memory (the kernel zeroing pages, the host backing them) can cost a third
of an analysis's CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_one(analysis: str, data_dir: str, out_dir: Path, env: dict) -> dict:
    """``crmlab run analysis``: wall seconds, peak RSS (GB) of the run and its kernel, exit code."""
    log = out_dir / f"{analysis}.log"
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "crmlab.cli", "run", analysis, "--data", data_dir,
                                 "--out", str(out_dir / analysis)], stdout=handle, stderr=subprocess.STDOUT,
                                env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"analysis": analysis, "wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "sys_s": round(usage.ru_stime, 1),
            "peak_rss_gb": round(usage.ru_maxrss / 2**20, 2),
            "exit_code": proc.returncode, "load_before": round(load_before, 1),
            "load_after": round(os.getloadavg()[0], 1), "log": str(log)}


def main() -> int:
    from crmlab.config import ANALYSES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="data directory (e.g. /work/data/national)")
    parser.add_argument("--out", default=None, help="reports directory (default: a temporary one)")
    parser.add_argument("--analyses", nargs="+", default=list(ANALYSES), choices=list(ANALYSES))
    parser.add_argument("--cold", action="store_true", help="start with an empty dataset cache")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args()
    out_dir = Path(args.out or tempfile.mkdtemp(prefix="crmlab-refresh-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # one refresh: the analyses share results (crmlab.analyses.shared), as in `crmlab run all`
    shared = None
    if not env.get("CRMLAB_SHARED", "").strip():
        env["CRMLAB_SHARED"] = shared = tempfile.mkdtemp(prefix="crmlab-shared-")
    if args.cold:
        env["CRMLAB_CACHE"] = tempfile.mkdtemp(prefix="crmlab-cache-")
    print(f"full refresh of {args.data} ({os.cpu_count()} cores), reports in {out_dir}")
    print(f"{'analysis':<14}{'wall':>10}{'CPU s':>9}{'sys s':>7}{'peak GB':>9}{'load':>12}")
    rows, start = [], time.perf_counter()
    try:
        for analysis in args.analyses:
            row = run_one(analysis, args.data, out_dir, env)
            rows.append(row)
            status = "" if row["exit_code"] == 0 else f"  FAILED (exit {row['exit_code']}, see {row['log']})"
            print(f"{analysis:<14}{_clock(row['wall_s']):>10}{row['cpu_s']:>9.0f}{row['sys_s']:>7.0f}{row['peak_rss_gb']:>9.2f}"
                  f"{row['load_before']:>6.1f}→{row['load_after']:<5.1f}{status}", flush=True)
    finally:
        if shared:
            shutil.rmtree(shared, ignore_errors=True)
    total = {"wall_s": round(time.perf_counter() - start, 1), "cpu_s": round(sum(row["cpu_s"] for row in rows), 1),
             "sys_s": round(sum(row["sys_s"] for row in rows), 1),
             "peak_rss_gb": max(row["peak_rss_gb"] for row in rows)}
    print(f"{'full refresh':<14}{_clock(total['wall_s']):>10}{total['cpu_s']:>9.0f}{total['sys_s']:>7.0f}"
          f"{total['peak_rss_gb']:>9.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "analyses": rows, "total": total}, indent=2))
    return 0 if all(row["exit_code"] == 0 for row in rows) else 1


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}" if minutes else f"{rest:.1f} s"


if __name__ == "__main__":
    sys.exit(main())
