"""Synthetic two-phase test media for checks and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from jaxmicro.data.phases import AM, PORE


def gaussian_random_medium(
    shape: Sequence[int], porosity: float, *, correlation_voxels: float = 2.0, seed: int = 0
) -> np.ndarray:
    """A thresholded Gaussian random field: pore (``PORE``) and solid (``AM``) voxels.

    White noise smoothed by a Gaussian of standard deviation ``correlation_voxels`` (periodic),
    thresholded so that the pore fraction is ``porosity`` (to within one voxel).

    Args:
        shape: ``(z, y, x)``.
        porosity: pore volume fraction in (0, 1).
        correlation_voxels: smoothing length [voxels]; larger gives coarser pores.
        seed: random seed.

    Returns:
        uint8 volume of phase ids.
    """
    if not 0 < porosity < 1:
        raise ValueError(f"porosity must lie in (0, 1), got {porosity}")
    noise = np.random.default_rng(seed).standard_normal(tuple(shape))
    field = ndimage.gaussian_filter(noise, correlation_voxels, mode="wrap")
    return np.where(field < np.quantile(field, porosity), PORE, AM).astype(np.uint8)
