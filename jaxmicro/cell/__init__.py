"""Cell simulation with PyBaMM: microstructure-parameterised DFN (P2D) discharges of half and
full cells, normalised per kg and per litre of a whole 4680 (or pouch) cell.

Importing this package does not import PyBaMM; it is imported on the first simulation.
"""

from jaxmicro.cell.batch import CellCase, default_executor, simulate_batch
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
from jaxmicro.cell.result import CellResult
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
    "HousingGeometry",
    "OperatingPoint",
    "PouchFormat",
    "StackMaterials",
    "build_simulation",
    "cell_budget",
    "clear_model_cache",
    "dask_executor",
    "default_executor",
    "setup_cell",
    "simulate_batch",
    "simulate_cell",
]
