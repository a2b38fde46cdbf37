"""The whole benchmark: which sizes to run (:class:`BenchConfig`), running every stage
(:func:`run_bench`), the machine description, and the report as a table or JSON-ready dict.
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import platform
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

import jax

from jaxmicro.bench import stages
from jaxmicro.bench.timing import Timing

STAGES: Final[tuple[str, ...]] = ("generator", "tortuosity", "metrics", "cells", "bo", "design")


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
        generator, tortuosity, metrics, cells, bo, design: the rows of each stage.
        skipped: ``"stage: reason"`` for each size or stage not run.
    """

    meta: dict[str, Any]
    generator: tuple[stages.GeneratorRow, ...] = ()
    tortuosity: tuple[stages.TortuosityRow, ...] = ()
    metrics: tuple[stages.MetricsRow, ...] = ()
    cells: tuple[stages.CellRow, ...] = ()
    bo: tuple[stages.BORow, ...] = ()
    design: tuple[stages.DesignIterationRow, ...] = ()
    skipped: tuple[str, ...] = ()


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


def run_bench(
    generator: Any,
    config: BenchConfig = BenchConfig(),
    on_row: OnRow | None = None,
    meta: Mapping[str, Any] | None = None,
) -> BenchReport:
    """Runs every configured stage on JAX's default device.

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
    rows: dict[str, list[Any]] = {name: [] for name in STAGES}
    skipped: list[str] = []

    def add(stage: str, row: Any) -> None:
        rows[stage].append(row)
        emit(stage, row)

    def skip(stage: str, reason: str) -> None:
        skipped.append(f"{stage}: {reason}")
        emit("skipped", f"{stage}: {reason}")

    started = datetime.datetime.now(datetime.UTC)
    info = {**device_info(), "load_average_start": _load(), "started": started.isoformat(timespec="seconds")}
    wanted = set(config.stages)
    if generator is None and wanted & {"generator", "design"}:
        skip("generator/design", "no generator given")
        wanted -= {"generator", "design"}

    if "generator" in wanted:
        for edge, batch in stages.sizes(config.edges, config.batches):
            if reason := stages.skip_reason(edge, batch, config.max_voxels):
                skip("generator", reason)
                continue
            add("generator", stages.bench_generator(generator, edge, batch, config.repeats))

    tf_device = _taufactor_device()
    tf_limit = config.taufactor_max_voxels
    if tf_limit is None:
        tf_limit = 128**3 if tf_device == "cpu" else config.max_voxels
    tf_missing = _taufactor_available() if config.taufactor and "tortuosity" in wanted else ""
    if tf_missing:
        skip("taufactor", tf_missing)
    for edge, batch in stages.sizes(config.edges, config.characterise_batches):
        if not wanted & {"tortuosity", "metrics"}:
            break
        if reason := stages.skip_reason(edge, batch, config.max_voxels):
            skip("tortuosity/metrics", reason)
            continue
        volumes = stages.three_phase_medium(edge, batch, seed=edge + batch)
        if "tortuosity" in wanted:
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
            add("tortuosity", row)
        if "metrics" in wanted:
            voxel = generator.voxel_size_m if generator is not None else 0.75e-6
            add("metrics", stages.bench_metrics(volumes, voxel, config.repeats))

    if "cells" in wanted:
        for n in config.cell_batches:
            add("cells", stages.bench_cells(n, config.repeats))

    if "bo" in wanted:
        for n in config.bo_observations:
            add("bo", stages.bench_bo(n, config.bo_dim, config.repeats))

    if "design" in wanted:
        from jaxmicro.design import DesignSettings

        settings = DesignSettings(volume_size=config.design_edge, seeds_per_label=config.design_seeds)
        add(
            "design",
            stages.bench_design_iteration(
                generator, settings, config.design_batch, repeats=max(1, min(config.repeats, 2))
            ),
        )

    finished = datetime.datetime.now(datetime.UTC)
    info.update(
        load_average_end=_load(),
        finished=finished.isoformat(timespec="seconds"),
        wall_s=round((finished - started).total_seconds(), 1),
        config=config.to_dict(),
        **dict(meta or {}),
    )
    return BenchReport(
        meta=info,
        generator=tuple(rows["generator"]),
        tortuosity=tuple(rows["tortuosity"]),
        metrics=tuple(rows["metrics"]),
        cells=tuple(rows["cells"]),
        bo=tuple(rows["bo"]),
        design=tuple(rows["design"]),
        skipped=tuple(skipped),
    )


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

    return plain_json({"format": "jaxmicro-bench", "version": 1, **_as_dicts(report._asdict())})


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


def format_report(report: BenchReport) -> str:
    """The report as text tables (times in ms unless marked ``s``)."""
    m = report.meta
    out = [
        f"jaxmicro bench on {m.get('device')} ({m.get('device_kind')}, {m.get('backend')}), "
        f"JAX {m.get('jax')}, {m.get('cpu_count')} CPUs {m.get('cpu_model') or ''}".rstrip(),
        f"load average {m.get('load_average_start')} -> {m.get('load_average_end')}; "
        f"wall {m.get('wall_s')} s; times in ms (compile apart from the steady median)",
    ]
    out += _table(
        "generator (probabilities + argmax)",
        ["edge", "batch", "compile", "call", "volumes/s", "voxels/s"],
        [
            [f"{r.edge}^3", str(r.batch), *_timing_cells(r.timing), _si(r.volumes_per_s), _si(r.voxels_per_s)]
            for r in report.generator
        ],
    )
    tau_lines = []
    for r in report.tortuosity:
        tf = r.taufactor
        tau_lines.append(
            [
                f"{r.edge}^3",
                str(r.batch),
                *_timing_cells(r.timing),
                _si(r.solves_per_s),
                _si(r.voxels_per_s),
                str(r.iterations),
                f"{r.tau[0]:.3f}",
                _ms(tf.timing.median_s) if tf else r.taufactor_note or "-",
                f"{tf.tau[0]:.3f}" if tf else "-",
                f"{r.speedup:.1f}x" if tf else "-",
            ]
        )
    out += _table(
        f"tortuosity (pore, through-plane, conv_crit {report.tortuosity[0].conv_crit:g})"
        if report.tortuosity
        else "",
        [
            "edge",
            "batch",
            "compile",
            "call",
            "solves/s",
            "voxels/s",
            "iters",
            "tau",
            "TauFactor",
            "tau TF",
            "TF/ours",
        ],
        tau_lines,
    )
    out += _table(
        "metrics (fractions, areas, coverage, TPB)",
        ["edge", "batch", "compile", "call", "volumes/s", "voxels/s"],
        [
            [f"{r.edge}^3", str(r.batch), *_timing_cells(r.timing), _si(r.volumes_per_s), _si(r.voxels_per_s)]
            for r in report.metrics
        ],
    )
    out += _table(
        "cell simulations (PyBaMM DFN, in process; 'compile' = model build)",
        ["cases", "compile", "batch", "sims/s", "failed"],
        [
            [str(r.cases), *_timing_cells(r.timing), _si(r.simulations_per_s), str(r.failed)]
            for r in report.cells
        ],
    )
    out += _table(
        "Bayesian optimisation (the Optimizer's NumPy GP, float64; 'first' = first-call excess)",
        ["obs", "dim", "fit first", "fit", "acq first", "acq", "ask first", "ask"],
        [
            [
                str(r.observations),
                str(r.dim),
                *_timing_cells(r.fit),
                *_timing_cells(r.acquisition),
                *_timing_cells(r.ask),
            ]
            for r in report.bo
        ],
    )
    out += _table(
        "design-loop iteration (ask, generate + characterise, cells, tell)",
        ["edge", "batch", "seeds", "first", "ask", "measure", "cells", "tell", "total", "failed"],
        [
            [
                f"{r.edge}^3",
                str(r.batch),
                str(r.seeds_per_label),
                _ms(r.first_s),
                _ms(r.ask_s),
                _ms(r.measure_s),
                _ms(r.cell_s),
                _ms(r.tell_s),
                _ms(r.total_s),
                str(r.failed),
            ]
            for r in report.design
        ],
    )
    if report.skipped:
        out += ["", "skipped:", *(f"  {s}" for s in report.skipped)]
    return "\n".join(out)
