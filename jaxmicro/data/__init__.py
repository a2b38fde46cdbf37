"""Labelled 3-phase electrode microstructures: conventions, labels, volume I/O, datasets and
the procedural electrode manufacturing simulator."""

from jaxmicro.data.dataset import LabelledDataset, Sample, load_dataset, write_dataset
from jaxmicro.data.labels import (
    LABEL_FIELDS,
    LABEL_RANGES,
    LABEL_UNITS,
    Labels,
    denormalise_labels,
    normalise_labels,
    read_labels_csv,
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
from jaxmicro.data.simulated_dataset import (
    GRID_LEVELS,
    HELDOUT_LABELS,
    SimulationRecipe,
    dataset_simulator,
    default_label_grid,
    simulate_dataset,
    simulation_recipe,
)
from jaxmicro.data.simulator import (
    SimulatorConfig,
    simulate,
    simulate_electrode,
    simulate_electrodes,
    target_volume_fractions,
)
from jaxmicro.data.volume_io import read_volume, write_volume

__all__ = [
    "AM",
    "AM_DENSITY_G_CM3",
    "CBD",
    "CBD_DENSITY_G_CM3",
    "GRID_LEVELS",
    "HELDOUT_LABELS",
    "IN_PLANE_AXES",
    "LABEL_FIELDS",
    "LABEL_RANGES",
    "LABEL_UNITS",
    "N_PHASES",
    "PHASES",
    "PHASE_NAMES",
    "PORE",
    "THROUGH_PLANE_AXIS",
    "LabelledDataset",
    "Labels",
    "Sample",
    "SimulationRecipe",
    "SimulatorConfig",
    "dataset_simulator",
    "default_label_grid",
    "denormalise_labels",
    "load_dataset",
    "normalise_labels",
    "read_labels_csv",
    "read_volume",
    "simulate",
    "simulate_dataset",
    "simulate_electrode",
    "simulate_electrodes",
    "simulation_recipe",
    "target_volume_fractions",
    "validate_labels",
    "write_dataset",
    "write_volume",
]
