"""Benchmark of the PyBaMM cell stage: build time, solve time, and batch throughput.

Measures, for the default 4680 full cell (Chen2020, DFN, IDAKLU):

* build: parameterise + discretise a new model (a new thickness), and its first solve
  (which adds IDAKLU set-up);
* solve: a repeat solve with new inputs, raw (``Simulation.solve``) and through
  :func:`jaxmicro.cell.simulate_cell` (adds the parameter mapping, budget and result),
  at constant current and constant power;
* batch of ``--batch`` designs, simulations per second: serial in this process, and over a
  process pool of ``--workers`` spawned workers, cold (new pool) and warm (pool reused, worker
  caches hot); for designs that share one geometry (inputs only) and for designs that all
  differ in thickness (every one a rebuild).

Prints a table and writes JSON. Run on a quiet machine:

    python experiments/bench_cell.py [--batch 32] [--workers 2] [--out out/bench_cell.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

from jaxmicro.cell import (
    CathodeProperties,
    CellCase,
    CellDesign,
    CellModelConfig,
    OperatingPoint,
    build_simulation,
    clear_model_cache,
    default_executor,
    setup_cell,
    simulate_batch,
    simulate_cell,
)


def props(tau: float = 2.5, area_factor: float = 1.0, coverage: float = 0.0) -> CathodeProperties:
    return CathodeProperties(
        porosity=0.30,
        am_volume_fraction=0.63,
        cbd_volume_fraction=0.07,
        tortuosity_through_plane=tau,
        am_electrolyte_area_per_volume_m=area_factor * 3 * 0.63 / 5.22e-6,
        cbd_coverage=coverage,
    )


def timed(fn, *args, **kwargs):
    """Returns ``(fn(*args, **kwargs), seconds)``."""
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def bench_single(repeats: int) -> dict[str, float]:
    config = CellModelConfig()
    taus = [1.5 + 4.5 * i / repeats for i in range(repeats)]
    out: dict[str, float] = {}
    for mode, op in (
        ("current", OperatingPoint(c_rate=1.0)),
        ("power", OperatingPoint(power_w_per_kg=200)),
    ):
        builds, firsts = [], []
        for thickness in (70e-6, 80e-6, 90e-6):
            setup = setup_cell(props(), CellDesign(thickness), op, config)
            sim, build_s = timed(build_simulation, config, setup)
            _, first_s = timed(sim.solve, [0, setup.t_max_s], inputs=setup.inputs)
            builds.append(build_s)
            firsts.append(first_s)
        raw = []
        for tau in taus:
            setup = setup_cell(props(tau=tau), CellDesign(90e-6), op, config)
            raw.append(timed(sim.solve, [0, setup.t_max_s], inputs=setup.inputs)[1])
        clear_model_cache()
        simulate_cell(props(), CellDesign(90e-6), op, config)  # build into the cache
        full = [timed(simulate_cell, props(tau=t), CellDesign(90e-6), op, config)[1] for t in taus]
        out[f"{mode}_build_s"] = statistics.median(builds)
        out[f"{mode}_first_solve_s"] = statistics.median(firsts)
        out[f"{mode}_solve_raw_s"] = statistics.median(raw)
        out[f"{mode}_simulate_cell_s"] = statistics.median(full)
    return out


def batch_cases(n: int, distinct_geometry: bool) -> list[CellCase]:
    """Half constant-current (0.5 to 3C), half constant-power (50 to 450 W/kg) designs."""
    cases = []
    for i in range(n):
        f = i / max(n - 1, 1)
        thickness = 50e-6 + 80e-6 * f if distinct_geometry else 80e-6
        if i % 2 == 0:
            op = OperatingPoint(c_rate=0.5 + 2.5 * f)
        else:
            op = OperatingPoint(power_w_per_kg=50 + 400 * f)
        p = props(tau=1.5 + 4.5 * f, area_factor=0.5 + f, coverage=0.3 * f)
        cases.append(CellCase(p, CellDesign(thickness), op))
    return cases


def bench_batch(n: int, workers: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, distinct in (("shared_geometry", False), ("distinct_thickness", True)):
        cases = batch_cases(n, distinct)
        clear_model_cache()
        results, serial_s = timed(simulate_batch, cases, max_workers=1)
        with default_executor(workers) as pool:
            _, cold_s = timed(simulate_batch, cases, executor=pool, max_workers=workers)
            _, warm_s = timed(simulate_batch, cases, executor=pool, max_workers=workers)
        out[name] = {
            "serial_sims_per_s": n / serial_s,
            "pool_cold_sims_per_s": n / cold_s,
            "pool_warm_sims_per_s": n / warm_s,
            "serial_s": serial_s,
            "pool_cold_s": cold_s,
            "pool_warm_s": warm_s,
            "failed": sum(r.failed for r in results),
            "serial_builds": sum(r.build_time_s > 0 for r in results),
            "serial_median_solve_s": statistics.median(r.solve_time_s for r in results),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32, help="designs per batch")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="pool processes")
    parser.add_argument("--repeats", type=int, default=20, help="repeat solves per mode")
    parser.add_argument("--out", default="out/bench_cell.json", help="JSON output path")
    args = parser.parse_args()

    _, import_s = timed(__import__, "pybamm")
    single = bench_single(args.repeats)
    batch = bench_batch(args.batch, args.workers)

    print(f"\nPyBaMM import {import_s:.2f} s; {os.cpu_count()} CPUs, {args.workers} pool workers")
    print(f"{'mode':<9}{'build':>10}{'1st solve':>11}{'solve':>10}{'simulate_cell':>15}")
    for mode in ("current", "power"):
        print(
            f"{mode:<9}"
            f"{single[f'{mode}_build_s'] * 1e3:>8.0f}ms"
            f"{single[f'{mode}_first_solve_s'] * 1e3:>9.0f}ms"
            f"{single[f'{mode}_solve_raw_s'] * 1e3:>8.1f}ms"
            f"{single[f'{mode}_simulate_cell_s'] * 1e3:>13.1f}ms"
        )
    print(
        f"\nbatch of {args.batch} [sims/s]{'serial':>10}{'pool cold':>11}{'pool warm':>11}"
        f"{'builds':>8}{'median solve':>14}{'failed':>8}"
    )
    for name, row in batch.items():
        print(
            f"{name:<22}{row['serial_sims_per_s']:>10.1f}{row['pool_cold_sims_per_s']:>11.1f}"
            f"{row['pool_warm_sims_per_s']:>11.1f}{row['serial_builds']:>8d}"
            f"{row['serial_median_solve_s'] * 1e3:>12.0f}ms{row['failed']:>8d}"
        )

    record = {
        "benchmark": "cell",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "batch_size": args.batch,
        "workers": args.workers,
        "pybamm_import_s": import_s,
        "single": single,
        "batch": batch,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
