"""Behavioural features per doctor from the doctor × month panel (inputs of the clusters)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.features.volumes import as_text

#: The :func:`doctor_month_panel` columns :func:`doctor_behaviour` reads.
PANEL_COLUMNS = ["trx", "visits", "visits_face_to_face", "events_attended"]


def doctor_behaviour(panel: pd.DataFrame, *, months: int = 12) -> pd.DataFrame:
    """Behavioural features per doctor from a :func:`doctor_month_panel` (last ``months``).

    Returns
    -------
    DataFrame indexed by ``doctor_id``
        ``volume`` — log(1 + monthly mean trx); ``trend`` — (second half − first half)
        of the window over the doctor's mean + 1; ``visit_frequency`` — completed
        visits per month; ``responsiveness`` — within-doctor correlation of last month's
        visits with this month's trx (0 when either is constant); ``events`` — events
        attended (whole history); ``remote_share`` — share of completed visits not face
        to face. Without prescriptions the trx-based columns are dropped.

    Examples
    --------
    >>> panel = pd.DataFrame({"doctor_id": ["D1"] * 4, "month": pd.date_range("2025-01-01", periods=4, freq="MS"),
    ...     "trx": [1.0, 2.0, 3.0, 4.0], "visits": [1.0, 1.0, 0.0, 2.0], "visits_face_to_face": [1.0, 1.0, 0.0, 1.0],
    ...     "events_attended": [0.0, 1.0, 0.0, 0.0]})
    >>> doctor_behaviour(panel, months=4).loc["D1", ["trend", "visit_frequency", "remote_share"]].round(3).tolist()
    [0.571, 1.0, 0.25]
    """
    doctor_ids = pd.Index(panel["doctor_id"].drop_duplicates())
    n = len(doctor_ids)
    n_m = len(panel) // max(n, 1)
    if n * n_m != len(panel):
        raise ValueError("doctor_behaviour needs a complete doctor × month panel (see doctor_month_panel)")

    def wide(column):
        return panel[column].to_numpy(float).reshape(n, n_m)

    k = min(months, n_m)
    trx, visits = wide("trx")[:, -k:], wide("visits")[:, -k:]
    out = pd.DataFrame(index=pd.Index(as_text(pd.Series(doctor_ids)).to_numpy(), name="doctor_id"))
    if trx.any():
        mean = trx.mean(axis=1)
        half = k // 2
        out["volume"] = np.log1p(mean)
        out["trend"] = (trx[:, k - half:].mean(axis=1) - trx[:, :half].mean(axis=1)) / (mean + 1.0)
        out["responsiveness"] = _row_correlation(wide("visits")[:, -k - 1:-1] if n_m > k else visits[:, :-1],
                                                 trx if n_m > k else trx[:, 1:])
    out["visit_frequency"] = visits.mean(axis=1)
    out["events"] = wide("events_attended").sum(axis=1)
    total = visits.sum(axis=1)
    face = wide("visits_face_to_face")[:, -k:].sum(axis=1)
    out["remote_share"] = np.where(total > 0, 1 - face / np.where(total > 0, total, 1), 0.0)
    return out


def _row_correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x ** 2).sum(axis=1) * (y ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (x * y).sum(axis=1) / np.where(denominator > 0, denominator, 1), 0.0)
