"""One place for paths and defaults, anchored on the package file."""

from __future__ import annotations

from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
PARAMS_DIR = PROJECT_ROOT / "params"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

ANALYSES = ("overview", "segmentation", "attribution", "churn", "forecast", "dedupe")


def resolve_path(path: str | Path) -> Path:
    """Resolve a user path: absolute, relative to the working directory, or to the project.

    Notebook defaults say ``data/sample``; they run from the notebook's own folder in
    JupyterLab and nbval, so a relative path that does not exist from the working
    directory is taken relative to the project root.
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    return (PROJECT_ROOT / path).resolve()


def load_params(analysis: str, params_file: str | Path | None = None) -> dict:
    """Defaults from ``params/<analysis>.yaml``, updated by ``params_file`` if given."""
    params: dict = {}
    default = PARAMS_DIR / f"{analysis}.yaml"
    if default.exists():
        params.update(yaml.safe_load(default.read_text(encoding="utf-8")) or {})
    if params_file is not None:
        params.update(yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) or {})
    return params
