"""What every analysis shares: checked parameters, loading, the result contract.

Each analysis module ``crmlab.analyses.<name>`` defines

- ``Params``: a frozen dataclass, the one source of truth for the analysis' parameters
  and their defaults (``params/<name>.yaml`` and the notebook's parameters cell are
  tested to equal it);
- ``Result``: a dataclass subclassing :class:`AnalysisResult`, with ``summary()`` (the
  dict written as ``summary.json``) and ``tables`` (the CSVs written beside it);
- ``run(data, **params) -> Result``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import types
import typing
from pathlib import Path

import pandas as pd

from crmlab.config import resolve_path
from crmlab.io import Dataset, load

#: Parameters every notebook declares that are not analysis parameters.
RUNNER_PARAMETERS = ("data_dir", "out_dir")


class ParameterError(ValueError):
    """A parameter is unknown or has a value of the wrong type; the message names it."""


def param(default, help: str, *, choices: tuple | None = None):
    """A dataclass field with a help text and, optionally, the values it may take."""
    factory = {"default_factory": lambda: type(default)(default)} \
        if isinstance(default, (list, dict)) else {"default": default}
    return dataclasses.field(**factory, metadata={"help": help, "choices": choices})


@dataclasses.dataclass(frozen=True)
class Params:
    """Parameters shared by every analysis."""

    encoding: str = param("utf-8", "CSV encoding of the data directory, e.g. gb18030")
    allow_rejects: bool = param(False, "go on without rows that fail the data contract "
                                       "(they are counted in the summary and report)")
    seed: int = param(7, "seed of every random step")
    merge_duplicates: str = param("", "a reviewed clusters.csv of `crmlab run dedupe`: merge "
                                      "duplicate doctors and accounts into their surviving ID "
                                      "before the analysis ('' = no merge)")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def defaults(cls) -> dict:
        """Every parameter with its default, in declaration order."""
        return dataclasses.asdict(cls())

    @classmethod
    def pick(cls, namespace: typing.Mapping) -> dict:
        """The parameters found in ``namespace`` (e.g. a notebook's ``globals()``)."""
        return {name: namespace[name] for name in cls.names() if name in namespace}

    @classmethod
    def check(cls, values: typing.Mapping, *, known: typing.Iterable[str] = ()) -> "Params":
        """Build the parameters from ``values``, checking each name and type.

        ``known`` names are accepted and ignored (e.g. ``data_dir`` and ``out_dir``).

        Raises
        ------
        ParameterError
            Unknown name (with the closest known one), or a value of the wrong type.

        Examples
        --------
        >>> Params.check({"seed": 3}).seed
        3
        >>> Params.check({"sed": 3})
        Traceback (most recent call last):
        ...
        crmlab.analyses.base.ParameterError: unknown parameter 'sed' (did you mean 'seed'?)
        """
        names = cls.names()
        hints = typing.get_type_hints(cls)
        checked = {}
        for name, value in values.items():
            if name in known:
                continue
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else \
                    f"; parameters are {', '.join(names)}"
                raise ParameterError(f"unknown parameter {name!r}{hint}")
            field = next(f for f in dataclasses.fields(cls) if f.name == name)
            checked[name] = check_value(name, value, hints[name], field.metadata.get("choices"))
        return cls(**checked)


def _type_name(kind) -> str:
    return getattr(kind, "__name__", None) or str(kind).replace("typing.", "")


def check_value(name: str, value, kind, choices: tuple | None = None):
    """``value`` as type ``kind``, or a :class:`ParameterError` naming the parameter.

    A date (YAML reads ``2024-06-30`` as one) becomes its ISO string where ``kind`` is
    ``str``; an int is accepted as a float, a whole float as an int.

    Examples
    --------
    >>> import datetime
    >>> check_value("as_of", datetime.date(2024, 6, 30), str)
    '2024-06-30'
    >>> check_value("horizon_months", "abc", int)
    Traceback (most recent call last):
    ...
    crmlab.analyses.base.ParameterError: parameter 'horizon_months' must be int, got str 'abc'
    """
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return check_value(name, value, option, choices)
            except ParameterError as err:
                errors.append(err)
        raise errors[0]
    target = origin or kind
    if isinstance(value, (dt.date, dt.datetime)) and target is str:
        value = value.isoformat()[:10]  # YAML reads 2024-06-30 as a date
    ok = isinstance(value, target) and not (target in (int, float) and isinstance(value, bool))
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if target is int and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if target is list and isinstance(value, tuple):
        value, ok = list(value), True
    if not ok:
        raise ParameterError(f"parameter {name!r} must be {_type_name(kind)}, "
                             f"got {type(value).__name__} {value!r}")
    if choices is not None and value not in choices:
        raise ParameterError(f"parameter {name!r} must be one of "
                             f"{', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_params(params_class: type[Params], params: typing.Mapping) -> Params:
    """:meth:`Params.check`, also accepting an instance of ``params_class``."""
    if isinstance(params, params_class):
        return params
    return params_class.check(params)


def load_data(data, params: Params, tables=None) -> Dataset:
    """``data`` as a :class:`~crmlab.io.Dataset`: a loaded one, or a directory to load."""
    if isinstance(data, Dataset):
        return data
    if data is None:
        raise ParameterError("data: give a data directory or a loaded Dataset")
    duplicates = resolve_path(params.merge_duplicates) if params.merge_duplicates else None
    return load(resolve_path(data), encoding=params.encoding, tables=tables,
                allow_rejects=params.allow_rejects, duplicates=duplicates)


def rejects_summary(data: Dataset) -> dict:
    """Rows set aside by the loader: the count per table and per reason (check).

    Examples
    --------
    >>> rejects_summary(load("data/sample"))  # doctest: +SKIP
    {'rows': 0, 'by_table': {}, 'by_check': {}}
    """
    rejects = data.rejects
    rows = rejects.drop_duplicates(["table", "row"])
    return {
        "rows": int(len(rows)),
        "by_table": {str(k): int(v) for k, v in rows.groupby("table").size().items()},
        "by_check": {f"{t}: {c}": int(v) for (t, c), v in
                     rejects.groupby(["table", "check"]).size().items()},
    }


def contract_tables(data, params: Params, names) -> tuple[dict, dict]:
    """The tables ``names`` of ``data`` (empty where missing) and the rejects summary.

    ``data`` is a directory, a :class:`~crmlab.io.Dataset`, or a mapping of tables
    (tests: nothing rejected).
    """
    if isinstance(data, typing.Mapping):
        rejects = {"rows": 0, "by_table": {}, "by_check": {}}
    else:
        data = load_data(data, params)
        rejects = rejects_summary(data)
    tables = {}
    for name in names:
        try:
            table = data[name]
        except KeyError:
            table = None
        tables[name] = table if table is not None else pd.DataFrame()
    return tables, rejects


@dataclasses.dataclass
class AnalysisResult:
    """Base of every analysis result.

    Attributes
    ----------
    params : Params
        The parameters the analysis ran with.
    rejects : dict
        :func:`rejects_summary` of the data it ran on.
    """

    params: Params
    rejects: dict

    def summary(self) -> dict:
        """Exactly the dict the runner writes as ``summary.json``.

        Each analysis extends it: ``return super().summary() | {...}``.
        """
        return {"rejects": self.rejects}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Exactly the CSV tables the runner writes, by file name without ``.csv``."""
        return {}

    def save(self, out_dir: str | Path | None) -> None:
        """Write ``summary.json`` and the tables into ``out_dir`` (nothing if empty)."""
        from crmlab.reporting.outputs import save_outputs

        save_outputs(out_dir, self.summary(), self.tables)
