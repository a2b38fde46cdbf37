"""Pinned tortuosity results: the solver's answers and iteration counts must not drift when its
code is reorganised (values from the solver as of 2026-12-03, commit 222fd10).

float32 values are compared at rel 1e-5 (the solves stop at a flux spread of 1e-4 or 1e-3 and
tau is accurate to about 1e-6 there; last-bit differences between CPU models stay far below),
float64 at 1e-9. float32 iteration counts may differ by one: the stopping test compares a flux
spread computed in float32 with the criterion, and last-bit differences between CPU models can
move a spread that lands within round-off of the criterion to the other side (one more step
only makes tau more accurate). float64 counts are exact (the spread is 1e8 times above its
round-off).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import tortuosity, tortuosity_from_field
from jaxmicro.characterise.synthetic import gaussian_random_medium
from jaxmicro.data.phases import AM, CBD, PORE


@pytest.fixture(scope="module")
def medium() -> np.ndarray:
    return gaussian_random_medium((32, 32, 32), 0.4, seed=11)


def _check(result, tau, iterations) -> None:
    np.testing.assert_allclose(np.asarray(result.tau), tau, rtol=1e-5)
    steps = np.abs(np.asarray(result.iterations) - np.asarray(iterations))
    assert steps.max() <= 1, (np.asarray(result.iterations), iterations)
    assert np.asarray(result.percolates).all()


def test_pore_tortuosity_through_plane_and_periodic_in_plane_are_unchanged(medium):
    _check(tortuosity(medium, PORE, 0), 2.688202381134033, 6)
    _check(tortuosity(medium, PORE, 2, periodic=True, conv_crit=1e-3), 2.4540762901306152, 5)


def test_batch_eager_and_jitted_are_unchanged():
    volumes = np.stack([gaussian_random_medium((24, 20, 28), p, seed=s) for p, s in ((0.35, 1), (0.5, 2))])
    expected = ([2.7934658527374268, 1.9070051908493042], [5, 6])
    _check(tortuosity(volumes, PORE, 1), *expected)
    _check(jax.jit(lambda v: tortuosity(v, PORE, 1))(jnp.asarray(volumes)), *expected)


def test_multiphase_anisotropic_ghost_voxel_solve_is_unchanged(medium):
    cbd = gaussian_random_medium((32, 32, 32), 0.3, seed=12) == PORE
    volume = np.where((medium == AM) & cbd, CBD, medium).astype(np.uint8)
    result = tortuosity(
        volume, diffusivities={PORE: 1.0, CBD: 0.2}, dirichlet_offset=1.0, voxel_size=(1.0, 1.5, 0.75)
    )
    _check(result, 2.156191825866699, 8)


def test_soft_field_solve_is_unchanged():
    field = jnp.asarray(np.random.default_rng(3).uniform(0.05, 1.0, (20, 20, 20)), jnp.float32)
    _check(tortuosity_from_field(field, conv_crit=1e-3), 1.2350437641143799, 3)


def test_float64_solve_is_unchanged(medium):
    with jax.enable_x64(True):
        result = tortuosity(medium, PORE, 0, dtype=jnp.float64, conv_crit=1e-8)
        np.testing.assert_allclose(float(result.tau), 2.68820179011067, rtol=1e-9)
        assert int(result.iterations) == 12
