"""Key figures checked against values recorded on the committed sample, within a tolerance.

Figures whose last digits move with the numerical library (BLAS kernel, threads) are
not compared digit by digit in the notebooks; a check cell holds them to the values
recorded on ``data/sample`` with the default parameters instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from crmlab.config import SAMPLE_DIR, resolve_path

CHECK_COLUMNS = ["recorded", "estimate", "tolerance", "within"]


def is_committed_sample(data_dir, params) -> bool:
    """True when ``data_dir`` is the committed sample and ``params`` are the defaults.

    Examples
    --------
    >>> from crmlab.analyses.base import Params
    >>> is_committed_sample("data/sample", Params()), is_committed_sample("data/sample", Params(seed=1))
    (True, False)
    """
    return Path(resolve_path(data_dir)) == Path(SAMPLE_DIR).resolve() and params == type(params)()


def recorded_checks(figures: Mapping[str, tuple[float, float]], recorded: Mapping[str, tuple],
                    applies: bool = True) -> pd.DataFrame:
    """Each recorded figure against its estimate: ``recorded, estimate, tolerance, within``.

    Parameters
    ----------
    figures : mapping
        Name → ``(estimate, std_error)`` (std_error NaN when there is none).
    recorded : mapping
        Name → ``(value, tolerance)``; tolerance ``"se"`` is the figure's own standard error.
    applies : bool
        False (other data or parameters: nothing was recorded) gives an empty table.

    Examples
    --------
    >>> recorded_checks({"k": (7, np.nan), "ari": (0.58, 0.1)}, {"k": (7, 0), "ari": (0.56, "se")})["within"].tolist()
    [True, True]
    """
    if not applies:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    rows = {}
    for name, (value, tolerance) in recorded.items():
        estimate, std_error = figures.get(name, (np.nan, np.nan))
        tolerance = std_error if tolerance == "se" else tolerance
        rows[name] = {"recorded": value, "estimate": estimate, "tolerance": tolerance,
                      "within": bool(abs(estimate - value) <= tolerance)}
    return pd.DataFrame.from_dict(rows, orient="index", columns=CHECK_COLUMNS)


def checks_note(checks: pd.DataFrame, what: str = "key figures") -> str:
    """One stable sentence on :func:`recorded_checks` (no figures in it).

    Examples
    --------
    >>> checks_note(pd.DataFrame(columns=["within"]))
    'No recorded values for these data and parameters: nothing to check.'
    >>> checks_note(pd.DataFrame({"within": [True, True]}), "clustering figures")
    '2 of 2 clustering figures lie within their stated tolerance of the values recorded on the sample.'
    """
    if not len(checks):
        return "No recorded values for these data and parameters: nothing to check."
    return (f"{int(checks['within'].sum())} of {len(checks)} {what} lie within their stated tolerance of the "
            "values recorded on the sample.")
