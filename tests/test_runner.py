"""Tests of crmlab.runner and crmlab.reporting.outputs.

The notebooks are tiny fixtures in ``tests/runner_cases/``: ``demo`` declares
``data_dir``, ``out_dir``, ``x = 1`` and ``label = ""``, prints ``x squared is {x * x}``
(and ``label is ...`` when set), raises ``ValueError("boom")`` when ``x < 0`` and saves
``{"x": x}`` and a table ``t``; ``nosummary`` saves nothing. Each papermill run costs a
kernel start, so the tests execute nine notebooks in all (two in a slow-marked test);
the checks made before a kernel starts run with papermill replaced by a stub that
fails the test if called.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import multiprocessing
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib as mpl
import nbformat
import numpy as np
import pandas as pd
import pytest

import crmlab
from crmlab import cli, config, runner
from crmlab.reporting import save_outputs, setup_display
from crmlab.runner import RunError, run_analyses, run_analysis

CASES = Path(__file__).parent / "runner_cases"
PUBLISHED_FILES = {"demo.ipynb", "report.html", "run.json", "summary.json", "t.csv"}


@pytest.fixture(scope="module", autouse=True)
def kernel_imports_crmlab_under_test():
    """Let the kernel, a separate process, import this crmlab whether installed or not."""
    package_root = str(Path(crmlab.__file__).resolve().parents[1])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        yield


@pytest.fixture(scope="module")
def published(tmp_path_factory, kernel_imports_crmlab_under_test):
    """One successful run of ``demo`` with x = 3: (OUT, data dir, returned folder)."""
    out = tmp_path_factory.mktemp("reports")
    data = tmp_path_factory.mktemp("data")
    folder = run_analysis("demo", data_dir=data, out_dir=out, notebooks_dir=CASES,
                          overrides={"x": 3}, progress=False)
    return out, data, folder


@pytest.fixture
def no_kernel(monkeypatch):
    """papermill replaced: a test using this fails if a notebook would be executed."""
    calls = []

    def execute_notebook(*args, **kwargs):
        calls.append(kwargs)
        raise AssertionError("a kernel was started")

    monkeypatch.setattr(runner.papermill, "execute_notebook", execute_notebook)
    return calls


@pytest.fixture
def cli_on_cases(monkeypatch):
    """``crmlab run`` over the notebooks of tests/runner_cases."""
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", CASES)
    monkeypatch.setattr(cli, "ANALYSES", ("demo", "nosummary"))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _leftovers(out: Path) -> list[str]:
    return sorted(path.name for path in out.iterdir()
                  if path.name.startswith((".tmp-", ".old-")))


# --- a successful run -------------------------------------------------------------

def test_run_publishes_notebook_report_and_outputs(published):
    out, _, folder = published
    assert folder == out / "demo"
    assert {path.name for path in folder.iterdir()} == PUBLISHED_FILES
    assert _leftovers(out) == []
    assert json.loads((folder / "summary.json").read_text()) == {"x": 3}
    assert (folder / "t.csv").read_text() == "a\n3\n"

    executed = nbformat.read(folder / "demo.ipynb", as_version=4)
    injected = [cell for cell in executed.cells
                if "injected-parameters" in cell.metadata.get("tags", [])]
    assert len(injected) == 1 and "x = 3" in injected[0].source


def test_report_shows_outputs_without_code(published):
    report = (published[2] / "report.html").read_text()
    assert "<title>Runner demo</title>" in report
    assert "x squared is 9" in report
    assert "save_outputs(" not in report
    assert 'raise ValueError("boom")' not in report
    assert "In&nbsp;[" not in report


def test_run_json_records_the_run(published):
    out, data, folder = published
    run = json.loads((folder / "run.json").read_text())
    assert run["analysis"] == "demo"
    assert run["title"] == "Runner demo"
    assert run["data_dir"] == str(data.resolve())
    assert run["parameters"] == {"x": 3, "data_dir": str(data.resolve()),
                                 "out_dir": str(folder.resolve())}
    assert run["crmlab_version"] == crmlab.__version__
    assert run["notebook"] == str((CASES / "demo" / "demo.ipynb").resolve())
    assert run["started"] <= run["finished"]
    assert run["duration_s"] > 0
    assert run["python_version"].count(".") == 2


def test_override_wins_over_params_file(tmp_path):
    data = tmp_path / "from_params_file"
    data.mkdir()
    params = tmp_path / "params.yaml"
    params.write_text(f"x: 2\ndata_dir: {data}\n")
    folder = run_analysis("demo", out_dir=tmp_path / "out", params_file=params,
                          overrides={"x": 5}, notebooks_dir=CASES, progress=False)
    assert json.loads((folder / "summary.json").read_text()) == {"x": 5}
    assert json.loads((folder / "run.json").read_text())["data_dir"] == str(data.resolve())


# --- errors -----------------------------------------------------------------------

@pytest.mark.parametrize(("analysis", "options", "message"), [
    ("demo", {"overrides": {"x": 1, "seeed": 7}}, r"unknown parameter\(s\) seeed"),
    ("demo", {"overrides": {"out_dir": "elsewhere"}}, "out_dir is set by the runner"),
    ("demo", {"params_file": "no/such/params.yaml"},
     "cannot read parameters file no/such/params.yaml: No such file"),
    ("demo", {"overrides": {"x": "abc"}}, "demo: parameter 'x' must be int, got str 'abc'"),
    ("demo", {"overrides": {"x": 2.5}}, "parameter 'x' must be int, got float 2.5"),
    ("demo", {"overrides": {"label": 3}}, "parameter 'label' must be str, got int 3"),
    ("demo", {"data_dir": "no/such/data"}, "data folder no/such/data not found"),
    ("missing", {}, "notebook not found"),
])
def test_bad_request_fails_before_running(tmp_path, no_kernel, analysis, options, message):
    with pytest.raises(RunError, match=message):
        run_analysis(analysis, out_dir=tmp_path, notebooks_dir=CASES, progress=False,
                     **options)
    assert list(tmp_path.iterdir()) == []
    assert no_kernel == []


@pytest.mark.parametrize(("text", "message"), [
    ("x: [1\n", r"parameters file .*params\.yaml is not valid YAML: expected ',' or ']'.*"
                r"\(line 2, column 1\)$"),
    ("- x\n", r"parameters file .*params\.yaml must map parameter names to values"),
])
def test_bad_params_file_is_named_in_one_line(tmp_path, no_kernel, text, message):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    with pytest.raises(RunError, match=message) as raised:
        run_analysis("demo", out_dir=tmp_path / "out", params_file=params,
                     notebooks_dir=CASES, progress=False)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_a_date_is_passed_as_an_iso_string(tmp_path, no_kernel):
    """YAML reads ``-p label=2024-06-30`` as a date; the kernel gets a string."""
    with pytest.raises(RunError, match="a kernel was started"):
        run_analysis("demo", out_dir=tmp_path, notebooks_dir=CASES, progress=False,
                     overrides={"label": dt.date(2024, 6, 30), "x": 2})
    (call,) = no_kernel
    assert call["parameters"]["label"] == "2024-06-30"
    # papermill writes parameters as Python source: a date would become 2024 - 6 - 30
    json.dumps(call["parameters"])


def test_data_dir_defaults_to_the_sample(tmp_path, no_kernel):
    with pytest.raises(RunError, match="a kernel was started"):
        run_analysis("demo", out_dir=tmp_path, notebooks_dir=CASES, progress=False)
    assert no_kernel[0]["parameters"]["data_dir"] == str(config.SAMPLE_DIR)


@pytest.mark.skipif(importlib.util.find_spec("crmlab.analyses.overview") is None,
                    reason="crmlab.analyses.overview does not exist")
@pytest.mark.parametrize(("overrides", "message"), [
    ({"seed": "abc"}, "overview: parameter 'seed' must be int, got str 'abc'"),
    ({"horizon_months": "abc"}, "overview: unknown parameter 'horizon_months'"),
    ({"sed": 3}, r"overview: unknown parameter 'sed' \(did you mean 'seed'\?\)"),
    ({"allow_rejects": "yes please"}, "parameter 'allow_rejects' must be bool"),
])
def test_analysis_parameters_are_checked_by_its_params_class(tmp_path, no_kernel, overrides,
                                                             message):
    with pytest.raises(RunError, match=message):
        run_analysis("overview", out_dir=tmp_path, overrides=overrides, progress=False)
    assert no_kernel == []


def test_analysis_parameters_are_coerced_before_the_kernel(tmp_path, no_kernel):
    """Params.check's values reach the notebook: a date as text, a whole float as int."""
    with pytest.raises(RunError, match="a kernel was started"):
        run_analysis("overview", out_dir=tmp_path, progress=False,
                     overrides={"encoding": dt.date(2024, 6, 30), "seed": 3.0})
    parameters = no_kernel[0]["parameters"]
    assert parameters["encoding"] == "2024-06-30"
    assert parameters["seed"] == 3 and isinstance(parameters["seed"], int)
    assert parameters["data_dir"] == str(config.SAMPLE_DIR)


