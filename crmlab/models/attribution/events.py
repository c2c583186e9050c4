"""Event lift: staggered event study of attendees against comparable non-attendees.

Estimator: the imputation estimator (Borusyak, Jaravel & Spiess 2024; Gardner's two-stage DiD), which
is not biased by staggered event dates and heterogeneous effects (a plain two-way
fixed-effects event study is, because it uses earlier attendees as controls). Stage
one fits doctor and month × size-bin fixed effects on untreated doctor-months only
(never-attendees and attendees before their event); stage two regresses the residuals
on event time. Standard errors are cluster-robust by doctor on the imputed effects (a
doctor's fixed-effect error is shared by all its months, so clustering carries it); the
pre-trend test regresses untreated rows on lead dummies with the same fixed effects.
"""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import lsqr

from crmlab.features.common import ids_as_str
from crmlab.models.attribution.inference import FIXEF_TOL, finite_errors
from crmlab.models.uncertainty import ESTIMATE_COLUMNS, interval, z_value


@dataclass
class EventStudyResults:
    """Event-time coefficients and the per-attendee effects of one event type.

    Attributes
    ----------
    coefficients : DataFrame
        ``months_after, estimate, std_error, ci_low, ci_high`` (``months_after`` = -1 is
        the reference, set to 0).
    per_attendee_month, per_attendee_total : dict
        ``estimate, std_error, ci_low, ci_high``.
    effect_months : int
        Months after the event with a lift (the run of significant months from month 1).
    pretrend_p_value : float
        Joint Wald test that all lead coefficients are zero (NaN without leads).
    attendees : int
        Treated units with months after their event.
    method : str
        Plain-language statement of the method.
    """

    coefficients: pd.DataFrame
    per_attendee_month: dict
    per_attendee_total: dict
    effect_months: int
    pretrend_p_value: float
    attendees: int
    method: str

    def summary(self) -> pd.DataFrame:
        """The per-attendee effects: ``effect, estimate, std_error, ci_low, ci_high``."""
        return pd.DataFrame([{"effect": name, **{k: effect[k] for k in ESTIMATE_COLUMNS}}
                             for name, effect in (("per_attendee_month", self.per_attendee_month),
                                                  ("per_attendee_total", self.per_attendee_total))])


def sample_units(units, max_units: int | None, random_state: int) -> np.ndarray | None:
    """The seeded sample of unit IDs a study with ``max_units`` fits on (None: every unit)."""
    names = np.sort(pd.Index(np.asarray(pd.unique(units), dtype=object)).astype(str).to_numpy())
    if not max_units or len(names) <= max_units:
        return None
    return np.random.default_rng(random_state).choice(names, max_units, replace=False)


