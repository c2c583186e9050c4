"""Run the analysis notebooks with papermill and publish their reports.

A run of analysis ``A`` into ``OUT`` executes ``notebooks/A/A.ipynb`` in a temporary
folder ``OUT/.tmp-A-*`` and, only if it succeeds, swaps that folder into ``OUT/A``:

- ``A.ipynb`` — the executed notebook,
- ``report.html`` — the notebook as HTML with code cells hidden, outputs shown,
- ``summary.json`` and CSV tables — written by the notebook itself through
  :func:`crmlab.reporting.save_outputs`,
- ``run.json`` — what ran: parameters, data directory, versions, timing.

The notebook contract: a cell tagged ``parameters`` declares at least ``data_dir`` and
``out_dir`` (``out_dir = ""`` writes nothing, for interactive use), and the notebook
writes ``summary.json`` into ``out_dir``.

Parameters are checked before any kernel starts: against the analysis' parameters
dataclass (:func:`crmlab.analyses.params_class`) when it has one, else against the
notebook's ``parameters`` cell. Published folders get the user's umask (e.g. 0755).
The kernel talks to the runner over IPC sockets, so it prints no transport warning.

papermill changes the process working directory while a notebook runs, so run
concurrent analyses in separate processes, not threads. Separate processes may share
an ``OUT``: publishing is guarded by file locks. The temporary folder of a run is named
``.tmp-<analysis>-<pid>-*``; the next run of the analysis removes those whose process
is gone (killed runs).
"""

from __future__ import annotations

import ast
import datetime as dt
import html
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import nbformat
import papermill
import yaml
from filelock import FileLock
from nbconvert import HTMLExporter
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from crmlab import __version__, config
from crmlab.analyses.base import RUNNER_PARAMETERS, ParameterError, check_value

KERNEL_NAME = "python3"
REQUIRED_PARAMETERS = RUNNER_PARAMETERS


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
) -> list[Path]:
    """Run several analyses in order, then write ``OUT/index.html``.

    A failed analysis does not stop the others. The index is written in any case and
    lists the reports that exist.

    Parameters
    ----------
    analyses : list of str
        Analysis names, e.g. ``["overview", "churn"]``.
    data_dir, out_dir, params_file, overrides, notebooks_dir, progress
        As in :func:`run_analysis`; ``progress`` also prints one line per analysis.

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
    _output_root(out_dir)
    done: list[Path] = []
    failures: list[str] = []
    for number, analysis in enumerate(analyses, start=1):
        start = time.perf_counter()
        try:
            folder = run_analysis(analysis, data_dir=data_dir, out_dir=out_dir,
                                  params_file=params_file, overrides=overrides,
                                  notebooks_dir=notebooks_dir, progress=progress)
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
    notebooks_dir = Path(notebooks_dir or config.NOTEBOOKS_DIR).resolve()
    notebook = notebooks_dir / analysis / f"{analysis}.ipynb"
    if not notebook.is_file():
        raise RunError(f"{analysis}: notebook not found: {notebook}")
    parameters = _parameters(analysis, notebook, data_dir, params_file, overrides)

    out = _output_root(out_dir)
    target = out / analysis
    lock = FileLock(out / f".{analysis}.lock")
    with lock:
        _remove_dead_runs(out, analysis)
    tmp = _new_run_folder(out, analysis)
    parameters["out_dir"] = str(tmp)
    try:
        try:
            _execute(analysis, notebook, tmp, parameters, progress)
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


def write_index(out_dir: str | Path) -> Path:
    """Write ``OUT/index.html`` linking every ``OUT/<analysis>/report.html``.

    Each row shows the report title, when it finished, how long it ran and its data
    directory, read from the analysis' ``run.json``.

    Parameters
    ----------
    out_dir : str or Path
        Output root ``OUT``.

    Returns
    -------
    Path
        The index file.

    Examples
    --------
    >>> write_index("reports")  # doctest: +SKIP
    PosixPath('reports/index.html')
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = {name: rank for rank, name in enumerate(config.ANALYSES)}
    reports = sorted((path.parent for path in out.glob("*/report.html")
                      if not path.parent.name.startswith(".")
                      and not path.parent.name.endswith(".failed")),
                     key=lambda folder: (order.get(folder.name, len(order)), folder.name))
    rows = []
    for folder in reports:
        try:
            run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            run = {}
        duration = run.get("duration_s")
        cells = [
            f'<a href="{quote(folder.name)}/report.html">'
            f"{html.escape(run.get('title') or folder.name)}</a>",
            html.escape(folder.name),
            html.escape(run.get("finished", "")),
            "" if duration is None else f"{duration:.1f} s",
            html.escape(str(run.get("data_dir", ""))),
        ]
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>crmlab reports</title>',
        "<style>body{font-family:sans-serif;margin:2em}"
        "th,td{padding:.3em 1em;text-align:left}</style></head>",
        "<body>",
        "<h1>crmlab reports</h1>",
        "<table>",
        "<thead><tr><th>Report</th><th>Analysis</th><th>Finished (UTC)</th>"
        "<th>Duration</th><th>Data</th></tr></thead>",
        "<tbody>", *rows, "</tbody>",
        "</table>",
        "</body>",
        "</html>",
        "",
    ])
    index = out / "index.html"
    with FileLock(out / ".index.lock"):
        partial = out / ".index.html.partial"
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, index)
    return index