def test_out_dir_that_is_a_file_fails_before_running(tmp_path, no_kernel):
    out = tmp_path / "reports"
    out.write_text("not a folder")
    with pytest.raises(RunError, match="output folder .*reports is a file, not a folder"):
        run_analyses(["demo", "nosummary"], out_dir=out, notebooks_dir=CASES, progress=False)
    with pytest.raises(RunError, match="cannot create the output folder .*: Not a directory"):
        run_analysis("demo", out_dir=out / "sub", notebooks_dir=CASES, progress=False)
    assert out.read_text() == "not a folder"
    assert no_kernel == []


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["-p", "x=[1"], 2, r"crmlab run: -p x: '\[1' is not a valid value: expected ',' or '\]'"),
    (["-p", "x"], 2, "crmlab run: -p expects KEY=VALUE, got 'x'"),
    (["-p", "x=abc"], 1, "demo: parameter 'x' must be int, got str 'abc'"),
    (["--out", "{file}"], 1, "is a file, not a folder"),
    (["--params", "{bad_yaml}"], 1, r"parameters file .*bad\.yaml is not valid YAML: "),
])
def test_cli_reports_bad_input_without_traceback(tmp_path, capsys, cli_on_cases, no_kernel,
                                                argv, code, message):
    (tmp_path / "a_file").write_text("")
    (tmp_path / "bad.yaml").write_text("x: {1\n")
    argv = [arg.format(file=tmp_path / "a_file", bad_yaml=tmp_path / "bad.yaml")
            for arg in argv]
    out = tmp_path / "reports"
    assert cli.main(["run", "demo", "--out", str(out), *argv]) == code
    captured = capsys.readouterr()
    assert re.search(message, captured.err)
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.out + captured.err
    assert no_kernel == []


