"""The stochastic model's draw at the simulator's law against the simulator itself on the same keys
(per-volume mean AM chords, size, Euler density, surface; four sets of 30 labels), and data/wide64's
training set beside them (is it a typical realisation?).

Usage: python docs/experiments/stop52/simcheck.py
"""

import concurrent.futures

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology, morphology_summary
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.data.simulator import simulate_electrodes
from jaxmicro.generator import stochastic as st
from jaxmicro.generator.validate import dataset_simulator

ds = load_dataset("data/wide64")
samples = [s for s in ds.train if np.ndim(s.volume) == 3]
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = np.array([s.labels.to_array() for s in samples])
n, shape = len(volumes), volumes[0].shape
config, seed = dataset_simulator(ds)
NAMES = ("chord_am_through_m", "chord_am_in_plane_m", "size_am_m", "euler_am_per_um3")


def stats(v):
    s = morphology_summary(morphology(v[None], (AM,), (AM,)), 1.0)
    return np.array([s[k] for k in NAMES] + [st.surface_terms(v)[0]])


sim = st.load_simulator_model("data/wide64").geometry(labels[0])
print(
    "config budget",
    config.max_particles,
    "model budgets",
    sorted({st.particle_budget(sim, float(st._fractions(l)[AM]), shape) for l in labels}),
)
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    T = np.array(list(pool.map(stats, volumes))).mean(0)
    print("train         ", np.round(T, 4))
    for j in range(4):
        keys = jax.random.split(jax.random.PRNGKey(100 + j), n)
        vs = np.asarray(simulate_electrodes(keys, labels.astype(np.float32), config))
        a = np.array(list(pool.map(stats, list(vs)))).mean(0)
        b = np.array(
            list(pool.map(lambda i, keys=keys: stats(st.draw(keys[i], labels[i], sim, shape)), range(n)))
        ).mean(0)
        print(f"set {j} simulator", np.round(a, 4), " model", np.round(b, 4), flush=True)
