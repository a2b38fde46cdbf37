"""Benchmarks of every stage of the design loop on the current device (``jaxmicro bench``).

Pure timing helpers (:func:`time_jitted`, :func:`time_call`) return :class:`Timing` (compile time
apart from steady-state time); one function per stage returns a result NamedTuple;
:func:`run_bench` runs a :class:`BenchConfig` into a :class:`BenchReport`, which
:func:`format_report` prints and :func:`report_to_dict` makes JSON-ready. See ``docs/bench.md``.
"""

from jaxmicro.bench.report import (
    QUICK,
    STAGES,
    BenchConfig,
    BenchReport,
    device_info,
    format_report,
    report_to_dict,
    run_bench,
)
from jaxmicro.bench.stages import (
    BORow,
    CellRow,
    DesignIterationRow,
    GeneratorRow,
    MetricsRow,
    TauFactorRow,
    TortuosityRow,
    bench_bo,
    bench_cells,
    bench_design_iteration,
    bench_generator,
    bench_metrics,
    bench_taufactor,
    bench_tortuosity,
    cell_cases,
    skip_reason,
    spread_labels,
    three_phase_medium,
)
from jaxmicro.bench.timing import Timing, time_call, time_jitted

__all__ = [
    "QUICK",
    "STAGES",
    "BORow",
    "BenchConfig",
    "BenchReport",
    "CellRow",
    "DesignIterationRow",
    "GeneratorRow",
    "MetricsRow",
    "TauFactorRow",
    "Timing",
    "TortuosityRow",
    "bench_bo",
    "bench_cells",
    "bench_design_iteration",
    "bench_generator",
    "bench_metrics",
    "bench_taufactor",
    "bench_tortuosity",
    "cell_cases",
    "device_info",
    "format_report",
    "report_to_dict",
    "run_bench",
    "skip_reason",
    "spread_labels",
    "three_phase_medium",
    "time_call",
    "time_jitted",
]