# --- what a run leaves behind and prints --------------------------------------------

def test_cli_run_is_quiet_publishes_under_the_umask_and_cleans_dead_runs(
        tmp_path, capfd, cli_on_cases):
    """One line of progress, nothing from the kernel; mode from the umask; stale folders gone."""
    out = tmp_path / "reports"
    dead, alive = _dead_pid(), os.getppid()
    stale = [out / f".tmp-demo-{dead}-x1y2", out / f".old-demo-{dead}-z3"]
    kept = [out / f".tmp-demo-{alive}-live", out / f".tmp-nosummary-{dead}-other",
            out / ".tmp-demo-nopid"]
    for folder in stale + kept:
        (folder / "sub").mkdir(parents=True)
    previous = os.umask(0o027)
    try:
        code = cli.main(["run", "demo", "--out", str(out), "-p", "x=2",
                         "-p", "label=2024-06-30"])
    finally:
        os.umask(previous)
    captured = capfd.readouterr()

    assert code == 0, captured.err
    assert captured.err == ""  # no kernel warning ("without encryption"), no progress bar
    assert "encryption" not in captured.out
    (line,) = captured.out.splitlines()
    assert line.startswith("[1/1] demo … done in ")
    assert stat.S_IMODE((out / "demo").stat().st_mode) == 0o750
    assert not any(folder.exists() for folder in stale)
    assert all(folder.exists() for folder in kept)
    run = json.loads((out / "demo" / "run.json").read_text())
    assert run["parameters"]["label"] == "2024-06-30"
    assert re.search("label is (&#x27;|')2024-06-30", (out / "demo" / "report.html").read_text())


