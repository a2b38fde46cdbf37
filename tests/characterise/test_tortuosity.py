"""Tortuosity solver: analytic cases, TauFactor cross-checks, batching, jit, gradients, bad input."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.characterise import (
    MultigridConfig,
    SolverConfig,
    conductivity_field,
    memory_estimate_bytes,
    tortuosity,
    tortuosity_from_field,
)
from jaxmicro.characterise import core as core_module
from jaxmicro.characterise import memory as memory_module
from jaxmicro.characterise import solver as solver_module
from jaxmicro.characterise.dispatch import ACCELERATOR, CPU, choose_strategy, platform_of
from jaxmicro.characterise.synthetic import gaussian_random_medium
from jaxmicro.data.phases import AM, CBD, PORE

ELECTRODE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "electrode.tiff"
# TauFactor 1.2.1 at conv_crit 1e-4 (shared/data/README.md).
ELECTRODE_TAU = {0: 2.07724, 1: 2.07641, 2: 2.20976}


@pytest.fixture(scope="module")
def taufactor():
    """TauFactor, for the cross-checks only (the other tests run without it)."""
    module = pytest.importorskip("taufactor", reason="TauFactor cross-checks need taufactor")
    torch = pytest.importorskip("torch", reason="TauFactor needs torch")
    torch.set_num_threads(1)  # beside JAX: see ../shared/TOOLCHAIN-NOTES.md
    return module


def taufactor_tau(solver) -> float:
    with contextlib.redirect_stdout(io.StringIO()):  # TauFactor prints
        solver.solve(verbose=False, conv_crit=1e-4)
    return float(np.squeeze(solver.tau))


def read_electrode() -> np.ndarray:
    if not ELECTRODE.is_file():
        pytest.skip(f"shared test volume {ELECTRODE} is absent")
    from jaxmicro.data import read_volume

    return read_volume(ELECTRODE, grey_values=(0, 85, 170))


# ---------------------------------------------------------------- analytic cases


def test_straight_channels_have_tau_one_and_do_not_percolate_sideways():
    volume = np.full((16, 16, 16), AM, np.uint8)
    volume[:, 2:5, 3:7] = PORE
    volume[:, 9:10, 8:14] = PORE
    through = tortuosity(volume, PORE, axis=0)
    assert float(through.tau) == pytest.approx(1.0, rel=1e-4)
    assert float(through.eps) == pytest.approx((3 * 4 + 6) / 256)
    assert float(through.D_rel) == pytest.approx(float(through.eps), rel=1e-4)
    assert bool(through.converged) and bool(through.percolates)
    sideways = tortuosity(volume, PORE, axis=1)  # channels are closed in y
    assert not bool(sideways.percolates)
    assert np.isinf(float(sideways.tau)) and float(sideways.D_rel) == 0.0


def test_layered_series_structure_gives_the_harmonic_mean():
    # layers normal to the transport axis with D = 1 and 0.25: D_eff = harmonic mean (exact for
    # face-centred fixed concentrations), tau = arithmetic mean / harmonic mean.
    d = np.where(np.arange(16) % 4 < 2, 1.0, 0.25)
    field = np.broadcast_to(d[:, None, None], (16, 16, 16)).astype(np.float32)
    result = tortuosity_from_field(jnp.asarray(field), axis=0)
    expected = d.mean() / (1 / np.mean(1 / d))
    assert float(result.tau) == pytest.approx(expected, rel=1e-4)
    parallel = tortuosity_from_field(jnp.asarray(field), axis=1)  # layers along the flux
    assert float(parallel.tau) == pytest.approx(1.0, rel=1e-4)


def test_same_layers_from_labels_with_a_finite_cbd_diffusivity():
    layer = np.where(np.arange(16) % 4 < 2, PORE, CBD)
    volume = np.broadcast_to(layer[:, None, None], (16, 16, 16)).astype(np.uint8)
    result = tortuosity(volume, diffusivities={PORE: 1.0, CBD: 0.25})
    d = np.where(layer == PORE, 1.0, 0.25)
    assert float(result.tau) == pytest.approx(d.mean() * np.mean(1 / d), rel=1e-4)
    assert float(result.eps) == pytest.approx(1.0)


def test_fully_blocked_phase_is_inf_without_nan_or_hang():
    volume = np.full((16, 16, 16), PORE, np.uint8)
    volume[7] = AM  # a solid wall across the transport axis
    result = tortuosity(volume, PORE, axis=0)
    assert not bool(result.percolates) and bool(result.converged)
    assert np.isinf(float(result.tau))
    assert int(result.iterations) == 0
    assert not any(np.isnan(np.asarray(x)).any() for x in result)


def test_isolated_clusters_and_dead_ends_do_not_change_the_flux():
    base = np.full((16, 16, 16), AM, np.uint8)
    base[:, 4:8, 4:8] = PORE
    decorated = base.copy()
    decorated[5:9, 11:14, 11:14] = PORE  # isolated pocket
    decorated[0:6, 12:15, 1:3] = PORE  # dead end from the inlet
    decorated[10:16, 1:3, 12:15] = PORE  # dead end from the outlet
    decorated[8, 8:11, 5] = PORE  # side branch of the channel
    plain, busy = tortuosity(base), tortuosity(decorated)
    assert float(busy.D_rel) == pytest.approx(float(plain.D_rel), rel=1e-4)
    assert float(busy.eps) > float(plain.eps)  # they count in eps, as in TauFactor
    # float32 identity tau = eps / D_rel: 1e-5 is ~100 float32 ulps (rounding of two divisions)
    assert float(busy.tau) == pytest.approx(float(busy.eps) / float(busy.D_rel), rel=1e-5)
    assert int(busy.iterations) <= 10


# ---------------------------------------------------------------- TauFactor cross-checks


def test_random_medium_64_matches_taufactor(taufactor):
    volume = gaussian_random_medium((64, 64, 64), 0.4, seed=3)
    ours = tortuosity(volume, PORE, axis=0)
    ref = taufactor_tau(taufactor.Solver((volume == PORE).astype(np.uint8), device="cpu"))
    assert bool(ours.converged)
    assert float(ours.tau) == pytest.approx(ref, rel=5e-3)
    assert float(ours.tau) == pytest.approx(ref, rel=2e-4)  # what we actually get


def test_periodic_sides_match_taufactor_periodic_solver(taufactor):
    volume = gaussian_random_medium((32, 32, 32), 0.45, seed=5)
    ours = tortuosity(volume, PORE, axis=0, periodic=True)
    ref = taufactor_tau(taufactor.PeriodicSolver((volume == PORE).astype(np.uint8), device="cpu"))
    assert float(ours.tau) == pytest.approx(ref, rel=5e-3)
    closed = tortuosity(volume, PORE, axis=0)
    assert float(closed.tau) != pytest.approx(float(ours.tau), rel=1e-3)


def test_anisotropic_voxels_match_taufactor_anisotropic_solver(taufactor):
    volume = gaussian_random_medium((32, 32, 32), 0.45, seed=6)
    spacing = (1.0, 1.5, 0.75)  # (z, y, x); TauFactor's (dx, dy, dz) with x = transport axis
    ours = tortuosity(volume, PORE, axis=0, voxel_size=spacing)
    solver = taufactor.AnisotropicSolver((volume == PORE).astype(np.uint8), spacing=spacing, device="cpu")
    assert float(ours.tau) == pytest.approx(taufactor_tau(solver), rel=5e-3)


def test_electrode_crop_pore_and_multiphase_match_taufactor(taufactor):
    volume = read_electrode()[:48, :48, :48]
    pore = tortuosity(volume, PORE, axis=0)
    ref = taufactor_tau(taufactor.Solver((volume == PORE).astype(np.uint8), device="cpu"))
    assert float(pore.tau) == pytest.approx(ref, rel=5e-3)
    # pore D = 1, CBD D = 0.2, AM blocks. TauFactor's MultiPhaseSolver needs label 0 for the
    # blocking phase and puts the fixed concentrations on a ghost voxel (dirichlet_offset=1).
    labels = np.select([volume == PORE, volume == CBD], [1, 2], 0).astype(np.int64)
    solver = taufactor.MultiPhaseSolver(labels, cond={1: 1.0, 2: 0.2}, device="cpu")
    multi = tortuosity(volume, diffusivities={PORE: 1.0, CBD: 0.2}, dirichlet_offset=1.0)
    assert float(multi.tau) == pytest.approx(taufactor_tau(solver), rel=5e-3)
    assert float(multi.eps) == pytest.approx(np.mean(volume != AM))
    assert float(multi.tau) < float(pore.tau)  # the CBD opens extra paths


@pytest.mark.slow
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_electrode_256_matches_taufactor_reference(axis):
    result = tortuosity(read_electrode(), PORE, axis=axis)
    assert bool(result.converged)
    assert float(result.eps) == pytest.approx(0.44992, abs=1e-5)
    assert float(result.tau) == pytest.approx(ELECTRODE_TAU[axis], rel=5e-3)


# ---------------------------------------------------------------- batching, jit, gradients


def test_batch_equals_single_solves_and_works_inside_jit():
    volumes = np.stack([gaussian_random_medium((16, 16, 16), p, seed=s) for p, s in ((0.5, 1), (0.35, 2))])
    batch = tortuosity(volumes, PORE, axis=0)
    assert batch.tau.shape == (2,)
    singles = [float(tortuosity(v, PORE, axis=0).tau) for v in volumes]
    np.testing.assert_allclose(np.asarray(batch.tau), singles, rtol=1e-5)
    # the traced path labels through a host callback (on CPU): same answer
    jitted = jax.jit(lambda v: tortuosity(v, PORE, axis=0).tau)(jnp.asarray(volumes))
    np.testing.assert_allclose(np.asarray(jitted), singles, rtol=1e-5)


@pytest.mark.parametrize("periodic", [False, True])
def test_accelerator_path_labels_clusters_on_the_device_with_the_same_answer(periodic):
    """The accelerator strategy (the flood fill with parallel scans on the device, one vmapped
    batch), reached on this CPU by the platform option, eager and traced: same result as the
    CPU strategy (cc3d on the host, one volume after another)."""
    volumes = np.stack([gaussian_random_medium((16, 14, 12), 0.4, seed=s) for s in (3, 4)])
    host = tortuosity(volumes, PORE, axis=1, periodic=periodic, platform="cpu")
    results = [tortuosity(volumes, PORE, axis=1, periodic=periodic, platform="accelerator")]
    if not periodic:  # traced too (one more compilation: once is enough)
        traced = jax.jit(lambda v: tortuosity(v, PORE, axis=1, platform="accelerator"))
        results.append(traced(jnp.asarray(volumes)))
    for result in results:
        np.testing.assert_array_equal(np.asarray(result.percolates), np.asarray(host.percolates))
        # Not bit for bit: vmapped and sequential float32 reductions differ in the last bits from
        # one CPU model to the next, which can move the stopping test by one iteration. Both stop
        # at a flux spread below conv_crit = 1e-4, and tau (from the dissipation) errs
        # quadratically in the solution error: 1e-4 is far above float32 round-off (1e-7)
        # and far below what a wrong cluster or operator would change (percent).
        np.testing.assert_allclose(np.asarray(result.tau), np.asarray(host.tau), rtol=1e-4)
        steps = np.abs(np.asarray(result.iterations) - np.asarray(host.iterations))
        assert steps.max() <= 1, (result.iterations, host.iterations)


def test_the_strategy_follows_the_platform_option_committed_arrays_and_the_default_device():
    cpu = jax.devices("cpu")[0]
    assert choose_strategy("cpu") == CPU and choose_strategy("accelerator") == ACCELERATOR
    assert CPU.one_volume_at_a_time and CPU.label_on_host and CPU.sequential_scan
    assert not (ACCELERATOR.one_volume_at_a_time or ACCELERATOR.label_on_host or ACCELERATOR.sequential_scan)
    expected = "cpu" if jax.default_backend() == "cpu" else "accelerator"
    assert platform_of(np.zeros(3)) == expected
    assert platform_of(jax.device_put(np.zeros(3), cpu)) == "cpu"
    assert choose_strategy("auto", jax.device_put(np.zeros(3), cpu)) == CPU
    with jax.default_device(cpu):
        assert platform_of(np.zeros(3)) == "cpu"
    with pytest.raises(ValueError, match="platform must be one of"):
        choose_strategy("gpu")


def test_changing_the_criterion_or_iteration_limit_does_not_recompile():
    volume = gaussian_random_medium((12, 11, 10), 0.6, seed=7)
    tortuosity(volume, conv_crit=1e-2)
    compiled = core_module._solve_batch._cache_size()
    loose, tight = tortuosity(volume, conv_crit=1e-2), tortuosity(volume, conv_crit=1e-5, max_iter=40)
    capped = tortuosity(volume, config=SolverConfig(conv_crit=1e-5, max_iter=1))
    assert core_module._solve_batch._cache_size() == compiled
    assert int(loose.iterations) < int(tight.iterations) and bool(tight.converged)
    assert int(capped.iterations) == 1 and not bool(capped.converged)


def test_gradient_of_soft_field_matches_finite_differences():
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
        field = jnp.asarray(rng.uniform(0.05, 1.0, (12, 12, 12)))
        field = field.at[:, 4:8, 4:8].set(0.0)  # non-conducting voxels too

        def tau(k):
            return tortuosity_from_field(k, conv_crit=1e-10, max_iter=200).tau

        grad = jax.grad(tau)(field)
        direction = jnp.asarray(rng.standard_normal(field.shape)) * (field > 0)
        h = 1e-4
        finite = (tau(field + h * direction) - tau(field - h * direction)) / (2 * h)
        assert float(jnp.vdot(grad, direction)) == pytest.approx(float(finite), rel=1e-5)


def test_conductivity_field_maps_phases():
    volume = jnp.array([[[PORE, AM, CBD]]])
    field = conductivity_field(volume, {PORE: 1.0, CBD: 0.1})
    np.testing.assert_allclose(np.asarray(field), [[[1.0, 0.0, 0.1]]], rtol=1e-6)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda v: tortuosity(v.astype(np.float32)), "integer phase ids"),
        (lambda v: tortuosity(v[0]), "3-D"),
        (lambda v: tortuosity(v, axis=3), "axis must be 0, 1 or 2"),
        (lambda v: tortuosity(v, voxel_size=(1.0, -1.0, 1.0)), "voxel_size"),
        (lambda v: tortuosity(v, dtype=jnp.int32), "float32 or float64"),
        (lambda v: tortuosity(v, diffusivities={PORE: 0.0}), "diffusivities"),
        (lambda v: tortuosity_from_field(jnp.full((8, 8, 8), jnp.nan)), "NaN"),
        (lambda v: tortuosity_from_field(jnp.asarray(v)), "float array"),
    ],
)
def test_bad_input_raises_clear_value_errors(call, message):
    volume = np.zeros((8, 8, 8), np.uint8)
    volume[:, :4] = AM
    with pytest.raises(ValueError, match=message):
        call(volume)


def test_a_boolean_mask_conducts_where_it_is_true_as_taufactor_reads_it():
    medium = gaussian_random_medium((16, 16, 16), 0.45, seed=5)  # phase ids, PORE = 0
    mask = medium == PORE  # True = pore, as a TauFactor user would pass it
    expected = tortuosity(medium, PORE)
    for given in (mask, jnp.asarray(mask)):
        result = tortuosity(given)
        assert float(result.eps) == pytest.approx(float(expected.eps))
        assert float(result.tau) == pytest.approx(float(expected.tau), rel=1e-5)
    # the complement differs: the mask was not read as phase ids (False = PORE = 0)
    assert float(expected.eps) != pytest.approx(float(tortuosity(~mask).eps))
    traced = jax.jit(lambda m: tortuosity(m).tau)(jnp.asarray(mask))
    assert float(traced) == pytest.approx(float(expected.tau), rel=1e-5)
    for options in ({"phase": PORE}, {"phase": 1}, {"diffusivities": {1: 1.0}}):
        with pytest.raises(ValueError, match="boolean mask conducts where it is True"):
            tortuosity(mask, **options)


def test_a_diffusivity_contrast_the_dtype_cannot_resolve_is_refused_not_nan():
    volume = gaussian_random_medium((12, 12, 12), 0.5, seed=1).astype(np.uint8)
    volume[::3] = np.where(volume[::3] == AM, CBD, volume[::3])
    # 1e-9 gave tau = NaN with only converged = False to show for it
    with pytest.raises(ValueError, match=r"contrast of 1\.0e-09 .* float64 .* leave the weakest phase out"):
        tortuosity(volume, diffusivities={PORE: 1.0, CBD: 1e-9})
    field = np.where(volume == PORE, 1.0, np.where(volume == CBD, 1e-9, 0.0)).astype(np.float32)
    with pytest.raises(ValueError, match="conductivity values span a contrast"):
        tortuosity_from_field(jnp.asarray(field))
    # at the limit the answer is finite and converged, and equals leaving the phase out
    # (tau = sum eps_p D_p / D_eff: the weak phase adds ~1e-7 to both)
    near = tortuosity(volume, diffusivities={PORE: 1.0, CBD: solver_module.MIN_DIFFUSIVITY_RATIO["float32"]})
    alone = tortuosity(volume, PORE)
    assert bool(near.converged) and np.isfinite(float(near.tau))
    assert bool(alone.percolates)
    assert float(near.tau) == pytest.approx(float(alone.tau), rel=1e-3)


def test_too_large_volume_states_the_estimate_before_allocating(monkeypatch):
    monkeypatch.setattr(memory_module, "available_memory_bytes", lambda device=None: 10**6)
    volume = np.zeros((64, 64, 64), np.uint8)
    with pytest.raises(ValueError, match=r"needs about 0\.03 GB"):
        tortuosity(volume)


def test_memory_estimate_of_a_field_and_of_a_batch_is_checked_before_solving(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the solver must not run (nor allocate) when the estimate is too large")

    monkeypatch.setattr(memory_module, "available_memory_bytes", lambda device=None: 10**6)
    monkeypatch.setattr(solver_module, "_solve_batch", never)
    with pytest.raises(ValueError, match=r"needs about 0\.03 GB .* only 0\.00 GB is available"):
        tortuosity_from_field(jnp.ones((64, 64, 64)))
    # on CPU two volumes are solved one after the other: one volume's temporaries + the batch
    with pytest.raises(ValueError, match=r"needs about 0\.04 GB"):
        tortuosity(np.zeros((2, 64, 64, 64), np.uint8), platform="cpu")
    with pytest.raises(ValueError, match=r"needs about 0\.06 GB"):  # on accelerators: together
        tortuosity(np.zeros((2, 64, 64, 64), np.uint8), platform="accelerator")
    assert memory_estimate_bytes((64, 64, 64), jnp.float64) == 2 * 64**3 * 120
    assert memory_estimate_bytes((3, 64, 64, 64), one_at_a_time=True) == 64**3 * (120 + 3 * 8)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda f: tortuosity_from_field(f.at[0, 0, 0].set(-0.5)), ">= 0"),
        (lambda f: tortuosity_from_field(f.at[0, 0, 0].set(jnp.inf)), "finite"),
        (lambda f: tortuosity_from_field(f[None, None]), "4-D batch"),
        (lambda f: tortuosity_from_field(f, axis=-1), "axis must be 0, 1 or 2"),
        (lambda f: tortuosity_from_field(f, conv_crit=0.0), "conv_crit"),
        (lambda f: tortuosity_from_field(f, max_iter=0), "max_iter"),
        (lambda f: tortuosity_from_field(f, dirichlet_offset=0.0), "dirichlet_offset"),
        (lambda f: tortuosity_from_field(f[:1]), "at least 2 voxels"),
        (lambda f: tortuosity(np.zeros((4, 4, 4), np.uint8), dtype=jnp.float64), "jax_enable_x64"),
    ],
)
def test_more_bad_input_raises_value_errors(call, message):
    if "x64" in message and jax.config.jax_enable_x64:
        pytest.skip("64-bit JAX is enabled in this process")
    with pytest.raises(ValueError, match=message):
        call(jnp.ones((8, 8, 8)))


# ---------------------------------------------------------------- float32 robustness, float64, axes


@pytest.mark.parametrize("shape", [(48, 48, 48), (50, 36, 42)])
def test_float32_solves_converge_quickly_on_sizes_that_are_not_powers_of_two(shape):
    # Regression: with the operator written as diag * u - sum g * u_nb, the float32 rounding of
    # the initial residual stalled the flux spread near 1e-4 on these sizes (300 iterations).
    volume = gaussian_random_medium(shape, 0.5, seed=0)
    result = tortuosity(volume, PORE, axis=0)
    assert bool(result.converged) and float(result.residual) <= 1e-4
    assert int(result.iterations) <= 15


def test_float64_option_gives_float64_results_and_tighter_convergence():
    volume = gaussian_random_medium((24, 24, 24), 0.4, seed=4)
    single = tortuosity(volume, PORE, axis=0)
    with jax.enable_x64(True):
        double = tortuosity(volume, PORE, axis=0, dtype=jnp.float64, conv_crit=1e-9)
        assert double.tau.dtype == jnp.float64 and double.D_rel.dtype == jnp.float64
        assert bool(double.converged) and float(double.residual) <= 1e-9
    assert single.tau.dtype == jnp.float32
    # conv_crit 1e-4 gives tau to about 1e-5 (docs/characterise.md)
    assert float(single.tau) == pytest.approx(float(double.tau), rel=5e-5)


def test_axes_1_and_2_equal_axis_0_of_the_transposed_volume():
    volume = gaussian_random_medium((20, 28, 24), 0.45, seed=7)
    for axis in (1, 2):
        moved = np.moveaxis(volume, axis, 0)
        a = tortuosity(volume, PORE, axis=axis)
        b = tortuosity(moved, PORE, axis=0)
        assert float(a.tau) == pytest.approx(float(b.tau), rel=1e-5)
        assert float(a.eps) == pytest.approx(float(b.eps))


def test_batch_with_a_blocked_volume_gives_inf_for_it_only():
    open_volume = gaussian_random_medium((16, 16, 16), 0.5, seed=1)
    blocked = open_volume.copy()
    blocked[8] = AM  # wall across the transport axis
    result = tortuosity(np.stack([open_volume, blocked]), PORE, axis=0)
    tau = np.asarray(result.tau)
    assert np.isfinite(tau[0]) and np.isinf(tau[1])
    assert np.asarray(result.percolates).tolist() == [True, False]
    assert np.asarray(result.converged).all()
    assert not any(np.isnan(np.asarray(x)).any() for x in result)
    assert tau[0] == pytest.approx(float(tortuosity(open_volume, PORE, axis=0).tau), rel=1e-5)


def test_vmap_and_jit_of_the_field_solver_equal_single_solves():
    rng = np.random.default_rng(2)
    fields = jnp.asarray(rng.uniform(0.1, 1.0, (3, 12, 12, 12)), jnp.float32)
    singles = [float(tortuosity_from_field(f).tau) for f in fields]
    mapped = jax.jit(jax.vmap(lambda f: tortuosity_from_field(f, axis=2).tau))(fields)
    along2 = [float(tortuosity_from_field(f, axis=2).tau) for f in fields]
    np.testing.assert_allclose(np.asarray(mapped), along2, rtol=1e-5)
    assert all(t > 1.0 for t in singles)  # heterogeneous fields are tortuous


# ---------------------------------------------------------------- empty phases, eager = traced


@pytest.mark.parametrize("traced", [False, True])
def test_a_phase_that_never_occurs_is_inf_and_not_percolating_eager_or_traced(traced):
    """Same answer eagerly and under jit: no error, tau = inf, no iteration, nothing NaN."""
    volumes = np.full((2, 8, 8, 8), AM, np.uint8)
    volumes[1, :, :4] = PORE  # the second volume has pores (straight channels), the first none
    solve = (
        (lambda v: tortuosity(jnp.asarray(v), PORE)) if not traced else jax.jit(lambda v: tortuosity(v, PORE))
    )
    result = solve(volumes)
    assert np.asarray(result.percolates).tolist() == [False, True]
    assert np.isinf(float(result.tau[0])) and float(result.tau[1]) == pytest.approx(1.0, rel=1e-4)
    assert float(result.D_rel[0]) == 0.0 and float(result.eps[0]) == 0.0 and int(result.iterations[0]) == 0
    assert not any(np.isnan(np.asarray(x)).any() for x in result)
    single = tortuosity(volumes[0], phase=[PORE, CBD])
    assert np.isinf(float(single.tau)) and not bool(single.percolates)


def test_a_field_without_conducting_voxels_is_inf_eager_or_traced():
    zeros = jnp.zeros((8, 8, 8))
    for result in (tortuosity_from_field(zeros), jax.jit(tortuosity_from_field)(zeros)):
        assert np.isinf(float(result.tau)) and not bool(result.percolates)
        assert int(result.iterations) == 0


# ---------------------------------------------------------------- the options as one value


def test_the_config_is_hashable_and_keyword_options_override_it():
    config = SolverConfig(conv_crit=1e-3, dtype=jnp.float32, multigrid=MultigridConfig(inner_iterations=1))
    assert config == SolverConfig(conv_crit=0.001, dtype="float32", multigrid=MultigridConfig(64, 1))
    assert hash(config) == hash(
        SolverConfig(conv_crit=1e-3, dtype="float32", multigrid=MultigridConfig(64, 1))
    )
    assert SolverConfig.of(config, periodic=True) == dataclasses.replace(config, periodic=True)
    assert SolverConfig.of(None) == SolverConfig()
    volume = gaussian_random_medium((16, 16, 16), 0.45, seed=9)
    by_config = tortuosity(volume, config=config)
    by_keywords = tortuosity(volume, conv_crit=1e-3, multigrid=MultigridConfig(inner_iterations=1))
    assert float(by_config.tau) == float(by_keywords.tau)
    overridden = tortuosity(volume, config=config, conv_crit=1e-6)
    assert int(overridden.iterations) > int(by_config.iterations)
    field = jnp.asarray(volume == PORE, jnp.float32)
    # another compiled path: last-bit differences may move the stopping test by one step,
    # which changes tau (from the dissipation, accurate to ~1e-5 at conv_crit 1e-3) by less
    assert float(tortuosity_from_field(field, config=config).tau) == pytest.approx(
        float(by_config.tau), rel=1e-4
    )
    with pytest.raises(TypeError, match="unknown solver option"):
        tortuosity(volume, conv_crt=1e-3)


def test_multigrid_tuning_is_an_option_not_a_module_global():
    """A V-cycle (one inner step) needs more outer iterations than the default K-cycle; a
    bigger coarsest grid gives the same answer."""
    volume = gaussian_random_medium((32, 32, 32), 0.35, seed=10)
    default = tortuosity(volume)
    v_cycle = tortuosity(volume, multigrid=MultigridConfig(inner_iterations=1))
    coarse = tortuosity(volume, multigrid=MultigridConfig(max_coarse_voxels=512))
    assert int(v_cycle.iterations) > int(default.iterations)
    assert float(v_cycle.tau) == pytest.approx(float(default.tau), rel=1e-5)
    assert float(coarse.tau) == pytest.approx(float(default.tau), rel=1e-5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"conv_crit": 1.5}, "conv_crit"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"dirichlet_offset": -1}, "dirichlet_offset"),
        ({"dtype": "int8"}, "float32 or float64"),
        ({"platform": "gpu"}, "platform must be one of"),
        ({"multigrid": 64}, "MultigridConfig"),
    ],
)
def test_bad_options_are_refused_when_the_config_is_made(options, message):
    with pytest.raises(ValueError, match=message):
        SolverConfig(**options)
    with pytest.raises(ValueError, match="inner_iterations"):
        MultigridConfig(inner_iterations=0)
