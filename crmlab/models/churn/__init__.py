"""Churn early warning: rule baselines, calibrated classifiers, a Cox model, BG/NBD.

One module each: :mod:`~crmlab.models.churn.bgnbd` (probability alive, expected
purchases), :mod:`~crmlab.models.churn.classifiers` (rules, boosting, logistic),
:mod:`~crmlab.models.churn.cox`, :mod:`~crmlab.models.churn.metrics` (AUC with DeLong
intervals), :mod:`~crmlab.models.churn.backtest`, :mod:`~crmlab.models.churn.scoring`
and :mod:`~crmlab.models.churn.survival` (Kaplan–Meier retention).
"""

from crmlab.models.churn.backtest import (
    ChurnBacktest,
    backtest_months_needed,
    churn_backtest,
    feature_columns,
    subsample_snapshots,
    training_origins,
)
from crmlab.models.churn.bgnbd import BetaGeoModel, simulate_bgnbd
from crmlab.models.churn.classifiers import LEARNED, RULES, ChurnClassifier, RuleScore, make_model
from crmlab.models.churn.cox import ChurnCox
from crmlab.models.churn.metrics import auc_difference, auc_with_interval, churn_metrics
from crmlab.models.churn.scoring import (
    BGNBD,
    ChurnScores,
    feature_contributions,
    fit_bgnbd,
    risk_by_group,
    score_churn,
)
from crmlab.models.churn.survival import lapse_durations, retention_curves

__all__ = ["BGNBD", "LEARNED", "RULES", "BetaGeoModel", "ChurnBacktest", "ChurnClassifier", "ChurnCox",
           "ChurnScores", "RuleScore", "auc_difference", "auc_with_interval", "backtest_months_needed",
           "churn_backtest", "churn_metrics", "feature_columns", "feature_contributions", "fit_bgnbd",
           "lapse_durations", "make_model", "retention_curves", "risk_by_group", "score_churn", "simulate_bgnbd",
           "subsample_snapshots", "training_origins"]
