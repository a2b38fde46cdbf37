"""Synthetic random media (two or three phases) for checks and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from jaxmicro.data.phases import AM, CBD, PORE


def gaussian_random_medium(
    shape: Sequence[int],
    porosity: float,
    *,
    cbd_fraction: float = 0.0,
    correlation_voxels: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """A thresholded Gaussian random field: pore (``PORE``), AM and optionally CBD voxels.

    White noise smoothed by a Gaussian of standard deviation ``correlation_voxels`` (periodic),
    cut at its quantiles: the lowest ``porosity`` pore, the next ``cbd_fraction`` CBD (a skin
    between pore and AM), the rest AM (fractions to within one voxel).

    Args:
        shape: ``(z, y, x)``.
        porosity: pore volume fraction in (0, 1).
        cbd_fraction: CBD volume fraction in [0, 1 - porosity).
        correlation_voxels: smoothing length [voxels]; larger gives coarser pores.
        seed: random seed.

    Returns:
        uint8 volume of phase ids.
    """
    if not 0 < porosity < 1:
        raise ValueError(f"porosity must lie in (0, 1), got {porosity}")
    if not 0 <= cbd_fraction < 1 - porosity:
        raise ValueError(f"cbd_fraction must lie in [0, 1 - porosity), got {cbd_fraction}")
    noise = np.random.default_rng(seed).standard_normal(tuple(shape))
    field = ndimage.gaussian_filter(noise, correlation_voxels, mode="wrap")
    pore_cut, cbd_cut = np.quantile(field, [porosity, porosity + cbd_fraction])
    return np.where(field < pore_cut, PORE, np.where(field < cbd_cut, CBD, AM)).astype(np.uint8)
