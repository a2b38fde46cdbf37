"""Labelled 3-phase electrode microstructures: conventions, labels, volume I/O, datasets and
the procedural electrode manufacturing simulator."""

from jaxmicro.data.labels import (
    LABEL_FIELDS,
    LABEL_RANGES,
    LABEL_UNITS,
    Labels,
    denormalise_labels,
    normalise_labels,
    validate_labels,
)
from jaxmicro.data.phases import (
    AM,
    AM_DENSITY_G_CM3,
    CBD,
    CBD_DENSITY_G_CM3,
    IN_PLANE_AXES,
    N_PHASES,
    PHASE_NAMES,
    PHASES,
    PORE,
    THROUGH_PLANE_AXIS,
)

__all__ = [
    "AM",
    "AM_DENSITY_G_CM3",
    "CBD",
    "CBD_DENSITY_G_CM3",
    "IN_PLANE_AXES",
    "LABEL_FIELDS",
    "LABEL_RANGES",
    "LABEL_UNITS",
    "N_PHASES",
    "PHASES",
    "PHASE_NAMES",
    "PORE",
    "THROUGH_PLANE_AXIS",
    "Labels",
    "denormalise_labels",
    "normalise_labels",
    "validate_labels",
]
