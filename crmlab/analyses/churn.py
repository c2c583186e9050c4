"""Churn early warning: which doctors or accounts are about to be lost, and why.

An entity is *active* if it had volume in at least ``min_active_months`` of the
``active_months`` months up to ``as_of``; it *churns* if its volume in the
``horizon_months`` months after ``as_of`` is zero. With enough history
(``active_months + 2 × horizon_months`` months up to ``as_of``) a time-split backtest
compares two rules, calibrated boosting and logistic regression and a Cox model, and the
learned model with the best ROC AUC scores the active entities. With less, nothing can
be backtested: the BG/NBD model, fitted on the purchase history as it is, gives each
active entity's probability of no purchase over the horizon, and the rules give the
reasons. Either way a BG/NBD fitted in ``time_unit`` gives each one's probability of
being alive and expected purchase occasions over the horizon, and, when the history
holds a horizon before ``as_of``, its forecast is checked against what happened.
"""

from __future__ import annotations

import dataclasses
import functools

import pandas as pd

from crmlab.analyses.base import (
    AnalysisResult,
    ParameterError,
    Params,
    check_params,
    load_data,
    param,
    rejects_summary,
)
from crmlab.features.churn import (
    LEVELS,
    TIME_UNITS,
    ChurnHistory,
    churn_history,
    data_grain,
    default_as_of,
    horizon_length,
    occasions_between,
    parse_date,
    resolve_time_unit,
    rfm_at,
)
from crmlab.features.common import own_product_ids
from crmlab.distributed import on_backend
from crmlab.io import Dataset
from crmlab.models.churn import (
    BGNBD,
    ChurnBacktest,
    ChurnScores,
    backtest_months_needed,
    churn_backtest,
    fit_bgnbd,
    lapse_durations,
    retention_curves,
    risk_by_group,
    score_churn,
)

GRADES = {5.0: "3A", 4.0: "3B", 3.0: "2A", 2.0: "2B", 1.0: "1", 0.0: "none"}


@dataclasses.dataclass(frozen=True)
class ChurnParams(Params):
    """Parameters of the churn early warning (``params/churn.yaml``)."""

    level: str = param("doctor", "doctor (volume = prescriptions) or account (sales, else prescriptions "
                                 "per account)", choices=LEVELS)
    product_id: str | list | None = param(None, "one ID or a list; None = all own products")
    as_of: str = param("", "YYYY-MM-DD or YYYY-MM (= its last day); '' = end of the last complete month")
    active_months: int = param(6, "active = volume in >= min_active_months of the active_months up to as_of")
    min_active_months: int = param(3, "months with volume needed to be active")
    horizon_months: int = param(3, "churn = zero volume in the horizon_months after as_of")
    churn_share: float = param(0.0, "> 0: churn = horizon volume below this share of the trailing average")
    train_origins: int = param(12, "monthly snapshots stacked to train each model")
    alert_threshold: float = param(0.3, "risk above which an entity is on an alert list")
    win_back_months: int = param(2, "alerts with no volume for this many months go on the win-back list, "
                                    "the others on the early-warning list")
    top_k: int = param(20, "precision in the top k of the backtest")
    max_train_rows: int | None = param(300000, "above this many training snapshots, train on a seeded "
                                               "subsample of whole entities (None = no limit)")
    time_unit: str = param("auto", "unit of purchase occasions for the BG/NBD: day, week, month, or auto "
                                   "(the finest the data has)", choices=("auto", *TIME_UNITS))


