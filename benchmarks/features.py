"""Wall time and peak memory of loading the data and building the three shared panels.

Usage: ``python benchmarks/features.py [--scales sample demo national] [--national-dir data/national]``

Each scale runs in its own process so that its peak resident memory is its own. A scale
whose data directory is missing is simulated first (not timed). National data is made by
``make national``.
"""

from __future__ import annotations

import argparse
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", nargs="+", default=["sample", "demo", "national"])
    parser.add_argument("--national-dir", default=str(ROOT / "data" / "national"))
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    dirs = {"sample": ROOT / "data" / "sample", "demo": ROOT / "data" / "demo",
            "national": Path(args.national_dir)}
    scratch = Path(tempfile.mkdtemp(prefix="crmlab-bench-"))
    print(f"{'scale':<10}{'load s':>9}{'doctor s':>10}{'account s':>11}{'channel s':>11}"
          f"{'total s':>9}{'peak GB':>9}  rows (doctor x month)")
    for scale in args.scales:
        data_dir = dirs[scale]
        if not (data_dir / "truth.json").exists():
            data_dir = scratch / scale
            fmt = "parquet" if scale == "national" else "csv"
            subprocess.run([sys.executable, "-m", "crmlab.cli", "simulate", "--out", str(data_dir),
                            "--scale", scale, "--format", fmt], check=True, stdout=subprocess.DEVNULL)
        out = subprocess.run([sys.executable, __file__, "--measure", str(data_dir)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{scale:<10}{r['load_s']:>9.1f}{r['doctor_month_s']:>10.1f}{r['account_month_s']:>11.1f}"
              f"{r['channel_s']:>11.1f}{r['total_s']:>9.1f}{r['peak_rss_gb']:>9.2f}  {r['rows']['doctor_month']:,}")


if __name__ == "__main__":
    main()