def test_failing_cell_keeps_previous_report(published, tmp_path):
    out = tmp_path / "reports"
    shutil.copytree(published[0] / "demo", out / "demo")
    before = _snapshot(out / "demo")

    with pytest.raises(RunError, match=r"demo: cell In \[4\] .*ValueError: boom"):
        run_analysis("demo", out_dir=out, notebooks_dir=CASES, overrides={"x": -1},
                     progress=False)

    assert _snapshot(out / "demo") == before
    assert "boom" in (out / "demo.failed" / "demo.ipynb").read_text()
    assert _leftovers(out) == []


def test_run_all_goes_on_after_a_failure_and_indexes_what_exists(tmp_path, capsys):
    with pytest.raises(RunError, match=r"1 of 2 analyses failed:\n  nosummary: .*summary\.json"):
        run_analyses(["nosummary", "demo"], out_dir=tmp_path, notebooks_dir=CASES)

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/2] nosummary … FAILED after ")
    assert lines[1].startswith("[2/2] demo … done in ")
    assert lines[1].endswith(f"→ {tmp_path / 'demo' / 'report.html'}")
    index = (tmp_path / "index.html").read_text()
    assert '<a href="demo/report.html">Runner demo</a>' in index
    assert "nosummary" not in index
    assert not (tmp_path / "nosummary").exists()


@pytest.mark.slow
def test_killed_run_keeps_the_report_and_the_next_run_cleans_up(published, tmp_path):
    """SIGKILL mid-run: the previous report stays; the next run removes the dead run's folder."""
    out = tmp_path / "reports"
    shutil.copytree(published[0] / "demo", out / "demo")
    before = _snapshot(out / "demo")
    code = ("from crmlab.runner import run_analysis; "
            f"run_analysis('demo', out_dir={str(out)!r}, notebooks_dir={str(CASES)!r}, "
            "overrides={'x': 4}, progress=False)")
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not list(out.glob(".tmp-demo-*")):
        assert child.poll() is None and time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    (stale,) = out.glob(".tmp-demo-*")
    assert stale.name.startswith(f".tmp-demo-{child.pid}-")
    assert _snapshot(out / "demo") == before

    run_analysis("demo", out_dir=out, notebooks_dir=CASES, overrides={"x": 5}, progress=False)
    assert _leftovers(out) == []
    assert json.loads((out / "demo" / "summary.json").read_text()) == {"x": 5}


@pytest.mark.slow  # two processes, two kernels: the costliest test here
def test_concurrent_runs_into_one_out_publish_one_complete_run(published, tmp_path):
    out = tmp_path / "reports"
    # papermill changes the working directory of its process: concurrency is by process.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=spawn) as pool:
        runs = [pool.submit(run_analysis, "demo", out_dir=out, notebooks_dir=CASES,
                            overrides={"x": x}, progress=False) for x in (10, 20)]
        assert [run.result(timeout=300) for run in runs] == [out / "demo"] * 2

    folder = out / "demo"
    assert {path.name for path in folder.iterdir()} == PUBLISHED_FILES
    assert _leftovers(out) == []
    x = json.loads((folder / "summary.json").read_text())["x"]
    assert x in (10, 20)
    assert json.loads((folder / "run.json").read_text())["parameters"]["x"] == x
    assert (folder / "t.csv").read_text() == f"a\n{x}\n"
    assert f"x squared is {x * x}" in (folder / "report.html").read_text()


