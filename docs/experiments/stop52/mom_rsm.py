"""Prototype: response-surface method of simulated moments for the particle law. Per round, the law is
drawn at Sobol points in a box around the current point, a linear surface of the per-porosity means
of AM statistics is fitted, and the point moves to its bounded weighted least-squares solution
(the residual variance as weights). Output: rsm_*.txt.

Usage: python docs/experiments/stop52/mom_rsm.py data/wide64 checkpoints/stochastic 16 0.08,0.04,0.03
       python docs/experiments/stop52/mom_rsm.py data/wide128 checkpoints/stochastic 12 0.06,0.03,0.03 one
       (one: one volume per (am_wt, porosity))
"""

import concurrent.futures
import json
import sys
import time

import jax
import numpy as np
from scipy.optimize import lsq_linear
from scipy.stats import qmc

from jaxmicro.characterise.morphology import morphology, morphology_summary
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import AM
from jaxmicro.generator import stochastic as st

DATA, START, POINTS, WIDTHS = (
    sys.argv[1],
    sys.argv[2],
    int(sys.argv[3]),
    [float(w) for w in sys.argv[4].split(",")],
)
samples = [s for s in load_dataset(DATA).train if np.ndim(s.volume) == 3]
if len(sys.argv) > 5:  # one volume per (am_wt, porosity)
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
SCALE = np.array([1, 1, 1, 1e4, 10.0])


def stats(v):
    s = morphology_summary(morphology(v[None], (AM,), (AM,)), 1.0)
    return np.array([s[k] for k in NAMES] + [st.surface_terms(v)[0]]) * SCALE


def group_means(S):
    return np.concatenate([S[gidx == g].mean(0) for g in range(len(por))])


names = st.PARTICLE_STAGE
vs = 0.75e-6
sim = st.load_simulator_model(DATA).geometry(labels[0])
start = (
    st.neutral_geometry(vs)
    if START == "neutral"
    else sim._replace(**{k: getattr(st.load_geometry_model(START).geometry(labels[0]), k) for k in names})
)
root = jax.random.fold_in(jax.random.PRNGKey(0), st.FIT_STREAM)
t0 = time.time()
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    T = group_means(np.array(list(pool.map(stats, volumes))))
    u = st._unit_of(start, names, vs)
    for rnd, width in enumerate(WIDTHS):
        pts = np.clip(u + width * (2 * qmc.Sobol(4, seed=rnd).random(POINTS) - 1), 0, 1)
        Y = []
        for p, up in enumerate(pts):
            g = st._at(start, names, up, vs)
            ks = [jax.random.fold_in(jax.random.fold_in(root, 9000 + 100 * rnd + p), i) for i in range(n)]
            Y.append(
                group_means(
                    np.array(
                        list(
                            pool.map(
                                lambda i, g=g, ks=ks: stats(st.draw(ks[i], labels[i], g, shape)), range(n)
                            )
                        )
                    )
                )
            )
        Y = np.array(Y)
        X = np.c_[np.ones(POINTS), pts - u]
        coef, *_ = np.linalg.lstsq(X, Y, rcond=None)  # (5, m)
        resid = Y - X @ coef
        var = (resid**2).sum(0) / (POINTS - 5)
        a, B = coef[0], coef[1:].T  # m, (m, 4)
        W = 1 / var
        A = B.T @ (B * W[:, None])
        cov = np.linalg.inv(A)
        res = lsq_linear(B * np.sqrt(W)[:, None], np.sqrt(W) * (T - a), bounds=(-u, 1 - u))
        step_b = res.x
        chi2_c = float(((T - a) ** 2 * W).sum())
        chi2_n = float(((T - a - B @ step_b) ** 2 * W).sum())
        lo, hi = st._unit_box(names, vs)
        se = np.sqrt(np.diag(cov)) * (hi - lo)
        u = np.clip(u + np.clip(step_b, -2 * width, 2 * width), 0, 1)
        g = st._at(start, names, u, vs)
        print(
            f"round {rnd} width {width} t {time.time() - t0:.0f}s "
            f"chi2 centre {chi2_c:.1f} -> {chi2_n:.1f} (m {len(T)})",
            {k: round(getattr(g, k), 4) for k in names},
            "se",
            np.round(se, 4),
            flush=True,
        )
        print(
            "   corr",
            np.round(cov / np.outer(np.sqrt(np.diag(cov)), np.sqrt(np.diag(cov))), 2).tolist(),
            flush=True,
        )
    print("simulator", {k: round(getattr(sim, k), 4) for k in names})
    print(
        "(est-sim)/se",
        np.round(
            (np.array([getattr(g, k) for k in names]) - np.array([getattr(sim, k) for k in names])) / se, 2
        ),
    )
    json.dump(
        {k: float(getattr(g, k)) for k in names},
        open(f"docs/experiments/stop52/rsm_law_{DATA.split('/')[-1]}_{START.split('/')[-1]}.json", "w"),
    )