@dataclasses.dataclass
class ChurnResult(AnalysisResult):
    """What the churn early warning found.

    Attributes
    ----------
    definition : dict
        Level, volume source, products, as_of, windows, the churn definition, time unit.
    history : ChurnHistory
        The month grids everything was read from (nothing after ``as_of``).
    as_of : Timestamp
    backtest : ChurnBacktest or None
        None when the history is too short (``backtest_status`` says why).
    backtest_status : dict
        ``ran``, ``origins`` (monthly training origins), ``months_needed`` and
        ``months_available``; ``summary()["backtest"]["note"]`` says in words why, and what
        it means for trust in the ranking.
    scored : ChurnScores
        The fitted scoring model, BG/NBD, scores, feature values and contributions.
    by_territory : DataFrame
        Entities, alerts, mean risk and expected volume lost per territory.
    curves : dict of DataFrame
        Kaplan–Meier retention by ``grade`` and by early-volume ``segment``.
    bgnbd_check : dict or None
        BG/NBD fitted one horizon before ``as_of``: expected against actual purchase
        occasions over the following horizon (None when the history is too short).
    notes : list of str
    places : DataFrame
        ``region`` and ``territory_id`` per entity_id (for the lists and their filters).
    """

    definition: dict
    history: ChurnHistory
    as_of: pd.Timestamp
    backtest: ChurnBacktest | None
    backtest_status: dict
    scored: ChurnScores
    by_territory: pd.DataFrame
    curves: dict
    bgnbd_check: dict | None
    notes: list
    places: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    @property
    def p_alive_suits(self) -> bool:
        """Whether the BG/NBD's p_alive suits the data: irregular purchase occasions (by day or week)."""
        return self.scored.bgnbd is not None and self.scored.time_unit in ("day", "week")

    @functools.cached_property
    def _tables(self) -> dict[str, pd.DataFrame]:
        # the reasons in words and the published tables are reporting's (imported here,
        # as AnalysisResult.save imports the writer, so that analyses never import
        # reporting at module level)
        from crmlab.reporting.churn import churn_reasons, churn_tables

        scored = self.scored
        reasons = churn_reasons(scored.contributions, scored.features, level=self.params.level)
        recency = scored.features["recency_months"] if "recency_months" in scored.features else None
        return churn_tables(scored.scores, reasons, alert_threshold=self.params.alert_threshold,
                            recency=recency, places=self.places, win_back_months=self.params.win_back_months,
                            risk_model=scored.model_name, p_alive_suits=self.p_alive_suits)

    @property
    def scores(self) -> pd.DataFrame:
        """Every active entity: risk, p_alive, expected_transactions, volume_at_stake, reasons."""
        return self._tables["scores"]

    @property
    def win_back(self) -> pd.DataFrame:
        """Alerts with no volume for ``win_back_months`` months or more, by risk × volume at stake."""
        return self._tables["win_back"]

    @property
    def early_warning(self) -> pd.DataFrame:
        """Alerts still prescribing or buying, by risk × volume at stake."""
        return self._tables["early_warning"]

    @property
    def alerts(self) -> pd.DataFrame:
        """Both lists: every active entity at or above ``alert_threshold``."""
        return pd.concat([self.win_back, self.early_warning], ignore_index=True)

    @property
    def metrics(self) -> pd.DataFrame:
        """Backtest metrics of every model on every entity active at the origin (empty without one)."""
        if self.backtest is None:
            return pd.DataFrame()
        return self.backtest.metrics.drop(columns="kind").round(4)

    @property
    def metrics_hard(self) -> pd.DataFrame:
        """The same on the entities still buying or prescribing in the origin's month."""
        if self.backtest is None:
            return pd.DataFrame()
        return self.backtest.subset_metrics["still_active_last_month"].drop(columns=["kind", "best_rule"]).round(4)

    @property
    def metrics_by_subset(self) -> pd.DataFrame:
        """Both, indexed by (subset, model)."""
        if self.backtest is None:
            return pd.DataFrame()
        return pd.concat({"all_active": self.metrics, "still_active_last_month": self.metrics_hard},
                         names=["subset", "model"])

    def summary(self) -> dict:
        from crmlab.reporting.churn import backtest_note  # the note in words (see _tables)

        bt = self.backtest
        counts = {"entities": int(len(self.history.entity_ids)), "active": int(len(self.scores)),
                  "alerts": int(len(self.alerts)), "alert_threshold": self.params.alert_threshold,
                  "expected_churners": round(float(self.scores["risk"].sum()), 3),
                  "volume_at_stake_alerts": round(float(self.alerts["volume_at_stake"].sum()), 3),
                  "win_back": int(len(self.win_back)),
                  "volume_at_stake_win_back": round(float(self.win_back["volume_at_stake"].sum()), 3),
                  "early_warning": int(len(self.early_warning)),
                  "volume_at_stake_early_warning": round(float(self.early_warning["volume_at_stake"].sum()), 3),
                  "early_warning_not_visited": int((self.early_warning["reasons"].str.contains(
                      "not visited for", regex=False)).sum())}
        backtest = self.backtest_status | {"note": backtest_note(self)}
        if bt is not None:
            hard = bt.subset_metrics["still_active_last_month"]
            backtest |= {
                "train_origins": [str(m.date()) for m in bt.train_origins],
                "eval_origin": str(bt.eval_origin.date()), "top_k": self.params.top_k,
                "metrics": self.metrics.reset_index().to_dict(orient="records"),
                "metrics_still_active_last_month": self.metrics_hard.reset_index().to_dict(orient="records"),
                "subsets": {"all_active": "every entity active at the evaluation origin",
                            "still_active_last_month": "active and with volume in the origin's month "
                                                       "(not yet at zero when scored)"},
                "chosen_vs_best_rule": {
                    name: _beats_rule(table, bt.chosen, rule, bt.comparison.get(name, {}))
                    for name, table, rule in (("all_active", bt.metrics, bt.best_rule),
                                              ("still_active_last_month", hard,
                                               hard["best_rule"].iat[0] if len(hard) else ""))},
                "notes": bt.notes}
        training = None if bt is None else {
            "rows_used": bt.train_rows, "rows_available": bt.train_rows_available,
            "subsampled": bt.train_rows < bt.train_rows_available,
            "max_train_rows": self.params.max_train_rows}
        bgnbd = self.scored.bgnbd
        return super().summary() | {
            "definition": self.definition, "counts": counts, "backtest": backtest, "training": training,
            "chosen_model": None if bt is None else bt.chosen,
            "best_rule": None if bt is None else bt.best_rule,
            "scored_with": self.scored.model_name, "p_alive_shown": self.p_alive_suits,
            "bgnbd": None if bgnbd is None else {
                **bgnbd.summary()[["estimate", "std_error"]].round(4).to_dict(orient="index"),
                "mean_rate": round(bgnbd.mean_rate_, 4), "at_bound": bgnbd.at_bound_,
                "customers": bgnbd.n_customers_, "time_unit": self.scored.time_unit},
            "bgnbd_check": self.bgnbd_check,
            "notes": self.notes,
        }

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"scores": self.scores, "win_back": self.win_back, "early_warning": self.early_warning}