def _parameters(analysis, notebook, data_dir, params_file, overrides) -> dict:
    """Merge the parameters and check their names and types; JSON-safe values."""
    try:
        parameters = config.load_params(analysis, params_file)
    except config.ParametersFileError as err:
        raise RunError(f"{analysis}: {err}") from None
    parameters.update(overrides or {})
    if "out_dir" in parameters:
        raise RunError(f"{analysis}: out_dir is set by the runner; use --out instead")

    try:
        declared = papermill.inspect_notebook(str(notebook))
    except (OSError, ValueError) as err:
        raise RunError(f"{analysis}: cannot read the notebook's parameters cell ({notebook}): {err}") from err
    missing = [name for name in REQUIRED_PARAMETERS if name not in declared]
    if missing:
        raise RunError(f"{analysis}: the notebook's parameters cell does not declare "
                       f"{', '.join(missing)} ({notebook})")
    schema = _params_class(analysis)
    try:
        if schema is not None:
            checked = schema.check(parameters, known=RUNNER_PARAMETERS)
            parameters.update({name: getattr(checked, name) for name in parameters
                               if name not in RUNNER_PARAMETERS})
        unknown = sorted(set(parameters) - set(declared))
        if unknown:
            raise RunError(f"{analysis}: unknown parameter(s) {', '.join(unknown)}; "
                           f"the notebook declares {', '.join(sorted(declared))}")
        if schema is None:
            _check_types(parameters, declared)
    except ParameterError as err:
        raise RunError(f"{analysis}: {err}") from None

    if data_dir is None:
        data_dir = parameters.get("data_dir")
    if data_dir is None:
        data_dir = config.SAMPLE_DIR
    if not isinstance(data_dir, (str, Path)) or not str(data_dir):
        raise RunError(f"{analysis}: parameter 'data_dir' must be a folder path, "
                       f"got {data_dir!r}")
    # The kernel runs in the notebook's folder, so relative paths would move.
    resolved = config.resolve_path(data_dir)
    if not resolved.is_dir():
        raise RunError(f"{analysis}: data folder {data_dir} not found ({resolved})")
    parameters["data_dir"] = str(resolved)
    return _json_safe(parameters)


