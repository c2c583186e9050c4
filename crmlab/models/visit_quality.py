"""Visit quality: a 0–100 score per visit from its channel, duration, product and status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from crmlab.features.volumes import as_float, as_text
from crmlab.models.segmentation import table_points

DEFAULT_CHANNEL_POINTS = {"face_to_face": 1.0, "remote": 0.6, "phone": 0.3, "messaging": 0.2,
                          "email": 0.1, "other": 0.2}
DEFAULT_QUALITY_WEIGHTS = {"channel": 0.4, "duration": 0.3, "product": 0.2, "status": 0.1}
DEFAULT_TARGET_MINUTES = 15.0


def visit_quality(visits: pd.DataFrame, *, weights: Mapping[str, float] | None = None,
                  channel_points: Mapping[str, float] | None = None,
                  target_minutes: float = DEFAULT_TARGET_MINUTES, product_ids: Iterable[str] | None = None) -> pd.Series:
    """Quality score 0–100 per visit from weighted visit fields.

    Components (each 0–1): ``channel`` (points by channel), ``duration``
    (``min(duration / target_minutes, 1)``; missing = 0), ``product`` (1 when a product —
    one of ``product_ids`` if given — is named), ``status`` (1 when completed). Score
    = 100 × weighted mean of the components with ``weights``.

    Examples
    --------
    >>> v = pd.DataFrame({"channel": ["face_to_face", "phone"], "duration_min": [15.0, 5.0],
    ...     "product_id": ["P1", None], "status": ["completed", "completed"]})
    >>> visit_quality(v, target_minutes=15).round(1).tolist()
    [100.0, 32.0]
    """
    weights = dict(DEFAULT_QUALITY_WEIGHTS if weights is None else weights)
    channel_points = dict(DEFAULT_CHANNEL_POINTS if channel_points is None else channel_points)
    unknown = set(weights) - set(DEFAULT_QUALITY_WEIGHTS)
    if unknown:
        raise ValueError(f"visit quality weights: unknown component(s) {sorted(unknown)}; "
                         f"use {sorted(DEFAULT_QUALITY_WEIGHTS)}")
    total = sum(float(w) for w in weights.values())
    if total <= 0:
        raise ValueError("visit quality weights must sum to more than 0")
    index = visits.index
    channel = as_text(visits["channel"]) if "channel" in visits else pd.Series("face_to_face", index=index)
    channel = channel.fillna("face_to_face")
    status = as_text(visits["status"]) if "status" in visits else pd.Series("completed", index=index)
    product = as_text(visits["product_id"]) if "product_id" in visits else pd.Series(None, index=index)
    named = product.notna() & (product != "")
    if product_ids is not None:
        named &= product.isin(list(product_ids))
    duration = as_float(visits["duration_min"]) if "duration_min" in visits else np.full(len(index), np.nan)
    parts = {
        "channel": table_points(channel, channel_points),
        "duration": np.nan_to_num(np.clip(duration / float(target_minutes), 0, 1)),
        "product": named.to_numpy(float),
        "status": (status.fillna("completed") == "completed").to_numpy(float),
    }
    score = sum(float(weights.get(k, 0.0)) * parts[k] for k in parts) / total
    return pd.Series(100 * score, index=index, name="quality")


def quality_from_params(params: Mapping) -> dict:
    """Keyword arguments of :func:`visit_quality` from the flat ``quality_*`` parameters.

    Examples
    --------
    >>> quality_from_params({"quality_weight_channel": 1.0})["weights"]["channel"]
    1.0
    """
    weights = {k: float(params.get(f"quality_weight_{k}", v)) for k, v in DEFAULT_QUALITY_WEIGHTS.items()}
    return {"weights": weights,
            "channel_points": dict(params.get("quality_channel_points") or DEFAULT_CHANNEL_POINTS),
            "target_minutes": float(params.get("quality_target_minutes", DEFAULT_TARGET_MINUTES))}


def quality_by_rep(visits: pd.DataFrame, quality: pd.Series) -> pd.DataFrame:
    """Visits (``size``) and mean visit quality (``mean``) per rep.

    Examples
    --------
    >>> v = pd.DataFrame({"rep_id": ["R1", "R1", "R2"]})
    >>> quality_by_rep(v, pd.Series([100.0, 50.0, 20.0])).to_dict("index")
    {'R1': {'size': 2, 'mean': 75.0}, 'R2': {'size': 1, 'mean': 20.0}}
    """
    return visits.assign(quality=quality).groupby("rep_id")["quality"].agg(["size", "mean"])
