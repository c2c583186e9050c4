"""How well a churn score ranks: ROC AUC with DeLong's interval, PR AUC, top-k precision, Brier.

DeLong, DeLong & Clarke-Pearson (1988), in the fast mid-rank form of Sun & Xu (2014):
each churner's and non-churner's placement value (the share of the other class it
outranks) gives the variance of an AUC and the covariance of two AUCs on the same
entities. The interval of one AUC is a Wald interval on the logit scale, so it stays
inside [0, 1] (Hanley–McNeil's normal interval went above 1 near a perfect ranking).
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, brier_score_loss

from crmlab.models.uncertainty import interval, logit_interval

NAN = float("nan")


def _placements(y: np.ndarray, score) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values: for each churner the share of non-churners it outranks
    (ties count half), for each non-churner the share of churners that outrank it."""
    score = np.asarray(score, float)
    m, n = int(y.sum()), int((~y).sum())
    pos, neg = score[y], score[~y]
    overall = rankdata(np.r_[pos, neg])
    v10 = (overall[:m] - rankdata(pos)) / n
    v01 = 1 - (overall[m:] - rankdata(neg)) / m
    return v10, v01


def auc_with_interval(y, score, alpha: float = 0.05) -> dict:
    """ROC AUC with DeLong's standard error and a logit-scale interval inside [0, 1].

    Returns ``estimate, std_error, ci_low, ci_high`` (NaN when a class is empty). With
    every churner ranked above every non-churner DeLong's variance is 0; the interval is
    then Clopper–Pearson's for ``k`` successes in ``k`` trials, ``k`` the smaller class
    (two churners ranked first: 0.16 to 1).

    Examples
    --------
    >>> auc = auc_with_interval([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(auc["estimate"], 2), 0 <= auc["ci_low"] <= auc["ci_high"] <= 1
    (0.75, True)
    >>> round(auc_with_interval([1, 1, 0, 0, 0], [0.9, 0.8, 0.1, 0.2, 0.3])["ci_low"], 2)
    0.16
    """
    y = np.asarray(y, bool)
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        return {"estimate": NAN, "std_error": NAN, "ci_low": NAN, "ci_high": NAN}
    v10, v01 = _placements(y, score)
    auc = float(v10.mean())
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    if var <= 0 and auc in (0.0, 1.0):
        # perfect separation: DeLong's variance is 0, which would claim certainty from a
        # handful of churners. Clopper–Pearson's bound for k of k successes instead,
        # with k the smaller class (each of its members outranks, or not, the other class)
        bound = float((alpha / 2) ** (1 / min(m, n)))
        low, high = (bound, 1.0) if auc == 1.0 else (0.0, 1 - bound)
        return {"estimate": auc, "std_error": 0.0, "ci_low": low, "ci_high": high}
    return logit_interval(auc, float(np.sqrt(max(var, 0.0))), alpha)


def churn_metrics(y, risk, *, top_k: int = 20, alpha: float = 0.05) -> dict:
    """ROC AUC (with DeLong s.e. and interval), PR AUC, precision in the top k, Brier score."""
    y = np.asarray(y, bool)
    risk = np.asarray(risk, float)
    auc = auc_with_interval(y, risk, alpha)
    k = int(min(top_k, len(y)))
    top = np.argsort(-risk, kind="stable")[:k]
    both = y.any() and (~y).any()
    return {
        "roc_auc": auc["estimate"], "roc_auc_se": auc["std_error"], "roc_auc_ci_low": auc["ci_low"],
        "roc_auc_ci_high": auc["ci_high"],
        "pr_auc": float(average_precision_score(y, risk)) if both else NAN,
        "precision_top_k": float(y[top].mean()) if k else NAN,
        "brier": float(brier_score_loss(y, np.clip(risk, 0, 1))) if len(y) else NAN,
        "churn_rate": float(y.mean()) if len(y) else NAN, "n": int(len(y)), "churned": int(y.sum()),
    }


def auc_difference(y, risk_a, risk_b, alpha: float = 0.05) -> dict:
    """ROC AUC of ``a`` minus that of ``b`` on the same entities, with DeLong's paired interval.

    The placement values of both scores give the covariance of the two correlated AUCs,
    so the interval accounts for both scores ranking the same churners. O(n log n),
    hence usable at national scale (a bootstrap took 97 s there).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.random(400) < 0.2
    >>> d = auc_difference(y, y + rng.normal(size=400), rng.normal(size=400))
    >>> bool(d["ci_low"] > 0), d["method"]
    (True, 'DeLong')
    """
    y = np.asarray(y, bool)
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        return {"difference": NAN, "std_error": NAN, "ci_low": NAN, "ci_high": NAN, "p_value": NAN,
                "method": "DeLong"}
    v10, v01 = zip(*(_placements(y, score) for score in (risk_a, risk_b)))
    auc = [v.mean() for v in v10]
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    contrast = np.array([1.0, -1.0])
    se = float(np.sqrt(max(contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n, 0.0)))
    diff = float(auc[0] - auc[1])
    p_value = float(2 * special.ndtr(-abs(diff) / se)) if se > 0 else NAN
    ci = interval(diff, se, alpha)
    return {"difference": diff, "std_error": se, "ci_low": ci["ci_low"], "ci_high": ci["ci_high"],
            "p_value": p_value, "method": "DeLong"}
