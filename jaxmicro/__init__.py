"""jaxmicro: design Li-ion battery electrodes from their manufacturing parameters, in JAX.

Stages, one subpackage each: ``jaxmicro.data`` (labelled microstructures and the manufacturing
simulator), ``jaxmicro.characterise`` (tortuosity and metrics), ``jaxmicro.generator``
(conditional SliceGAN), ``jaxmicro.cell`` (PyBaMM cells), ``jaxmicro.bo`` (Bayesian
optimisation) and ``jaxmicro.design`` (the loop). The names below are re-exported flat and
imported lazily, so ``import jaxmicro`` does not pull in pybamm or torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # data
    "PORE": "jaxmicro.data",
    "AM": "jaxmicro.data",
    "CBD": "jaxmicro.data",
    "THROUGH_PLANE_AXIS": "jaxmicro.data",
    "Labels": "jaxmicro.data",
    "LABEL_FIELDS": "jaxmicro.data",
    "LABEL_RANGES": "jaxmicro.data",
    "validate_labels": "jaxmicro.data",
    "normalise_labels": "jaxmicro.data",
    "denormalise_labels": "jaxmicro.data",
    "read_volume": "jaxmicro.data",
    "write_volume": "jaxmicro.data",
    "read_voxel_size_m": "jaxmicro.data.volume_io",
    "LabelledDataset": "jaxmicro.data",
    "load_dataset": "jaxmicro.data",
    "SimulatorConfig": "jaxmicro.data",
    "simulate": "jaxmicro.data",
    "simulate_electrode": "jaxmicro.data",
    "simulate_electrodes": "jaxmicro.data",
    "target_volume_fractions": "jaxmicro.data",
    "Sample": "jaxmicro.data",
    "write_dataset": "jaxmicro.data",
    "default_label_grid": "jaxmicro.data",
    "HELDOUT_LABELS": "jaxmicro.data",
    "simulate_dataset": "jaxmicro.data",
    # cell
    "CathodeProperties": "jaxmicro.cell",
    "CellDesign": "jaxmicro.cell",
    "OperatingPoint": "jaxmicro.cell",
    "CellModelConfig": "jaxmicro.cell",
    "CellResult": "jaxmicro.cell",
    "CellCase": "jaxmicro.cell",
    "CylindricalFormat": "jaxmicro.cell",
    "PouchFormat": "jaxmicro.cell",
    "StackMaterials": "jaxmicro.cell",
    "cell_budget": "jaxmicro.cell",
    "simulate_cell": "jaxmicro.cell",
    "simulate_batch": "jaxmicro.cell",
    # characterise
    "TortuosityResult": "jaxmicro.characterise",
    "tortuosity": "jaxmicro.characterise",
    "tortuosity_from_field": "jaxmicro.characterise",
    "conductivity_field": "jaxmicro.characterise",
    "Metrics": "jaxmicro.characterise",
    "microstructure_metrics": "jaxmicro.characterise",
    # generator
    "Generator": "jaxmicro.generator",
    "load_generator": "jaxmicro.generator",
    "load_default_generator": "jaxmicro.generator",
    "load_shipped_generator": "jaxmicro.generator",
    "generate": "jaxmicro.generator",
    "train": "jaxmicro.generator",
    # design
    "DesignObjective": "jaxmicro.design",
    "DesignSettings": "jaxmicro.design",
    "Campaign": "jaxmicro.design",
    "CampaignSettings": "jaxmicro.design",
    "design_space": "jaxmicro.design",
    "run_study": "jaxmicro.design",
    # bo
    "Optimizer": "jaxmicro.bo",
}

__all__ = ["__version__", *_EXPORTS]


_SUBPACKAGES = ("data", "characterise", "generator", "cell", "bo", "design")


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"jaxmicro.{name}")
    raise AttributeError(f"module 'jaxmicro' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