def _beats_rule(metrics: pd.DataFrame, chosen: str, best_rule: str, comparison: dict) -> dict:
    """The chosen model against the best rule on one subset: AUCs, their difference, DeLong's interval."""
    if not chosen or not best_rule or chosen not in metrics.index or best_rule not in metrics.index:
        return {"chosen": chosen, "best_rule": best_rule, "roc_auc_difference": None}
    a, b = metrics.loc[chosen, "roc_auc"], metrics.loc[best_rule, "roc_auc"]
    return {"chosen": chosen, "best_rule": best_rule, "chosen_roc_auc": round(float(a), 4),
            "best_rule_roc_auc": round(float(b), 4), "roc_auc_difference": round(float(a - b), 4),
            "chosen_pr_auc": round(float(metrics.loc[chosen, "pr_auc"]), 4),
            "best_rule_pr_auc": round(float(metrics.loc[best_rule, "pr_auc"]), 4),
            **{f"roc_auc_difference_{k}": round(v, 4) for k, v in comparison.items()
               if k in ("ci_low", "ci_high", "p_value")}}


def _checked(params: ChurnParams) -> pd.Timestamp | None:
    """The parameters' values that their types cannot check; ``as_of`` as a date."""
    for name in ("active_months", "min_active_months", "horizon_months", "train_origins", "top_k",
                 "win_back_months"):
        if getattr(params, name) < 1:
            raise ParameterError(f"parameter {name!r} must be at least 1, got {getattr(params, name)}")
    if params.min_active_months > params.active_months:
        raise ParameterError(f"parameter 'min_active_months' ({params.min_active_months}) must not exceed "
                             f"'active_months' ({params.active_months})")
    if not 0 <= params.alert_threshold <= 1:
        raise ParameterError(f"parameter 'alert_threshold' must be between 0 and 1, got {params.alert_threshold}")
    if not params.as_of:
        return None
    try:
        return parse_date(params.as_of, "as_of")
    except ValueError as err:
        raise ParameterError(f"parameter {err}") from err


