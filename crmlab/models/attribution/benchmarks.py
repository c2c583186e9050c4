"""Benchmarks beside the visit-lift model: the naive pooled slope and linear distributed lags.

Both are kept to show what the main model corrects: the pooled slope is biased by
targeting (reps visit big prescribers more), the linear lags ignore saturation and
channel mix. Each returns ``estimate, std_error, ci_low, ci_high`` (cluster-robust by
unit, pyfixest) and warns when its standard error is not finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmlab.models.attribution.inference import FIXEF_TOL, finite_errors
from crmlab.models.uncertainty import interval


def naive_pooled_slope(outcome: pd.DataFrame, visits: np.ndarray | pd.Series, y: str = "trx",
                       alpha: float = 0.05) -> dict:
    """Pooled OLS slope of the outcome on monthly detailing visits (no fixed effects).

    The targeting-biased benchmark: reps visit big prescribers more, so the slope mixes
    the visit effect with doctor size. Cluster-robust standard error by unit.

    Examples
    --------
    >>> naive_pooled_slope(panel, panel["detailing_visits"])  # doctest: +SKIP
    """
    import pyfixest as pf
    data = pd.DataFrame({"y": outcome[y].to_numpy(float), "v": np.asarray(visits, dtype=float),
                         "unit": pd.factorize(outcome.iloc[:, 0])[0]})
    data = data[outcome["active"].to_numpy(bool)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("y ~ v", data=data, vcov={"CRV1": "unit"})
    est, se = float(fit.coef()["v"]), float(fit.se()["v"])
    finite_errors([se], "naive_pooled_slope")
    return interval(est, se, alpha)


def linear_lags_fe(outcome: pd.DataFrame, visits: np.ndarray, n_months: int, *, y: str = "trx",
                   unit: str = "doctor_id", lags: int = 4, alpha: float = 0.05) -> dict:
    """Linear distributed-lag fixed-effects benchmark: long-run sum of lag coefficients.

    ``y ~ v + L1 v + ... + Lk v | unit + month`` with pyfixest, cluster-robust by unit;
    ignores saturation and channel mix (kept beside the main model for comparison).
    The sum is read off directly by fitting the equivalent model
    ``y ~ v + (L1 v - v) + ... + (Lk v - v)``, whose coefficient on ``v`` is the sum of
    the lag coefficients, with its standard error.
    """
    import pyfixest as pf
    v = np.asarray(visits, dtype=float).reshape(-1, n_months)
    month = np.tile(np.arange(n_months), len(v))
    # only the rows used are materialised (the national panel has 7.2M rows)
    rows = outcome["active"].to_numpy(bool) & (month >= lags)
    data = pd.DataFrame({"y": outcome[y].to_numpy(float)[rows], "unit": pd.factorize(outcome[unit])[0][rows],
                         "month": month[rows]})
    data["v0"] = v.ravel()[rows]
    names = ["v0"]
    for k in range(1, lags + 1):
        lagged = np.zeros_like(v)
        lagged[:, k:] = v[:, :n_months - k]
        data[f"d{k}"] = lagged.ravel()[rows] - data["v0"].to_numpy()
        names.append(f"d{k}")
    del v
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(f"y ~ {' + '.join(names)} | unit + month", data=data, vcov={"CRV1": "unit"},
                       fixef_tol=FIXEF_TOL)
    total, se = float(fit.coef()["v0"]), float(fit.se()["v0"])
    finite_errors([se], "linear_lags_fe")
    return interval(total, se, alpha)
