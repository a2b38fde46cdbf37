"""Would an input-warped GP follow the low-porosity cliff? A controlled comparison on campaign logs.

    python experiments/gp_warping_check.py runs/design55d/power_200W_per_kg/log.jsonl ... \
        --out docs/experiments/stop56/gp_warping.json

For each ``log.jsonl`` (a design campaign over am_wt and porosity): the same Matern-5/2 GP (ARD,
constant mean, the seed standard errors as known noise plus a learned floor, a weak log-normal
lengthscale prior), fitted by MAP from 40 starts, once on the unit box and once with porosity
warped by a Kumaraswamy CDF ``1 - (1 - x^a)^b`` whose ``a, b`` are fitted with it (Snoek et al.,
"Input warping for Bayesian optimization of non-stationary functions", ICML 2014; BoTorch's
``Warp``). Reported: the log posterior, the leave-one-out predictive log density of the
observations (higher is better; what the comparison rests on) and the posterior along porosity
at the campaign's best am_wt. Pure NumPy/SciPy, independent of jaxmicro.bo.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

AM_WT, POROSITY = (0.85, 0.98), (0.20, 0.50)
QUERY = (0.20, 0.21, 0.22, 0.23, 0.25, 0.27, 0.29, 0.32, 0.40, 0.50)


def _matern52(a: np.ndarray, b: np.ndarray, lengthscale: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.sum(((a[:, None, :] - b[None, :, :]) / lengthscale) ** 2, -1) + 1e-12)
    s = math.sqrt(5.0) * d
    return (1.0 + s + s * s / 3.0) * np.exp(-s)


def _warp(x: np.ndarray, shape: tuple[float, float] | None) -> np.ndarray:
    if shape is None:
        return x
    z = x.copy()
    z[:, 1] = 1.0 - (1.0 - np.clip(x[:, 1], 1e-9, 1.0) ** shape[0]) ** shape[1]
    return z


class Model:
    def __init__(self, x, y, noise, warped):
        self.x, self.warped = x, warped
        self.mu, self.sd = y.mean(), y.std()
        self.y, self.known = (y - self.mu) / self.sd, noise / self.sd**2

    def unpack(self, t):
        shape = (math.exp(t[5]), math.exp(t[6])) if self.warped else None
        return np.exp(t[:2]), math.exp(t[2]), math.exp(t[3]), t[4], shape

    def covariance(self, t):
        lengthscale, scale, floor, _, shape = self.unpack(t)
        z = _warp(self.x, shape)
        return scale * _matern52(z, z, lengthscale) + np.diag(self.known + floor + 1e-8)

    def neg_log_posterior(self, t):
        try:
            chol = np.linalg.cholesky(self.covariance(t))
        except np.linalg.LinAlgError:
            return 1e10
        a = np.linalg.solve(chol, self.y - t[4])
        prior = 0.5 * np.sum(((t[:2] + 1.0) / 1.7) ** 2) + (
            0.5 * np.sum((t[5:] / 0.75) ** 2) if self.warped else 0
        )
        return (
            0.5 * a @ a
            + np.log(np.diag(chol)).sum()
            + 0.5 * len(self.y) * math.log(2 * math.pi)
            + prior
        )

    def fit(self, starts=40, seed=0):
        rng = np.random.default_rng(seed)
        bounds = (
            [(-5, 2)] * 2
            + [(-4, 3), (-14, 0), (-3, 3)]
            + ([(-2.5, 2.5)] * 2 if self.warped else [])
        )
        best = None
        for _ in range(starts):
            t0 = np.concatenate(
                [
                    rng.normal(-1, 1, 2),
                    [rng.normal(0, 0.5), rng.normal(-6, 1), rng.normal(0, 0.5)],
                    rng.normal(0, 0.7, 2) if self.warped else [],
                ]
            )
            found = minimize(self.neg_log_posterior, t0, method="L-BFGS-B", bounds=bounds)
            if best is None or found.fun < best.fun:
                best = found
        self.theta = best.x
        return best.fun

    def loo_log_density(self):
        inverse = np.linalg.inv(self.covariance(self.theta))
        variance = 1.0 / np.diag(inverse)
        residual = (inverse @ (self.y - self.theta[4])) * variance
        # In the objective's units: subtract n log(sd) from the standardised density.
        return float(
            np.sum(-0.5 * np.log(2 * np.pi * variance) - 0.5 * residual**2 / variance)
            - len(self.y) * math.log(self.sd)
        )

    def predict(self, q):
        lengthscale, scale, _, mean, shape = self.unpack(self.theta)
        z, zq = _warp(self.x, shape), _warp(q, shape)
        chol = np.linalg.cholesky(self.covariance(self.theta))
        cross = scale * _matern52(zq, z, lengthscale)
        alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, self.y - mean))
        v = np.linalg.solve(chol, cross.T)
        var = np.maximum(scale - np.sum(v * v, 0), 0.0)
        return self.mu + self.sd * (mean + cross @ alpha), self.sd * np.sqrt(var)


def check(log: Path) -> dict:
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    ok = [
        r
        for r in records
        if r.get("type") == "evaluation"
        and not r["failed"]
        and r.get("objective_standard_error") is not None
        and math.isfinite(r["objective_standard_error"])
    ]
    x = np.array(
        [
            [
                (r["labels"]["am_wt"] - AM_WT[0]) / (AM_WT[1] - AM_WT[0]),
                (r["labels"]["porosity"] - POROSITY[0]) / (POROSITY[1] - POROSITY[0]),
            ]
            for r in ok
        ]
    )
    y = np.array([r["objective"] for r in ok])
    noise = np.array([r["objective_standard_error"] for r in ok]) ** 2
    best_am = float(ok[int(np.argmax(y))]["labels"]["am_wt"])
    q = np.array(
        [
            [
                (best_am - AM_WT[0]) / (AM_WT[1] - AM_WT[0]),
                (p - POROSITY[0]) / (POROSITY[1] - POROSITY[0]),
            ]
            for p in QUERY
        ]
    )
    out = {
        "log": str(log),
        "n": len(ok),
        "am_wt": best_am,
        "observed": [
            [
                r["labels"]["am_wt"],
                r["labels"]["porosity"],
                r["objective"],
                r["objective_standard_error"],
            ]
            for r in ok
        ],
    }
    for name, warped in (("plain", False), ("warped", True)):
        model = Model(x, y, noise, warped)
        value = model.fit()
        mean, sd = model.predict(q)
        out[name] = {
            "neg_log_posterior": value,
            "loo_log_density": model.loo_log_density(),
            "theta": model.theta.tolist(),
            "posterior": {
                f"{p:.2f}": [float(m), float(s)] for p, m, s in zip(QUERY, mean, sd, strict=True)
            },
        }
        print(
            f"{log}: {name:6s} LOO log density {out[name]['loo_log_density']:8.2f}  at am_wt {best_am:.3f}: "
            + " ".join(
                f"{p:.2f}:{m:.1f}+-{s:.1f}" for p, m, s in zip(QUERY, mean, sd, strict=True)
            ),
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("logs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = [check(log) for log in args.logs]
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
