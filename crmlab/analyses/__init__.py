"""One analysis API: each analysis is ``crmlab.analyses.<name>.run(data, **params)``.

>>> from crmlab.analyses import overview
>>> overview.run("data/sample").summary()["rejected_rows"]
0

Notebooks, the runner and the app call these; they hold no analysis logic themselves.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from crmlab.analyses.base import AnalysisResult, ParameterError, Params
from crmlab.config import ANALYSES


def get(name: str) -> ModuleType:
    """The module of analysis ``name``, e.g. ``get("churn").run(...)``."""
    if name not in ANALYSES:
        raise ValueError(f"unknown analysis {name!r}; analyses are {', '.join(ANALYSES)}")
    return importlib.import_module(f"crmlab.analyses.{name}")


def params_class(name: str) -> type[Params]:
    """The parameters dataclass of analysis ``name`` (its one subclass of Params)."""
    module = get(name)
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, Params) and value is not Params
             and value.__module__ == module.__name__]
    if len(found) != 1:
        raise RuntimeError(f"crmlab.analyses.{name} must define exactly one Params subclass")
    return found[0]


__all__ = ["ANALYSES", "AnalysisResult", "ParameterError", "Params", "get", "params_class"]
