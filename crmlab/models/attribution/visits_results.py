"""Results of the visit lift: effects with intervals, the response and carry-over curves."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from crmlab.models.uncertainty import EffectsTable


@dataclass
class VisitLiftResults(EffectsTable):
    """Fitted visit lift: effects with standard errors and ``1 - alpha`` intervals.

    Attributes
    ----------
    effects : DataFrame
        One row per effect: ``effect, estimate, std_error, ci_low, ci_high``.
    response_curve : DataFrame
        Marginal effect of the n-th face-to-face visit in a month (same month and long run).
    carryover_curve : DataFrame
        Share of a visit's effect still working k months later, with intervals.
    method : str
        Plain-language statement of the method.
    """

    effects: pd.DataFrame
    response_curve: pd.DataFrame
    carryover_curve: pd.DataFrame
    method: str