def bgnbd_holdout_check(history: ChurnHistory, as_of: pd.Timestamp, *, horizon_months: int,
                        time_unit: str) -> dict | None:
    """The BG/NBD fitted one horizon before ``as_of``, against what happened up to ``as_of``.

    Fitted on every entity's occasions up to the end of month ``as_of − horizon``; its
    expected occasions of those entities over the next ``horizon_months`` months are
    compared with the occasions counted there. None when that calibration period holds
    fewer than 10 buyers.
    """
    t = history.month_index(as_of)
    if t - horizon_months < 0:
        return None
    calibration_end = history.months[t - horizon_months] + pd.offsets.MonthEnd(0)
    model = fit_bgnbd(history, calibration_end, time_unit=time_unit)
    if model is None:
        return None
    before = rfm_at(history, calibration_end, time_unit=time_unit).dropna()
    horizon = horizon_length(calibration_end, horizon_months, time_unit)
    expected = float(model.expected_transactions(before, horizon).sum())
    actual = float(occasions_between(history, calibration_end, as_of, time_unit=time_unit)
                   .reindex(before.index).sum())
    return {"calibration_end": str(calibration_end.date()), "holdout_end": str(as_of.date()),
            "customers": int(len(before)), "time_unit": time_unit, "horizon": round(horizon, 3),
            "expected_occasions": round(expected, 1), "actual_occasions": int(actual),
            "ratio": round(expected / actual, 3) if actual > 0 else None}


@on_backend
def run(data: str | Dataset = "data/sample", **params) -> ChurnResult:
    """Run the churn early warning: backtest when the history allows, score, explain.

    Parameters
    ----------
    data : str, Path or Dataset
        A data directory in the data contract, or a loaded dataset.
    cluster : str or distributed.Client, optional
        Where the heavy loops run (:mod:`crmlab.distributed`): 'local', 'local:N', a scheduler
        address, or a client; default ``$CRMLAB_CLUSTER``, else in-process. Same results.
    **params
        :class:`ChurnParams`. Nothing dated after ``as_of`` is read.

    Examples
    --------
    >>> result = run("data/sample", level="account")
    >>> result.summary()["backtest"]["ran"], result.summary()["definition"]["time_unit"]
    (True, 'day')
    """
    params = check_params(ChurnParams, params)
    as_of_given = _checked(params)
    ds = load_data(data, params)
    level = params.level
    as_of = as_of_given if as_of_given is not None else default_as_of(ds, level)
    history = churn_history(ds, level=level, product_id=params.product_id, as_of=as_of)
    t = history.month_index(as_of)
    time_unit, unit_note = resolve_time_unit(params.time_unit, data_grain(history))
    notes = [unit_note] if unit_note else []
    kw = dict(horizon_months=params.horizon_months, active_months=params.active_months,
              min_active_months=params.min_active_months, churn_share=params.churn_share,
              train_origins=params.train_origins, max_train_rows=params.max_train_rows or None)
    needed = backtest_months_needed(active_months=params.active_months, horizon_months=params.horizon_months)
    backtest = churn_backtest(history, t, top_k=params.top_k, seed=params.seed, **kw) if t + 1 >= needed else None
    model = backtest.chosen if backtest is not None else BGNBD
    scored = score_churn(history, t, model=model, seed=params.seed, time_unit=time_unit, as_of=as_of, **kw)
    notes.extend(_model_notes(scored, as_of, level))
    if backtest is None and params.churn_share > 0:
        notes.append("churn_share > 0 but no backtest: the risk is the BG/NBD probability of no purchase "
                     "at all over the horizon, not of a fall below the share")
    territory = pd.Series(history.territory, index=history.entity_ids)
    by_territory = risk_by_group(scored.scores, territory, alert_threshold=params.alert_threshold)
    by_territory.index.name = "territory_id"
    status = {"ran": backtest is not None, "origins": 0 if backtest is None else len(backtest.train_origins),
              "months_needed": needed, "months_available": t + 1}
    definition = {
        "level": level, "volume_source": history.source,
        "product_id": own_product_ids(ds["products"], params.product_id),
        "as_of": str(as_of.date()), "active_months": params.active_months,
        "min_active_months": params.min_active_months, "horizon_months": params.horizon_months,
        "churn_share": params.churn_share,
        "churn": "zero volume in the horizon" if params.churn_share <= 0 else
                 f"horizon volume below {params.churn_share} x trailing 6-month average",
        "time_unit": time_unit, "horizon_in_time_units": round(scored.horizon_units, 3)}
    return ChurnResult(
        params=params, rejects=rejects_summary(ds), definition=definition, history=history, as_of=as_of,
        backtest=backtest, backtest_status=status, scored=scored,
        by_territory=by_territory, curves=_retention(history, t, params.horizon_months),
        bgnbd_check=bgnbd_holdout_check(history, as_of, horizon_months=params.horizon_months,
                                        time_unit=time_unit),
        notes=notes, places=entity_places(ds, history))