def _params_class(analysis: str):
    """The analysis' parameters dataclass, or None for a notebook without a module."""
    if analysis not in config.ANALYSES:
        return None
    if importlib.util.find_spec(f"crmlab.analyses.{analysis}") is None:
        return None
    from crmlab.analyses import params_class

    try:
        return params_class(analysis)
    except Exception as err:  # a broken analysis module must not give a traceback
        raise RunError(f"{analysis}: cannot import crmlab.analyses.{analysis}: "
                       f"{type(err).__name__}: {err}") from err


def _check_types(parameters: dict, declared: dict) -> None:
    """Check values against the type of the notebook's literal defaults (in place)."""
    for name, value in parameters.items():
        if name in RUNNER_PARAMETERS:
            continue
        try:
            default = ast.literal_eval(declared[name]["default"])
        except (ValueError, SyntaxError, TypeError):
            continue  # not a literal: nothing to compare with
        if default is not None:
            parameters[name] = check_value(name, value, type(default))


def _json_safe(value):
    """Dates and datetimes as ISO strings, tuples as lists, recursively.

    papermill writes parameters as Python source and run.json is JSON; a ``date``
    (YAML reads ``2024-06-30`` as one) would be neither.

    Examples
    --------
    >>> _json_safe({"as_of": dt.date(2024, 6, 30), "months": (1, 2)})
    {'as_of': '2024-06-30', 'months': [1, 2]}
    """
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _output_root(out_dir: str | Path) -> Path:
    """``OUT`` made absolute and created, or a :class:`RunError` saying why it cannot be."""
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise RunError(f"the output folder (--out) {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(f"cannot create the output folder (--out) {out}: "
                       f"{err.strerror or err}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RunError(f"cannot write into the output folder (--out) {out}: permission denied")
    return out


def _umask() -> int:
    """The process umask (reading it means setting it; set it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _new_run_folder(out: Path, analysis: str) -> Path:
    """``OUT/.tmp-<analysis>-<pid>-*``, with the mode of a folder made under the umask.

    mkdtemp makes it 0700; it is published as ``OUT/<analysis>``, which a web server
    may need to read.
    """
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{analysis}-{os.getpid()}-", dir=out))
    except OSError as err:
        raise RunError(f"{analysis}: cannot create a folder in {out}: "
                       f"{err.strerror or err}") from None
    tmp.chmod(0o777 & ~_umask())
    return tmp


def _remove_dead_runs(out: Path, analysis: str) -> list[Path]:
    """Remove ``.tmp-``/``.old-<analysis>-<pid>-*`` folders whose process is gone.

    Call under the analysis' lock. Runs of one process are sequential, so a folder
    with this process' pid is also left over (from an earlier process with the same
    pid, e.g. in a container).
    """
    removed = []
    for kind in (".tmp-", ".old-"):
        prefix = f"{kind}{analysis}-"
        for path in out.glob(f"{prefix}*"):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _execute(analysis: str, notebook: Path, folder: Path, parameters: dict,
             progress: bool) -> None:
    """Execute the notebook into ``folder`` and write ``report.html`` and ``run.json``."""
    executed = folder / f"{analysis}.ipynb"
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="crmlab-kernel-") as sockets:
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

    title = _title(nb) or analysis
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    (folder / "report.html").write_text(body, encoding="utf-8")

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
    }
    (folder / "run.json").write_text(
        json.dumps(run, indent=2, default=str) + "\n", encoding="utf-8")
    if not (folder / "summary.json").is_file():
        raise RunError(f"{analysis}: the notebook wrote no summary.json into out_dir "
                       "(call crmlab.reporting.save_outputs(out_dir, ...))")


def _kernel_config(sockets: Path) -> Config:
    """Talk to the kernel over IPC sockets in ``sockets`` (a private 0700 folder).

    Over TCP the kernel warns on every run that its traffic is unencrypted; IPC
    sockets are files only this user can open. Windows has no IPC transport.
    """
    if os.name == "nt":
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "kernel")}})


def _title(nb: nbformat.NotebookNode) -> str | None:
    """The first markdown heading of the notebook, without its ``#`` marks."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return None
