"""What a generator offers the stages that use one (validation, generation, design).

Two kinds stand behind it: the trained SliceGAN (:class:`~jaxmicro.generator.checkpoint.Generator`,
a JAX function of labels and latent noise) and the fitted stochastic-geometry model
(:class:`~jaxmicro.generator.stochastic.GeometryModel`, drawn on the host, phases placed by rank).
A stage asks what a generator can do (:attr:`VolumeGenerator.traceable`, :meth:`check_shape`),
never which class it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class VolumeGenerator(Protocol):
    """A conditional generator of 3-phase volumes (0 pore, 1 AM, 2 CBD).

    Attributes:
        traceable: its volumes are a JAX function of the labels and the PRNG keys, so they can be
            generated inside ``jit``, sharded over devices and differentiated with respect to the
            labels, and have phase probabilities and a choice of decoding. False: drawn on the
            host, one volume after another.
        label_ranges: the range it was trained or fitted on, ``{field: (low, high)}``.
        voxel_size_m: voxel edge of its volumes [m].
        info: provenance (free-form JSON), recorded by design campaigns.
        grid_period: edge of its latent grid cell [voxels], where a grid artefact can repeat
            (the validation measures it); None: no grid.
    """

    traceable: bool
    label_ranges: Mapping[str, tuple[float, float]]
    voxel_size_m: float

    @property
    def info(self) -> Mapping[str, Any]: ...

    @property
    def grid_period(self) -> int | None: ...

    def unit_labels(self, labels: np.ndarray) -> np.ndarray:
        """Physical labels ``(..., 3)`` scaled as the generator takes them."""
        ...

    def check_shape(self, shape: Sequence[int]) -> None:
        """Raises ValueError (one line, with the fix) for a ``(z, y, x)`` it cannot make."""
        ...

    def sample_batch(self, labels: np.ndarray, shape: Sequence[int], seeds: Sequence[int]) -> Any:
        """Volumes at ``(n, 3)`` physical labels for every seed (every label shares a seed's noise).

        Returns:
            ``(len(seeds), n, *shape)`` uint8 phase ids (a NumPy or JAX array).
        """
        ...
