"""The whole benchmark: which sizes to run (:class:`BenchConfig`), running every stage
(:func:`run_bench`), the machine description, and the report as a table or JSON-ready dict.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple

import jax

from jaxmicro.bench import stages
from jaxmicro.bench.timing import Timing

STAGES: Final[tuple[str, ...]] = ("generator", "tortuosity", "metrics", "cells", "bo", "design")
"""The stages of :data:`REGISTRY`, in run order (checked there)."""


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What ``jaxmicro bench`` measures.

    Attributes:
        stages: stages to run, a subset of :data:`STAGES`.
        edges: cubic volume edges [voxels] for generation, tortuosity and metrics.
        batches: generator batch sizes.
        characterise_batches: tortuosity and metrics batch sizes.
        max_voxels: skip any call of more than this many voxels (batch * edge^3); ``None``: no
            limit. Skipped sizes are listed in the report.
        conv_crit: flux criterion of both tortuosity solvers (the design loop uses 1e-3).
        taufactor: also time TauFactor on the tortuosity volumes (skipped with a reason if it
            is not installed).
        taufactor_max_voxels: largest TauFactor call [voxels]; ``None``: 128^3 on a CPU, no
            limit on an accelerator.
        torch_threads: torch CPU threads for TauFactor (``None``: torch's default).
        cell_batches: cell simulations per timed batch.
        bo_observations: observation counts of the GP fit and acquisition timings.
        bo_dim: free labels the GP sees (the design default optimises 2).
        design_edge: generated volume edge of the design-loop iteration [voxels].
        design_batch: labels per design-loop iteration.
        design_seeds: generated volumes per label in the design-loop iteration.
        repeats: steady-state calls per measurement.
    """

    stages: tuple[str, ...] = STAGES
    edges: tuple[int, ...] = (64, 128, 256)
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    characterise_batches: tuple[int, ...] = (1, 8)
    max_voxels: int | None = 2**25
    conv_crit: float = 1e-3
    taufactor: bool = True
    taufactor_max_voxels: int | None = None
    torch_threads: int | None = None
    cell_batches: tuple[int, ...] = (1, 8)
    bo_observations: tuple[int, ...] = (20, 50, 100, 200)
    bo_dim: int = 2
    design_edge: int = 128
    design_batch: int = 2
    design_seeds: int = 2
    repeats: int = 3

    def __post_init__(self) -> None:
        if unknown := sorted(set(self.stages) - set(STAGES)):
            raise ValueError(f"unknown stages {unknown}; choose from {', '.join(STAGES)}")
        for name in ("edges", "batches", "characterise_batches", "cell_batches", "bo_observations"):
            values = getattr(self, name)
            if not values or min(values) < 1:
                raise ValueError(f"{name} must be positive integers, got {values}")
        if min(self.bo_observations) < 2:
            raise ValueError(f"bo_observations must be at least 2, got {self.bo_observations}")
        if self.repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {self.repeats}")
        if not 0 < self.conv_crit < 1:
            raise ValueError(f"conv_crit must lie in (0, 1), got {self.conv_crit}")
        for name, least in (("max_voxels", 1), ("taufactor_max_voxels", 0)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < least):
                raise ValueError(f"{name} must be a whole number of voxels >= {least} or None, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


QUICK: Final[BenchConfig] = BenchConfig(
    edges=(32,),
    batches=(1,),
    characterise_batches=(1,),
    conv_crit=1e-3,
    cell_batches=(2,),
    bo_observations=(20,),
    design_edge=32,
    design_batch=1,
    design_seeds=1,
    repeats=1,
)
"""``jaxmicro bench --quick``: every stage at small sizes, one repeat (under a minute on 2 CPU
cores)."""


class BenchReport(NamedTuple):
    """Everything one benchmark run measured.

    Attributes:
        meta: machine, versions, configuration, load average, start and end time.
        rows: per stage name (:data:`STAGES`), the rows it measured (its ``*Row`` records).
        skipped: ``"stage: reason"`` for each size or stage not run.
    """

    meta: dict[str, Any]
    rows: Mapping[str, tuple[Any, ...]] = {}
    skipped: tuple[str, ...] = ()

    def stage(self, name: str) -> tuple[Any, ...]:
        """The rows of one stage (empty if it was not run)."""
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")
        return tuple(self.rows.get(name, ()))


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def device_info() -> dict[str, Any]:
    """The JAX device, versions and machine (JSON-ready)."""
    import jaxlib

    device = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device": str(device),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "x64": bool(jax.config.jax_enable_x64),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
    }