def test_cli_run_returns_1_on_failure(cli_on_cases, tmp_path, capsys):
    code = cli.main(["run", "demo", "--out", str(tmp_path), "-p", "x=-1"])

    assert code == 1
    assert "boom" in capsys.readouterr().err
    assert (tmp_path / "index.html").exists()



@pytest.mark.parametrize("user_value", [None, "65536"])
def test_kernel_env_sets_the_cluster_and_the_allocators_and_restores_them(monkeypatch, user_value):
    monkeypatch.setenv(runner.CLUSTER_ENV, "tcp://before:8786")
    for name in runner.KERNEL_MALLOC:
        if user_value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, user_value)

    with runner._kernel_env(""):
        assert runner.CLUSTER_ENV not in os.environ
        assert os.environ["MALLOC_MMAP_THRESHOLD_"] == (user_value or str(4 * 2 ** 20))
        assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == (user_value or "system")

    assert os.environ[runner.CLUSTER_ENV] == "tcp://before:8786"
    assert all(os.environ.get(name) == user_value for name in runner.KERNEL_MALLOC)


def test_a_refresh_gives_its_kernels_a_shared_folder_and_removes_it(monkeypatch, tmp_path):
    monkeypatch.delenv(runner.SHARED_ENV, raising=False)
    with runner._shared_results():
        folder = Path(os.environ[runner.SHARED_ENV])
        assert folder.is_dir()
    assert runner.SHARED_ENV not in os.environ and not folder.exists()
    monkeypatch.setenv(runner.SHARED_ENV, str(tmp_path))  # the user's own folder is kept
    with runner._shared_results():
        assert os.environ[runner.SHARED_ENV] == str(tmp_path)
    assert os.environ[runner.SHARED_ENV] == str(tmp_path) and tmp_path.is_dir()


# --- save_outputs and setup_display -----------------------------------------------

@pytest.mark.parametrize("out_dir", ["", None])
def test_save_outputs_without_out_dir_writes_nothing(out_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    save_outputs(out_dir, {"x": 1}, {"t": pd.DataFrame({"a": [1]})})
    assert list(tmp_path.iterdir()) == []


def test_save_outputs_is_rounded_and_byte_identical(tmp_path):
    summary = {
        "share": np.float64(1 / 3), "doctors": np.int64(1200), "missing": float("nan"),
        "month": pd.Timestamp("2025-03-01"), "by_segment": {"A": [0.1 + 0.2, np.nan]},
        "targeted": np.bool_(True), "unseen": pd.NaT,
    }
    table = pd.DataFrame({"segment": ["A", "B"], "uplift": [2 / 3, np.nan]})
    save_outputs(tmp_path / "one", summary, {"uplift": table})
    save_outputs(tmp_path / "two", summary, {"uplift": table})

    assert _snapshot(tmp_path / "one") == _snapshot(tmp_path / "two")
    assert json.loads((tmp_path / "one" / "summary.json").read_text()) == {
        "share": 0.333333, "doctors": 1200, "missing": None, "month": "2025-03-01T00:00:00",
        "by_segment": {"A": [0.3, None]}, "targeted": True, "unseen": None,
    }
    assert (tmp_path / "one" / "uplift.csv").read_text() == "segment,uplift\nA,0.666667\nB,\n"


def test_save_outputs_rejects_a_table_name_that_is_a_path(tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        save_outputs(tmp_path, {}, {"../t": pd.DataFrame()})


def test_setup_display_fixes_pandas_and_matplotlib():
    with pd.option_context("display.max_columns", 5, "display.width", 80,
                           "display.float_format", None), \
            mpl.rc_context():
        setup_display()
        assert pd.get_option("display.max_columns") == 30
        assert pd.get_option("display.width") == 120
        assert repr(pd.DataFrame({"a": [1 / 3]})) == "       a\n0 0.3333"
        assert mpl.rcParams["figure.dpi"] == mpl.rcParams["savefig.dpi"] == 100