class EventStudy:
    """Staggered event study (Gardner two-stage DiD) with a pre-trend check.

    Parameters
    ----------
    leads : int
        Months before the event shown (pre-trend check); month -1 is the reference.
    lags : int
        Months after the event estimated (0 = event month); later months are dropped
        for attendees, so effects longer than ``lags`` are not counted.
    max_units : int, optional
        Fit on a seeded random sample of this many units (attendees and non-attendees
        alike) when the panel has more: the month-specific size slopes make the
        fixed-effects design tens of columns wide, too much memory at national scale.
    random_state : int
        Seed of that sample.
    alpha : float
        Intervals cover ``1 - alpha`` (0.05: 95%); the effect window is the run of
        months whose interval excludes zero.

    Attributes
    ----------
    converged_ : bool
        Every standard error is finite (else a warning was issued).
    results_ : EventStudyResults

    Examples
    --------
    >>> EventStudy(leads=6, lags=9).fit(panel, first_month).results_.per_attendee_total  # doctest: +SKIP
    """

    def __init__(self, leads: int = 6, lags: int = 9, max_units: int | None = None, random_state: int = 0,
                 alpha: float = 0.05):
        self.leads = leads
        self.lags = lags
        self.max_units = max_units
        self.random_state = random_state
        self.alpha = alpha

    def fit(self, panel: pd.DataFrame, first_month: pd.Series, *, unit: str = "doctor_id", y: str = "trx",
            censor_month: pd.Series | None = None, attendees_per_unit: pd.Series | None = None,
            population: int | None = None) -> EventStudy:
        """Fit on a complete unit × month panel.

        Parameters
        ----------
        panel : DataFrame
            ``unit, month, y, active, level_bin``.
        first_month : Series
            Month index (0-based) of each treated unit's first event, indexed by unit.
        censor_month : Series, optional
            Month index from which a unit's rows are dropped (e.g. it attended another
            event on the same product, whose effect would be mixed in).
        attendees_per_unit : Series, optional
            Attendees per treated unit (account-level analysis): effects are divided
            by the mean to be per attendee.
        population : int, optional
            The panel holds only the :func:`sample_units` sample of this many units
            (built for the sample, to spare the memory of the whole panel).
        """
        import pyfixest as pf
        self.n_units_total_ = int(population or panel[unit].nunique())
        chosen = None if population else sample_units(panel[unit], self.max_units, self.random_state)
        self.sampled_ = chosen is not None or self.n_units_total_ > panel[unit].nunique()
        if chosen is not None:
            panel = panel[ids_as_str(panel[unit]).isin(chosen).to_numpy()]
        months = np.sort(panel["month"].unique())
        index = pd.Series(np.arange(len(months)), index=pd.DatetimeIndex(months))
        data = pd.DataFrame({"unit": panel[unit].astype(str).to_numpy(), "y": panel[y].to_numpy(float),
                             "t": index.reindex(pd.DatetimeIndex(panel["month"])).to_numpy(),
                             "level_bin": panel["level_bin"].to_numpy(int),
                             "level": (panel["level"] if "level" in panel else panel["level_bin"]).to_numpy(float)})
        data = data[panel["active"].to_numpy(bool)]
        first = data["unit"].map(first_month).fillna(-1).to_numpy(int)
        rel = np.where(first >= 0, data["t"].to_numpy() - first, -999)
        keep = (rel <= self.lags)
        if censor_month is not None:
            censor = data["unit"].map(censor_month).fillna(10 ** 6).to_numpy()
            keep &= data["t"].to_numpy() < censor
        data = data.assign(rel=rel, treat=(rel >= 0).astype(int))[keep]
        # leads beyond the window join the reference group (with never-attendees)
        data["rel"] = np.where((data["rel"] < -self.leads), -999, data["rel"])
        data["month_bin"] = data["t"].astype(str) + "_" + data["level_bin"].astype(str)
        # within a size bin, month effects still scale with size: a month-specific slope on size
        data["level_c"] = data["level"] - data.groupby("level_bin")["level"].transform("mean")
        slope_names = []
        for k in np.sort(data["t"].unique())[1:]:
            data[f"slope_{k}"] = data["level_c"] * (data["t"] == k)
            slope_names.append(f"slope_{k}")
        slopes = " + ".join(slope_names)
        treated_units = data.loc[data["treat"] == 1, "unit"].nunique()
        if treated_units == 0:
            raise ValueError("EventStudy: no attendee has prescribing months after the event")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # stage 1: counterfactual from untreated doctor-months only
            # (inputs are temporary frames: not copied; each fit is freed once read, as at national
            # scale a fit holds several copies of its 35-column design)
            stage1 = pf.feols(f"y ~ {slopes} | unit + month_bin", data=untreated_rows(data), fixef_tol=FIXEF_TOL,
                              copy_data=False)
            slope = {int(str(k).split("_")[1]): v for k, v in stage1.coef().items()}
            unit_fe, month_fe = fixed_effects(stage1, ("unit", "month_bin"))
            del stage1
            gc.collect()  # a pyfixest fit is a reference cycle: free its copies of the design now
            intercept = 0.0
            treated = data[data["rel"] != -999].copy()
            treated["tau"] = (treated["y"] - intercept - treated["unit"].map(unit_fe).to_numpy()
                              - treated["month_bin"].map(month_fe).to_numpy()
                              - treated["t"].map(slope).fillna(0.0).to_numpy() * treated["level_c"].to_numpy())
            treated = treated[treated["tau"].notna() & (treated["treat"] == 1)]
            # pre-trend: leads on untreated rows, with the same fixed effects
            pre = untreated_rows(data).copy()
            pre["lead"] = np.where((pre["rel"] >= -self.leads) & (pre["rel"] <= -2), pre["rel"], 0)
            lead_fit = None
            if (pre["lead"] != 0).any():
                lead_fit = pf.feols(f"y ~ i(lead, ref=0) + {slopes} | unit + month_bin", data=pre,
                                    vcov={"CRV1": "unit"}, fixef_tol=FIXEF_TOL, copy_data=False, lean=True)
            del pre
        # stage 2: event-time means of the imputed effects, clustered by unit
        post_rel = np.sort(treated["rel"].unique())
        est = treated.groupby("rel")["tau"].mean().reindex(post_rel)
        n_by_rel = treated.groupby("rel")["tau"].size().reindex(post_rel)
        contrib = (treated["tau"] - treated["rel"].map(est)) / treated["rel"].map(n_by_rel)
        per_unit = (pd.DataFrame({"unit": treated["unit"], "rel": treated["rel"], "c": contrib})
                    .pivot_table(index="unit", columns="rel", values="c", aggfunc="sum", fill_value=0.0)
                    .reindex(columns=post_rel, fill_value=0.0))
        g = len(per_unit)
        post_vcov = per_unit.to_numpy().T @ per_unit.to_numpy() * g / max(g - 1, 1)
        names = [f"rel::{k}" for k in post_rel]
        coef = pd.Series(est.to_numpy(), index=names)
        vcov = pd.DataFrame(post_vcov, index=names, columns=names)
        rel_of = {n: int(k) for n, k in zip(names, post_rel)}
        rows = [{"months_after": int(k), "estimate": float(est[k]), "std_error": float(np.sqrt(post_vcov[j, j]))}
                for j, k in enumerate(post_rel)]
        p_value = np.nan
        if lead_fit is not None:
            lead_coef, lead_se = lead_fit.coef(), lead_fit.se()
            is_lead = np.array([str(n).startswith("lead") for n in lead_coef.index])
            for name in lead_coef.index[is_lead]:
                rows.append({"months_after": int(float(str(name).split("::")[-1])),
                             "estimate": float(lead_coef[name]), "std_error": float(lead_se[name])})
            # joint Wald test of the leads (chi-squared, pseudo-inverse of their covariance)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                wald = lead_fit.wald_test(R=np.eye(len(is_lead))[is_lead], distribution="chi2")
            p_value = float(wald["pvalue"])
            del lead_fit
            gc.collect()
        table = pd.DataFrame(rows)
        table = pd.concat([table, pd.DataFrame({"months_after": [-1], "estimate": [0.0], "std_error": [0.0]})])
        table = table.sort_values("months_after").reset_index(drop=True)
        scale = 1.0
        if attendees_per_unit is not None and len(attendees_per_unit):
            scale = float(attendees_per_unit.mean())
        table[["estimate", "std_error"]] /= scale
        z = z_value(self.alpha)
        table["ci_low"] = table["estimate"] - z * table["std_error"]
        table["ci_high"] = table["estimate"] + z * table["std_error"]

        post = [n for n in names if rel_of[n] >= 0]
        w = np.ones(len(post))
        total_est = float(coef[post].sum()) / scale
        total_se = float(np.sqrt(w @ vcov.loc[post, post].to_numpy() @ w)) / scale
        # effect window: the run of months from month 1 whose interval excludes zero
        by_rel = table.set_index("months_after")
        n_effect = 0
        for k in range(1, self.lags + 1):
            if k in by_rel.index and (by_rel.at[k, "ci_low"] > 0 or by_rel.at[k, "ci_high"] < 0):
                n_effect = k
            else:
                break
        window = [n for n in post if 1 <= rel_of[n] <= max(n_effect, 1)] if n_effect else \
            [n for n in post if rel_of[n] >= 1]
        wm = np.ones(len(window)) / len(window)
        month_est = float(coef[window].to_numpy() @ wm) / scale
        month_se = float(np.sqrt(wm @ vcov.loc[window, window].to_numpy() @ wm)) / scale
        method = ("Staggered event study by the imputation estimator (Borusyak-Jaravel-Spiess / Gardner two-stage DiD, pyfixest): "
                  "doctor and month x size-bin fixed effects fitted on untreated doctor-months (never-attendees "
                  "and attendees before their first event), event-time effects from the residuals; "
                  "cluster-robust by unit. Per attendee total = sum of months 0.."
                  f"{self.lags}; per attendee per month = mean over the months after the event with a "
                  "significant lift (run from month 1). Months after a unit's last positive outcome and months "
                  "after it attended another event type on the same product are dropped.")
        if self.sampled_:
            method += (f" Fitted on a seeded random sample of {self.max_units:,} of {self.n_units_total_:,} units "
                       "(national scale: memory of the fixed-effects design).")
        self.converged_ = finite_errors(np.r_[table["std_error"].to_numpy(), month_se, total_se],
                                        "EventStudy")
        self.results_ = EventStudyResults(
            coefficients=table, per_attendee_month=interval(month_est, month_se, self.alpha),
            per_attendee_total=interval(total_est, total_se, self.alpha), effect_months=n_effect,
            pretrend_p_value=p_value, attendees=int(treated_units), method=method)
        return self


