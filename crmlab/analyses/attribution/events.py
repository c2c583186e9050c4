"""Attribution's event lift: one event study per attended event type, with its incremental units, revenue and ROI."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crmlab.analyses.attribution.setting import Setting
from crmlab.distributed import active
from crmlab.features.attribution import ATTENDED_EVENT_TYPES, attendance_by_account, first_attendance
from crmlab.models.attribution import EventStudy, roi
from crmlab.models.attribution.events import sample_units
from crmlab.models.attribution.roi import EventTypeEffect


def event_lift(setting: Setting) -> tuple[dict[str, EventStudy], list[EventTypeEffect]]:
    """One event study per attended event type, with its incremental units, revenue and ROI."""
    events, attendance, doctors = (setting.tables[name] for name in ("events", "event_attendance", "doctors"))
    if not len(events):
        return {}, []
    events = events.assign(event_type=events["event_type"].astype(str))
    types = [t for t in ATTENDED_EVENT_TYPES if t in set(events["event_type"])]
    attended = len(attendance) > 0 and len(doctors) > 0
    firsts = {t: first_attendance(events, attendance, t, setting.months) if attended else pd.Series(dtype=int)
              for t in types}
    studies, effects = {}, []
    products = {t: event_product(events, t, setting.product_id) for t in types}
    # national scale: each study's panel only for its seeded sample of doctors
    sample = sample_units(doctors["doctor_id"], setting.params.max_units, setting.params.seed) \
        if setting.doctor_level else None
    setting.keep_panels(products.values() if sample is None else ())  # the visit lift's, if a study reads it
    backend = active()  # on a cluster each study is fitted by a worker, all at once
    fits = []
    for done, event_type in enumerate(types):
        chosen = events[events["event_type"] == event_type]
        product = products[event_type]
        same_product = [t for t in types if t != event_type and
                        (events.loc[events["event_type"] == t, "product_id"].astype(str) == product).any()]
        effect = EventTypeEffect(event_type=event_type, product_id=product, events=len(chosen),
                                 attendees=len(firsts[event_type]),
                                 cost=float(chosen["cost"].fillna(0).sum()) if "cost" in chosen else np.nan)
        fits.append(fit_event_study(setting, product, firsts[event_type], [firsts[t] for t in same_product],
                                    sample, None if backend is None else backend.client))
        effects.append(effect)
        setting.keep_panels(products[t] for t in types[done + 1:])
    for event_type, effect, fit in zip(types, effects, fits):
        study = complete_effect(setting, effect, len(firsts[event_type]), fit)
        if study is not None:
            studies[event_type] = study
    return studies, effects


def event_product(events: pd.DataFrame, event_type: str, default: str) -> str:
    """The product an event type promotes most often (``default`` when none is named)."""
    product = events.loc[events["event_type"] == event_type, "product_id"].dropna().astype(str).mode()
    return str(product.iloc[0]) if len(product) else default


def fit_event_study(setting: Setting, product: str, first: pd.Series, others: list[pd.Series],
                    sample: np.ndarray | None, client=None):
    """Fit one event type's study: the fitted study, or the reason it could not be (a note).

    With a Dask ``client`` the study is fitted by a worker: a future of the same.
    """
    params = setting.params
    if not len(first):
        return "no attendance list: not estimated"
    # months after a unit attended another event type on the same product are dropped
    censor = [f for f in others if len(f)]
    censor = pd.concat(censor).groupby(level=0).min() if censor else None
    first_unit, per_unit = first, None
    if not setting.doctor_level:
        first_unit, per_unit, censor = attendance_by_account(first, setting.tables["doctors"], params.lags, censor)
    study = EventStudy(leads=params.leads, lags=params.lags, max_units=params.max_units,
                       random_state=params.seed, alpha=params.alpha)
    try:
        panel = setting.panel(product, sample)
    except ValueError as error:
        return str(error)
    options = dict(unit=setting.unit, y=setting.y, censor_month=censor, attendees_per_unit=per_unit,
                   population=None if sample is None else len(setting.tables["doctors"]))
    if client is None:
        return _fitted(study, panel, first_unit, **options)
    return client.submit(_fitted, study, client.scatter(panel, hash=False), first_unit, pure=False, **options)


def _fitted(study: EventStudy, panel: pd.DataFrame, first_unit: pd.Series, **options) -> EventStudy | str:
    try:
        return study.fit(panel, first_unit, **options)
    except ValueError as error:
        return str(error)


def complete_effect(setting: Setting, effect: EventTypeEffect, attendees: int, fit) -> EventStudy | None:
    """Complete ``effect`` from its study (:func:`fit_event_study`'s result), or give it the study's note."""
    study = fit.result() if hasattr(fit, "result") else fit
    if isinstance(study, str):
        effect.note = study
        return None
    res = study.results_
    units = res.per_attendee_total["estimate"] * attendees
    revenue = units * setting.price(effect.product_id)
    effect.per_attendee_month, effect.per_attendee_total = res.per_attendee_month, res.per_attendee_total
    effect.effect_months, effect.pretrend_p_value = res.effect_months, res.pretrend_p_value
    effect.incremental_units, effect.incremental_revenue = units, revenue
    effect.roi, effect.method = roi(revenue, effect.cost), res.method
    return study
