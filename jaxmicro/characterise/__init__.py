"""JAX-native characterisation of electrode microstructures.

* :func:`tortuosity` / :func:`tortuosity_from_field`: tortuosity factor by steady diffusion
  (TauFactor's conventions), multigrid-preconditioned conjugate gradients; jittable, batched,
  differentiable for continuous fields. Options as one :class:`SolverConfig` (or keywords).
* :func:`microstructure_metrics`: volume fractions, surface and interfacial areas, CBD coverage,
  triple-phase boundary density, in SI units.
* :func:`soft_measure`: the ``Measurement`` of soft (probabilistic) volumes, differentiable.
* :func:`two_point_statistics`: two-point phase-pair probabilities (interfaces, correlation
  lengths) of soft or one-hot fields, differentiable; :func:`lineal_path`: the lineal-path
  function (straight runs through each phase) and :func:`ball_erosion` (how deep each phase
  is: the particle- and pore-size functions), likewise; :func:`euler_density`: the Euler
  characteristic per voxel of each phase (topology: particles, loops, cavities), likewise.

Example::

    from jaxmicro.characterise import tortuosity
    tau = tortuosity(volume, phase=PORE, axis=THROUGH_PLANE_AXIS).tau
"""

from jaxmicro.characterise.config import MultigridConfig, SolverConfig
from jaxmicro.characterise.correlation import (
    ball_erosion,
    lineal_path,
    two_point_probabilities,
    two_point_statistics,
)
from jaxmicro.characterise.memory import (
    BATCH_BYTES_PER_VOXEL,
    BYTES_PER_VOXEL,
    available_memory_bytes,
    memory_estimate_bytes,
)
from jaxmicro.characterise.metrics import PHASE_PAIRS, Metrics, microstructure_metrics
from jaxmicro.characterise.morphology import euler_density
from jaxmicro.characterise.soft import SOFT_TEMPERATURE, sharpen, soft_measure
from jaxmicro.characterise.solver import (
    TortuosityResult,
    conductivity_field,
    tortuosity,
    tortuosity_from_field,
)

__all__ = [
    "BATCH_BYTES_PER_VOXEL",
    "BYTES_PER_VOXEL",
    "PHASE_PAIRS",
    "SOFT_TEMPERATURE",
    "Metrics",
    "MultigridConfig",
    "SolverConfig",
    "TortuosityResult",
    "available_memory_bytes",
    "ball_erosion",
    "conductivity_field",
    "euler_density",
    "lineal_path",
    "memory_estimate_bytes",
    "microstructure_metrics",
    "sharpen",
    "soft_measure",
    "tortuosity",
    "tortuosity_from_field",
    "two_point_probabilities",
    "two_point_statistics",
]