def _load() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on this platform
        return None


def _taufactor_device() -> str:
    if jax.default_backend() != "gpu":
        return "cpu"
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _taufactor_available() -> str:
    """'' if TauFactor imports, else the reason."""
    try:
        import taufactor  # noqa: F401
        import torch  # noqa: F401
    except ImportError as error:
        return f"TauFactor not installed ({error}); `pip install -e .[test]` adds it"
    return ""


OnRow = Callable[[str, Any], None]


class _Context(NamedTuple):
    generator: Any
    config: BenchConfig
    skip: Callable[[str, str], None]


def _sized(ctx: _Context, name: str, batches: Sequence[int]) -> Iterator[tuple[int, int]]:
    """The (edge, batch) sizes of a stage, skipping (with the reason) those above max_voxels."""
    for edge, batch in stages.sizes(ctx.config.edges, batches):
        if reason := stages.skip_reason(edge, batch, ctx.config.max_voxels):
            ctx.skip(name, reason)
        else:
            yield edge, batch


def _generator_rows(ctx: _Context) -> Iterator[stages.GeneratorRow]:
    for edge, batch in _sized(ctx, "generator", ctx.config.batches):
        yield stages.bench_generator(ctx.generator, edge, batch, ctx.config.repeats)


def _tortuosity_rows(ctx: _Context) -> Iterator[stages.TortuosityRow]:
    config = ctx.config
    tf_device = _taufactor_device()
    tf_limit = config.taufactor_max_voxels
    if tf_limit is None:
        tf_limit = 128**3 if tf_device == "cpu" else config.max_voxels
    tf_missing = _taufactor_available() if config.taufactor else ""
    if tf_missing:
        ctx.skip("taufactor", tf_missing)
    for edge, batch in _sized(ctx, "tortuosity", config.characterise_batches):
        volumes = stages.three_phase_medium(edge, batch, seed=edge + batch)
        row = stages.bench_tortuosity(volumes, config.conv_crit, config.repeats)
        if not config.taufactor:
            row = row._replace(taufactor_note="not requested")
        elif tf_missing:
            row = row._replace(taufactor_note="not installed")
        elif tf_limit is not None and volumes.size > tf_limit:
            row = row._replace(taufactor_note=f"above taufactor_max_voxels ({tf_limit})")
        else:
            tf = stages.bench_taufactor(
                volumes, config.conv_crit, min(config.repeats, 2), tf_device, config.torch_threads
            )
            row = row._replace(taufactor=tf)
        yield row


def _metrics_rows(ctx: _Context) -> Iterator[stages.MetricsRow]:
    voxel = ctx.generator.voxel_size_m if ctx.generator is not None else 0.75e-6
    for edge, batch in _sized(ctx, "metrics", ctx.config.characterise_batches):
        volumes = stages.three_phase_medium(edge, batch, seed=edge + batch)  # the solver's volumes
        yield stages.bench_metrics(volumes, voxel, ctx.config.repeats)


def _cell_rows(ctx: _Context) -> Iterator[stages.CellRow]:
    for n in ctx.config.cell_batches:
        yield stages.bench_cells(n, ctx.config.repeats)


def _bo_rows(ctx: _Context) -> Iterator[stages.BORow]:
    for n in ctx.config.bo_observations:
        yield stages.bench_bo(n, ctx.config.bo_dim, ctx.config.repeats)


def _design_rows(ctx: _Context) -> Iterator[stages.DesignIterationRow]:
    from jaxmicro.design import DesignSettings

    config = ctx.config
    settings = DesignSettings(volume_size=config.design_edge, seeds_per_label=config.design_seeds)
    yield stages.bench_design_iteration(
        ctx.generator, settings, config.design_batch, repeats=max(1, min(config.repeats, 2))
    )


