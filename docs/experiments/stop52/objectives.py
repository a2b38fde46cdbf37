"""Can the particle stage's objectives tell the simulator's law from the shipped one (sg6)? Each AM
distance at 14 laws (the simulator's on three key sets, sg6 on two, one-parameter perturbations, the
pooled fit of stop 51) against data/wide64's 30 training volumes, one draw per volume, for three
groupings (pooled, per (am_wt, porosity), per volume), plain and divided by each distance's floor
(sg6 on two key sets). Output: objectives.txt (about 5 min on 2 cores).

Usage: python docs/experiments/stop52/objectives.py
"""

import concurrent.futures

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology_distances, pool_morphologies
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

samples = [s for s in load_dataset("data/wide64").train if np.ndim(s.volume) == 3]
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = [s.labels.to_array() for s in samples]
n = len(volumes)
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)
keysets = [
    [
        jax.random.fold_in(jax.random.fold_in(root, 1000 + j), i) if j else jax.random.fold_in(root, i)
        for i in range(n)
    ]
    for j in range(3)
]
sim = st.load_simulator_model("data/wide64").geometry(labels[0])
sg6 = st.load_geometry_model("checkpoints/stochastic").geometry(labels[0])
sg6 = sim._replace(**{k: getattr(sg6, k) for k in st.PARTICLE_STAGE})
cases = {
    "sim": (sim, 0),
    "sim_k1": (sim, 1),
    "sim_k2": (sim, 2),
    "sg6": (sg6, 0),
    "sg6_k1": (sg6, 1),
    "flat0.35": (sim._replace(particle_flattening=0.35), 0),
    "flat0.65": (sim._replace(particle_flattening=0.65), 0),
    "r0.95": (sim._replace(log_median_radius=sim.log_median_radius + np.log(0.95)), 0),
    "r1.05": (sim._replace(log_median_radius=sim.log_median_radius + np.log(1.05)), 0),
    "spread0.2": (sim._replace(radius_log_std=0.20), 0),
    "spread0.3": (sim._replace(radius_log_std=0.30), 0),
    "loose0.37": (sim._replace(precalender_am_fraction=0.37), 0),
    "loose0.43": (sim._replace(precalender_am_fraction=0.43), 0),
    "pooledfit": (
        sim._replace(
            log_median_radius=float(np.log(6.0)),
            radius_log_std=0.31,
            precalender_am_fraction=0.41,
            particle_flattening=0.68,
        ),
        0,
    ),
}
groups = {}
for i, lab in enumerate(labels):
    groups.setdefault((round(float(lab[0]), 3), round(float(lab[1]), 3)), []).append(i)
groups = list(groups.values())
print(len(groups), "groups", [len(g) for g in groups])
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    train = list(pool.map(lambda v: st._measure(v, (AM,)), volumes))
    drawn = {}
    for name, (g, j) in cases.items():
        drawn[name] = list(
            pool.map(
                lambda i, g=g, j=j: st._measure(
                    st.draw(keysets[j][i], labels[i], g, volumes[0].shape), (AM,)
                ),
                range(n),
            )
        )
        print("drawn", name, flush=True)


def grouped(parts_a, parts_b, grouping):
    d = [
        morphology_distances(
            pool_morphologies([parts_a[i][0] for i in g]), pool_morphologies([parts_b[i][0] for i in g])
        )
        for g in grouping
    ]
    s = [
        abs(np.mean([parts_a[i][1][0] for i in g]) / np.mean([parts_b[i][1][0] for i in g]) - 1)
        for g in grouping
    ]
    return np.array(d), np.array(s)


groupings = {"pooled": [list(range(n))], "amwt_por": groups, "volume": [[i] for i in range(n)]}
out = {}
for gname, grouping in groupings.items():
    floor_d, floor_s = grouped(drawn["sg6"], drawn["sg6_k1"], grouping)
    w = 1.0 / np.nanmean(floor_d, axis=0)
    ws = 1.0 / np.mean(floor_s)
    print(
        gname, "floor per component", np.round(np.nanmean(floor_d, 0), 4), "surf", round(np.mean(floor_s), 4)
    )
    for name in cases:
        d, s = grouped(drawn[name], train, grouping)
        plain = np.mean(np.nansum(d, 1) + 5 * s)
        weighted = np.mean(np.nansum(d * w, 1) + ws * s)
        comp = np.nanmean(d, 0)
        out.setdefault(name, {})[gname] = (
            round(float(plain), 4),
            round(float(weighted), 3),
            np.round(comp * w, 2).tolist(),
        )
        print(
            f"  {gname:9s} {name:10s} plain {plain:.4f} weighted {weighted:.3f} "
            f"comps/floor {np.round(comp * w, 2)} surf/floor {np.mean(s) * ws:.2f}",
            flush=True,
        )
