"""The parameters of a run: merged from their sources, checked before any kernel starts.

Sources, by increasing priority: the analysis' defaults, ``params/<analysis>.yaml``, a
``--params`` file, ``-p`` overrides, then ``--data``. Names and types are checked
against the analysis' parameters dataclass (:func:`crmlab.analyses.params_class`), or,
for a notebook without an analysis module (e.g. the runner's test notebooks), against
the names and literal defaults of its ``parameters`` cell.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib.util
from pathlib import Path

import papermill

from crmlab import config
from crmlab.analyses.base import RUNNER_PARAMETERS, ParameterError, Params, check_value


def resolve_parameters(analysis: str, notebook: Path, data_dir=None, params_file=None,
                       overrides: dict | None = None) -> dict:
    """The checked parameters of a run of ``notebook``, with JSON-safe values.

    ``data_dir`` is, in order: the argument, a ``data_dir`` in the parameter files or
    ``overrides``, else :data:`crmlab.config.SAMPLE_DIR`; it is made absolute and must
    be a folder. ``out_dir`` is left to the runner.

    Raises
    ------
    ValueError
        In one line, naming the parameter or file: an unreadable parameters file
        (:class:`~crmlab.config.ParametersFileError`), an unknown or ill-typed
        parameter (:class:`~crmlab.analyses.ParameterError`), a missing data folder,
        or a notebook whose parameters cell cannot be read.

    Examples
    --------
    >>> notebook = config.NOTEBOOKS_DIR / "overview" / "overview.ipynb"
    >>> resolve_parameters("overview", notebook, overrides={"seed": 3.0})["seed"]
    3
    >>> resolve_parameters("overview", notebook, overrides={"seed": "abc"})
    Traceback (most recent call last):
    ...
    crmlab.analyses.base.ParameterError: parameter 'seed' must be int, got str 'abc'
    """
    parameters = config.load_params(analysis, params_file)
    parameters.update(overrides or {})
    if "out_dir" in parameters:
        raise ParameterError("out_dir is set by the runner; use --out instead")

    try:
        declared = papermill.inspect_notebook(str(notebook))
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the notebook's parameters cell ({notebook}): "
                         f"{err}") from None
    missing = [name for name in RUNNER_PARAMETERS if name not in declared]
    if missing:
        raise ValueError(f"the notebook's parameters cell does not declare "
                         f"{', '.join(missing)} ({notebook})")
    schema = _params_class(analysis)
    if schema is not None:
        checked = schema.check(parameters, known=RUNNER_PARAMETERS)
        parameters.update({name: getattr(checked, name) for name in parameters
                           if name not in RUNNER_PARAMETERS})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {', '.join(unknown)}; "
                             f"the notebook declares {', '.join(sorted(declared))}")
    if schema is None:
        _check_types(parameters, declared)

    if data_dir is None:
        data_dir = parameters.get("data_dir")
    if data_dir is None:
        data_dir = config.SAMPLE_DIR
    if not isinstance(data_dir, (str, Path)) or not str(data_dir):
        raise ParameterError(f"parameter 'data_dir' must be a folder path, got {data_dir!r}")
    # The kernel runs in the notebook's folder, so relative paths would move.
    resolved = config.resolve_path(data_dir)
    if not resolved.is_dir():
        raise ValueError(f"data folder {data_dir} not found ({resolved})")
    parameters["data_dir"] = str(resolved)
    return json_safe(parameters)


def json_safe(value):
    """Dates and datetimes as ISO strings, tuples as lists, recursively.

    papermill writes parameters as Python source and ``run.json`` is JSON; a ``date``
    (YAML reads ``2024-06-30`` as one) would be neither.

    Examples
    --------
    >>> json_safe({"as_of": dt.date(2024, 6, 30), "months": (1, 2)})
    {'as_of': '2024-06-30', 'months': [1, 2]}
    """
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _params_class(analysis: str) -> type[Params] | None:
    """The analysis' parameters dataclass, or None for a notebook without a module."""
    if analysis not in config.ANALYSES:
        return None
    if importlib.util.find_spec(f"crmlab.analyses.{analysis}") is None:
        return None
    from crmlab.analyses import params_class

    try:
        return params_class(analysis)
    except Exception as err:  # a broken analysis module: a message, not a traceback
        raise ValueError(f"cannot import crmlab.analyses.{analysis}: "
                         f"{type(err).__name__}: {err}") from err


def _check_types(parameters: dict, declared: dict) -> None:
    """Check values against the types of the notebook's literal defaults (in place)."""
    for name, value in parameters.items():
        if name in RUNNER_PARAMETERS:
            continue
        try:
            default = ast.literal_eval(declared[name]["default"])
        except (ValueError, SyntaxError, TypeError):
            continue  # not a literal: nothing to compare with
        if default is not None:
            parameters[name] = check_value(name, value, type(default))
