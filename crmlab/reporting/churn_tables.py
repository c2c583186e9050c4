"""The churn report's tables: the alert lists, the backtest and the territories, captioned.

Built on :mod:`crmlab.reporting.churn` (the lists and metrics) and
:mod:`crmlab.reporting.tables` (captions, formats, intervals). IDs only, no names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.reporting.churn import alert_list, comparison_table, metrics_table
from crmlab.reporting.tables import fmt_interval, table


def alert_table(alerts: pd.DataFrame, caption: str, rows: int = 15):
    """An alert list as a captioned report table (first ``rows`` rows, empty columns left out)."""
    shown = alert_list(alerts, rows)
    return table(shown, caption, index=False, rename={"entity_id": "ID", "territory_id": "territory",
                                                      "risk_x_volume": "risk × volume", "p_alive": "p alive"},
                 percent=["risk", "p_alive"], decimals={"volume_at_stake": 1, "risk_x_volume": 1})


def metrics_report_table(result):
    """The backtest metrics with ROC AUC as "0.91 (0.85–0.95)", one row per subset and model."""
    metrics = metrics_table(result)
    if not len(metrics):
        return "No backtest: see the key findings."
    shown = metrics.reset_index()
    shown.insert(shown.columns.get_loc("roc_auc"), "ROC AUC (95% CI)",
                 [fmt_interval(r.roc_auc, r.roc_auc_ci_low, r.roc_auc_ci_high, 2) for r in metrics.itertuples()])
    shown = shown.drop(columns=["roc_auc", "roc_auc_ci_low", "roc_auc_ci_high"])
    return table(shown, "Backtest by subset and model: ROC AUC with DeLong's 95% interval, PR AUC, precision "
                 "in the top k, Brier score, lift over the best rule, entities and churners.",
                 rename={"pr_auc": "PR AUC", "precision_top_k": "precision in top k", "brier": "Brier",
                         "lift_over_best_rule": "lift over best rule"},
                 decimals={"pr_auc": 2, "precision_top_k": 2, "brier": 3, "lift_over_best_rule": 2})


def comparison_report_table(summary: dict):
    """:func:`comparison_table` for the report: ROC AUCs and the difference with its 95% interval."""
    compared = comparison_table(summary)
    get = lambda column: compared.get(column, pd.Series(np.nan, index=compared.index))  # noqa: E731
    frame = pd.DataFrame({
        "chosen": compared["chosen"], "best rule": compared["best_rule"],
        "chosen ROC AUC": get("chosen_roc_auc").astype(float),
        "best rule ROC AUC": get("best_rule_roc_auc").astype(float),
        "difference (95% CI)": [fmt_interval(d, lo, hi, 2) for d, lo, hi in
                                zip(get("roc_auc_difference"), get("roc_auc_difference_ci_low"),
                                    get("roc_auc_difference_ci_high"))],
    }, index=compared.index)
    return table(frame, "Chosen model against the best rule per subset: ROC AUC and their difference with "
                 "DeLong's paired 95% interval.", decimals={"chosen ROC AUC": 2, "best rule ROC AUC": 2})


def territory_table(by_territory: pd.DataFrame, rows: int = 10):
    """Territories by expected volume lost."""
    return table(by_territory.head(rows), f"Territories by expected volume lost in the horizon (first {rows}): "
                 "active entities, alerts, mean risk, risk × volume at stake.", percent=["mean_risk"],
                 decimals={"mean_risk": 1, "expected_loss": 1}, rename={"territory_id": "territory"})
