"""Method of simulated moments for the particle law: Jacobian of per-porosity-level mean AM statistics
w.r.t. the 4 particle parameters at a base law (CRN central differences), the statistics' noise,
the Fisher information and one Gauss-Newton step from the base towards the training statistics.

Usage: python docs/experiments/stop52/mom.py data/wide64 2 checkpoints/stochastic   (output:
       mom_wide64_sg6.txt; about 6 min on 2 cores)
"""

import concurrent.futures
import json
import sys

import jax
import numpy as np

from jaxmicro.characterise.morphology import morphology, morphology_summary
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

DATA, K, BASE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
samples = [s for s in load_dataset(DATA).train if np.ndim(s.volume) == 3]
if len(sys.argv) > 4:  # one volume per (am_wt, porosity)
    seen, keep = set(), []
    for s in samples:
        k = tuple(np.round(s.labels.to_array()[:2], 3))
        if k not in seen:
            seen.add(k)
            keep.append(s)
    samples = keep
volumes = [np.asarray(s.volume, np.uint8) for s in samples]
labels = [s.labels.to_array() for s in samples]
n, shape = len(volumes), volumes[0].shape
por = sorted({round(float(l[1]), 3) for l in labels})
gidx = np.array([por.index(round(float(l[1]), 3)) for l in labels])
NAMES = ("chord_am_through_m", "chord_am_in_plane_m", "size_am_m", "euler_am_per_um3")


def stats(v):
    s = morphology_summary(morphology(v[None], (AM,), (AM,)), 0.75e-6)
    return np.array([s[k] * 1e6 for k in NAMES] + [st.surface_terms(v)[0]])


def group_means(S):  # S (n, 5) -> (groups*5,)
    return np.concatenate([S[gidx == g].mean(0) for g in range(len(por))])


sim = st.load_simulator_model(DATA).geometry(labels[0])
base = (
    sim
    if BASE == "sim"
    else sim._replace(
        **{k: getattr(st.load_geometry_model(BASE).geometry(labels[0]), k) for k in st.PARTICLE_STAGE}
    )
)
steps = {
    "log_median_radius": 0.04,
    "radius_log_std": 0.04,
    "precalender_am_fraction": 0.02,
    "particle_flattening": 0.12,
}
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)
keys = [[jax.random.fold_in(jax.random.fold_in(root, 5000 + k), i) for i in range(n)] for k in range(2 * K)]
with concurrent.futures.ThreadPoolExecutor(2) as pool:

    def draw_stats(g, ks):
        return np.array(list(pool.map(lambda i: stats(st.draw(ks[i], labels[i], g, shape)), range(n))))

    T_train = group_means(np.array(list(pool.map(stats, volumes))))
    base_sets = [draw_stats(base, keys[k]) for k in range(2 * K)]
    print("base drawn", flush=True)
    T_base = np.mean([group_means(S) for S in base_sets[:K]], 0)
    # noise of one training set's group means: per-volume residual variance across keys / n_g
    per_vol_var = np.var(np.stack(base_sets), axis=0, ddof=1)  # (n, 5)
    var = np.concatenate([per_vol_var[gidx == g].mean(0) / (gidx == g).sum() for g in range(len(por))])
    J = []
    for name, h in steps.items():
        up = base._replace(**{name: getattr(base, name) + h})
        dn = base._replace(**{name: getattr(base, name) - h})
        Tu = np.mean([group_means(draw_stats(up, keys[k])) for k in range(K)], 0)
        Td = np.mean([group_means(draw_stats(dn, keys[k])) for k in range(K)], 0)
        J.append((Tu - Td) / (2 * h))
        print("jacobian", name, flush=True)
J = np.array(J).T  # (m, 4)
W = np.diag(1 / var)
F = J.T @ W @ J
cov = np.linalg.inv(F)
se = np.sqrt(np.diag(cov))
r = T_train - T_base
step = cov @ J.T @ W @ r
names = list(steps)
print("data", DATA, "n", n, "K", K, "base", BASE)
print("stats per porosity", por, (*NAMES, "ssa"))
print("train", np.round(T_train, 3))
print("base ", np.round(T_base, 3))
print("sd   ", np.round(np.sqrt(var), 3))
print("chi2 base vs train", round(float(r @ W @ r), 1), "m", len(r))
b = np.array([getattr(base, k) for k in names])
s = np.array([getattr(sim, k) for k in names])
print("param  base  gn_estimate  se  simulator  (sim-est)/se")
for i, k in enumerate(names):
    print(
        f"{k:24s} {b[i]:.4f} {b[i] + step[i]:.4f} {se[i]:.4f} {s[i]:.4f} "
        f"{(s[i] - b[i] - step[i]) / se[i]:+.2f}"
    )
corr = cov / np.outer(se, se)
print("correlations\n", np.round(corr, 2))
d = s - b
print("sim-base Mahalanobis", round(float(np.sqrt(d @ F @ d)), 2))
json.dump(
    {
        "names": names,
        "base": b.tolist(),
        "estimate": (b + step).tolist(),
        "se": se.tolist(),
        "simulator": s.tolist(),
        "corr": corr.tolist(),
        "chi2_base": float(r @ W @ r),
        "m": len(r),
    },
    open(f"docs/experiments/stop52/mom_{DATA.split('/')[-1]}_{BASE.split('/')[-1]}.json", "w"),
)
