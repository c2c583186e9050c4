"""``ChannelForecaster``: backtest the base models, choose, reconcile, forecast.

``fit`` runs four steps, each a method:

1. :meth:`~ChannelForecaster._backtest_base` — every candidate model at every rolling
   origin, scored by MASE, sMAPE and interval coverage;
2. :meth:`~ChannelForecaster._choose_models` — per group (level × measure × intermittent)
   or per series, the simplest model within ``tolerance`` of the best (ties reported);
   the inventory identity for sell-in is backtested here, on the chosen sell-out model;
3. :meth:`~ChannelForecaster._backtest_reconciliation` — bottom-up and MinT on the chosen
   base forecasts, the choice between them, and the conformal calibration of their
   intervals from the backtest errors;
4. :meth:`~ChannelForecaster._forecast` — the chosen models on every month, reconciled,
   with the calibrated intervals.

Only the flows the panel has are forecast: sell-out, sell-in or both. The inventory
identity needs all three of sell-out, sell-in and stock.

Intervals of the reconciled forecast are split-conformal: the ``1 - alpha`` quantile of
the backtest's absolute errors, scaled by each series' MASE scale, per measure, level
and month ahead, ``ỹ ± q_h · scale``. Their coverage in the backtest is measured by
leaving each origin out of the calibration in turn.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmlab.features.forecast import hierarchy_series, summing_matrix
from crmlab.models.forecast.base import (BASELINES, COMBINED, DEFAULT_MODELS, INTERMITTENT_MODELS, MODELS, PREFERENCE,
                                         BaseForecast, base_forecasts, mean_forecast, stacked_forecast)
from crmlab.models.forecast.identity import identity_sell_in
from crmlab.models.forecast.reconciliation import RECONCILIATIONS, reconcile
from crmlab.models.forecast.intervals import conformal_half_widths, leave_one_origin_out_coverage
from crmlab.models.forecast.scoring import choose_model, forecast_scores, mase_scale, rolling_origins

FORECAST_MEASURES = ("sell_out", "sell_in")


class ChannelForecaster:
    """Backtested, reconciled sell-out and sell-in forecasts for the channel hierarchy.

    Parameters
    ----------
    horizon_months : int
        Months forecast after the last month of data.
    models : tuple of str
        Candidate base models, of ``MODELS`` (default ``DEFAULT_MODELS``: all but AutoARIMA);
        intermittent ones only run on sparse series.
    n_origins, origin_step : int
        Backtest origins: every one that leaves the full horizon to score, spaced
        ``origin_step`` months apart; the latest ``n_origins`` of them (0: all).
    min_train_months : int
        Shortest history a backtest origin may have.
    alpha : float
        Intervals cover ``1 - alpha`` (0.2: 80 % intervals).
    selection : {"group", "series"}
        Choose the model per group (level × measure × intermittent) or per series.
    tolerance : float
        Backtest MASEs within this relative distance of the best are ties, broken by
        ``PREFERENCE`` (simplest first); the same rule chooses the reconciliation.
    reconciliation : {"auto", "mint", "bottom_up"}
        ``auto`` keeps, per measure, the method with the lower backtest MASE.
    intermittent_zero_share : float
        A series with at least this share of zero months is intermittent.
    window : int
        Months in the trailing sell-out average behind days on hand.
    choice_sample : int
        With ``selection="group"``, a group of more series than this chooses its model on
        a seeded random sample of this many: the models that take time (ETS, ARIMA, pooled
        seasonality, the combination) are backtested on the sample only, and the chosen
        one then on every series (reconciliation and intervals need them all). The rules
        (naive, seasonal naive, moving average, Croston, TSB) always run on every series.
        0: every series.
    random_state : int
        Seed of that sample.

    Attributes
    ----------
    keys_ : DataFrame
        The series of the hierarchy.
    backtest_ : DataFrame
        ``model, level, measure, mase, smape, coverage, n_series`` (reconciled methods
        appear as ``reconciled_bottom_up`` and ``reconciled_mint``).
    choice_ : DataFrame
        The chosen base model per series, with its backtest MASE, the seasonal naive's and
        the models it tied with.
    ties_ : DataFrame
        ``measure, group, chosen, tied_with, best, mase_chosen, mase_best``: the choices
        where other models scored within the tolerance.
    reconciliation_ : dict
        The reconciliation method used per measure.
    measures_ : list of str
        The flows forecast (those the panel has).
    identity_ : bool
        Whether sell-in was also forecast through the inventory identity.
    intervals_ : DataFrame
        ``measure, level, month_ahead, scaled_half_width, n_errors, coverage``: the
        conformal calibration of the reconciled intervals, with its leave-one-origin-out
        backtest coverage.
    forecast_ : DataFrame
        ``level, distributor_id, region, product_id, month, measure, model, forecast,
        lower, upper`` (reconciled; conformal interval).
    base_forecast_ : DataFrame
        Same columns, unreconciled.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.forecast import forecast_panel
    >>> t = simulate("sample", seed=1).tables
    >>> panel = forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"])
    >>> fc = ChannelForecaster(horizon_months=3, models=("seasonal_naive", "naive")).fit(panel)
    >>> sorted(fc.forecast_["level"].unique())
    ['distributor', 'national', 'region']
    """

    def __init__(self, horizon_months: int = 6, models: tuple = DEFAULT_MODELS, n_origins: int = 12,
                 origin_step: int = 2, min_train_months: int = 24, alpha: float = 0.2,
                 selection: str = "group", tolerance: float = 0.05, reconciliation: str = "auto",
                 intermittent_zero_share: float = 0.3, window: int = 3, choice_sample: int = 100,
                 random_state: int = 0):
        self.horizon_months = horizon_months
        self.models = models
        self.n_origins = n_origins
        self.origin_step = origin_step
        self.min_train_months = min_train_months
        self.alpha = alpha
        self.selection = selection
        self.tolerance = tolerance
        self.reconciliation = reconciliation
        self.intermittent_zero_share = intermittent_zero_share
        self.window = window
        self.choice_sample = choice_sample
        self.random_state = random_state

    # -------------------------------------------------------------- checks and set-up
    def _check(self, panel: pd.DataFrame) -> None:
        missing = [c for c in ("distributor_id", "region", "product_id", "month") if c not in panel]
        if missing or not any(m in panel for m in FORECAST_MEASURES):
            raise ValueError(f"the forecast panel lacks column(s) {missing or 'sell_out or sell_in'}; build it "
                             "with crmlab.features.forecast.forecast_panel")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; choose from {MODELS}")
        if self.selection not in ("group", "series"):
            raise ValueError(f"selection must be 'group' or 'series', got {self.selection!r}")
        if self.reconciliation not in ("auto",) + RECONCILIATIONS:
            raise ValueError(f"reconciliation must be 'auto', 'mint' or 'bottom_up', got {self.reconciliation!r}")
        if self.horizon_months < 1:
            raise ValueError(f"horizon_months must be at least 1, got {self.horizon_months}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.choice_sample < 0:
            raise ValueError(f"choice_sample must be at least 0, got {self.choice_sample}")
        if self.tolerance < 0:
            raise ValueError(f"tolerance must be at least 0, got {self.tolerance}")

    def _setup(self, panel: pd.DataFrame) -> None:
        """Series, months, summing matrix, origins, candidate models, groups and pools."""
        self.measures_ = [m for m in FORECAST_MEASURES if m in panel]
        self.identity_ = len(self.measures_) == 2 and "inventory" in panel and bool(panel["inventory"].notna().any())
        flows = self.measures_ + (["inventory"] if self.identity_ else [])
        self.keys_, self.months_, self.values_ = hierarchy_series(panel, flows)
        self.summing_matrix_ = summing_matrix(self.keys_)
        self.origins_ = rolling_origins(len(self.months_), self.horizon_months, self.n_origins,
                                        self.origin_step, self.min_train_months)
        level_of = self.keys_["level"].to_numpy()
        national = self.keys_[self.keys_["level"] == "national"]
        # each series pools its seasonality with its product's national total
        self._pool_rows = self.keys_["product_id"].map(pd.Series(national.index, index=national["product_id"])) \
            .to_numpy(int)
        self.candidates_, self.groups_, self._choosers = {}, {}, {}
        for measure in self.measures_:
            sparse = (self.values_[measure] <= 0).mean(axis=1) >= self.intermittent_zero_share
            self.groups_[measure] = np.char.add(level_of.astype(str), np.where(sparse, "|intermittent", ""))
            chooser = self._choosers[measure] = self._choice_rows(self.groups_[measure])
            self.candidates_[measure] = {m: (sparse if m in INTERMITTENT_MODELS else
                                             np.ones_like(sparse) if m in BASELINES else chooser)
                                         for m in self.models}
            self.candidates_[measure] = {m: mask for m, mask in self.candidates_[measure].items() if mask.any()}
        if self.identity_:
            self.candidates_["sell_in"].setdefault("identity", np.ones(len(self.keys_), bool))

    def _choice_rows(self, groups: np.ndarray) -> np.ndarray:
        """The series that choose the model: all, or a seeded sample of each large group."""
        rows = np.ones(len(groups), bool)
        if self.selection != "group" or not self.choice_sample:
            return rows
        rng = np.random.default_rng(self.random_state)
        for name in np.unique(groups):
            members = np.flatnonzero(groups == name)
            if len(members) > self.choice_sample:
                rows[members] = False
                rows[np.sort(rng.choice(members, self.choice_sample, replace=False))] = True
        return rows

    # -------------------------------------------------------------- forecasting helpers
    def _forecast_all(self, values, months, horizon, candidates) -> dict:
        """Base forecasts of every candidate (but the identity) for each measure."""
        return self._forecast_blocks([values], [months], horizon, candidates)[0]

    def _forecast_blocks(self, values_list, months_list, horizon, candidates) -> list[dict]:
        """:meth:`_forecast_all` of several training windows, each model run once over all of them."""
        outs = [{} for _ in values_list]
        for measure in candidates:
            ys = [values[measure] for values in values_list]
            pools = [y[self._pool_rows] for y in ys]

            def blocks(mask):
                return [(y[mask], months, pool[mask]) for y, months, pool in zip(ys, months_list, pools)]

            for model, mask in candidates[measure].items():
                if model in ("identity", "combination"):
                    continue
                fcs = base_forecasts(blocks(mask), horizon, model, alpha=self.alpha, window=self.window)
                for out, fc in zip(outs, fcs):
                    out[(measure, model)] = (mask, fc)
            mask = candidates[measure].get("combination")
            if mask is not None:
                parts = []
                for model in COMBINED:
                    done = outs[0].get((measure, model))
                    parts.append([out[(measure, model)][1].rows(mask[done[0]]) for out in outs]
                                 if done is not None and not (mask & ~done[0]).any() else
                                 base_forecasts(blocks(mask), horizon, model, alpha=self.alpha, window=self.window))
                for k, out in enumerate(outs):
                    out[(measure, "combination")] = (mask, mean_forecast([part[k] for part in parts]))
        return outs

    def _identity(self, values, months, forecasts) -> BaseForecast:
        sell_out = self._assemble(forecasts, "sell_out", self.chosen_["sell_out"])
        return identity_sell_in(values["sell_out"], values["inventory"], values["sell_in"], months, sell_out,
                                alpha=self.alpha, window=self.window)

    @staticmethod
    def _assemble(forecasts, measure, chosen: np.ndarray) -> BaseForecast:
        """One BaseForecast with, per series, the chosen model's rows."""
        first = next(fc for (m, _), (_, fc) in forecasts.items() if m == measure)
        n, horizon = len(chosen), first.point.shape[1]
        n_m = first.residuals.shape[1]
        parts = [np.full((n, horizon), np.nan) for _ in range(3)] + [np.full((n, n_m), np.nan)]
        for (m, model), (mask, fc) in forecasts.items():
            if m != measure:
                continue
            rows = np.flatnonzero(mask)
            take = chosen[rows] == model
            for part, source in zip(parts, (fc.point, fc.lower, fc.upper, fc.residuals)):
                part[rows[take]] = source[take]
        return BaseForecast(*parts)

    @staticmethod
    def _score_frame(rows, measure, model, origin, actual, fc: BaseForecast, scale) -> pd.DataFrame:
        sc = forecast_scores(actual, fc.point, fc.lower, fc.upper, scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a series with no scale (all zero): NaN
            return pd.DataFrame({"series": rows, "measure": measure, "model": model, "origin": origin,
                                 **{k: np.nanmean(v, axis=1) for k, v in sc.items()}})

    # -------------------------------------------------------------- the four steps
    def _backtest_base(self) -> None:
        """Step 1: every candidate model at every origin."""
        records, self._per_origin = [], []
        trains = [{m: v[:, :origin] for m, v in self.values_.items()} for origin in self.origins_]
        all_fcs = self._forecast_blocks(trains, [self.months_[:origin] for origin in self.origins_],
                                        self.horizon_months, self.candidates_)
        for origin, train, fcs in zip(self.origins_, trains, all_fcs):
            actual = {m: v[:, origin:origin + self.horizon_months] for m, v in self.values_.items()}
            self._per_origin.append((origin, train, actual, fcs))
            for (measure, model), (mask, fc) in fcs.items():
                records.append(self._score_frame(np.flatnonzero(mask), measure, model, origin,
                                                 actual[measure][mask], fc, mase_scale(train[measure][mask])))
        self._scores = pd.concat(records, ignore_index=True)

    def _choose_models(self) -> None:
        """Step 2: sell-out model, identity backtest on it, then sell-in model."""
        self.chosen_, self._ties = {}, []
        if "sell_out" in self.measures_:
            self.chosen_["sell_out"] = self._choose("sell_out")
            self._backtest_chosen("sell_out")
        if self.identity_:
            records = []
            for origin, train, actual, fcs in self._per_origin:
                fc = self._identity(train, self.months_[:origin], fcs)
                fcs[("sell_in", "identity")] = (np.ones(len(self.keys_), bool), fc)
                records.append(self._score_frame(np.arange(len(self.keys_)), "sell_in", "identity", origin,
                                                 actual["sell_in"], fc, mase_scale(train["sell_in"])))
            self._scores = pd.concat([self._scores, *records], ignore_index=True)
        if "sell_in" in self.measures_:
            self.chosen_["sell_in"] = self._choose("sell_in")
            self._backtest_chosen("sell_in")

    def _backtest_chosen(self, measure: str) -> None:
        """The chosen models' backtest on the series outside the choice sample."""
        rest, chosen = ~self._choosers[measure], self.chosen_[measure]
        todo = {model: rest & (chosen == model) for model in np.unique(chosen[rest])
                if model not in BASELINES + INTERMITTENT_MODELS + ("identity",)}  # those ran on every series
        if not todo:
            return
        more = self._forecast_blocks([train for _, train, _, _ in self._per_origin],
                                     [self.months_[:origin] for origin, *_ in self._per_origin],
                                     self.horizon_months, {measure: todo})
        records = []
        for (origin, train, actual, fcs), extra in zip(self._per_origin, more):
            for key, (mask, fc) in extra.items():
                old_mask, old = fcs[key]
                order = np.argsort(np.concatenate([np.flatnonzero(old_mask), np.flatnonzero(mask)]), kind="stable")
                fcs[key] = (old_mask | mask, stacked_forecast([old, fc]).rows(order))
                records.append(self._score_frame(np.flatnonzero(mask), measure, key[1], origin,
                                                 actual[measure][mask], fc, mase_scale(train[measure][mask])))
        self._scores = pd.concat([self._scores, *records], ignore_index=True)

    def _choose(self, measure: str) -> np.ndarray:
        mine = self._scores[self._scores["measure"] == measure]
        per_series = mine.groupby(["series", "model"])["abs_scaled_error"].mean().unstack()
        n = len(self.keys_)
        chosen = np.empty(n, dtype=object)
        if self.selection == "series":
            for i in range(n):
                chosen[i], _ = choose_model(per_series.loc[i] if i in per_series.index else pd.Series(dtype=float),
                                            self.tolerance)
            return chosen
        group = pd.Series(self.groups_[measure])
        chooser = self._choosers[measure]
        for name, rows in group.groupby(group).groups.items():
            means = per_series.reindex(rows[chooser[rows]]).mean(skipna=True)
            chosen[np.asarray(rows)], tied = choose_model(means, self.tolerance)
            if len(tied) > 1:
                best = means.idxmin()
                self._ties.append({"measure": measure, "group": name, "chosen": tied[0],
                                   "tied_with": tied[1:], "best": best,
                                   "mase_chosen": float(means[tied[0]]), "mase_best": float(means[best])})
        return chosen

    def _backtest_reconciliation(self) -> None:
        """Step 3: bottom-up and MinT on the chosen base forecasts, conformal intervals, the choice."""
        bottom_rows = np.flatnonzero(self.keys_["level"].to_numpy() == "distributor")
        level_of = self.keys_["level"].to_numpy()
        records, self._calibration = [], {}
        for measure in self.measures_:
            for method in RECONCILIATIONS:
                points, errors = [], []
                for origin, train, actual, fcs in self._per_origin:
                    base = self._assemble(fcs, measure, self.chosen_[measure])
                    rec = reconcile(base.point, self.summing_matrix_, method, base.residuals, bottom_rows)
                    scale = mase_scale(train[measure])
                    points.append(rec)
                    errors.append(np.abs(actual[measure] - rec) / scale[:, None])
                errors = np.stack(errors)  # origins × series × months ahead
                covered = leave_one_origin_out_coverage(errors, level_of, self.alpha)
                self._calibration[(measure, method)] = conformal_half_widths(errors, covered, level_of, self.alpha)
                for k, (origin, train, actual, _) in enumerate(self._per_origin):
                    frame = self._score_frame(np.arange(len(self.keys_)), measure, f"reconciled_{method}", origin,
                                              actual[measure], BaseForecast(points[k], points[k], points[k], None),
                                              mase_scale(train[measure]))
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)  # series without a scale
                        frame["covered"] = np.nanmean(covered[k], axis=1) if covered is not None else np.nan
                    records.append(frame)
        scores = pd.concat([self._scores, *records], ignore_index=True)
        scores["level"] = level_of[scores["series"].to_numpy()]
        self.scores_ = scores
        self.backtest_ = (scores.groupby(["model", "level", "measure"], sort=False)
                          .agg(mase=("abs_scaled_error", "mean"), smape=("smape", "mean"),
                               coverage=("covered", "mean"), n_series=("series", "nunique"))
                          .reset_index())
        self.reconciliation_ = {}
        for measure in self.measures_:
            if self.reconciliation != "auto":
                self.reconciliation_[measure] = self.reconciliation
                continue
            rec = scores[(scores["measure"] == measure) & scores["model"].str.startswith("reconciled_")]
            by_level = rec.groupby(["model", "level"])["abs_scaled_error"].mean().groupby("model").mean()
            chosen, _ = choose_model(by_level.rename(lambda m: m.removeprefix("reconciled_")), self.tolerance,
                                     RECONCILIATIONS)
            self.reconciliation_[measure] = chosen
        self.intervals_ = pd.concat([self._calibration[(m, self.reconciliation_[m])].assign(measure=m)
                                     for m in self.measures_], ignore_index=True)[
            ["measure", "level", "month_ahead", "scaled_half_width", "n_errors", "coverage"]]

    def _forecast(self) -> None:
        """Step 4: the chosen models on every month, reconciled, with conformal intervals."""
        candidates = {m: {model: self.chosen_[m] == model for model in np.unique(self.chosen_[m])}
                      for m in self.measures_}
        fcs = self._forecast_all(self.values_, self.months_, self.horizon_months, candidates)
        if self.identity_ and "identity" in candidates["sell_in"]:
            fcs[("sell_in", "identity")] = (np.ones(len(self.keys_), bool),
                                            self._identity(self.values_, self.months_, fcs))
        future = pd.date_range(self.months_[-1] + pd.offsets.MonthBegin(1), periods=self.horizon_months, freq="MS")
        level_of = self.keys_["level"].to_numpy()
        bottom_rows = np.flatnonzero(level_of == "distributor")
        frames, base_frames = [], []
        for measure in self.measures_:
            base = self._assemble(fcs, measure, self.chosen_[measure])
            method = self.reconciliation_[measure]
            rec = reconcile(base.point, self.summing_matrix_, method, base.residuals, bottom_rows)
            shift = rec - base.point
            calibration = self._calibration[(measure, method)].set_index(["level", "month_ahead"])
            q = np.array([[calibration.at[(level, h + 1), "scaled_half_width"] for h in range(self.horizon_months)]
                          for level in level_of])
            half = q * mase_scale(self.values_[measure])[:, None]
            # where no error could be scaled (a constant series), the base model's interval, shifted
            lower = np.where(np.isfinite(half), rec - half, base.lower + shift)
            upper = np.where(np.isfinite(half), rec + half, base.upper + shift)
            base_frames.append(self._long(future, measure, base.point, base.lower, base.upper))
            frames.append(self._long(future, measure, rec, np.clip(lower, 0, None), np.clip(upper, 0, None)))
        self.forecast_ = pd.concat(frames, ignore_index=True)
        self.base_forecast_ = pd.concat(base_frames, ignore_index=True)

    # -------------------------------------------------------------- fit
    def fit(self, panel: pd.DataFrame, y=None) -> ChannelForecaster:
        """Backtest, choose, fit on all months, forecast and reconcile."""
        self._check(panel)
        self._setup(panel)
        self._backtest_base()
        self._choose_models()
        self._backtest_reconciliation()
        self._forecast()
        self.ties_ = pd.DataFrame(self._ties, columns=["measure", "group", "chosen", "tied_with", "best",
                                                       "mase_chosen", "mase_best"])
        self.choice_ = self._choice_table()
        del self._per_origin, self._scores, self._ties, self._calibration, self._choosers
        return self

    def _choice_table(self) -> pd.DataFrame:
        base = self.scores_[~self.scores_["model"].str.startswith("reconciled_")]
        per_series = base.groupby(["measure", "series", "model"])["abs_scaled_error"].mean()
        ties = {(t.measure, t.group): ", ".join(t.tied_with) for t in self.ties_.itertuples()}
        rows = []
        for measure in self.measures_:
            table = per_series.loc[measure].unstack()
            chosen = self.chosen_[measure]
            frame = self.keys_[["series_id", "level", "region", "distributor_id", "product_id"]].copy()
            frame["measure"] = measure
            frame["group"] = self.groups_[measure]
            frame["model"] = chosen
            frame["tied_with"] = [ties.get((measure, g), "") for g in self.groups_[measure]]
            frame["mase_chosen"] = [table.at[i, m] if m in table else np.nan for i, m in enumerate(chosen)]
            frame["mase_seasonal_naive"] = table["seasonal_naive"].reindex(range(len(self.keys_))).to_numpy() \
                if "seasonal_naive" in table else np.nan
            rows.append(frame)
        return pd.concat(rows, ignore_index=True)

    def _long(self, future, measure, point, lower, upper) -> pd.DataFrame:
        n, horizon = point.shape
        frame = self.keys_.loc[self.keys_.index.repeat(horizon), ["level", "distributor_id", "region",
                                                                  "product_id"]].reset_index(drop=True)
        frame["month"] = np.tile(future.to_numpy(), n)
        frame["measure"] = measure
        frame["model"] = np.repeat(self.chosen_[measure], horizon)
        frame["forecast"] = point.ravel()
        frame["lower"] = lower.ravel()
        frame["upper"] = upper.ravel()
        return frame

    # -------------------------------------------------------------- summaries
    def summary(self) -> dict:
        """Chosen models, ties and backtest accuracy against seasonal naive, per level and measure.

        Examples
        --------
        >>> fc.summary()["reconciliation"]  # doctest: +SKIP
        {'sell_out': 'mint', 'sell_in': 'bottom_up'}
        """
        chosen = (self.choice_.groupby(["measure", "level", "model"]).size().rename("n_series")
                  .reset_index())
        bt = self.backtest_.set_index(["model", "level", "measure"])["mase"]
        accuracy = []
        for (measure, level), rows in self.choice_.groupby(["measure", "level"]):
            rec = f"reconciled_{self.reconciliation_[measure]}"
            accuracy.append({"measure": measure, "level": level,
                             "mase_chosen": float(rows["mase_chosen"].mean()),
                             "mase_reconciled": float(bt.get((rec, level, measure), np.nan)),
                             "mase_seasonal_naive": float(rows["mase_seasonal_naive"].mean())})
        coverage = (self.intervals_.groupby(["measure", "level"], sort=False)["coverage"].mean()
                    .rename("coverage").reset_index().assign(nominal=1 - self.alpha))
        return {"horizon_months": self.horizon_months, "measures": list(self.measures_),
                "backtest_origins": [str(self.months_[o - 1].date()) for o in self.origins_],
                "selection": {"by": self.selection, "tolerance": self.tolerance,
                              "preference": [m for m in PREFERENCE if m in self.models or m == "identity"]},
                "selection_ties": self.ties_.to_dict(orient="records"),
                "reconciliation": self.reconciliation_,
                "chosen_models": chosen.to_dict(orient="records"),
                "interval_coverage": coverage[["measure", "level", "nominal", "coverage"]].to_dict(orient="records"),
                "backtest_vs_seasonal_naive": accuracy}
