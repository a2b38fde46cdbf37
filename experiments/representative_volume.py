"""How big a volume, and how many seeds, does a design decision need? (issue 20 item 1)

For labels across the generator's trained range, on simulator volumes and on volumes of the
shipped generator, at box sizes 64..256 voxels (0.75 um voxels: 48..192 um) and several seeds
each, measures every property the cell uses (``jaxmicro.characterise.measure`` with the design
loop's settings) and simulates each seed's cathode in the design loop's 4680 cell at the case-study
powers. From the per-seed spread it gives, per size, the standard error of the loop's objective
with n seeds (``sd_1 / sqrt(n)``, the loop averaging n seeds' properties) and the number of seeds
that brings it below 1 % of the objective.

    python experiments/representative_volume.py run       # resumable; rows -> docs/rve_rows.jsonl
    python experiments/representative_volume.py report    # docs/rve.json + the tables (runs/rve/table.md;
                                                          # docs/rve.md holds a copy with its header)

``run`` appends one JSON line per (source, label, size, seed) as it is measured, and skips rows
already present, so it resumes after a kill; sizes run smallest first so that partial results
are usable. The rows live in docs/ (a few hundred short lines) so that they survive a move to
another machine. Groups summarised in docs/rve.json before the rows were kept there (runs of
2026-12-03/04, whose rows stayed on that machine) are skipped by ``run`` and kept as they are by
``report``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro._files import run_lock
from jaxmicro.cell import CellCase, CellModelConfig, OperatingPoint, simulate_batch
from jaxmicro.characterise.measure import measure
from jaxmicro.data import SimulatorConfig, simulate
from jaxmicro.design import DesignSettings, cathode_properties, generate_volumes, measurement_row
from jaxmicro.design.records import append_record, read_records, write_json_atomic
from jaxmicro.generator import load_shipped_generator

ROOT = Path(__file__).resolve().parents[1]
POWERS_W_PER_KG = (200.0, 500.0, 700.0)
"""The main job's power and the case studies' single-power and high-power points [W/kg]."""
# (am_wt, porosity) at adhesion 0.5: the four corners of the trained range, its centre, and the
# low-porosity point where tortuosity varied 2x from seed to seed at 64^3.
LABELS = (
    (0.90, 0.28),
    (0.96, 0.28),
    (0.90, 0.44),
    (0.96, 0.44),
    (0.93, 0.36),
    (0.92, 0.28),
)
ADHESION = 0.5
SEEDS_PER_SIZE = {64: 8, 96: 6, 128: 4, 192: 3, 256: 2}
SOURCES = ("simulator", "generator")
# Stored per row at run time: each volume's own measured (local-thickness) particle radius.
MEASURED_RADIUS = DesignSettings(particle_radius="local_thickness")
# Recomputed by `report` from the stored properties: the design loop's default, a fixed 5 um.
FIXED_RADIUS = DesignSettings(particle_radius="fixed", particle_radius_m=5e-6)
TARGET_RELATIVE_ERROR = 0.01


def _key(source: str, label, size: int, seed: int) -> tuple:
    return (source, round(label[0], 4), round(label[1], 4), int(size), int(seed))


def _objectives(row: dict, settings: DesignSettings, config: CellModelConfig) -> dict[str, float | None]:
    """Cell-level specific energy [Wh/kg] at each power (None where the cell fails)."""
    try:
        cathode = cathode_properties(row)
        design = settings.cell_design(row)
    except ValueError:
        return {f"{p:g}": None for p in POWERS_W_PER_KG}
    cases = [CellCase(cathode, design, OperatingPoint(power_w_per_kg=p)) for p in POWERS_W_PER_KG]
    results = simulate_batch(cases, config, max_workers=1)
    out = {}
    for power, result in zip(POWERS_W_PER_KG, results, strict=True):
        value = result.specific_energy_wh_kg
        out[f"{power:g}"] = None if result.failed or not math.isfinite(value) else float(value)
    return out


def _volumes(source: str, label, size: int, seeds: list[int], generator) -> np.ndarray:
    labels = np.array([label[0], label[1], ADHESION])
    if source == "simulator":
        config = SimulatorConfig(shape=(size,) * 3, voxel_size_m=generator.voxel_size_m)
        return np.stack([simulate(labels, config, seed=s) for s in seeds])
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    unit = jnp.asarray(generator.unit_labels(labels[None]))
    volumes = generate_volumes(generator.params, generator.config, keys, unit, (size,) * 3)
    return np.asarray(volumes[:, 0])


def _group_key(source: str, label, size: int) -> tuple:
    return (source, round(label[0], 4), round(label[1], 4), int(size))


def _summarised_groups(json_path: Path) -> dict[tuple, dict]:
    """The groups of an existing summary, by (source, am_wt, porosity, size)."""
    if not json_path.exists():
        return {}
    groups = json.loads(json_path.read_text()).get("groups", [])
    return {_group_key(g["source"], g["label"], g["size"]): g for g in groups}


def run(args) -> None:
    generator = load_shipped_generator("gan")
    settings = MEASURED_RADIUS
    measure_settings = settings.measure_settings(generator.voxel_size_m)
    config = CellModelConfig()
    done = {_key(r["source"], r["label"], r["size"], r["seed"]) for r in read_records(args.rows)}
    summarised = _summarised_groups(args.json)
    sizes = [s for s in SEEDS_PER_SIZE if args.min_size <= s <= args.max_size]
    for size, source, label in itertools.product(sizes, args.sources, LABELS):
        earlier = summarised.get(_group_key(source, label, size))
        if earlier is not None and earlier["seeds"] >= SEEDS_PER_SIZE[size]:
            continue  # summarised from rows not kept (see the module docstring)
        seeds = [s for s in range(SEEDS_PER_SIZE[size]) if _key(source, label, size, s) not in done]
        if not seeds:
            continue
        start = time.perf_counter()
        volumes = _volumes(source, label, size, seeds, generator)
        # One volume at a time: 256^3 batches would need several GB.
        for seed, volume in zip(seeds, volumes, strict=True):
            measured = measure(jnp.asarray(volume)[None], measure_settings)
            row = measurement_row(measured, 0)
            append_record(
                args.rows,
                {
                    "source": source,
                    "label": list(label),
                    "adhesion": ADHESION,
                    "size": size,
                    "seed": seed,
                    "voxel_size_m": generator.voxel_size_m,
                    "properties": row,
                    "specific_energy_wh_kg": _objectives(row, settings, config),
                    "particle_radius": settings.particle_radius,
                },
            )
        print(
            f"{source:9s} {size:3d}^3 am_wt {label[0]:.2f} porosity {label[1]:.2f}: "
            f"{len(seeds)} seeds in {time.perf_counter() - start:.1f} s",
            flush=True,
        )


PROPERTIES = (
    "porosity",
    "electrolyte_tau_through_plane",
    "am_electrolyte_area_per_volume_m",
    "cbd_coverage",
    "solid_conductivity_s_m",
    "particle_radius_m",
)


def _stats(values: list[float | None]) -> dict[str, float | int | None]:
    """Mean, per-seed standard deviation and relative sd of the finite values."""
    finite = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(finite) < 2:
        return {
            "n": len(finite),
            "mean": float(finite.mean()) if len(finite) else None,
            "sd": None,
            "relative_sd": None,
            "failed": len(values) - len(finite),
        }
    mean, sd = float(finite.mean()), float(finite.std(ddof=1))
    return {
        "n": len(finite),
        "mean": mean,
        "sd": sd,
        "relative_sd": sd / abs(mean) if mean else None,
        "failed": len(values) - len(finite),
    }


def with_fixed_radius(rows: list[dict], cache_path: Path) -> list[dict]:
    """Adds ``specific_energy_fixed_radius_wh_kg`` (the loop's default radius) to every row,
    simulating only rows not in the cache file (one JSON line per row key)."""
    cache = {tuple(r["key"]): r["values"] for r in read_records(cache_path)}
    config = CellModelConfig()
    for r in rows:
        key = _key(r["source"], r["label"], r["size"], r["seed"])
        if key not in cache:
            cache[key] = _objectives(r["properties"], FIXED_RADIUS, config)
            append_record(cache_path, {"key": list(key), "values": cache[key]})
        r["specific_energy_fixed_radius_wh_kg"] = cache[key]
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["source"], tuple(r["label"]), r["size"]), []).append(r)
    out = []
    for (source, label, size), members in sorted(groups.items()):
        entry = {
            "source": source,
            "label": list(label),
            "size": size,
            "seeds": len(members),
            "box_um": size * members[0]["voxel_size_m"] * 1e6,
            "properties": {},
            "objective": {},
        }
        for name in PROPERTIES:
            entry["properties"][name] = _stats([m["properties"].get(name) for m in members])
        entry["objective_measured_radius"] = {}
        for power in POWERS_W_PER_KG:
            for field, name in (
                ("objective", "specific_energy_fixed_radius_wh_kg"),
                ("objective_measured_radius", "specific_energy_wh_kg"),
            ):
                stats = _stats([m[name][f"{power:g}"] for m in members])
                rel = stats["relative_sd"]
                # Seeds for a standard error below 1 %: (sd_1 / (0.01 mean))^2.
                stats["seeds_for_1_percent"] = (
                    None if rel is None else max(1, math.ceil((rel / TARGET_RELATIVE_ERROR) ** 2))
                )
                entry[field][f"{power:g}"] = stats
        out.append(entry)
    return out


def _fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}g}"


def _source_table(summary: list[dict]) -> str:
    """Generator against simulator at the same label and size: particle radius and the mean
    objective with each volume's measured radius and with the fixed 5 um."""
    by_key = {(e["source"], tuple(e["label"]), e["size"]): e for e in summary}
    lines = [
        "| am_wt | porosity | size | radius um: sim / gen | "
        + " | ".join(f"{p:g} W/kg, measured radius: sim / gen (gap)" for p in POWERS_W_PER_KG)
        + " | "
        + " | ".join(f"{p:g} W/kg, 5 um: sim / gen (gap)" for p in POWERS_W_PER_KG)
        + " |",
        "|" + "---|" * (4 + 2 * len(POWERS_W_PER_KG)),
    ]
    for (source, label, size), sim in sorted(by_key.items(), key=lambda kv: (kv[0][2], kv[0][1])):
        gen = by_key.get(("generator", label, size))
        if source != "simulator" or gen is None:
            continue
        radius = [e["properties"]["particle_radius_m"]["mean"] * 1e6 for e in (sim, gen)]
        cells = []
        for field in ("objective_measured_radius", "objective"):
            for p in POWERS_W_PER_KG:
                a, b = (e[field][f"{p:g}"]["mean"] for e in (sim, gen))
                gap = "-" if not (a and b) else f"{100 * (b / a - 1):+.1f} %"
                cells.append(f"{_fmt(a, 4)} / {_fmt(b, 4)} ({gap})")
        lines.append(
            f"| {label[0]:.2f} | {label[1]:.2f} | {size} | {radius[0]:.2f} / {radius[1]:.2f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def report(args) -> None:
    rows = read_records(args.rows)
    if not rows:
        raise SystemExit(f"no rows in {args.rows}; run `python {sys.argv[0]} run` first")
    summary = summarise(with_fixed_radius(rows, args.rows.with_name("rve_fixed_radius.jsonl")))
    fresh = {_group_key(e["source"], e["label"], e["size"]) for e in summary}
    kept = [g for k, g in _summarised_groups(args.json).items() if k not in fresh]
    summary = sorted(summary + kept, key=lambda e: (e["source"], tuple(e["label"]), e["size"]))
    write_json_atomic(
        args.json,
        {
            "powers_w_per_kg": POWERS_W_PER_KG,
            "target_relative_error": TARGET_RELATIVE_ERROR,
            "groups": summary,
        },
    )
    lines = [
        "| source | am_wt | porosity | size (um) | seeds | tau mean (rel sd) | "
        + " | ".join(f"{p:g} W/kg: Wh/kg (rel sd) -> seeds for 1 %" for p in POWERS_W_PER_KG)
        + " |",
        "|" + "---|" * (6 + len(POWERS_W_PER_KG)),
    ]
    for e in summary:
        tau = e["properties"]["electrolyte_tau_through_plane"]
        cells = []
        for p in POWERS_W_PER_KG:
            o = e["objective"][f"{p:g}"]
            rel = o["relative_sd"]
            cells.append(
                f"{_fmt(o['mean'], 4)} ({_fmt(None if rel is None else 100 * rel, 2)} %) -> "
                f"{o['seeds_for_1_percent'] or '-'}" + (f", {o['failed']} failed" if o["failed"] else "")
            )
        tau_rel = tau["relative_sd"]
        lines.append(
            f"| {e['source']} | {e['label'][0]:.2f} | {e['label'][1]:.2f} | "
            f"{e['size']} ({e['box_um']:.0f}) | "
            f"{e['seeds']} | {_fmt(tau['mean'])} ({_fmt(None if tau_rel is None else 100 * tau_rel, 2)} %) | "
            + " | ".join(cells)
            + " |"
        )
    table = "\n".join(lines) + "\n\n" + _source_table(summary)
    print(table)
    args.table.parent.mkdir(parents=True, exist_ok=True)
    args.table.write_text(table + "\n")
    print(json.dumps({"rows": len(rows), "groups": len(summary), "kept": len(kept), "json": str(args.json)}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("run", "report"))
    parser.add_argument("--rows", type=Path, default=ROOT / "docs" / "rve_rows.jsonl")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "rve.json")
    parser.add_argument("--table", type=Path, default=ROOT / "runs" / "rve" / "table.md")
    parser.add_argument("--min-size", type=int, default=64, help="smallest box edge [voxels]")
    parser.add_argument("--max-size", type=int, default=256, help="largest box edge [voxels]")
    parser.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES)
    args = parser.parse_args()
    if args.what == "report":
        report(args)
        return
    with run_lock(args.rows.parent, args.rows.name + ".lock"):  # one writer of the rows file
        run(args)


if __name__ == "__main__":
    main()