def run_bench(
    generator: Any,
    config: BenchConfig = BenchConfig(),
    on_row: OnRow | None = None,
    meta: Mapping[str, Any] | None = None,
) -> BenchReport:
    """Runs every configured stage of :data:`REGISTRY`, in its order, on JAX's default device.

    Args:
        generator: a :class:`~jaxmicro.generator.Generator` (for the generator and design
            stages; ``None`` skips them).
        config: sizes and stages.
        on_row: called as ``on_row(stage, row)`` after each measurement (progress), and as
            ``on_row("skipped", reason)`` for each skipped one.
        meta: extra JSON merged into the report's ``meta`` (e.g. the command line).

    Returns:
        The :class:`BenchReport`.
    """
    emit = on_row or (lambda stage, row: None)
    skipped: list[str] = []

    def skip(stage: str, reason: str) -> None:
        skipped.append(f"{stage}: {reason}")
        emit("skipped", f"{stage}: {reason}")

    started = datetime.datetime.now(datetime.UTC)
    info = {**device_info(), "load_average_start": _load(), "started": started.isoformat(timespec="seconds")}
    ctx = _Context(generator, config, skip)
    rows: dict[str, tuple[Any, ...]] = {}
    for stage in REGISTRY:
        if stage.name not in config.stages:
            continue
        if stage.needs_generator and generator is None:
            skip(stage.name, "no generator given")
            continue
        found = []
        for row in stage.run(ctx):
            found.append(row)
            emit(stage.name, row)
        rows[stage.name] = tuple(found)
    finished = datetime.datetime.now(datetime.UTC)
    info.update(
        load_average_end=_load(),
        finished=finished.isoformat(timespec="seconds"),
        wall_s=round((finished - started).total_seconds(), 1),
        config=config.to_dict(),
        **dict(meta or {}),
    )
    return BenchReport(meta=info, rows=rows, skipped=tuple(skipped))


# ---------------------------------------------------------------------------------------------
# Output.


