"""The moments' chi-square (mom_rsm.py's statistics: per porosity level, the mean AM chord
through-plane and in-plane, mean local thickness, Euler density and AM surface of data/wide64's
training volumes) at the simulator's law, the shipped law (sg6) and the response-surface fit's
(rsm_law_wide64.json), each drawn 4 times per training label on fresh keys; the variance of a
group mean from each volume's spread over those 4 draws (as mom.py). Output: chi2_laws.txt.

Usage: python docs/experiments/stop52/chi2_laws.py
"""

import json

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology, morphology_summary
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

DATA, K = "data/wide64", 4
samples = [s for s in load_dataset(DATA).train if np.ndim(s.volume) == 3]
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = [s.labels.to_array() for s in samples]
n, shape = len(volumes), volumes[0].shape
por = sorted({round(float(lab[1]), 3) for lab in labels})
gidx = np.array([por.index(round(float(lab[1]), 3)) for lab in labels])
NAMES = ("chord_am_through_m", "chord_am_in_plane_m", "size_am_m", "euler_am_per_um3")


def stats(v):
    s = morphology_summary(morphology(v[None], (AM,), (AM,)), 1.0)
    return np.array([s[k] for k in NAMES] + [st.surface_terms(v)[0]])


def group_means(S):
    return np.concatenate([S[gidx == g].mean(0) for g in range(len(por))])


sim = st.load_simulator_model(DATA).geometry(labels[0])
sg6 = st.load_geometry_model("checkpoints/stochastic").geometry(labels[0])
rsm = json.load(open("docs/experiments/stop52/rsm_law_wide64.json"))
laws = {
    "simulator": sim,
    "sg6": sim._replace(**{k: getattr(sg6, k) for k in st.PARTICLE_STAGE}),
    "rsm": sim._replace(**rsm),
}
T = group_means(np.array([stats(v) for v in volumes]))
root = jax.random.PRNGKey(424242)
for name, law in laws.items():
    per_volume = []  # (K, n, 5)
    for k in range(K):
        keys = [jax.random.fold_in(jax.random.fold_in(root, k), i) for i in range(n)]
        per_volume.append(np.array([stats(st.draw(keys[i], labels[i], law, shape)) for i in range(n)]))
    per_volume = np.array(per_volume)
    mean = np.mean([group_means(S) for S in per_volume], 0)
    spread = per_volume.var(0, ddof=1)  # one volume's variance, per volume and statistic
    var = np.concatenate([spread[gidx == g].mean(0) / (gidx == g).sum() for g in range(len(por))])
    chi2 = float(np.sum((T - mean) ** 2 / (var * (1 + 1 / K))))
    print(f"{name:10s} chi2 {chi2:6.1f} of {len(T)} statistics", flush=True)
