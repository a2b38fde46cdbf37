"""As objectives.py with 4 draws per training volume (the pooled objective only): the model's side of
the comparison nearly noise-free. Output: objectives4.txt (about 8 min on 2 cores).

Usage: python docs/experiments/stop52/objectives4.py
"""

import concurrent.futures

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology_distances, morphology_summary, pool_morphologies
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

K = 4
samples = [s for s in load_dataset("data/wide64").train if np.ndim(s.volume) == 3]
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = [s.labels.to_array() for s in samples]
n = len(volumes)
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)


def keyset(j):
    return [
        (i, jax.random.fold_in(jax.random.fold_in(root, 2000 + j * K + k), i))
        for i in range(n)
        for k in range(K)
    ]


sim = st.load_simulator_model("data/wide64").geometry(labels[0])
sg6 = st.load_geometry_model("checkpoints/stochastic").geometry(labels[0])
sg6 = sim._replace(**{k: getattr(sg6, k) for k in st.PARTICLE_STAGE})
cases = {
    "sim": (sim, 0),
    "sim_B": (sim, 1),
    "sg6": (sg6, 0),
    "sg6_B": (sg6, 1),
    "flat0.35": (sim._replace(particle_flattening=0.35), 0),
    "flat0.65": (sim._replace(particle_flattening=0.65), 0),
    "r0.97": (sim._replace(log_median_radius=sim.log_median_radius + np.log(0.97)), 0),
    "r1.03": (sim._replace(log_median_radius=sim.log_median_radius + np.log(1.03)), 0),
    "spread0.22": (sim._replace(radius_log_std=0.22), 0),
    "spread0.28": (sim._replace(radius_log_std=0.28), 0),
    "loose0.38": (sim._replace(precalender_am_fraction=0.38), 0),
    "loose0.42": (sim._replace(precalender_am_fraction=0.42), 0),
}
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    train = list(pool.map(lambda v: st._measure(v, (AM,)), volumes))
    target = pool_morphologies([t[0] for t in train])
    ts = np.mean([t[1][0] for t in train])
    print(
        "train",
        {k: round(v * 1e6, 3) for k, v in morphology_summary(target, 0.75e-6).items()},
        "ssa",
        round(ts, 4),
    )
    drawn = {}
    for name, (g, j) in cases.items():
        parts = list(
            pool.map(
                lambda ik, g=g: st._measure(st.draw(ik[1], labels[ik[0]], g, volumes[0].shape), (AM,)),
                keyset(j),
            )
        )
        p = pool_morphologies([t[0] for t in parts])
        s = np.mean([t[1][0] for t in parts])
        drawn[name] = (p, s)
        d = morphology_distances(p, target)
        print(
            f"{name:10s} plain {np.nansum(d) + 5 * abs(s / ts - 1):.4f} "
            f"comps {np.round(d, 4)} surf {s / ts - 1:+.4f}",
            {k: round(v * 1e6, 3) for k, v in morphology_summary(p, 0.75e-6).items()},
            flush=True,
        )
    print("sim vs sim_B", np.round(morphology_distances(drawn["sim"][0], drawn["sim_B"][0]), 4))
    print("sg6 vs sg6_B", np.round(morphology_distances(drawn["sg6"][0], drawn["sg6_B"][0]), 4))
