"""Controlled comparison of how the measured microstructure is coupled into the cell model.

On the same generated volumes (shipped generator, common seeds), each row changes one coupling
choice against the row above, and the objective [Wh/kg of a 4680 cell] is compared at several
labels and powers:

    python experiments/cell_coupling.py [--size 64] [--seeds 2] [--out docs/cell_coupling.json]

Variants (cumulative down to ``measured``, then one change each against ``measured``):

* ``legacy``: face-counting pore-AM area times ``1 - coverage`` (coverage counted twice), 5 um
  particles, Chen2020's solid conductivity (the coupling before 2026-12-03).
* ``coverage_once``: the same area, coverage counted once.
* ``smoothed_area``: the smoothed-gradient pore-AM area (face counting reads ~1.5x high).
* ``surface_radius``: the particle radius ``3 eps_AM / a_AM`` (inflated by particle contacts).
* ``lt_radius``: instead the AM's local-thickness radius.
* ``measured``: plus the measured solid conductivity (AM 0.18, CBD 10 S/m): today's default
  coupling (at the fixed 80 um thickness of every row above).
* ``loading_basis``: ``measured`` at today's default basis, a fixed AM coat weight of
  22 mg/cm^2 (the thickness follows the label).
* ``cbd_1``, ``cbd_100``: CBD conductivity 1 / 100 S/m. ``am_0.01``: NMC at 0.01 S/m (the
  lithiated end of reported NMC conductivities). ``nanoporous_cbd``: CBD nano-porosity 0.5.

Writes the JSON after every label (rerun overwrites), and prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

from jaxmicro.cell import CathodeProperties, OperatingPoint, simulate_cell
from jaxmicro.characterise import microstructure_metrics
from jaxmicro.characterise.measure import average_over_seeds
from jaxmicro.design import (
    DesignObjective,
    DesignSettings,
    cathode_properties,
    characterise_seeds,
    measurement_row,
)
from jaxmicro.generator import load_shipped_generator

LABELS = [(am, por, 0.5) for am in (0.90, 0.93, 0.96) for por in (0.32, 0.40)]
POWERS = (200.0, 500.0)
LEGACY_RADIUS_M = 5e-6


def _legacy_area(volumes: np.ndarray, voxel_size_m: float) -> tuple[float, float]:
    """Seed-mean face-counting pore-AM area [1/m] and face-counting coverage [-]."""
    m = microstructure_metrics(volumes.reshape(-1, *volumes.shape[-3:]), voxel_size_m)
    return float(np.mean(m.interfacial_area[:, 0])), float(np.mean(m.cbd_coverage))


def _cathode(row: dict, **changes) -> CathodeProperties:
    return dataclasses.replace(cathode_properties(row), **changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("docs/cell_coupling.json"))
    args = parser.parse_args(argv)
    generator = load_shipped_generator("gan")
    # Controlled: one fixed 80 um thickness for every variant (the "thickness" basis).
    base = DesignSettings(volume_size=args.size, seeds_per_label=args.seeds, basis="thickness")
    objective = DesignObjective(generator, base)
    voxel = float(generator.voxel_size_m)
    records = []
    start = time.perf_counter()
    for label in LABELS:
        volumes, measured = objective.measure(np.array([label]))
        row = measurement_row(measured, 0)
        legacy_area, legacy_cov = _legacy_area(volumes, voxel)
        radius, surface_radius = row["particle_radius_m"], row["equivalent_particle_radius_m"]

        def remeasured(volumes=volumes, **settings):
            s = dataclasses.replace(base, **settings).measure_settings(voxel)
            measured = characterise_seeds(jax.numpy.asarray(volumes), s)
            return measurement_row(average_over_seeds(measured), 0)

        variants = {
            "legacy": (
                _cathode(row, am_electrolyte_area_per_volume_m=legacy_area * (1 - legacy_cov),
                         cbd_coverage=0.0, solid_conductivity_s_m=None),
                LEGACY_RADIUS_M,
            ),
            "coverage_once": (
                _cathode(row, am_electrolyte_area_per_volume_m=legacy_area, solid_conductivity_s_m=None),
                LEGACY_RADIUS_M,
            ),
            "smoothed_area": (_cathode(row, solid_conductivity_s_m=None), LEGACY_RADIUS_M),
            "surface_radius": (_cathode(row, solid_conductivity_s_m=None), surface_radius),
            "lt_radius": (_cathode(row, solid_conductivity_s_m=None), radius),
            "measured": (_cathode(row), radius),
        }
        for name, settings in {
            "cbd_1": {"cbd_conductivity_s_m": 1.0},
            "cbd_100": {"cbd_conductivity_s_m": 100.0},
            "am_0.01": {"am_conductivity_s_m": 0.01},
            "nanoporous_cbd": {"cbd_nanoporosity": 0.5},
        }.items():
            other = remeasured(**settings)
            variants[name] = (cathode_properties(other), other["particle_radius_m"])
        variants["loading_basis"] = variants["measured"]
        for power in POWERS:
            for name, (cathode, radius) in variants.items():
                settings = base if name != "loading_basis" else dataclasses.replace(base, basis="loading")
                design = dataclasses.replace(settings.cell_design(row), particle_radius_m=radius)
                result = simulate_cell(cathode, design, OperatingPoint(power_w_per_kg=power))
                records.append(
                    {
                        "labels": dict(zip(("am_wt", "porosity", "adhesion"), label, strict=True)),
                        "power_w_per_kg": power,
                        "variant": name,
                        "specific_energy_wh_kg": None if result.failed else result.specific_energy_wh_kg,
                        "reason": result.reason,
                        "cathode": cathode.to_dict(),
                        "particle_radius_m": radius,
                    }
                )
        summary = {"size": args.size, "seeds": args.seeds, "records": records}
        args.out.write_text(json.dumps(summary, indent=1))
        print(f"{label}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    names = list(dict.fromkeys(r["variant"] for r in records))
    print("| am_wt | porosity | W/kg | " + " | ".join(names) + " |")
    print("|" + "---|" * (3 + len(names)))
    for label in LABELS:
        for power in POWERS:
            values = {
                r["variant"]: r["specific_energy_wh_kg"]
                for r in records
                if r["power_w_per_kg"] == power and tuple(r["labels"].values()) == label
            }
            cells = [("-" if values[n] is None else f"{values[n]:.1f}") for n in names]
            print(f"| {label[0]} | {label[1]} | {power:.0f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
