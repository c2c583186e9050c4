"""Fit the visit effect from territory capacity shocks when the data allow it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crmlab.features.capacity import capacity_instruments
from crmlab.models.attribution.iv import VisitLiftIV
from crmlab.models.attribution.visits import VisitLift

#: How each warning of the fit starts in the notes.
WARNING_NOTE = "Visit effect from capacity shocks: "


def fit_capacity_design(tables, months: pd.DatetimeIndex, panel: pd.DataFrame, counts: pd.DataFrame,
                        fe_model: VisitLift, notes: list[str], *, doctor_level: bool, y: str,
                        alpha: float, max_units: int | None, seed: int
                        ) -> tuple[VisitLiftIV | None, str | None]:
    """The visit effect from territory capacity shocks, or None and why it was not fitted.

    Needs doctor-level prescriptions (capacity shocks are per doctor's territory), the
    ``reps`` table (vacancies) and capacity that varies. Warnings of the fit (weak
    instruments, a carry-over on its bound) go to ``notes``: the design reason says
    what follows from them.
    """
    if not doctor_level:
        return None, "it needs doctor-level prescriptions, and these data have account-level sales only"
    if not len(tables["reps"]):
        return None, "no reps table, so territory capacity (vacancies, absences) cannot be measured"
    absences = tables["rep_absences"]
    capacity = capacity_instruments(tables["doctors"], tables["accounts"], tables["reps"], tables["visits"],
                                    months, absences if len(absences) else None)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            iv = VisitLiftIV(alpha=alpha, max_units=max_units, random_state=seed).fit(
                panel, counts, capacity, fe_model=fe_model, y=y)
    except (ValueError, np.linalg.LinAlgError) as error:
        return None, str(error).removeprefix("VisitLiftIV: ")
    notes += list(dict.fromkeys(f"{WARNING_NOTE}{w.message}" for w in caught
                                if issubclass(w.category, UserWarning)))
    return iv, None
