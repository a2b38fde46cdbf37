"""One benchmark per stage of the design loop, each returning a result NamedTuple.

Every function measures one stage at one size on JAX's default device (TauFactor: the torch
device given), compile time apart from steady-state time (see :mod:`jaxmicro.bench.timing`),
and returns plain numbers; nothing is printed or written here.

Volumes for the solver and metric stages are :func:`three_phase_medium` random media (not
generated ones), so those stages do not depend on a generator checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import math
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.bench.timing import Timing, time_call, time_jitted
from jaxmicro.characterise.synthetic import gaussian_random_medium
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import PORE, THROUGH_PLANE_AXIS

# ---------------------------------------------------------------------------------------------
# Results.


class GeneratorRow(NamedTuple):
    """Generation of ``batch`` cubic volumes of edge ``edge`` (soft probabilities + argmax).

    Attributes:
        edge: volume edge [voxels].
        batch: volumes per call (labels spread over the trained range, one latent noise).
        timing: one call [s].
        volumes_per_s: steady-state volumes per second.
        voxels_per_s: steady-state voxels per second.
    """

    edge: int
    batch: int
    timing: Timing
    volumes_per_s: float
    voxels_per_s: float


class TauFactorRow(NamedTuple):
    """TauFactor's ``Solver`` on the same volumes (set-up included in each call).

    Attributes:
        timing: one call [s] (``compile_s`` 0: nothing is compiled).
        solves_per_s: volumes solved per second.
        voxels_per_s: voxels per second.
        tau: tortuosity factor of each volume [-].
        iterations: TauFactor's iteration count.
        device: torch device (``"cpu"`` or ``"cuda"``).
        threads: torch CPU threads.
    """

    timing: Timing
    solves_per_s: float
    voxels_per_s: float
    tau: tuple[float, ...]
    iterations: int
    device: str
    threads: int


class TortuosityRow(NamedTuple):
    """Pore-phase through-plane tortuosity of ``batch`` volumes of edge ``edge``, in one call.

    Attributes:
        edge: volume edge [voxels].
        batch: volumes solved together (one batched, jitted solve).
        conv_crit: flux-spread criterion (both solvers).
        timing: one call of jaxmicro's solver [s].
        solves_per_s: steady-state volumes solved per second.
        voxels_per_s: steady-state voxels per second.
        iterations: largest PCG iteration count of the batch.
        tau: tortuosity factor of each volume [-].
        taufactor: TauFactor on the same volumes, or ``None`` (see ``taufactor_note``).
        taufactor_note: why TauFactor was not run ("" when it was).
    """

    edge: int
    batch: int
    conv_crit: float
    timing: Timing
    solves_per_s: float
    voxels_per_s: float
    iterations: int
    tau: tuple[float, ...]
    taufactor: TauFactorRow | None = None
    taufactor_note: str = ""

    @property
    def speedup(self) -> float:
        """TauFactor's steady time over ours (NaN without TauFactor)."""
        if self.taufactor is None or self.timing.median_s <= 0:
            return math.nan
        return self.taufactor.timing.median_s / self.timing.median_s


class MetricsRow(NamedTuple):
    """:func:`~jaxmicro.characterise.microstructure_metrics` of ``batch`` volumes in one call.

    Attributes:
        edge: volume edge [voxels].
        batch: volumes per call.
        timing: one call [s].
        volumes_per_s: steady-state volumes per second.
        voxels_per_s: steady-state voxels per second.
    """

    edge: int
    batch: int
    timing: Timing
    volumes_per_s: float
    voxels_per_s: float


class CellRow(NamedTuple):
    """A batch of PyBaMM DFN discharges in this process (one model build, cached).

    Attributes:
        cases: simulations per batch.
        timing: one batch [s]; ``compile_s`` is mostly the model build.
        simulations_per_s: steady-state simulations per second.
        failed: simulations that failed in the last batch.
    """

    cases: int
    timing: Timing
    simulations_per_s: float
    failed: int


