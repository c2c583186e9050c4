"""Where the dashboard's results come from: computed on data, or read from published runs.

``Source("data", DIR)`` runs the analyses (:mod:`crmlab.analyses`) on a data directory;
``Source("reports", DIR)`` reads what ``crmlab run`` published under ``DIR/<analysis>/``
(the CSV tables, ``summary.json`` and ``run.json``). On data at national scale a live run
takes minutes: when published runs of the same data directory exist in ``reports/``
they are used instead, and the dashboard says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from crmlab.config import PROJECT_ROOT, SAMPLE_DIR

#: Above this many doctors (or accounts) a live run is slow: published runs are preferred.
LIVE_LIMIT = 20_000
DEFAULT_REPORTS = PROJECT_ROOT / "reports"


@dataclass(frozen=True)
class Source:
    """``kind`` is ``data`` (compute) or ``reports`` (read published runs); ``path`` its folder.

    ``note`` says, in the dashboard, where the numbers come from.
    """

    kind: str
    path: Path
    note: str = ""

    @classmethod
    def from_environment(cls, environ=None) -> "Source":
        """The source ``crmlab app`` chose (``CRMLAB_APP_REPORTS`` / ``CRMLAB_APP_DATA``), else the sample."""
        from crmlab.app import DATA_ENV, REPORTS_ENV

        environ = os.environ if environ is None else environ
        if environ.get(REPORTS_ENV):
            return cls.reports(environ[REPORTS_ENV])
        return cls.data(environ.get(DATA_ENV) or SAMPLE_DIR)

    @classmethod
    def reports(cls, path) -> "Source":
        path = Path(path)
        return cls("reports", path, f"Precomputed: the runs published in {path} (see each run's date below); "
                                    "sliders that need a live run are off.")

    @classmethod
    def data(cls, path, *, reports_dir: Path = DEFAULT_REPORTS) -> "Source":
        """Compute on ``path``; at national scale, published runs of the same data if there are any."""
        path = Path(path)
        size = entity_count(path)
        if size > LIVE_LIMIT:
            published = published_runs_of(path, reports_dir)
            if published:
                return cls("reports", reports_dir,
                           f"{path} holds {size:,} doctors: recomputing live would take minutes, so these are "
                           f"the precomputed runs of the same data published in {reports_dir}.")
            return cls("data", path, f"{path} holds {size:,} doctors and there is no published run of it: "
                                     f"computing live takes minutes (run `crmlab run all --data {path}` once, "
                                     "then `crmlab app --reports reports`).")
        return cls("data", path, f"Computed live on {_short(path)}.")


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def entity_count(data_dir: Path) -> int:
    """Doctors in a data directory (accounts when it has no doctors), counted without loading it."""
    for table in ("doctors", "accounts"):
        for path in sorted(Path(data_dir).glob(f"{table}.*")):
            if path.suffix == ".csv":
                with path.open("rb") as handle:
                    rows = max(sum(1 for _ in handle) - 1, 0)
            elif path.suffix == ".parquet":
                import pyarrow.parquet as pq

                rows = pq.ParquetFile(path).metadata.num_rows
            else:
                continue
            if rows:
                return rows
    return 0


def published_runs_of(data_dir: Path, reports_dir: Path) -> list[str]:
    """The analyses published in ``reports_dir`` from ``data_dir`` (read from each ``run.json``)."""
    found = []
    for run in sorted(Path(reports_dir).glob("*/run.json")):
        try:
            recorded = json.loads(run.read_text(encoding="utf-8")).get("data_dir", "")
        except (OSError, ValueError):
            continue
        if recorded and Path(recorded).resolve() == Path(data_dir).resolve():
            found.append(run.parent.name)
    return found


@dataclass
class Published:
    """One published run: its tables (CSV), summary and run record; ``missing`` says what is absent."""

    analysis: str
    tables: dict
    summary: dict
    run: dict
    missing: list

    @property
    def caption(self) -> str:
        """When and on what the run was made, in words."""
        when = str(self.run.get("finished", self.run.get("started", "")))[:16].replace("T", " ")
        data = self.run.get("data_dir", "")
        return f"{self.analysis} run{' of ' + when if when else ''}{' on ' + data if data else ''}"


def read_published(reports_dir: Path, analysis: str, tables: list[str]) -> Published:
    """The published ``tables`` of ``analysis`` under ``reports_dir`` (missing ones listed, not raised)."""
    folder = Path(reports_dir) / analysis
    found, missing = {}, []
    for name in tables:
        path = folder / f"{name}.csv"
        if path.exists():
            found[name] = pd.read_csv(path, dtype={"entity_id": str, "doctor_id": str, "account_id": str,
                                                   "territory_id": str, "rep_id": str})
        else:
            missing.append(name)
    summary = _json(folder / "summary.json")
    return Published(analysis, found, summary, _json(folder / "run.json"), missing)


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
