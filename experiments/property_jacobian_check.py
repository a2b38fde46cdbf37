"""Which factor of the chain-rule gradient is off? The soft property Jacobian against common-seed
central differences of the argmax measurement (issue 23 item 3).

The chain rule's am_wt derivative overshoots whole-loop differences by up to 28 %
(docs/experiments/gradient_check_8seeds.json) while the cell factor agrees within 0.6 %. This
compares, property by property, ``d x / d label`` from :func:`jaxmicro.design.gradient.
property_jacobian` (forward-mode through the soft measurement, at several sharpening
temperatures, the electrolyte at the same one) with central differences of the argmax
measurement itself (same seeds on both sides, no cell), with the seed standard error of the
differences.

    python experiments/property_jacobian_check.py [--seeds 8] [--temperatures 0.05,0.1,0.2] \
        [--out docs/experiments/property_jacobian_check.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

LABEL = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
STEPS = {"am_wt": 0.01, "porosity": 0.01}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8, help="generator seeds [%(default)s]")
    parser.add_argument("--temperatures", default="0.05,0.1,0.2", help="soft temperatures, comma-separated")
    parser.add_argument("--out", default="docs/experiments/property_jacobian_check.json")
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    from jaxmicro._files import write_text_atomic
    from jaxmicro.characterise.measure import average_over_seeds
    from jaxmicro.data.labels import LABEL_FIELDS
    from jaxmicro.design import DesignObjective, DesignSettings
    from jaxmicro.design.gradient import CELL_INPUTS, _cell_input_vector, property_jacobian
    from jaxmicro.design.properties import characterise_seeds, generate_volumes
    from jaxmicro.generator import load_shipped_generator

    generator = load_shipped_generator("gan")
    objective = DesignObjective(generator, DesignSettings(seeds_per_label=args.seeds))
    settings = objective.settings.measure_settings(generator.voxel_size_m)
    shape = (objective.settings.volume_size,) * 3
    keys = jnp.stack([jax.random.PRNGKey(s) for s in objective.seeds])
    base = np.array([LABEL[name] for name in LABEL_FIELDS])

    def per_seed_inputs(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(seeds, 6)`` argmax cell inputs of each seed, and ``(6,)`` of the seed average."""
        unit = jnp.asarray(generator.unit_labels(label[None]))
        volumes = generate_volumes(generator.params, generator.config, keys, unit, shape)
        measured = characterise_seeds(volumes, settings)
        each = np.asarray(_cell_input_vector(measured)[:, 0], np.float64)
        mean = np.asarray(_cell_input_vector(average_over_seeds(measured))[0], np.float64)
        return each, mean

    start = time.perf_counter()
    _, hard = per_seed_inputs(base)
    differences, standard_errors = {}, {}
    for name, step in STEPS.items():
        i = LABEL_FIELDS.index(name)
        up, down = base.copy(), base.copy()
        up[i] += step
        down[i] -= step
        (each_up, mean_up), (each_down, mean_down) = per_seed_inputs(up), per_seed_inputs(down)
        differences[name] = ((mean_up - mean_down) / (2 * step)).tolist()
        per_seed = (each_up - each_down) / (2 * step)
        standard_errors[name] = (per_seed.std(axis=0, ddof=1) / np.sqrt(len(per_seed))).tolist()
    differences_s = time.perf_counter() - start
    soft = {}
    for temperature in (float(t) for t in args.temperatures.split(",")):
        start = time.perf_counter()
        uniform = dict.fromkeys(LABEL_FIELDS, temperature)
        jacobian = property_jacobian(objective, base, hard, temperature, electrolyte_temperatures=uniform)
        soft[f"{temperature:g}"] = {
            "jacobian": {name: jacobian[:, LABEL_FIELDS.index(name)].tolist() for name in STEPS},
            "seconds": time.perf_counter() - start,
        }
        print(f"T = {temperature:g}: {soft[f'{temperature:g}']['seconds']:.0f} s", flush=True)
    result = {
        "label": LABEL,
        "seeds": args.seeds,
        "volume_size": objective.settings.volume_size,
        "cell_inputs": CELL_INPUTS,
        "argmax_values": hard.tolist(),
        "argmax_differences": differences,
        "argmax_differences_standard_error": standard_errors,
        "argmax_differences_seconds": differences_s,
        "soft": soft,
    }
    write_text_atomic(Path(args.out), json.dumps(result, indent=1))
    for name in STEPS:
        print(f"d / d {name}: input, argmax differences (SE), soft at each temperature")
        for k, prop in enumerate(CELL_INPUTS):
            cells = "  ".join(f"{soft[t]['jacobian'][name][k]:10.4g}" for t in soft)
            print(f"  {prop:34s} {differences[name][k]:10.4g} ({standard_errors[name][k]:.2g})  {cells}")


if __name__ == "__main__":
    main()