class BORow(NamedTuple):
    """The Bayesian optimiser's work at ``observations`` points, as :class:`~jaxmicro.bo.Optimizer`
    does it (NumPy host GP, float64, single-threaded BLAS, its default settings).

    Attributes:
        observations: observed points.
        dim: input dimensions.
        fit: a cold multi-start fit of the GP hyperparameters plus the posterior
            (:func:`~jaxmicro.bo.host_gp.fit_map` from ``fit_starts`` starts,
            :func:`~jaxmicro.bo.host_gp.posterior`) [s].
        acquisition: the acquisition maximised for one point
            (:func:`~jaxmicro.bo.host_acq.maximize`) [s].
        ask: ``Optimizer.ask(1)`` of an optimiser restored from the state after ``observations``
            tells: all of the above plus its bookkeeping [s].
    """

    observations: int
    dim: int
    fit: Timing
    acquisition: Timing
    ask: Timing


class DesignIterationRow(NamedTuple):
    """One design-loop iteration: ask, generate + characterise, simulate cells, tell.

    Attributes:
        edge: generated volume edge [voxels].
        batch: labels per iteration.
        seeds_per_label: volumes per label.
        observations: observations the optimiser held before the timed iterations.
        first_s: the first iteration (compilation, model build) [s].
        ask_s: median time of ``Optimizer.ask`` (GP fit + acquisition) [s].
        measure_s: median generation + characterisation time [s].
        cell_s: median cell-simulation time [s].
        tell_s: median ``Optimizer.tell`` time [s].
        total_s: median whole iteration [s].
        repeats: steady-state iterations timed.
        failed: failed evaluations over the timed iterations.
    """

    edge: int
    batch: int
    seeds_per_label: int
    observations: int
    first_s: float
    ask_s: float
    measure_s: float
    cell_s: float
    tell_s: float
    total_s: float
    repeats: int
    failed: int


# ---------------------------------------------------------------------------------------------
# Inputs.


def three_phase_medium(edge: int, batch: int = 1, seed: int = 0) -> np.ndarray:
    """The bench's random electrode-like volumes: 35 % pore, 55 % AM, 10 % CBD by voxel count
    (:func:`~jaxmicro.characterise.synthetic.gaussian_random_medium`, CBD a skin between pore
    and AM; the pore percolates along every axis).

    Args:
        edge: volume edge [voxels].
        batch: number of volumes (seeds ``seed``, ``seed + 1``, ...).
        seed: seed of the first volume.

    Returns:
        ``(batch, edge, edge, edge)`` uint8 phase ids.
    """
    return np.stack(
        [gaussian_random_medium((edge,) * 3, 0.35, cbd_fraction=0.10, seed=seed + i) for i in range(batch)]
    )


def spread_labels(label_ranges: dict[str, tuple[float, float]], n: int) -> np.ndarray:
    """``n`` labels along the diagonal of a label box (the centre for ``n == 1``), ``(n, 3)``."""
    fractions = np.full(1, 0.5) if n == 1 else np.linspace(0.1, 0.9, n)
    low = np.array([label_ranges[f][0] for f in LABEL_FIELDS])
    high = np.array([label_ranges[f][1] for f in LABEL_FIELDS])
    return low + fractions[:, None] * (high - low)


# ---------------------------------------------------------------------------------------------
# Stages.


def bench_generator(generator: Any, edge: int, batch: int, repeats: int = 3) -> GeneratorRow:
    """Times generating ``batch`` volumes ``edge^3`` (probabilities + argmax to uint8), one call.

    Args:
        generator: a :class:`~jaxmicro.generator.Generator`.
        edge: volume edge [voxels], a multiple of the generator's upsampling factor.
        batch: labels per call.
        repeats: steady-state calls.
    """
    from jaxmicro.generator import generate_probabilities, latent_shape_for

    config = generator.config
    latent = latent_shape_for(config, (edge,) * 3, periodic=False)
    unit = jnp.asarray(generator.unit_labels(spread_labels(generator.label_ranges, batch)))

    @jax.jit
    def run(params: Any, key: jax.Array, labels_unit: jax.Array) -> jax.Array:
        probabilities = generate_probabilities(params, config, key, labels_unit, latent, (edge,) * 3)
        return jnp.argmax(probabilities, axis=-1).astype(jnp.uint8)

    timing, _ = time_jitted(run, generator.params, jax.random.PRNGKey(0), unit, repeats=repeats)
    return GeneratorRow(edge, batch, timing, timing.per_second(batch), timing.per_second(batch * edge**3))


