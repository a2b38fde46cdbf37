"""Microstructure metrics against taufactor.metrics and analytic shapes."""

from __future__ import annotations

import contextlib
import io

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from jaxmicro.characterise import PHASE_PAIRS, microstructure_metrics
from jaxmicro.data.phases import AM, CBD, PORE


@pytest.fixture(scope="module")
def tm():
    """taufactor.metrics, for the cross-check only (the other tests run without it)."""
    module = pytest.importorskip("taufactor.metrics", reason="cross-checks need taufactor")
    torch = pytest.importorskip("torch", reason="taufactor.metrics needs torch")
    torch.set_num_threads(1)  # beside JAX: see ../shared/TOOLCHAIN-NOTES.md
    return module


def three_phase(shape=(24, 20, 18), seed=0) -> np.ndarray:
    field = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), 1.5)
    return np.digitize(field, np.quantile(field, [0.4, 0.75])).astype(np.int32)  # 0 / 1 / 2


def test_metrics_match_taufactor_definitions(tm):
    volume = three_phase()
    spacing = (2e-6, 1e-6, 1.5e-6)
    m = microstructure_metrics(volume, spacing)
    names = {"0": PORE, "1": AM, "2": CBD}
    vf = tm.volume_fraction(volume)
    for name, phase in names.items():
        assert float(m.volume_fraction[phase]) == pytest.approx(vf[name], rel=1e-6)
    faces = tm.specific_surface_area(volume, spacing=spacing, method="face_counting", device="cpu")
    smooth = tm.specific_surface_area(volume, spacing=spacing, method="gradient", device="cpu")
    for name, phase in names.items():
        assert float(m.specific_surface_area[phase]) == pytest.approx(faces[name], rel=1e-5)
        assert float(m.specific_surface_area_smooth[phase]) == pytest.approx(smooth[name], rel=1e-4)
    # taufactor.metrics.interfacial_areas counts faces per volume (no face area): unit voxels
    pairs = tm.interfacial_areas(volume, device="cpu")
    unit = microstructure_metrics(volume, 1.0)
    for i, pair in enumerate(PHASE_PAIRS):
        assert float(unit.interfacial_area[i]) == pytest.approx(pairs.get(pair, 0.0), rel=1e-5)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints
        tpb = float(tm.triple_phase_boundary(volume))
    assert float(m.tpb_fraction) == pytest.approx(tpb, rel=1e-5)


def test_electrode_face_counting_matches_the_reference_values():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "electrode.tiff"
    if not path.is_file():
        pytest.skip(f"shared test volume {path} is absent")
    from jaxmicro.data import read_volume

    volume = read_volume(path, grey_values=(0, 85, 170))
    m = microstructure_metrics(volume, 100e-6 / 256)
    np.testing.assert_allclose(np.asarray(m.volume_fraction), [0.44992, 0.40047, 0.14962], atol=1e-5)
    np.testing.assert_allclose(np.asarray(m.specific_surface_area), [785502, 374028, 876100], rtol=1e-5)


def test_slab_areas_cbd_coverage_tpb_and_directions_are_exact():
    # z-layers pore | AM | CBD: two interfaces normal to axis 0, no TPB (no edge sees 3 phases)
    volume = np.zeros((6, 4, 5), np.int32)
    volume[2:4], volume[4:] = AM, CBD
    h = 1e-6
    m = microstructure_metrics(volume, h)
    area = 4 * 5 * h * h / (6 * 4 * 5 * h**3)
    np.testing.assert_allclose(np.asarray(m.interfacial_area), [area, 0.0, area], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(m.interfacial_area_by_axis)[:, 1:], 0.0)
    assert float(m.cbd_coverage) == pytest.approx(0.5)
    assert float(m.tpb_density) == 0.0
    # a column of CBD through an AM/pore interface: TPB edges run along axis 0 only
    volume = np.zeros((6, 4, 4), np.int32)
    volume[:, :, 2:] = AM
    volume[:, 1, 1:3] = CBD
    m = microstructure_metrics(volume, h)
    tpb = np.asarray(m.tpb_density_by_axis)
    assert tpb[0] > 0 and tpb[1] == 0 and tpb[2] == 0


def test_smoothed_area_reduces_the_staircase_overestimate_of_a_sphere():
    n, radius = 48, 14.0
    z, y, x = np.mgrid[:n, :n, :n] - (n - 1) / 2
    volume = np.where(z**2 + y**2 + x**2 <= radius**2, AM, PORE).astype(np.int32)
    m = microstructure_metrics(volume, 1.0)
    exact = 4 * np.pi * radius**2 / n**3
    faces, smooth = float(m.specific_surface_area[AM]), float(m.specific_surface_area_smooth[AM])
    assert faces / exact == pytest.approx(1.5, abs=0.1)  # the known face-counting bias
    assert abs(smooth / exact - 1) < 0.08


def test_batched_and_jitted_metrics_equal_single_ones():
    volumes = np.stack([three_phase(seed=1), three_phase(seed=2)])
    batch = microstructure_metrics(volumes, 1e-6)
    jitted = jax.jit(lambda v: microstructure_metrics(v, 1e-6))(jnp.asarray(volumes))
    for i in range(2):
        single = microstructure_metrics(volumes[i], 1e-6)
        for a, b, c in zip(single, batch, jitted, strict=True):
            # float32 sums in another order (batched, jitted): 1e-5, far above their round-off
            np.testing.assert_allclose(np.asarray(b)[i], np.asarray(a), rtol=1e-5)
            np.testing.assert_allclose(np.asarray(c)[i], np.asarray(a), rtol=1e-5)


@pytest.mark.parametrize(
    ("volume", "size", "message"),
    [
        (np.zeros((4, 4, 4), np.float32), 1.0, "integer phase ids"),
        (np.zeros((4, 4), np.int32), 1.0, "3-D"),
        (np.full((4, 4, 4), 3, np.int32), 1.0, "phase ids"),
        (np.zeros((4, 4, 4), np.int32), -1.0, "voxel_size_m"),
    ],
)
def test_bad_input_raises_value_errors(volume, size, message):
    with pytest.raises(ValueError, match=message):
        microstructure_metrics(volume, size)
