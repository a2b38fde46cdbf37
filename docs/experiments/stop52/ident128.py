"""The particle stage's pooled (and per-porosity) Wasserstein objective at 128^3: the simulator's law
and the shipped law (sg6), each on two key sets, against one training volume per (am_wt, porosity) of
data/wide128 (`jaxmicro simulate --out data/wide128 --size 128 --voxel-size-m 0.75e-6 --seed 0`).
Stopped after the four cases in ident128.txt (about 2.5 min per case on 2 busy cores).

Usage: python docs/experiments/stop52/ident128.py
"""

import concurrent.futures

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology_distances, morphology_summary, pool_morphologies
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

samples = [s for s in load_dataset("data/wide128").train if np.ndim(s.volume) == 3]
seen, chosen = set(), []
for s in samples:
    k = tuple(np.round(s.labels.to_array()[:2], 3))
    if k not in seen:
        seen.add(k)
        chosen.append(s)
volumes = [np.asarray(s.volume, np.uint8) for s in chosen]
labels = [s.labels.to_array() for s in chosen]
n = len(volumes)
print(n, "volumes", [tuple(l) for l in labels])
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)


def keys(j):
    return [jax.random.fold_in(jax.random.fold_in(root, 3000 + j), i) for i in range(n)]


sim = st.load_simulator_model("data/wide128").geometry(labels[0])
sg6 = st.load_geometry_model("checkpoints/stochastic").geometry(labels[0])
sg6 = sim._replace(**{k: getattr(sg6, k) for k in st.PARTICLE_STAGE})
cases = {
    "sim": (sim, 0),
    "sim_B": (sim, 1),
    "sg6": (sg6, 0),
    "sg6_B": (sg6, 1),
    "flat0.65": (sim._replace(particle_flattening=0.65), 0),
}
por = sorted({round(float(l[1]), 3) for l in labels})
groups = [[i for i in range(n) if round(float(labels[i][1]), 3) == p] for p in por]
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    train = list(pool.map(lambda v: st._measure(v, (AM,)), volumes))
    for name, (g, j) in cases.items():
        ks = keys(j)
        parts = list(
            pool.map(
                lambda i, g=g, ks=ks: st._measure(st.draw(ks[i], labels[i], g, volumes[0].shape), (AM,)),
                range(n),
            )
        )
        for gname, grouping in (("pooled", [list(range(n))]), ("porosity", groups)):
            tot = 0
            comps = []
            for gr in grouping:
                d = morphology_distances(
                    pool_morphologies([parts[i][0] for i in gr]), pool_morphologies([train[i][0] for i in gr])
                )
                s = np.mean([parts[i][1][0] for i in gr]) / np.mean([train[i][1][0] for i in gr]) - 1
                tot += np.nansum(d) + 5 * abs(s)
                comps.append(d)
            print(
                f"{name:8s} {gname:8s} plain {tot / len(grouping):.4f} "
                f"comps {np.round(np.mean(comps, 0), 4)}",
                flush=True,
            )
        print(
            "   ",
            {
                k: round(v * 1e6, 3)
                for k, v in morphology_summary(pool_morphologies([p[0] for p in parts]), 0.75e-6).items()
            },
            flush=True,
        )
    print(
        "train",
        {
            k: round(v * 1e6, 3)
            for k, v in morphology_summary(pool_morphologies([p[0] for p in train]), 0.75e-6).items()
        },
    )