def entity_places(ds: Dataset, history: ChurnHistory) -> pd.DataFrame:
    """``region`` and ``territory_id`` per entity (the territory's most common account region)."""
    territory = pd.Series(history.territory, index=pd.Index(history.entity_ids, name="entity_id"),
                          dtype=object)
    accounts = ds["accounts"]
    region = pd.Series(dtype=object)
    if {"region", "territory_id"} <= set(accounts.columns) and len(accounts):
        region = accounts.dropna(subset=["region", "territory_id"]).groupby("territory_id")["region"].agg(
            lambda r: r.mode().iat[0])
    return pd.DataFrame({"region": territory.map(region), "territory_id": territory})


def _model_notes(scored: ChurnScores, as_of: pd.Timestamp, level: str) -> list[str]:
    """What the reader should know about the fits: no active entity, a BG/NBD that did not settle."""
    notes = []
    if not len(scored.scores):
        notes.append(f"no {level} is active as of {as_of.date()}: check as_of against the last dates in the data")
    model = scored.bgnbd
    if model is None:
        notes.append("fewer than 10 entities with a purchase: no BG/NBD (p_alive and expected_transactions "
                     "are empty)")
        return notes
    if not model.converged_:
        notes.append("the BG/NBD optimiser did not converge: read p_alive and expected_transactions with care")
    if model.se_log_.isna().any():
        notes.append("the BG/NBD standard errors could not be computed (flat likelihood): too little "
                     "purchase history to pin the parameters down")
    if {"r", "alpha"} & set(model.at_bound_):
        notes.append(f"purchase rates hardly vary between {level}s: the BG/NBD's r and alpha ran to their "
                     f"bound; only their ratio, the mean rate {model.mean_rate_:.3g} per {scored.time_unit}, "
                     "is identified")
    if {"a", "b"} & set(model.at_bound_):
        notes.append("the BG/NBD's dropout parameters (a, b) ran to their bound: this history says little "
                     "about how often buyers drop out, so p_alive leans on the model's assumptions")
    return notes


def _retention(history: ChurnHistory, t: int, horizon_months: int) -> dict[str, pd.DataFrame]:
    """Kaplan–Meier retention by account grade and by early-volume tercile."""
    durations = lapse_durations(history, t, horizon_months=horizon_months)
    static = history.static
    grade = (static["tier_rank"].map(GRADES) if "tier_rank" in static
             else pd.Series("all", index=history.entity_ids))
    early = pd.Series(history.volume[:, :min(6, t + 1)].mean(axis=1)).rank(method="first")
    labels = ["low", "mid", "high"][:min(3, len(early))]
    segment = pd.Series(pd.qcut(early, len(labels), labels=labels).astype(str).to_numpy()
                        if len(labels) else [], index=history.entity_ids, dtype=object)
    if not len(durations):
        return {"grade": pd.DataFrame(), "segment": pd.DataFrame()}
    return {"grade": retention_curves(durations, grade), "segment": retention_curves(durations, segment)}


__all__ = ["ChurnParams", "ChurnResult", "bgnbd_holdout_check", "entity_places", "run"]
