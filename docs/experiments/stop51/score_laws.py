"""The particle stage's pooled objective (stop 51) at the simulator's own particle law, at the
shipped model's (sg6, fitted with stop 50's per-volume objective) and at perturbations of the
simulator's, on the fit's own draws of data/wide64 (seed 0).

Usage: python docs/experiments/stop51/score_laws.py   (after `jaxmicro simulate --out data/wide64
       --size 64 --voxel-size-m 0.75e-6 --seed 0`; about 10 s per line on 2 cores)
"""

import concurrent.futures

import jax
import numpy as np

from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

samples = [s for s in load_dataset("data/wide64").train if np.ndim(s.volume) == 3]
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = [s.labels.to_array() for s in samples]
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)
keys = [jax.random.fold_in(root, i) for i in range(len(samples))]
sim = st.load_simulator_model("data/wide64").geometry(labels[0])
sg6 = st.load_geometry_model("checkpoints/stochastic").geometry(labels[0])
cases = {
    "sim": sim,
    "sg6": sg6,
    "sim_flat0.35": sim._replace(particle_flattening=0.35),
    "sim_flat0.65": sim._replace(particle_flattening=0.65),
    "sim_r0.9": sim._replace(log_median_radius=sim.log_median_radius + np.log(0.9)),
    "sim_r1.1": sim._replace(log_median_radius=sim.log_median_radius + np.log(1.1)),
    "sim_loose0.35": sim._replace(precalender_am_fraction=0.35),
}
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    objective = st._pooled_objective(volumes, labels, keys, (AM,), 0, pool)
    for name, geometry in cases.items():
        print(name, round(objective(geometry), 4), flush=True)