def _as_dicts(value: Any) -> Any:
    """NamedTuple rows -> dicts (with each tortuosity row's speed-up), recursively; the JSON
    clean-up itself (arrays, non-finite floats) is :func:`~jaxmicro._files.plain_json`'s."""
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        out = {k: _as_dicts(v) for k, v in value._asdict().items()}
        if isinstance(value, stages.TortuosityRow):
            out["speedup_vs_taufactor"] = value.speedup
        return out
    if isinstance(value, dict):
        return {k: _as_dicts(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_dicts(v) for v in value]
    return value


def report_to_dict(report: BenchReport) -> dict[str, Any]:
    """The report as strict-JSON-ready dicts and lists (every time in seconds; non-finite
    values as ``None``)."""
    from jaxmicro._files import plain_json

    stage_rows = {name: report.stage(name) for name in STAGES}  # every stage, empty if not run
    body = {"meta": report.meta, **stage_rows, "skipped": report.skipped}
    return plain_json({"format": "jaxmicro-bench", "version": 1, **_as_dicts(body)})


def _si(value: float) -> str:
    """3 significant figures with a k/M/G suffix."""
    if not math.isfinite(value):
        return "-"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _ms(seconds: float) -> str:
    return (
        "-" if not math.isfinite(seconds) else f"{seconds * 1e3:.1f}" if seconds < 10 else f"{seconds:.1f}s"
    )


def _table(title: str, header: list[str], lines: list[list[str]]) -> list[str]:
    if not lines:
        return []
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return ["", title, fmt.format(*header), *(fmt.format(*line) for line in lines)]


def _timing_cells(t: Timing) -> list[str]:
    return [_ms(t.compile_s), _ms(t.median_s)]


def _size_cells(r: Any) -> list[str]:
    return [f"{r.edge}^3", str(r.batch)]


def _tortuosity_line(r: stages.TortuosityRow) -> list[str]:
    tf = r.taufactor
    return [
        *_size_cells(r),
        *_timing_cells(r.timing),
        _si(r.solves_per_s),
        _si(r.voxels_per_s),
        str(r.iterations),
        f"{r.tau[0]:.3f}",
        _ms(tf.timing.median_s) if tf else r.taufactor_note or "-",
        f"{tf.tau[0]:.3f}" if tf else "-",
        f"{r.speedup:.1f}x" if tf else "-",
    ]


def _throughput_line(r: stages.GeneratorRow | stages.MetricsRow) -> list[str]:
    return [*_size_cells(r), *_timing_cells(r.timing), _si(r.volumes_per_s), _si(r.voxels_per_s)]


_THROUGHPUT: Final[tuple[str, ...]] = ("edge", "batch", "compile", "call", "volumes/s", "voxels/s")
_TORTUOSITY_HEADER: Final[tuple[str, ...]] = (
    *("edge", "batch", "compile", "call", "solves/s", "voxels/s", "iters", "tau"),
    *("TauFactor", "tau TF", "TF/ours"),
)


class Stage(NamedTuple):
    """One stage of the benchmark: how it runs and how its rows read (a stage is one entry of
    :data:`REGISTRY` plus its ``*Row`` record and ``bench_*`` function in
    :mod:`jaxmicro.bench.stages`).

    Attributes:
        name: the stage's name (``BenchConfig.stages``, the report's keys).
        run: yields the stage's rows for a run's context (skips through ``context.skip``).
        title: the table's title from its rows.
        header: the table's column names.
        line: one row's table cells.
        needs_generator: skipped when no generator is given.
    """

    name: str
    run: Callable[[_Context], Iterator[Any]]
    title: Callable[[tuple[Any, ...]], str]
    header: tuple[str, ...]
    line: Callable[[Any], list[str]]
    needs_generator: bool = False


REGISTRY: Final[tuple[Stage, ...]] = (
    Stage(
        "generator",
        _generator_rows,
        lambda rows: "generator (probabilities + argmax)",
        _THROUGHPUT,
        _throughput_line,
        needs_generator=True,
    ),
    Stage(
        "tortuosity",
        _tortuosity_rows,
        lambda rows: f"tortuosity (pore, through-plane, conv_crit {rows[0].conv_crit:g})",
        _TORTUOSITY_HEADER,
        _tortuosity_line,
    ),
    Stage(
        "metrics",
        _metrics_rows,
        lambda rows: "metrics (fractions, areas, coverage, TPB)",
        _THROUGHPUT,
        _throughput_line,
    ),
    Stage(
        "cells",
        _cell_rows,
        lambda rows: "cell simulations (PyBaMM DFN, in process; 'compile' = model build)",
        ("cases", "compile", "batch", "sims/s", "failed"),
        lambda r: [str(r.cases), *_timing_cells(r.timing), _si(r.simulations_per_s), str(r.failed)],
    ),
    Stage(
        "bo",
        _bo_rows,
        lambda rows: "Bayesian optimisation (the Optimizer's NumPy GP, float64; 'first' = first-call excess)",
        ("obs", "dim", "fit first", "fit", "acq first", "acq", "ask first", "ask"),
        lambda r: [
            str(r.observations),
            str(r.dim),
            *_timing_cells(r.fit),
            *_timing_cells(r.acquisition),
            *_timing_cells(r.ask),
        ],
    ),
    Stage(
        "design",
        _design_rows,
        lambda rows: "design-loop iteration (ask, generate + characterise, cells, tell)",
        ("edge", "batch", "seeds", "first", "ask", "measure", "cells", "tell", "total", "failed"),
        lambda r: [
            *_size_cells(r),
            str(r.seeds_per_label),
            *(_ms(t) for t in (r.first_s, r.ask_s, r.measure_s, r.cell_s, r.tell_s, r.total_s)),
            str(r.failed),
        ],
        needs_generator=True,
    ),
)
"""Every stage, in run order."""


def format_report(report: BenchReport) -> str:
    """The report as text tables (times in ms unless marked ``s``)."""
    m = report.meta
    out = [
        f"jaxmicro bench on {m.get('device')} ({m.get('device_kind')}, {m.get('backend')}), "
        f"JAX {m.get('jax')}, {m.get('cpu_count')} CPUs {m.get('cpu_model') or ''}".rstrip(),
        f"load average {m.get('load_average_start')} -> {m.get('load_average_end')}; "
        f"wall {m.get('wall_s')} s; times in ms (compile apart from the steady median)",
    ]
    for stage in REGISTRY:
        if rows := report.stage(stage.name):
            out += _table(stage.title(rows), list(stage.header), [stage.line(r) for r in rows])
    if report.skipped:
        out += ["", "skipped:", *(f"  {s}" for s in report.skipped)]
    return "\n".join(out)


if tuple(stage.name for stage in REGISTRY) != STAGES:  # pragma: no cover - a programming error
    raise RuntimeError("bench REGISTRY and STAGES disagree")
