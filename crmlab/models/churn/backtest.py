"""The time-split backtest of churn models.

Every model is fitted as of ``as_of − horizon`` on outcomes known by then (origins
``≤ as_of − 2·horizon``), scores the entities active at ``as_of − horizon`` and is
compared with what happened by ``as_of``. It needs ``active_months + 2·horizon``
months up to ``as_of`` (:func:`backtest_months_needed`); with less, churn is scored
without one (:mod:`crmlab.models.churn.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crmlab.features.churn import ChurnHistory, churn_frame
from crmlab.models.churn.classifiers import LEARNED, RULES, RuleScore, fit_model, make_model, predict_risk
from crmlab.models.churn.metrics import auc_difference, churn_metrics

ID_COLUMNS = ("entity_id", "origin", "churned")

@dataclass
class ChurnBacktest:
    """Results of the time-split backtest.

    Attributes
    ----------
    metrics : DataFrame
        One row per model: roc_auc (+ std_error, interval), pr_auc, precision_top_k,
        brier, lift_over_best_rule (precision in the top k ÷ that of the best rule).
    chosen : str
        The learned model with the highest ROC AUC.
    best_rule : str
    scores : DataFrame
        Evaluation snapshot: entity_id, churned, one risk column per model.
    train_origin, eval_origin : Timestamp
    subset_metrics : dict of DataFrame
        The same metrics on subsets of the evaluation snapshot, by subset name:
        ``still_active_last_month`` = entities with volume in the month of the origin.
        Those are the hard, useful cases: an entity already at zero when scored is an
        easy "churner" for any rule (it stays *active* for a few months after its volume
        stops), and a rep can no longer act on it in time.
    train_rows, train_rows_available : int
        Training snapshots used, and available before subsampling (``max_train_rows``).
    comparison : dict
        Per subset (``all_active``, ``still_active_last_month``): the chosen model's ROC
        AUC minus the best rule's, with DeLong's paired 95% interval and p-value.
    """

    metrics: pd.DataFrame
    chosen: str
    best_rule: str
    scores: pd.DataFrame
    train_origins: list
    eval_origin: pd.Timestamp
    notes: list = field(default_factory=list)
    subset_metrics: dict = field(default_factory=dict)
    train_rows: int = 0
    train_rows_available: int = 0
    comparison: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Metrics of every model on every evaluated subset, indexed by (subset, model)."""
        frames = {"all_active": self.metrics, **self.subset_metrics}
        return pd.concat(frames, names=["subset", "model"])


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """Feature columns of a churn frame (everything but ids, origin and label)."""
    return [c for c in frame.columns if c not in ID_COLUMNS]


def backtest_months_needed(*, active_months: int, horizon_months: int) -> int:
    """Months of history up to ``as_of`` a backtest needs: an activity window, then two horizons.

    One horizon to label the training snapshots, one to compare the scores with what
    happened.

    Examples
    --------
    >>> backtest_months_needed(active_months=6, horizon_months=3)
    12
    """
    return active_months + 2 * horizon_months


def training_origins(history: ChurnHistory, label_end: int, *, horizon_months: int, active_months: int,
                     train_origins: int) -> list[int]:
    """Monthly origins whose labels are known by month index ``label_end``, newest first."""
    last = label_end - horizon_months
    first = max(active_months - 1, last - train_origins + 1)
    return list(range(first, last + 1))


SUBSETS = ("still_active_last_month",)


def subsample_snapshots(frame: pd.DataFrame, max_rows: int | None, seed: int = 0) -> pd.DataFrame:
    """A seeded subsample of whole entities (all their snapshots) with about ``max_rows`` rows.

    Whole entities are kept so that the Cox model still sees each one's counting process.
    Returns ``frame`` itself when it has at most ``max_rows`` rows (or ``max_rows`` is
    None/0), so small data are never sampled.

    Examples
    --------
    >>> f = pd.DataFrame({"entity_id": np.repeat(np.arange(100), 3), "origin": np.tile([0, 1, 2], 100)})
    >>> len(subsample_snapshots(f, 60, seed=1))
    60
    >>> subsample_snapshots(f, 1000) is f
    True
    """
    if not max_rows or len(frame) <= max_rows:
        return frame
    entities = pd.unique(frame["entity_id"])
    n_keep = max(1, int(round(len(entities) * max_rows / len(frame))))
    chosen = np.random.default_rng(seed).choice(len(entities), size=n_keep, replace=False)
    return frame[frame["entity_id"].isin(entities[np.sort(chosen)])]


def metrics_table(test: pd.DataFrame, scores: pd.DataFrame, names, kinds: dict, top_k: int) -> pd.DataFrame:
    """:func:`churn_metrics` of each scored model, with its lift over the best rule."""
    rows = [{"model": name, "kind": kinds[name], **churn_metrics(test["churned"], scores[name], top_k=top_k)}
            for name in names]
    metrics = pd.DataFrame(rows).set_index("model")
    rules = metrics[metrics["kind"] == "rule"]
    best_rule = rules["roc_auc"].fillna(-1).idxmax() if len(rules) else ""
    base = metrics.loc[best_rule, "precision_top_k"] if best_rule else np.nan
    metrics["lift_over_best_rule"] = metrics["precision_top_k"] / base if base and base > 0 else np.nan
    metrics["best_rule"] = best_rule
    return metrics


