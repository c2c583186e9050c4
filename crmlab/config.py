"""One place for paths and defaults, anchored on the package file."""

from __future__ import annotations

from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
PARAMS_DIR = PROJECT_ROOT / "params"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"

ANALYSES = ("overview", "segmentation", "attribution", "churn", "forecast", "dedupe", "callplan",
            "drivers")


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


class ParametersFileError(ValueError):
    """A parameters file is missing, unreadable, not YAML or not a mapping; one line."""


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where.

    Examples
    --------
    >>> try:
    ...     yaml.safe_load("[1")
    ... except yaml.YAMLError as err:
    ...     print(yaml_problem(err))
    expected ',' or ']', but got '<stream end>' (line 1, column 3)
    """
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def read_params_file(path: str | Path) -> dict:
    """The parameters in a YAML file, a mapping of names to values.

    Raises
    ------
    ParametersFileError
        One line naming the file: missing, unreadable, not YAML, or not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ParametersFileError(f"cannot read parameters file {path}: {reason}") from None
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ParametersFileError(
            f"parameters file {path} is not valid YAML: {yaml_problem(err)}") from None
    if params is None:
        return {}
    if not isinstance(params, dict) or not all(isinstance(key, str) for key in params):
        raise ParametersFileError(f"parameters file {path} must map parameter names to "
                                  f"values (name: value lines), found {type(params).__name__}")
    return params


def load_params(analysis: str, params_file: str | Path | None = None) -> dict:
    """Defaults from ``params/<analysis>.yaml``, updated by ``params_file`` if given.

    Raises
    ------
    ParametersFileError
        If a file is unreadable, not YAML or not a mapping.
    """
    params: dict = {}
    default = PARAMS_DIR / f"{analysis}.yaml"
    if default.exists():
        params.update(read_params_file(default))
    if params_file is not None:
        params.update(read_params_file(params_file))
    return params
