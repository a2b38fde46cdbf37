"""Seed spread of the through-plane tortuosity at the low-porosity cliff, 64^3 vs 128^3.

    python experiments/cliff_volume_size.py   # -> runs/cliff_size.json (about 12 min, 2 cores)

Default generator, am_wt 0.98, adhesion 0.5, porosity 0.20 / 0.23 / 0.26 / 0.29, 8 seeds per size,
0.75 um voxels (48 and 96 um boxes).
"""

import json
import time

import jax.numpy as jnp
import numpy as np

from jaxmicro.characterise.measure import MeasureSettings, measure
from jaxmicro.generator import generate, load_default_generator


def main() -> None:
    generator = load_default_generator()
    settings = MeasureSettings(voxel_size_m=0.75e-6, solid_conductivity=False, particle_radius=False)
    out = {}
    for size in (64, 128):
        for porosity in (0.20, 0.23, 0.26, 0.29):
            start = time.time()
            label = np.array([[0.98, porosity, 0.5]])
            result = generate(generator, label, shape=(size,) * 3, seed=list(range(8)))
            taus = np.array([
                float(measure(jnp.asarray(v)[None], settings).electrolyte_tau_through_plane[0])
                for v in np.asarray(result.volume).reshape(-1, size, size, size)
            ])
            out[f"{size}_{porosity}"] = taus.tolist()
            print(size, porosity, f"tau mean {taus.mean():.2f} sd {taus.std(ddof=1):.2f} "
                  f"harmonic {len(taus) / np.sum(1 / taus):.2f} ({time.time() - start:.0f} s)", flush=True)
            with open("runs/cliff_size.json", "w") as stream:
                json.dump(out, stream)


if __name__ == "__main__":
    main()
