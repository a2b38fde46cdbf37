"""characterise.measure: the one measurement record, against volumes with known answers."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise.measure import (
    MeasureSettings,
    average_over_seeds,
    measure,
    seed_standard_error,
)
from jaxmicro.characterise.metrics import face_coverage, microstructure_metrics
from jaxmicro.data.phases import AM, CBD, PORE

N = 16


def _sphere(radius: float, n: int = 48) -> np.ndarray:
    z, y, x = np.mgrid[:n, :n, :n] + 0.5
    inside = (z - n / 2) ** 2 + (y - n / 2) ** 2 + (x - n / 2) ** 2 <= radius**2
    return np.where(inside, AM, PORE).astype(np.uint8)


@pytest.mark.parametrize("radius", [7.0, 10.0, 15.0])
def test_both_particle_radii_of_a_sphere_are_its_radius(radius):
    # The smoothed-gradient area gives 3 eps / a within 3 % for radii of 7 voxels and more;
    # face counting (the staircase) would read the sphere about 1.5x too small. The local
    # thickness (the largest whole-voxel ball inside, bias-corrected) within half a voxel.
    m = measure(_sphere(radius), MeasureSettings(voxel_size_m=1e-6, solid_conductivity=False))
    assert float(m.equivalent_particle_radius_m) == pytest.approx(radius * 1e-6, rel=0.03)
    assert abs(float(m.particle_radius_m) - radius * 1e-6) <= 0.5e-6
    assert float(m.cbd_coverage) == 0.0
    assert float(m.am_electrolyte_area_per_volume_m) == pytest.approx(
        float(m.am_surface_area_per_volume_m), rel=1e-6
    )


def test_touching_spheres_keep_their_local_thickness_radius_not_their_surface_radius():
    # Two overlapping spheres of radius 8 (centres 12 apart): the contact hides surface, so
    # 3 eps / a grows; the local thickness stays the spheres' radius.
    n = 48
    z, y, x = np.mgrid[:n, :n, :n] + 0.5
    inside = np.zeros((n, n, n), bool)
    for cx in (18.0, 30.0):
        inside |= (z - 24) ** 2 + (y - 24) ** 2 + (x - cx) ** 2 <= 64
    m = measure(np.where(inside, AM, PORE).astype(np.uint8), MeasureSettings(1e-6, solid_conductivity=False))
    assert abs(float(m.particle_radius_m) - 8e-6) <= 0.5e-6
    assert float(m.equivalent_particle_radius_m) > 1.1 * 8e-6


def _settings(**kwargs) -> MeasureSettings:
    return MeasureSettings(voxel_size_m=1e-6, am_conductivity_s_m=0.2, cbd_conductivity_s_m=20.0, **kwargs)


def test_solid_conductivity_of_parallel_columns_is_the_volume_average():
    v = np.zeros((N, N, N), np.uint8)
    v[:, :, :8], v[:, :, 8:12] = AM, CBD  # columns along the transport axis 0; pore 1/4
    sigma = float(measure(v, _settings()).solid_conductivity_s_m)
    assert sigma == pytest.approx(0.5 * 0.2 + 0.25 * 20.0, rel=1e-3)


def test_solid_conductivity_of_series_layers_is_the_harmonic_average():
    v = np.zeros((N, N, N), np.uint8)
    v[: N // 2, :, :12], v[N // 2 :, :, :12] = AM, CBD  # AM then CBD along axis 0; a pore column
    m = measure(v, _settings())
    # 3/4 of the cross-section conducts, through half AM and half CBD in series.
    assert float(m.solid_conductivity_s_m) == pytest.approx(0.75 / (0.5 / 0.2 + 0.5 / 20.0), rel=1e-3)
    assert float(m.electrolyte_tau_through_plane) == pytest.approx(1.0, rel=1e-3)


def test_a_nano_porous_cbd_carries_electrolyte_and_counts_as_its_volume():
    v = np.full((N, N, N), AM, np.uint8)
    v[:, :, :2] = PORE  # a straight pore slot: 1/8 of the cross-section
    v[:, :, 2:6] = CBD  # beside it a CBD slot of twice its width
    dense = measure(v, _settings())
    porous = measure(v, _settings(cbd_nanoporosity=0.5))
    assert float(dense.electrolyte_fraction) == pytest.approx(0.125)
    assert float(porous.electrolyte_fraction) == pytest.approx(0.125 + 0.5 * 0.25)
    assert float(porous.cbd_solid_fraction) == pytest.approx(0.125)
    # Parallel slots: D_rel = 1/8 + 1/4 * 0.5**1.5 (Bruggeman inside the CBD).
    assert float(dense.electrolyte_d_rel_through_plane) == pytest.approx(0.125, rel=1e-3)
    assert float(porous.electrolyte_d_rel_through_plane) == pytest.approx(0.125 + 0.25 * 0.5**1.5, rel=1e-3)


def test_measure_is_the_same_eager_jitted_and_batched():
    rng = np.random.default_rng(0)
    volumes = rng.choice(np.array([PORE, AM, CBD], np.uint8), size=(2, N, N, N), p=[0.45, 0.45, 0.1])
    settings = MeasureSettings(voxel_size_m=1e-6)
    eager = measure(volumes, settings)
    jitted = jax.jit(measure, static_argnums=1)(jnp.asarray(volumes), settings)
    single = measure(volumes[1], settings)
    for a, b, c in zip(eager, jitted, single, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4)
        np.testing.assert_allclose(np.asarray(a)[1], np.asarray(c), rtol=1e-4)


def test_seed_average_is_a_conductance_average_and_reports_its_standard_error():
    v = np.full((N, N, N), AM, np.uint8)
    open_ = v.copy()
    open_[:, :, :4] = PORE  # percolating straight slot
    closed = v.copy()
    closed[: N // 2, :, :4] = PORE  # a dead end: no path through
    closed[N // 2 :, :, 12:] = PORE
    m = measure(np.stack([open_, closed]), MeasureSettings(voxel_size_m=1e-6, solid_conductivity=False))
    assert bool(m.percolates[0]) and not bool(m.percolates[1])
    mean = average_over_seeds(m)
    assert bool(mean.percolates)
    # D_rel averages to (0.25 + 0) / 2; tau = eps / D_rel stays finite.
    assert float(mean.electrolyte_d_rel_through_plane) == pytest.approx(0.125, rel=1e-3)
    assert float(mean.electrolyte_tau_through_plane) == pytest.approx(0.25 / 0.125, rel=1e-3)
    error = seed_standard_error(m)
    # std (ddof 1) of (0.25, 0) is 0.25 / sqrt(2); over sqrt(2) seeds.
    expected = 0.25 / math.sqrt(2) / math.sqrt(2)
    assert float(error.electrolyte_d_rel_through_plane) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"am_conductivity_s_m": 0.0}, "am_conductivity_s_m must be a positive"),
        ({"cbd_conductivity_s_m": math.nan}, "cbd_conductivity_s_m must be a positive"),
        ({"voxel_size_m": -1.0}, "voxel_size_m must be a positive"),
        ({"cbd_nanoporosity": 1.0}, "cbd_nanoporosity must be in"),
        ({"conv_crit": 2.0}, "conv_crit must be in"),
    ],
)
def test_bad_settings_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MeasureSettings(**{"voxel_size_m": 1e-6, **kwargs})


@pytest.mark.parametrize("film_voxels", [1.5, 2.5])
def test_a_sphere_half_under_a_thin_cbd_film_reads_half_covered(film_voxels):
    """The smoothed pair estimate reads 0.26 (1.5-voxel film) and 0.40 (2.5): it blurs the
    film's two faces together; the face-count split of the smoothed AM surface does not."""
    grid = np.mgrid[:40, :40, :40] - 19.5
    radius = np.sqrt((grid**2).sum(axis=0))
    volume = np.zeros((40, 40, 40), np.int32)
    volume[(radius > 8) & (radius <= 8 + film_voxels) & (grid[0] > 0)] = CBD
    volume[radius <= 8] = AM
    m = measure(volume, MeasureSettings(voxel_size_m=1e-6, particle_radius=False))
    sphere_area = 4 * np.pi * 8.0**2 / (40**3 * 1e-6)
    assert float(m.cbd_coverage) == pytest.approx(0.5, abs=0.03)
    assert float(m.am_electrolyte_area_per_volume_m) == pytest.approx(0.5 * sphere_area, rel=0.06)
    smoothed = microstructure_metrics(volume, 1e-6).cbd_coverage_smooth
    assert float(smoothed) < 0.45  # the estimate this replaced


def test_face_coverage_counts_faces_on_one_hot_volumes_and_has_a_gradient_on_soft_ones():
    volume = np.random.default_rng(3).integers(0, 3, (10, 11, 12))
    one_hot = jax.nn.one_hot(volume, 3)
    counted = microstructure_metrics(volume.astype(np.int32), 1e-6).cbd_coverage
    assert float(face_coverage(one_hot)) == pytest.approx(float(counted), rel=1e-5)
    logits = jax.random.normal(jax.random.PRNGKey(0), (10, 11, 12, 3))
    grad = jax.grad(lambda z: face_coverage(jax.nn.softmax(z)))(logits)
    assert np.all(np.isfinite(grad)) and np.abs(grad).max() > 0
    assert float(face_coverage(jnp.zeros((4, 4, 4, 3)).at[..., 0].set(1.0))) == 0.0  # no AM