def bench_tortuosity(volumes: np.ndarray, conv_crit: float = 1e-3, repeats: int = 3) -> TortuosityRow:
    """Times jaxmicro's pore-phase, through-plane tortuosity of a batch in one jitted call.

    Args:
        volumes: ``(batch, n, n, n)`` phase ids.
        conv_crit: flux-spread criterion.
        repeats: steady-state calls.
    """
    from jaxmicro.characterise import tortuosity

    batch, edge = volumes.shape[0], volumes.shape[1]
    run = jax.jit(lambda v: tortuosity(v, PORE, THROUGH_PLANE_AXIS, conv_crit=conv_crit))
    timing, result = time_jitted(run, jnp.asarray(volumes), repeats=repeats)
    return TortuosityRow(
        edge=edge,
        batch=batch,
        conv_crit=conv_crit,
        timing=timing,
        solves_per_s=timing.per_second(batch),
        voxels_per_s=timing.per_second(volumes.size),
        iterations=int(np.max(result.iterations)),
        tau=tuple(float(t) for t in np.asarray(result.tau)),
    )


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[int]:
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def bench_taufactor(
    volumes: np.ndarray,
    conv_crit: float = 1e-3,
    repeats: int = 1,
    device: str = "cpu",
    threads: int | None = None,
) -> TauFactorRow:
    """Times TauFactor's ``Solver`` (pore phase, axis 0) on a batch, set-up included.

    Args:
        volumes: ``(batch, n, n, n)`` phase ids.
        conv_crit: TauFactor's ``conv_crit``.
        repeats: calls timed (no warm-up call: TauFactor compiles nothing).
        device: torch device, ``"cpu"`` or ``"cuda"``.
        threads: torch CPU threads (``None``: torch's default).

    Raises:
        ImportError: TauFactor (or torch) is not installed.
    """
    import taufactor
    import torch

    pore = (volumes == PORE).astype(np.uint8)
    image = pore[0] if len(pore) == 1 else pore
    last: dict[str, Any] = {}

    def solve() -> None:
        solver = taufactor.Solver(image, device=device)
        with contextlib.redirect_stdout(io.StringIO()):
            solver.solve(verbose=False, conv_crit=conv_crit)
        if device == "cuda":
            torch.cuda.synchronize()
        last["solver"] = solver

    with _torch_threads(threads) as used:
        times = []
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            solve()
            times.append(time.perf_counter() - start)
    timing = Timing(0.0, times[0], float(np.median(times)), min(times), len(times))
    solver = last["solver"]
    tau = np.atleast_1d(np.asarray(solver.tau.cpu() if hasattr(solver.tau, "cpu") else solver.tau, float))
    return TauFactorRow(
        timing=timing,
        solves_per_s=timing.per_second(len(volumes)),
        voxels_per_s=timing.per_second(volumes.size),
        tau=tuple(float(t) for t in tau.ravel()),
        iterations=int(solver.iter),
        device=device,
        threads=used,
    )


def bench_metrics(volumes: np.ndarray, voxel_size_m: float = 0.75e-6, repeats: int = 3) -> MetricsRow:
    """Times :func:`~jaxmicro.characterise.microstructure_metrics` of a batch in one jitted call.

    Args:
        volumes: ``(batch, n, n, n)`` phase ids.
        voxel_size_m: voxel edge [m].
        repeats: steady-state calls.
    """
    from jaxmicro.characterise import microstructure_metrics

    batch, edge = volumes.shape[0], volumes.shape[1]
    run = jax.jit(lambda v: microstructure_metrics(v, voxel_size_m))
    timing, _ = time_jitted(run, jnp.asarray(volumes), repeats=repeats)
    return MetricsRow(edge, batch, timing, timing.per_second(batch), timing.per_second(volumes.size))


