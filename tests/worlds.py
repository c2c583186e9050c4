"""What several test modules read off a simulated world."""

from __future__ import annotations

import numpy as np

from crmlab.features.forecast import forecast_panel
from crmlab.features.indicators import doctor_indicators


def world_indicators(world, prescriptions: bool = True):
    """Doctor indicators of a world, optionally without its prescriptions (sales-only markets)."""
    t = world.tables
    return doctor_indicators(t["doctors"], t["accounts"], t["prescriptions"] if prescriptions else None,
                             products=t["products"])


def planted_potential(world, doctor_ids) -> np.ndarray:
    """The planted potential of ``doctor_ids``, in their order."""
    return world.truth_doctors.set_index("doctor_id")["potential"].reindex(doctor_ids).to_numpy()


def channel_panel(world):
    """The forecast's channel panel of a world."""
    t = world.tables
    return forecast_panel(t["shipments"], t["sales"], t["inventory"], distributors=t["distributors"],
                          products=t["products"])
