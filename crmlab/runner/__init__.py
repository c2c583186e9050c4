"""Run the analysis notebooks with papermill and publish their reports.

A run of analysis ``A`` into ``OUT`` executes ``notebooks/A/A.ipynb`` in a temporary
folder ``OUT/.tmp-A-*`` and, only if it succeeds, swaps that folder into ``OUT/A``:

- ``A.ipynb`` — the executed notebook,
- ``report.html`` — the notebook as a report in the house style, code hidden
  (:func:`crmlab.reporting.html.report_html`),
- ``summary.json`` and CSV tables — written by the notebook itself through
  :func:`crmlab.reporting.save_outputs`,
- ``run.json`` — what ran: parameters, data directory, versions, timing.

The notebook contract: a cell tagged ``parameters`` declares at least ``data_dir`` and
``out_dir`` (``out_dir = ""`` writes nothing, for interactive use), and the notebook
writes ``summary.json`` into ``out_dir``.

Parameters are checked before any kernel starts (:mod:`crmlab.runner.parameters`):
against the analysis' parameters dataclass when it has one, else against the notebook's
``parameters`` cell. The kernel talks to the runner over IPC sockets, so it prints no
transport warning; papermill's progress bar shows only on a terminal.

papermill changes the process working directory while a notebook runs, so run
concurrent analyses in separate processes, not threads. Separate processes may share
an ``OUT``: publishing is guarded by file locks (:mod:`crmlab.runner.folders`, which
also gives published folders the user's umask and removes the temporary folders of
killed runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import papermill
from filelock import FileLock
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from crmlab import __version__, config
from crmlab.analyses.shared import ENV as SHARED_ENV
from crmlab.distributed import ENV as CLUSTER_ENV
from crmlab.distributed import ClusterError, scheduler_address
from crmlab.distributed import check_spec as check_cluster
from crmlab.reporting.html import notebook_title, report_html
from crmlab.runner.folders import new_run_folder, output_root, remove_dead_runs, write_index
from crmlab.runner.parameters import resolve_parameters

KERNEL_NAME = "python3"


class RunError(Exception):
    """An analysis could not be run, or its notebook failed."""


def run_analyses(
    analyses: list[str],
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path = "reports",
    params_file: str | Path | None = None,
    overrides: dict | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    cluster: str | None = None,
) -> list[Path]:
    """Run several analyses in order, then write ``OUT/index.html``.

    A failed analysis does not stop the others. The index is written in any case and
    lists the reports that exist. The analyses share results through a temporary folder
    (:mod:`crmlab.analyses.shared`: e.g. the call plan and the drivers reuse attribution's
    fits), unless ``$CRMLAB_SHARED`` already names one.

    Parameters
    ----------
    analyses : list of str
        Analysis names, e.g. ``["overview", "churn"]``.
    data_dir, out_dir, params_file, overrides, notebooks_dir, progress, cluster
        As in :func:`run_analysis`; ``progress`` also prints one line per analysis;
        ``cluster="local"`` starts one local Dask cluster that every analysis uses.

    Returns
    -------
    list of Path
        The ``OUT/<analysis>`` folders of the analyses that succeeded.

    Raises
    ------
    RunError
        At once if ``out_dir`` cannot be a folder; after all analyses ran, if any
        failed (the message lists each failure, or is the one failure's message).

    Examples
    --------
    >>> run_analyses(["overview", "churn"], data_dir="data/demo")  # doctest: +SKIP
    [1/2] overview … done in 12.3 s → reports/overview/report.html
    [2/2] churn … done in 20.1 s → reports/churn/report.html
    """
    try:
        output_root(out_dir)
    except OSError as err:
        raise RunError(str(err)) from None
    try:
        cluster = check_cluster(cluster)
    except ClusterError as err:
        raise RunError(str(err)) from None
    with scheduler_address(cluster) as address, _shared_results():
        return _run_each(analyses, data_dir=data_dir, out_dir=out_dir, params_file=params_file,
                         overrides=overrides, notebooks_dir=notebooks_dir, progress=progress,
                         cluster=address)


def _run_each(analyses, *, data_dir, out_dir, params_file, overrides, notebooks_dir, progress,
              cluster) -> list[Path]:
    done: list[Path] = []
    failures: list[str] = []
    for number, analysis in enumerate(analyses, start=1):
        start = time.perf_counter()
        try:
            folder = run_analysis(analysis, data_dir=data_dir, out_dir=out_dir,
                                  params_file=params_file, overrides=overrides,
                                  notebooks_dir=notebooks_dir, progress=progress, cluster=cluster)
        except RunError as err:
            failures.append(str(err))
            outcome = f"FAILED after {time.perf_counter() - start:.1f} s: {err}"
        else:
            done.append(folder)
            outcome = (f"done in {time.perf_counter() - start:.1f} s → "
                       f"{Path(out_dir) / analysis / 'report.html'}")
        if progress:
            print(f"[{number}/{len(analyses)}] {analysis} … {outcome}", flush=True)
    write_index(out_dir)
    if len(analyses) == 1 and failures:
        raise RunError(failures[0])
    if failures:
        raise RunError(f"{len(failures)} of {len(analyses)} analyses failed:\n  "
                       + "\n  ".join(failures))
    return done


def run_analysis(
    analysis: str,
    *,
    data_dir: str | Path | None = None,
    out_dir: str | Path = "reports",
    params_file: str | Path | None = None,
    overrides: dict | None = None,
    notebooks_dir: str | Path | None = None,
    progress: bool = True,
    cluster: str | None = None,
) -> Path:
    """Execute one analysis notebook and publish its outputs to ``OUT/<analysis>``.

    Parameters are, by increasing priority: the analysis' defaults,
    ``params/<analysis>.yaml``, ``params_file``, ``overrides``, then ``data_dir`` (made
    absolute) and ``out_dir`` (always set by the runner). They are checked by name and
    type before the kernel starts: against the analysis' parameters dataclass, or, for
    a notebook without one, against the names and default types of its ``parameters``
    cell. Dates (YAML reads ``2024-06-30`` as one) are passed as ISO strings.

    On success the previous ``OUT/<analysis>`` is replaced as a whole, and a stale
    ``OUT/<analysis>.failed`` is removed. On failure ``OUT/<analysis>`` is left
    untouched and the partial run is kept in ``OUT/<analysis>.failed/`` (the executed
    notebook, with the traceback, for inspection), replacing any earlier one.

    Parameters
    ----------
    analysis : str
        Analysis name; the notebook is ``<notebooks_dir>/<analysis>/<analysis>.ipynb``.
    data_dir : str or Path, optional
        Data directory passed to the notebook. Default: a ``data_dir`` in
        ``params_file`` or ``overrides``, else :data:`crmlab.config.SAMPLE_DIR`.
    out_dir : str or Path
        Output root ``OUT``.
    params_file : str or Path, optional
        YAML file of parameters, over ``params/<analysis>.yaml``.
    overrides : dict, optional
        Parameters over everything else, e.g. from ``crmlab run -p key=value``.
    notebooks_dir : str or Path, optional
        Folder of notebooks. Default: :data:`crmlab.config.NOTEBOOKS_DIR`.
    progress : bool
        Show papermill's cell progress bar (only when standard output is a terminal).
    cluster : str, optional
        Where the analysis' heavy loops run (:mod:`crmlab.distributed`): '' or None
        in-process, ``local`` a local Dask cluster for this run, or a scheduler address
        ``tcp://host:8786``. The kernel receives the address as ``$CRMLAB_CLUSTER``.

    Returns
    -------
    Path
        The published folder ``OUT/<analysis>``.

    Raises
    ------
    RunError
        If the notebook or a parameter file is missing or invalid, a parameter is
        unknown or of the wrong type, ``data_dir`` or ``out_dir`` is not a usable
        folder, a cell raises (the message names the cell, the error and its
        message), or the notebook wrote no ``summary.json``.

    Examples
    --------
    >>> run_analysis("overview", data_dir="data/demo", overrides={"seed": 3})  # doctest: +SKIP
    PosixPath('reports/overview')
    """
    try:
        local = check_cluster(cluster).startswith("local")
    except ClusterError as err:
        raise RunError(f"{analysis}: {err}") from None
    if local:
        return run_analyses([analysis], data_dir=data_dir, out_dir=out_dir, params_file=params_file,
                            overrides=overrides, notebooks_dir=notebooks_dir, progress=False,
                            cluster=cluster)[0]
    notebooks_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    notebook = notebooks_dir / analysis / f"{analysis}.ipynb"
    if not notebook.is_file():
        raise RunError(f"{analysis}: notebook not found: {notebook}")
    try:
        parameters = resolve_parameters(analysis, notebook, data_dir, params_file, overrides)
    except ValueError as err:
        raise RunError(f"{analysis}: {err}") from None

    try:
        out = output_root(out_dir)
        lock = FileLock(out / f".{analysis}.lock")
        with lock:
            remove_dead_runs(out, analysis)
        tmp = new_run_folder(out, analysis)
    except OSError as err:
        raise RunError(f"{analysis}: {err}") from None
    target = out / analysis
    parameters["out_dir"] = str(tmp)
    try:
        try:
            _execute(analysis, notebook, tmp, parameters, progress, cluster or "")
        except RunError as err:
            failed = out / f"{analysis}.failed"
            with lock:
                shutil.rmtree(failed, ignore_errors=True)
                tmp.rename(failed)
            raise RunError(f"{err} [partial run kept in {failed}]") from err.__cause__
        with lock:
            old = None
            if target.exists():
                old = out / tmp.name.replace(".tmp-", ".old-", 1)
                target.rename(old)
            tmp.rename(target)
            shutil.rmtree(out / f"{analysis}.failed", ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left on an unexpected exit
    return Path(out_dir) / analysis


def _execute(analysis: str, notebook: Path, folder: Path, parameters: dict,
             progress: bool, cluster: str = "") -> None:
    """Execute the notebook into ``folder`` and write ``report.html`` and ``run.json``."""
    executed = folder / f"{analysis}.ipynb"
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="crmlab-kernel-") as sockets, _kernel_env(cluster):
            nb = papermill.execute_notebook(
                str(notebook), str(executed), parameters=parameters, kernel_name=KERNEL_NAME,
                progress_bar=progress and sys.stdout.isatty(), log_output=False,
                cwd=str(notebook.parent), config=_kernel_config(Path(sockets)))
    except PapermillExecutionError as err:
        raise RunError(
            f"{analysis}: cell In [{err.exec_count}] (cell {err.cell_index} of "
            f"{executed.name}) raised {err.ename}: {err.evalue}") from None
    except Exception as err:  # kernel died or would not start, bad notebook, ...
        raise RunError(f"{analysis}: execution failed: {type(err).__name__}: {err}") from err
    duration = time.perf_counter() - clock

    title = notebook_title(nb) or analysis
    (folder / "report.html").write_text(report_html(nb, title), encoding="utf-8")

    final = folder.parent / analysis
    run = {
        "analysis": analysis,
        "title": title,
        "data_dir": parameters["data_dir"],
        "parameters": {**parameters, "out_dir": str(final)},
        "crmlab_version": __version__,
        "python_version": platform.python_version(),
        "notebook": str(notebook),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(duration, 2),
        "cluster": cluster or "in-process",
    }
    (folder / "run.json").write_text(
        json.dumps(run, indent=2, default=str) + "\n", encoding="utf-8")
    if not (folder / "summary.json").is_file():
        raise RunError(f"{analysis}: the notebook wrote no summary.json into out_dir "
                       "(call crmlab.reporting.save_outputs(out_dir, ...))")


@contextlib.contextmanager
def _shared_results():
    """A temporary folder in ``$CRMLAB_SHARED`` for the kernels started meanwhile (a set one is kept)."""
    if os.environ.get(SHARED_ENV, "").strip():
        yield
        return
    with tempfile.TemporaryDirectory(prefix="crmlab-shared-") as folder:
        os.environ[SHARED_ENV] = folder
        try:
            yield
        finally:
            os.environ.pop(SHARED_ENV, None)


#: The kernel's glibc allocator gives every block of 4 MiB or more its own mapping, returned to
#: the system when freed. By default the threshold grows with each large free (up to 32 MiB),
#: and memory freed between steps stays with the process. Arrow (the dataset's strings)
#: allocates from the same allocator, not its own pool, which kept what it freed. Measured on
#: the national world, attribution in process at its peak: 7.1 GB with the defaults; 6.41 GB
#: with a 1 MiB threshold alone; with arrow on glibc 5.87 GB at 1 MiB (123 s), 5.95 GB at
#: 4 MiB (108 s), 6.36 GB at 16 MiB (96 s): a lower threshold costs the kernel's time zeroing
#: fresh pages. A value the user set is kept.
KERNEL_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(4 * 2 ** 20), "ARROW_DEFAULT_MEMORY_POOL": "system"}


@contextlib.contextmanager
def _kernel_env(cluster: str):
    """While a kernel is started: ``$CRMLAB_CLUSTER`` set to ``cluster`` (unset when ''), and
    :data:`KERNEL_MALLOC` where unset."""
    saved = {name: os.environ.get(name) for name in (CLUSTER_ENV, *KERNEL_MALLOC)}
    os.environ.pop(CLUSTER_ENV, None)
    if cluster:
        os.environ[CLUSTER_ENV] = cluster
    for name, value in KERNEL_MALLOC.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _kernel_config(sockets: Path) -> Config:
    """Talk to the kernel over IPC sockets in ``sockets`` (a private 0700 folder).

    Over TCP the kernel warns on every run that its traffic is unencrypted; IPC
    sockets are files only this user can open. Windows has no IPC transport.
    """
    if os.name == "nt":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


__all__ = ["RunError", "run_analyses", "run_analysis", "write_index"]