def cell_cases(n: int, settings: Any = None) -> list[Any]:
    """``n`` cell cases around a typical generated cathode (porosity 0.32 to 0.40).

    Args:
        n: number of cases.
        settings: a :class:`~jaxmicro.design.DesignSettings` (``None``: defaults) giving the
            cell design and the operating point.
    """
    from jaxmicro.cell import CathodeProperties, CellCase, OperatingPoint
    from jaxmicro.design import DesignSettings

    settings = settings or DesignSettings()
    design = settings.cell_design()
    point = OperatingPoint(power_w_per_kg=settings.power_w_per_kg)
    cases = []
    for porosity in np.linspace(0.32, 0.40, n) if n > 1 else [0.35]:
        am = 0.9 - porosity
        properties = CathodeProperties(
            porosity=float(porosity),
            am_volume_fraction=float(am),
            cbd_volume_fraction=0.1,
            tortuosity_through_plane=2.5,
            am_electrolyte_area_per_volume_m=3.0 * am / settings.particle_radius_m,
            cbd_coverage=0.3,
        )
        cases.append(CellCase(properties, design, point))
    return cases


def bench_cells(n: int, repeats: int = 3, settings: Any = None) -> CellRow:
    """Times a batch of ``n`` cell simulations in this process (the model is built once).

    Args:
        n: simulations per batch.
        repeats: steady-state batches.
        settings: a :class:`~jaxmicro.design.DesignSettings` (``None``: defaults).
    """
    from jaxmicro.cell import simulate_batch

    cases = cell_cases(n, settings)
    timing, results = time_call(lambda: simulate_batch(cases, max_workers=1), repeats)
    return CellRow(n, timing, timing.per_second(n), sum(r.failed for r in results))


