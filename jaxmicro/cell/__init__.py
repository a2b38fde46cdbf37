"""Cell simulation with PyBaMM: microstructure-parameterised DFN (P2D) discharges of half and
full cells, normalised per kg and per litre of a whole 4680 (or pouch) cell.

Importing this package does not import PyBaMM; it is imported on the first simulation.
"""

from jaxmicro.cell.batch import CellCase, default_executor, simulate_batch
from jaxmicro.cell.bpx_export import bpx_parameters, export_bpx
from jaxmicro.cell.cluster import dask_executor
from jaxmicro.cell.formats import (
    CellBudget,
    CellStack,
    CylindricalFormat,
    HousingGeometry,
    PouchFormat,
    StackMaterials,
    cell_budget,
)
from jaxmicro.cell.inputs import CathodeProperties, CellDesign, OperatingPoint
from jaxmicro.cell.parameters import CellModelConfig, CellSetup, setup_cell
from jaxmicro.cell.result import CellResult, DischargeCurve
from jaxmicro.cell.simulate import build_simulation, clear_model_cache, simulate_cell

__all__ = [
    "CathodeProperties",
    "CellBudget",
    "CellCase",
    "CellDesign",
    "CellModelConfig",
    "CellResult",
    "CellSetup",
    "CellStack",
    "CylindricalFormat",
    "DischargeCurve",
    "HousingGeometry",
    "OperatingPoint",
    "PouchFormat",
    "StackMaterials",
    "bpx_parameters",
    "build_simulation",
    "cell_budget",
    "clear_model_cache",
    "dask_executor",
    "default_executor",
    "export_bpx",
    "setup_cell",
    "simulate_batch",
    "simulate_cell",
]