def fixed_effects(fit, names: tuple[str, ...]) -> list[pd.Series]:
    """The fitted fixed effects of a pyfixest ``y ~ x | a + b`` fit, one Series per name.

    The values of ``fit.fixef(atol=FIXEF_TOL, btol=FIXEF_TOL)``: the same sparse dummies
    (every level of the first effect, the others without their first level) and the same
    ``lsqr``, without formulaic's model matrices, which took most of its time at national
    scale. Reads the fit's data, coefficient names and estimates (pyfixest is pinned).
    """
    data = fit._data
    residual = data[fit._depvar].to_numpy(np.float64) - np.asfortranarray(
        data[fit._coefnames].to_numpy(np.float64)) @ fit._beta_hat
    indices, indptr, levels = [], [0], []
    for k, name in enumerate(names):
        values = pd.Categorical(data[name].astype(str))
        codes, kept = values.codes.astype(np.int64), list(values.categories)
        rows = np.arange(len(codes))
        if k:  # reduced rank: the first level is the reference
            rows, codes, kept = rows[codes > 0], codes[codes > 0] - 1, kept[1:]
        indices.append(rows[np.argsort(codes, kind="stable")])
        indptr.extend(indptr[-1] + np.cumsum(np.bincount(codes, minlength=len(kept))))
        levels.append(kept)
    indices = np.concatenate(indices).astype(np.int32)
    dummies = csc_matrix((np.ones(len(indices)), indices, np.asarray(indptr, dtype=np.int32)),
                         shape=(len(data), len(indptr) - 1))
    alpha = lsqr(dummies, residual, atol=FIXEF_TOL, btol=FIXEF_TOL)[0]
    bounds = np.cumsum([0, *map(len, levels)])
    return [pd.Series(alpha[a:b], index=pd.Index(kept, dtype=object)) for a, b, kept in
            zip(bounds[:-1], bounds[1:], levels)]


def untreated_rows(data: pd.DataFrame) -> pd.DataFrame:
    """Rows not (yet) treated: never-attendees and attendees before their first event."""
    return data[data["treat"] == 0]