def _bo_data(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth test objective at ``n`` uniform random unit-box points, standardised."""
    x = np.random.default_rng(seed).uniform(size=(n, dim))
    y = np.sin(6.0 * x).sum(axis=1) - 3.0 * ((x - 0.4) ** 2).sum(axis=1)
    return x, (y - y.mean()) / y.std()


def bench_bo(observations: int, dim: int = 2, repeats: int = 3, seed: int = 0) -> BORow:
    """Times the Bayesian optimiser's GP fit, its acquisition and a whole ``ask``.

    The pieces are the functions :class:`~jaxmicro.bo.Optimizer` calls, with its default
    :class:`~jaxmicro.bo.Settings`, inside its compute context (single-threaded BLAS); the
    ``ask`` row times the Optimizer itself, restored from one state for every call so each
    call does the same work (a cold multi-start fit, as after a resume). Nothing is jitted:
    ``compile_s`` is the first call's excess over the steady median (imports, caches).

    Args:
        observations: number of observed points (at least 2).
        dim: input dimensions.
        repeats: steady-state calls.
        seed: seed of the data and the optimiser.
    """
    from jaxmicro.bo import Optimizer, Settings, host_acq, host_gp
    from jaxmicro.bo.optimizer import _compute_context
    from jaxmicro.bo.sobol import sobol_points

    bounds = ((0.0, 1.0),) * dim
    s = Settings(bounds=bounds)
    x, y = _bo_data(observations, dim, seed)
    optimizer = Optimizer(bounds=list(bounds), seed=seed, n_initial=2)
    optimizer.tell(x, y)
    state = optimizer.to_dict()
    rng = np.random.default_rng(seed)
    starts = host_gp.prior_starts(dim, s.fit_starts, rng)
    with _compute_context():
        sq_diffs = host_gp.squared_differences(x)

        def fit() -> Any:
            options = {"noise_min": s.noise_min, "kernel": s.kernel, "sq_diffs": sq_diffs}
            theta = host_gp.fit_map(x, y, starts, maxiter=s.maxiter, **options).theta
            return host_gp.posterior(theta, x, y, s.kernel, sq_diffs)

        fit_timing, post = time_call(fit, repeats)
        raw = sobol_points(s.n_raw, dim, seed)
        lower, upper = np.zeros(dim), np.ones(dim)

        def acquire() -> Any:
            return host_acq.maximize(
                s.acquisition,
                post,
                float(y.max()),
                raw,
                lower,
                upper,
                s.beta,
                n_refine=s.n_refine,
                maxiter=s.maxiter,
            )

        acq_timing, _ = time_call(acquire, repeats)
    ask_timing, _ = time_call(lambda: Optimizer.from_dict(state).ask(1), repeats)
    return BORow(observations, dim, fit_timing, acq_timing, ask_timing)


def bench_design_iteration(
    generator: Any,
    settings: Any = None,
    batch: int = 2,
    observations: int = 10,
    repeats: int = 2,
    seed: int = 0,
) -> DesignIterationRow:
    """Times full design-loop iterations as a campaign runs them (without its log files).

    An optimiser over the default design space is first told ``observations`` Sobol points
    with a synthetic objective (so the GP proposes from the first timed iteration); then each
    iteration asks ``batch`` labels, generates and characterises them
    (:meth:`~jaxmicro.design.DesignObjective.measure`), simulates their cells and tells the
    optimiser. The first iteration is reported apart (compilation, model build).

    Args:
        generator: a :class:`~jaxmicro.generator.Generator`.
        settings: a :class:`~jaxmicro.design.DesignSettings` (volume size, seeds per label, cell).
        batch: labels per iteration.
        observations: prior observations (at least 2).
        repeats: steady-state iterations.
        seed: optimiser seed.
    """
    from jaxmicro.bo import Optimizer
    from jaxmicro.design import DesignObjective, DesignSettings, design_space, measurement_row

    settings = settings or DesignSettings()
    space = design_space(generator.label_ranges)
    objective = DesignObjective(generator, settings)
    optimizer = Optimizer(bounds=list(space.bounds), seed=seed, n_initial=observations)
    prior = optimizer.ask(observations)
    unit = (prior - np.array(space.bounds)[:, 0]) / np.ptp(np.array(space.bounds), axis=1)
    optimizer.tell(prior, -((unit - 0.6) ** 2).sum(axis=1))

    def iteration() -> tuple[dict[str, float], int]:
        clock = [time.perf_counter()]
        x = optimizer.ask(batch)
        clock.append(time.perf_counter())
        labels = space.full_labels(x)
        _, properties = objective.measure(labels)
        properties = jax.block_until_ready(properties)
        clock.append(time.perf_counter())
        rows = [measurement_row(properties, i) for i in range(len(labels))]
        evaluations = objective.evaluate_measured(labels, rows, (clock[2] - clock[1]) / len(labels))
        clock.append(time.perf_counter())
        optimizer.tell(x, [e.objective for e in evaluations])
        clock.append(time.perf_counter())
        names = ("ask", "measure", "cell", "tell")
        phases = {name: clock[i + 1] - clock[i] for i, name in enumerate(names)}
        phases["total"] = clock[-1] - clock[0]
        return phases, sum(e.failed for e in evaluations)

    first, _ = iteration()
    runs = [iteration() for _ in range(max(repeats, 1))]

    def median(name: str) -> float:
        return float(np.median([phases[name] for phases, _ in runs]))

    return DesignIterationRow(
        edge=settings.volume_size,
        batch=batch,
        seeds_per_label=settings.seeds_per_label,
        observations=observations,
        first_s=first["total"],
        ask_s=median("ask"),
        measure_s=median("measure"),
        cell_s=median("cell"),
        tell_s=median("tell"),
        total_s=median("total"),
        repeats=len(runs),
        failed=sum(failed for _, failed in runs),
    )


def skip_reason(edge: int, batch: int, max_voxels: int | None) -> str:
    """Why a call of ``batch`` volumes ``edge^3`` is skipped ("" if it is not)."""
    voxels = batch * edge**3
    if max_voxels is not None and voxels > max_voxels:
        return f"{edge}^3 x {batch}: {voxels / 2**20:.0f} Mi voxels > max_voxels {max_voxels / 2**20:.0f} Mi"
    return ""


def sizes(edges: Sequence[int], batches: Sequence[int]) -> list[tuple[int, int]]:
    """Every ``(edge, batch)`` pair, edges outermost."""
    return [(edge, batch) for edge in edges for batch in batches]