def churn_backtest(history: ChurnHistory, as_of_index: int, *, horizon_months: int = 3, active_months: int = 6,
                   min_active_months: int = 3, train_origins: int = 12, churn_share: float = 0.0,
                   top_k: int = 20, models=RULES + LEARNED, seed: int = 0,
                   max_train_rows: int | None = None) -> ChurnBacktest:
    """Fit as of ``as_of − horizon`` on outcomes known by then, score, compare with ``as_of``.

    Metrics are reported on every entity active at the evaluation origin and on the
    subset still buying/prescribing in the origin's month (``subset_metrics``). With
    ``max_train_rows``, the learned models are trained on a seeded subsample of whole
    entities (:func:`subsample_snapshots`); the rules and the evaluation use everything.

    Examples
    --------
    >>> from crmlab.simulate import simulate
    >>> from crmlab.features.churn import churn_history
    >>> h = churn_history(simulate("sample", seed=1).tables)
    >>> bt = churn_backtest(h, 35, models=("rule_last_month", "logistic"))
    >>> bt.chosen
    'logistic'
    """
    kw = dict(horizon_months=horizon_months, active_months=active_months, min_active_months=min_active_months,
              churn_share=churn_share)
    eval_origin = as_of_index - horizon_months
    origins = training_origins(history, eval_origin, horizon_months=horizon_months, active_months=active_months,
                               train_origins=train_origins)
    if not origins or eval_origin < active_months - 1:
        needed = backtest_months_needed(active_months=active_months, horizon_months=horizon_months)
        raise ValueError(f"not enough history for a backtest: need {needed} months up to as_of, "
                         f"have {as_of_index + 1}")
    full_train = churn_frame(history, origins, **kw)
    train = subsample_snapshots(full_train, max_train_rows, seed)
    test = churn_frame(history, [eval_origin], **kw)
    features = feature_columns(train)
    notes = []
    if len(train) < len(full_train):
        notes.append(f"trained on a seeded subsample of {train['entity_id'].nunique()} entities "
                     f"({len(train)} of {len(full_train)} snapshots, max_train_rows={max_train_rows})")
    scores = test[["entity_id", "churned"]].copy()
    usable = train["churned"].nunique() == 2
    if not usable:
        notes.append("the training snapshots hold no churn (or only churn): only the rules are scored")
    names, kinds = [], {}
    for name in models:
        if name in LEARNED and not usable:
            continue
        # a rule's ranking needs no training: its Platt mapping is fitted on every snapshot
        fit_on = full_train if name in RULES else train
        model = fit_model(make_model(name, seed), fit_on, features) if usable else RuleScore(name.removeprefix("rule_"))
        risk = predict_risk(model, test[features]) if usable else RuleScore(name.removeprefix("rule_")).score_samples(
            test[features])
        scores[name] = risk
        names.append(name)
        kinds[name] = "rule" if name in RULES else "learned"
    metrics = metrics_table(test, scores, names, kinds, top_k)
    if not test["churned"].any():
        notes.append("no entity churned in the evaluation horizon: AUCs are undefined and the choice "
                     "falls back to the first learned model")
    if not usable:
        metrics["brier"] = np.nan
    best_rule = metrics["best_rule"].iat[0] if len(metrics) else ""
    metrics = metrics.drop(columns="best_rule")
    learned = metrics[metrics["kind"] == "learned"]
    chosen = learned["roc_auc"].fillna(-1).idxmax() if len(learned) else best_rule
    # the hard cases: still buying in the origin's month (zero volume then = already lapsing)
    still = (test["volume_last"] > 0).to_numpy()
    scores["still_active_last_month"] = still
    subset = metrics_table(test[still], scores[still], names, kinds, top_k)
    if not test.loc[still, "churned"].any():
        notes.append("no entity still active in the origin's month churned in the horizon: the "
                     "still_active_last_month AUCs are undefined")
    if not usable:
        subset["brier"] = np.nan
    comparison = {}
    for name, table, rows in (("all_active", metrics, np.ones(len(scores), bool)),
                              ("still_active_last_month", subset, still)):
        rule = best_rule if name == "all_active" else (subset["best_rule"].iat[0] if len(subset) else "")
        if chosen in scores and rule in scores and chosen != rule:
            comparison[name] = {"chosen": chosen, "best_rule": rule,
                                **auc_difference(scores["churned"][rows], scores[chosen][rows], scores[rule][rows])}
    return ChurnBacktest(metrics, chosen, best_rule, scores, [history.months[o] for o in origins],
                         history.months[eval_origin], notes, {"still_active_last_month": subset},
                         int(len(train)), int(len(full_train)), comparison)

