"""Visit lift identified from capacity shocks: panel IV with carry-over and saturation.

Reps chase demand (Manchanda, Rossi & Chintagunta 2004): they visit a doctor more after
his prescribing rose, and part of that rise is a persistent demand shock the data do not
show. Doctor fixed effects remove static targeting only; within a doctor, months with
more visits are months of higher unobserved demand, and the fixed-effects estimate of
:class:`~crmlab.models.attribution.visits.VisitLift` overstates. This estimator uses
only the variation in visits reps do not choose: the capacity of the doctor's territory.

Model (``i`` a doctor, ``t`` a month, ``s(i)`` his territory)::

    y_it = a_i + g_{t,bin(i)} + beta * x_it(decay) + u_it
    x_it = sum_k decay**k * s(e_{i,t-k}),  s(e) = (1 - r**e) / (1 - r),  e = channel-weighted visits
    instruments  z_{g,it-l} = ebar_i * (c_{g,s(i),t-l} - cbar_{g,i}),  l = 0 ... lags

``c_g`` are the capacity shocks of :func:`crmlab.features.capacity.capacity_instruments`
(``loo``: visits to the territory's *other* doctors that month; ``capacity``: share of
days a rep was employed and present; ``coverage``: share of days the doctor's usual rep
was away or gone) and ``ebar_i`` the doctor's mean monthly effective visits (a
shift-share design: a territory losing 20% of its capacity loses a regular's visits,
not those of a doctor who is never visited). Lags of the shocks identify the carry-over:
``decay`` is profiled by nonlinear two-stage least squares (the ``beta`` of each
``decay`` by 2SLS, ``decay`` minimising the 2SLS criterion). Saturation ``r`` and the
channel weights are taken from the fixed-effects fit: they shape the response *within*
a month (how much the n-th visit and a remote call add), which demand-chasing moves
little, while the level and the timing (carry-over) are what it biases.

Visits also keep doctors: a territory left without visits for months loses some of
them (a lapse). That retention effect is not visit lift, and capacity shocks would
count it as such; the last ``stop_months`` active months of doctors who stop
prescribing before the data end are therefore left out.

Uncertainty: a cluster-robust GMM sandwich for ``(beta, decay)`` jointly, with the
delta method for the long-run effect per visit. Reported beside it: the first-stage F
(cluster-robust Wald; weak below ``min_first_stage_f``), the fixed-effects estimate and a
Hausman-type comparison, a control-function endogeneity test, the estimates with
lagged outcomes as controls (dynamic controls), and a lead placebo: next month's
visits must not "predict" this month's prescriptions under a valid design.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats

from crmlab.features import visit_adstock
from crmlab.features.common import ids_as_str
from crmlab.models.attribution.inference import FIXEF_TOL
from crmlab.models.attribution.visits import CHANNEL_GROUPS, VisitLift, saturation_curve
from crmlab.models.attribution.iv_results import VisitLiftIVResults
from crmlab.models.instrumental import first_stage_f, two_stage_least_squares
from crmlab.models.uncertainty import interval

#: Instrument groups and the column of ``capacity_instruments`` each one shifts.
INSTRUMENT_GROUPS = {"loo": "loo_visits", "capacity": "capacity", "coverage": "coverage_gap"}


def _wide(frame: pd.DataFrame, columns: list[str], doctors: pd.Index, months: pd.DatetimeIndex) -> dict:
    """Doctor × month arrays of ``columns`` (cells missing from ``frame`` are zero)."""
    rows = doctors.get_indexer(frame["doctor_id"].astype(str))
    cols = months.get_indexer(pd.DatetimeIndex(frame["month"]))
    ok = (rows >= 0) & (cols >= 0)
    out = {}
    for column in columns:
        grid = np.zeros((len(doctors), len(months)))
        grid[rows[ok], cols[ok]] = frame[column].to_numpy(float)[ok]
        out[column] = grid
    return out


def _shift(grid: np.ndarray, lag: int) -> np.ndarray:
    """Shift months by ``lag`` (positive: the past; negative: the future), zero-filled."""
    out = np.zeros_like(grid)
    if lag >= 0:
        out[:, lag:] = grid[:, :grid.shape[1] - lag]
    else:
        out[:, :lag] = grid[:, -lag:]
    return out


class VisitLiftIV:
    """Long-run effect per visit identified from territory capacity shocks (panel IV).

    Parameters
    ----------
    instruments : tuple of str
        Instrument groups (keys of ``INSTRUMENT_GROUPS``); groups without variation in
        the data are dropped.
    lags : int
        Months of lagged shocks used as instruments (they identify the carry-over).
    alpha : float
        1 - coverage of the intervals.
    cluster : {"doctor_id", "territory_id"}
        Clusters of the standard errors.
    dynamic_lags : int
        Lagged outcomes used as controls in the dynamic-controls check.
    min_first_stage_f : float
        Below this first-stage F the instruments are called weak (a warning, and
        ``weak_instruments_`` set: fall back to the fixed-effects estimate).
    weighted : bool
        Weight doctor-months by the inverse of their outcome variance (a
        variance-by-size model), as feasible GLS; False: unweighted.
    stop_months : int
        For a doctor who stops prescribing before the data end, his last ``stop_months``
        active months are left out. A capacity shock that leaves a doctor without a
        visit for months can make him lapse (a retention effect of visits); those
        months would count it as visit lift, and upward. 0 keeps them.
    max_units : int, optional
        Fit on a seeded random sample of this many doctors when there are more
        (national scale); the instruments are built on all doctors beforehand.
    random_state : int
        Seed of that sample.

    Attributes
    ----------
    beta_, decay_, saturation_ : float
    first_stage_f_ : float
    weak_instruments_ : bool
    fe_model_ : VisitLift
        The fixed-effects fit (given or fitted), source of saturation and channel weights.
    results_ : VisitLiftIVResults

    Examples
    --------
    >>> model = VisitLiftIV().fit(panel, counts, capacity)  # doctest: +SKIP
    >>> model.results_.effect("per_visit_long_run")  # doctest: +SKIP
    """

    def __init__(self, instruments: tuple = ("loo", "capacity", "coverage"), lags: int = 4, alpha: float = 0.05,
                 cluster: str = "doctor_id", dynamic_lags: int = 2, min_first_stage_f: float = 10.0,
                 weighted: bool = True, stop_months: int = 3, max_units: int | None = None,
                 random_state: int = 0):
        self.instruments = instruments
        self.lags = lags
        self.alpha = alpha
        self.cluster = cluster
        self.dynamic_lags = dynamic_lags
        self.min_first_stage_f = min_first_stage_f
        self.weighted = weighted
        self.stop_months = stop_months
        self.max_units = max_units
        self.random_state = random_state

    # ---------------------------------------------------------------- data
    def _prepare(self, outcome, counts, capacity, y):
        months = pd.DatetimeIndex(np.sort(pd.DatetimeIndex(outcome["month"]).unique()))
        doctors = pd.Index(np.sort(outcome["doctor_id"].astype(str).unique()))
        n, n_m = len(doctors), len(months)
        if len(outcome) != n * n_m:
            raise ValueError("VisitLiftIV needs a complete panel: every doctor in every month")
        base = _wide(outcome.assign(active=outcome["active"].astype(float)), [y, "active", "level_bin"],
                     doctors, months)
        self._Y, self._active = base[y], base["active"] > 0
        if self.stop_months:
            # a doctor who stops prescribing before the data end: his last months are the way out
            active = self._active
            last = n_m - 1 - np.argmax(active[:, ::-1], axis=1)
            stopped = active.any(axis=1) & (last < n_m - 1)
            self._active = active & ~(stopped[:, None] & (np.arange(n_m)[None, :] > (last - self.stop_months)[:, None]))
        weights = self.fe_model_.channel_weights_
        channels = {g: [f"detailing_{c}" for c in CHANNEL_GROUPS[g] if f"detailing_{c}" in counts] for g in weights}
        grids = _wide(counts, sum(channels.values(), []), doctors, months)
        self._effective = sum(weights[g] * sum(grids[c] for c in cols) for g, cols in channels.items())
        self._raw = sum(grids.values())
        shocks = _wide(capacity, [INSTRUMENT_GROUPS[g] for g in self.instruments], doctors, months)
        # the doctor's usual visits, leaving out the month itself (no mechanical link to its own visits)
        total = self._effective.sum(axis=1, keepdims=True)
        exposure = (total - self._effective) / max(n_m - 1, 1)
        self._shock = {}
        for g in self.instruments:
            grid = shocks[INSTRUMENT_GROUPS[g]]
            mean = grid.mean(axis=1, keepdims=True)
            if g == "loo":  # visits to the other doctors relative to their usual level: a capacity index
                grid = np.divide(grid, mean, out=np.ones_like(grid), where=mean > 0)
                mean = grid.mean(axis=1, keepdims=True)
            centred = grid - mean
            if np.abs(centred).max() > 1e-12:  # a group without variation (no absences) says nothing
                self._shock[g] = exposure * centred
        if not self._shock:
            raise ValueError("VisitLiftIV: no capacity shock varies in the data (no rep absences, vacancies or "
                             "territory visits to other doctors); the visit effect cannot be identified this way")
        territory = capacity.assign(doctor_id=capacity["doctor_id"].astype(str)).drop_duplicates("doctor_id") \
            .set_index("doctor_id")["territory_id"].reindex(doctors).fillna("").to_numpy()
        self._doctors, self._months = doctors, months
        self._keep = self._active.ravel()
        unit = np.repeat(np.arange(n), n_m)
        month_bin = (base["level_bin"].astype(int) * n_m + np.arange(n_m)[None, :]).ravel()
        self._fe = np.column_stack([unit, pd.factorize(month_bin)[0]])
        self._cell_weight = self._variance_weights()
        clusters = unit if self.cluster == "doctor_id" else pd.factorize(np.repeat(territory, n_m))[0]
        self._clusters = clusters

    def _rows(self, mask: np.ndarray | None = None) -> np.ndarray:
        keep = self._keep.copy()
        if mask is not None:
            keep &= mask.ravel()
        return keep

    def _demean(self, columns: list[np.ndarray], keep: np.ndarray) -> np.ndarray:
        """Sweep out the fixed effects (weighted) and scale rows by the square root of the weight."""
        from pyfixest.estimation import demean
        x = np.column_stack([c.ravel()[keep] for c in columns]).astype(np.float64)
        w = self._cell_weight[keep]
        out, _ = demean(np.ascontiguousarray(x), self._fe[keep].astype(np.uint64), w, tol=FIXEF_TOL)
        return out * np.sqrt(w)[:, None]

    def _variance_weights(self) -> np.ndarray:
        """Weights 1 / var(y_it) from a variance-by-size model (feasible GLS).

        Prescription counts are over-dispersed: their variance grows with a doctor's
        level, ``var_i = a m_i + b m_i**2`` (Poisson and gamma parts). The shift-share
        instruments lean on big, often-visited doctors, the noisiest ones; weighting by
        the inverse variance makes the IV several tens of percent more precise.
        """
        n, n_m = self._Y.shape
        if not self.weighted:
            return np.ones(n * n_m)
        self._cell_weight = np.ones(n * n_m)
        keep = self._rows()
        within = self._demean([self._Y], keep)[:, 0]
        unit = self._fe[keep, 0]
        variance = np.bincount(unit, weights=within ** 2, minlength=n) / np.maximum(np.bincount(unit, minlength=n), 1)
        level = np.bincount(unit, weights=self._Y.ravel()[keep], minlength=n) \
            / np.maximum(np.bincount(unit, minlength=n), 1)
        design = np.column_stack([level, level ** 2])
        coef = np.linalg.lstsq(design, variance, rcond=None)[0]
        fitted = np.maximum(design @ coef, max(0.05 * variance.mean(), 1e-6))
        return np.repeat(1 / fitted, n_m)

    def _regressor(self, decay: float, r: float) -> np.ndarray:
        return visit_adstock(saturation_curve(self._effective, r), decay)

    def _instruments(self, lead: bool = False) -> list[np.ndarray]:
        shifts = range(-1, self.lags + 1) if lead else range(self.lags + 1)
        return [_shift(shock, lag) for shock in self._shock.values() for lag in shifts]

    # ---------------------------------------------------------------- fit
    def fit(self, outcome: pd.DataFrame, counts: pd.DataFrame, capacity: pd.DataFrame, *,
            fe_model: VisitLift | None = None, y: str = "trx") -> VisitLiftIV:
        """Fit on the doctor × month panel, detailing counts and capacity instruments.

        Parameters
        ----------
        outcome : DataFrame
            Complete doctor × month panel: ``doctor_id, month, y, active, level_bin``
            (as for :class:`VisitLift`).
        counts : DataFrame
            ``detailing_<channel>`` per doctor and month
            (:func:`crmlab.features.attribution.detailing_by_channel`).
        capacity : DataFrame
            :func:`crmlab.features.capacity.capacity_instruments`.
        fe_model : VisitLift, optional
            The fixed-effects fit on the same data (fitted here when not given).
        y : str
            Outcome column.

        Returns
        -------
        self
        """
        unknown = set(self.instruments) - set(INSTRUMENT_GROUPS)
        if unknown:
            raise ValueError(f"VisitLiftIV: unknown instrument group(s) {sorted(unknown)}; "
                             f"choose from {sorted(INSTRUMENT_GROUPS)}")
        if self.cluster not in ("doctor_id", "territory_id"):
            raise ValueError(f"VisitLiftIV: cluster must be 'doctor_id' or 'territory_id', got {self.cluster!r}")
        self.fe_model_ = fe_model if fe_model is not None else VisitLift().fit(outcome, counts, y=y)
        self.saturation_ = float(self.fe_model_.saturation_)
        doctors = pd.Index(ids_as_str(outcome["doctor_id"]).unique())
        self.sampled_ = bool(self.max_units and len(doctors) > self.max_units)
        if self.sampled_:
            chosen = set(np.random.default_rng(self.random_state).choice(doctors, self.max_units, replace=False))
            outcome, counts, capacity = (frame[ids_as_str(frame["doctor_id"]).isin(chosen)]
                                         for frame in (outcome, counts, capacity))
        self._prepare(outcome, counts, capacity, y)
        keep = self._rows()
        data = self._demean([self._Y] + self._instruments(), keep)
        self._y_tilde, W = data[:, 0], data[:, 1:]
        self._q, _ = np.linalg.qr(W)
        self._W = W
        grid = np.linspace(0.0, 0.9, 10)
        values = [self._criterion(d) for d in grid]
        best = grid[int(np.argmin(values))]
        fit = optimize.minimize_scalar(self._criterion, bounds=(max(best - 0.1, 0.0), min(best + 0.1, 0.95)),
                                       method="bounded", options={"xatol": 1e-4})
        self.decay_ = float(fit.x)
        self.converged_ = bool(fit.success) and 1e-3 < self.decay_ < 0.95 - 1e-3
        if not self.converged_:
            warnings.warn(f"VisitLiftIV: the carry-over estimate sits on its bound ({self.decay_:.2f}); its "
                          "uncertainty is not propagated", stacklevel=2)
        x = self._demean([self._regressor(self.decay_, self.saturation_)], keep)[:, 0]
        self.beta_ = float(self._beta(x))
        self.n_obs_ = int(keep.sum())
        self.n_instruments_ = int(W.shape[1])
        self.instrument_groups_ = list(self._shock)
        self._first_stage(x)
        self._sandwich(x)
        self.results_ = self._results()
        del self._q, self._W, self._y_tilde  # the fit's projections: 1 GB at national scale
        return self

    def _beta(self, x: np.ndarray) -> float:
        px = self._q.T @ x
        return float(px @ (self._q.T @ self._y_tilde) / (px @ px))

    def _criterion(self, decay: float) -> float:
        x = self._demean([self._regressor(decay, self.saturation_)], self._rows())[:, 0]
        resid = self._q.T @ (self._y_tilde - self._beta(x) * x)
        return float(resid @ resid)

    def _first_stage(self, x: np.ndarray) -> None:
        self.first_stage_f_, resid = first_stage_f(x, self._W, self._clusters[self._keep])
        self.weak_instruments_ = self.first_stage_f_ < self.min_first_stage_f
        if self.weak_instruments_:
            warnings.warn(f"VisitLiftIV: weak instruments (first-stage F {self.first_stage_f_:.1f} < "
                          f"{self.min_first_stage_f:g}); keep the fixed-effects estimate", stacklevel=3)
        # control-function (Durbin-Wu-Hausman) test: does the first-stage residual explain y?
        coef, V, _ = two_stage_least_squares(self._y_tilde, np.column_stack([x, resid]),
                                             np.column_stack([x, resid]), self._clusters[self._keep])
        self.endogeneity_t_ = float(coef[1] / np.sqrt(V[1, 1]))
        self.endogeneity_p_value_ = float(2 * stats.norm.sf(abs(self.endogeneity_t_)))

    def _sandwich(self, x: np.ndarray) -> None:
        """Cluster-robust covariance of (beta, decay): nonlinear 2SLS as GMM."""
        h = 1e-4
        keep = self._rows()
        up = self._demean([self._regressor(min(self.decay_ + h, 0.99), self.saturation_)], keep)[:, 0]
        down = self._demean([self._regressor(max(self.decay_ - h, 0.0), self.saturation_)], keep)[:, 0]
        dx = (up - down) / (min(self.decay_ + h, 0.99) - max(self.decay_ - h, 0.0))
        G = np.column_stack([x, self.beta_ * dx]) if self.converged_ else x[:, None]
        resid = self._y_tilde - self.beta_ * x
        QG = self._q.T @ G
        bread = np.linalg.pinv(QG.T @ QG)
        scores = pd.DataFrame((self._q * resid[:, None])).groupby(self._clusters[self._keep]).sum().to_numpy()
        g = len(scores)
        meat = QG.T @ (scores.T @ scores * g / max(g - 1, 1)) @ QG
        vcov = bread @ meat @ bread
        if not self.converged_:
            vcov = np.array([[vcov[0, 0], 0.0], [0.0, 0.0]])
        self.vcov_ = vcov  # order: beta, decay

    def pyfixest_fit(self):
        """The 2SLS at the estimated decay in pyfixest's IV syntax, for whoever wants to go deeper.

        Its coefficient is ``beta_`` (a cross-check of the hand-written 2SLS). Built on
        demand, not kept: at national scale it holds about 1 GB.
        """
        import pyfixest as pf
        keep = self._rows()
        instruments = self._instruments()
        data = pd.DataFrame({"y": self._Y.ravel()[keep],
                             "x": self._regressor(self.decay_, self.saturation_).ravel()[keep],
                             "unit": self._fe[keep, 0], "month_bin": self._fe[keep, 1],
                             "cluster": self._clusters[keep], "weight": self._cell_weight[keep]})
        names = [f"z{j}" for j in range(len(instruments))]
        for name, z in zip(names, instruments):
            data[name] = z.ravel()[keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pf.feols(f"y ~ 1 | unit + month_bin | x ~ {' + '.join(names)}", data=data,
                            vcov={"CRV1": "cluster"}, weights="weight", fixef_tol=FIXEF_TOL)

    # ---------------------------------------------------------------- checks
    def _average_saturated(self) -> float:
        return float(saturation_curve(self._effective, self.saturation_).sum() / max(self._raw.sum(), 1))

    def _long_run(self, beta: float, se_beta: float, decay: float) -> dict:
        """Long-run effect per visit made at a fixed decay, and its interval."""
        scale = self._average_saturated() / (1 - decay)
        return interval(beta * scale, se_beta * scale, self.alpha)

    def dynamic_controls(self) -> dict:
        """Estimates with lagged outcomes (and their interaction with potential) as controls.

        The fixed-effects regression at the FE carry-over, and the IV at the IV
        carry-over, each with ``y_{t-1} ... y_{t-k}`` and ``y_{t-1} x potential``
        (potential: the doctor's mean outcome over the first six months, standardised)
        added; months before ``k`` dropped. Long-run effect per visit, conditional on
        carry-over and saturation.
        """
        k = self.dynamic_lags
        n_m = len(self._months)
        after = np.tile(np.arange(n_m) >= k, (len(self._doctors), 1))
        keep = self._rows(after)
        potential = self._Y[:, :6].mean(axis=1, keepdims=True)
        potential = (potential - potential.mean()) / max(potential.std(), 1e-12)
        lagged = [_shift(self._Y, lag) for lag in range(1, k + 1)] + [_shift(self._Y, 1) * potential]
        fe_decay = float(self.fe_model_.decay_)
        cols = self._demean([self._Y, self._regressor(fe_decay, self.saturation_),
                             self._regressor(self.decay_, self.saturation_)] + lagged + self._instruments(), keep)
        y, x_fe, x_iv, controls, W = cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3:3 + len(lagged)], \
            cols[:, 3 + len(lagged):]
        cluster = self._clusters[keep]
        X = np.column_stack([x_fe, controls])
        b_fe, V_fe, _ = two_stage_least_squares(y, X, X, cluster)
        X = np.column_stack([x_iv, controls])
        b_iv, V_iv, _ = two_stage_least_squares(y, X, np.column_stack([W, controls]), cluster)
        return {"fe": self._long_run(b_fe[0], np.sqrt(V_fe[0, 0]), fe_decay),
                "iv": self._long_run(b_iv[0], np.sqrt(V_iv[0, 0]), self.decay_)}

    def lead_placebo(self) -> dict:
        """Coefficient of next month's (saturated) visits on this month's outcome.

        Visits next month cannot cause prescriptions this month. Under demand-chasing
        they "predict" them in the fixed-effects regression (reps come back after a
        good month, and good months persist); under a valid design the coefficient is
        near zero. FE: OLS with the lead added. IV: the lead instrumented by next
        month's capacity shocks. In prescriptions per visit, as ``first_visit_same_month``.
        """
        last = np.tile(np.arange(len(self._months)) < len(self._months) - 1, (len(self._doctors), 1))
        keep = self._rows(last)
        lead = _shift(saturation_curve(self._effective, self.saturation_), -1)
        cols = self._demean([self._Y, self._regressor(float(self.fe_model_.decay_), self.saturation_),
                             self._regressor(self.decay_, self.saturation_), lead]
                            + self._instruments(lead=True), keep)
        y, x_fe, x_iv, lead_, W = cols[:, 0], cols[:, 1], cols[:, 2], cols[:, 3], cols[:, 4:]
        cluster = self._clusters[keep]
        X = np.column_stack([x_fe, lead_])
        b_fe, V_fe, _ = two_stage_least_squares(y, X, X, cluster)
        X = np.column_stack([x_iv, lead_])
        b_iv, V_iv, _ = two_stage_least_squares(y, X, W, cluster)
        return {"fe": interval(b_fe[1], np.sqrt(V_fe[1, 1]), self.alpha),
                "iv": interval(b_iv[1], np.sqrt(V_iv[1, 1]), self.alpha)}

    def _delta(self, func) -> tuple[float, float]:
        h = 1e-5
        theta = np.array([self.beta_, self.decay_])
        grad = np.array([(func(*(theta + h * e)) - func(*(theta - h * e))) / (2 * h) for e in np.eye(2)])
        return float(func(*theta)), float(np.sqrt(max(grad @ self.vcov_ @ grad, 0.0)))

    def _results(self) -> VisitLiftIVResults:
        avg = self._average_saturated()
        rows = []

        def add(name, estimate, std_error, meaning):
            rows.append({"effect": name, **interval(estimate, std_error, self.alpha), "meaning": meaning})

        add("per_visit_long_run", *self._delta(lambda b, d: b * avg / (1 - d)),
            "all months summed, per completed visit made (IV: capacity shocks)")
        add("per_visit_same_month", *self._delta(lambda b, d: b * avg),
            "prescriptions added in the month of the visit, per completed visit made (IV)")
        add("first_visit_long_run", *self._delta(lambda b, d: b / (1 - d)),
            "first face-to-face visit of a month, all months (IV)")
        add("carryover", *self._delta(lambda b, d: d), "share of a month's visit effect still working next month (IV)")
        fe = self.fe_model_.results_.effect("per_visit_long_run")
        iv = rows[0]
        add("fe_per_visit_long_run", fe["estimate"], fe["std_error"],
            "the fixed-effects estimate (within-doctor variation, all of it)")
        # Hausman: under no demand-chasing FE is efficient, so var(IV - FE) = var(IV) - var(FE)
        variance = iv["std_error"] ** 2 - fe["std_error"] ** 2
        hausman_ok = variance > 0
        diff_se = np.sqrt(variance if hausman_ok else iv["std_error"] ** 2 + fe["std_error"] ** 2)
        add("fe_minus_iv", fe["estimate"] - iv["estimate"], diff_se,
            "how much the fixed-effects estimate exceeds the IV one (Hausman-type)")
        dynamic = self.dynamic_controls()
        add("fe_dynamic_per_visit_long_run", dynamic["fe"]["estimate"], dynamic["fe"]["std_error"],
            "fixed effects with lagged outcomes as controls")
        add("iv_dynamic_per_visit_long_run", dynamic["iv"]["estimate"], dynamic["iv"]["std_error"],
            "IV with lagged outcomes as controls")
        placebo = self.lead_placebo()
        add("lead_fe", placebo["fe"]["estimate"], placebo["fe"]["std_error"],
            "placebo: next month's visits on this month's prescriptions, fixed effects (should be 0)")
        add("lead_iv", placebo["iv"]["estimate"], placebo["iv"]["std_error"],
            "placebo: next month's visits on this month's prescriptions, IV (should be 0)")
        effects = pd.DataFrame(rows)
        z = (fe["estimate"] - iv["estimate"]) / diff_se
        diagnostics = {
            "alpha": self.alpha, "first_stage_f": self.first_stage_f_,
            "weak_instruments": bool(self.weak_instruments_),
            "min_first_stage_f": self.min_first_stage_f, "n_instruments": self.n_instruments_,
            "instrument_groups": self.instrument_groups_, "lags": self.lags,
            "endogeneity_p_value": self.endogeneity_p_value_,
            "hausman_statistic": float(z ** 2), "hausman_p_value": float(stats.chi2.sf(z ** 2, 1)),
            "hausman_variance_difference_positive": bool(hausman_ok),
            "decay": self.decay_, "fe_decay": float(self.fe_model_.decay_), "saturation": self.saturation_,
            "stop_months": self.stop_months,
            "channel_weights": dict(self.fe_model_.channel_weights_), "n_obs": self.n_obs_,
            "n_doctors": int(len(self._doctors)), "cluster": self.cluster, "converged": self.converged_,
            "dynamic_moved_fe": dynamic["fe"]["estimate"] / fe["estimate"] - 1,
            "dynamic_moved_iv": dynamic["iv"]["estimate"] / iv["estimate"] - 1,
        }
        method = (
            "Panel instrumental variables: prescriptions on the adstock of saturated, channel-weighted detailing "
            "visits with doctor and month x size-bin fixed effects, the visits instrumented by capacity shocks of the "
            f"doctor's territory ({', '.join(self.instrument_groups_)}; current and {self.lags} lagged months, each "
            "times the doctor's usual visits): variation in visits reps do not choose. Carry-over profiled by "
            "nonlinear 2SLS; saturation and channel weights from the fixed-effects fit. Cluster-robust "
            f"({self.cluster}) GMM sandwich, delta method for derived effects; the last {self.stop_months} active "
            "months of doctors who stop prescribing are left out (months without visits can make a doctor lapse, a "
            "retention effect that is not visit lift). The first-stage F (instrument strength), a lead placebo and "
            "lagged-outcome controls as checks.")
        return VisitLiftIVResults(effects=effects, diagnostics=diagnostics, method=method)
