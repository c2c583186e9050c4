"""The project keeps its own promises: one environment, paired notebooks, thin notebooks."""

import json
import re
import tomllib

import pytest
import yaml

from crmlab.analyses import params_class
from crmlab.config import ANALYSES, NOTEBOOKS_DIR, PARAMS_DIR, PROJECT_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements():
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"] + project["optional-dependencies"]["dev"]


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and not d.startswith(("python", "pip"))]
    assert {_name(d): d for d in conda} == {_name(r): r.replace(" ", "") for r in _requirements()}
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section[-1] == "-e ."


def test_every_dependency_is_pinned():
    pins = {_name(line) for line in (PROJECT_ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line}
    missing = {_name(r) for r in _requirements()} - pins
    assert not missing, f"add exact pins to constraints.txt (make lock): {missing}"


NOTEBOOKS = sorted(p for p in NOTEBOOKS_DIR.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_one_notebook_per_analysis():
    assert {p.parent.name for p in NOTEBOOKS} >= set(ANALYSES)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_notebook_conventions(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert notebook.with_suffix(".py").exists(), "paired py:percent file missing (jupytext --sync)"
    source = "".join("".join(c["source"]) for c in code)
    assert not re.search(r"^(def|class) ", source, re.M), "reusable logic belongs in crmlab/"
    # the parameters cell holds literals only, with the keys of params/<analysis>.yaml
    names = {}
    exec("".join(tagged[0]["source"]), {}, names)  # noqa: S102 - literals only, checked below
    assert all(isinstance(v, (str, int, float, bool, list, dict, type(None))) for v in names.values())
    assert names["data_dir"] == "data/sample" and names["out_dir"] == ""


@pytest.mark.parametrize("analysis", ANALYSES)
def test_defaults_live_in_one_place(analysis):
    """params/<analysis>.yaml and the notebook's parameters cell equal the Params dataclass."""
    defaults = params_class(analysis).defaults()
    assert (yaml.safe_load((PARAMS_DIR / f"{analysis}.yaml").read_text()) or {}) == defaults
    cell = next(c for c in json.loads((NOTEBOOKS_DIR / analysis / f"{analysis}.ipynb").read_text())["cells"]
                if "parameters" in c.get("metadata", {}).get("tags", []))
    names = {}
    exec("".join(cell["source"]), {}, names)  # noqa: S102 - literals only
    assert names == {"data_dir": "data/sample", "out_dir": "", **defaults}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.parent.name)
def test_paired_script_in_sync(notebook):
    import jupytext

    script = jupytext.read(notebook.with_suffix(".py"))
    book = jupytext.read(notebook)
    strip = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
    assert strip(script) == strip(book), "run `jupytext --sync` on the notebook"
