"""Ask/tell Bayesian optimiser with a JSON state file: the I/O edge around the pure GP code.

The objective is **maximised** by default (``maximize=False`` minimises). A batch of ``q`` points
is proposed by Kriging believer: after each point is chosen, the GP is conditioned on its own
posterior mean there (hyperparameters fixed) and the next point is chosen, so a batch spreads
out. Points asked but not yet told (pending) are treated the same way.

Failed evaluations (``y`` NaN or infinite) are kept: the GP sees them at the worst successful
value (pessimistic imputation), which lowers the posterior mean around them so that the
acquisition steers away, while they still count as evaluated (never re-proposed).

Noisy observations: :meth:`Optimizer.tell` takes each value's standard error (``noise_std``,
e.g. over the seeds of a design evaluation). With the default ``noise_model="heteroscedastic"``
the GP uses it as known per-point noise (plus a learned floor) and LogEI's incumbent becomes the
best posterior mean at the observed points instead of the best observed value, so one lucky
sample neither pins the GP nor inflates the incumbent (the "plug-in" noisy EI of Picheny et al.,
Struct. Multidisc. Optim. 2013, as BoTorch's LogEI on a fixed-noise GP). Without standard errors
it is the homoscedastic GP, unchanged. :meth:`Optimizer.recommend` gives the optimum with its
error bars.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jaxmicro._files import write_json_atomic
from jaxmicro.bo.acquisition import check_acquisition
from jaxmicro.bo.host_acq import maximize as maximize_host
from jaxmicro.bo.host_gp import HostPosterior, append, fit_map, prior_starts, squared_differences
from jaxmicro.bo.host_gp import posterior as host_posterior
from jaxmicro.bo.host_gp import predict as host_predict
from jaxmicro.bo.kernels import check_kernel
from jaxmicro.bo.recommend import Recommendation, check_rule, recommend
from jaxmicro.bo.sobol import sobol_points

STATE_FORMAT = "jaxmicro-bo-optimizer"
STATE_VERSION = 1
# Two unit-box points closer than this (max-norm) count as the same point.
_DUPLICATE_TOL = 1e-6
NOISE_MODELS = ("heteroscedastic", "homoscedastic", "noiseless")


@dataclasses.dataclass(frozen=True)
class Best:
    """The best successful observation so far.

    Attributes:
        x: the point in original units, shape ``(d,)``.
        y: its objective value.
        index: its position in the order of :meth:`Optimizer.tell` calls (0-based, over all
            observations including failures).
    """

    x: np.ndarray
    y: float
    index: int


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything that fixes an :class:`Optimizer`'s behaviour (saved with its state).

    Attributes:
        bounds: ``(lower, upper)`` per dimension, original units, ``lower < upper``.
        fixed: ``{dimension: value}`` held fixed in every proposal (original units).
        seed: seed of the initial design, the GP fit starts and the raw candidates.
        n_initial: number of Sobol points before the GP takes over.
        acquisition: ``"logei"`` (default), ``"ucb"`` or ``"mean"``.
        kernel: ``"matern52"`` (default) or ``"rbf"``.
        maximize: maximise (True, default) or minimise the objective.
        beta: UCB exploration weight.
        noise_min: lower bound of the GP noise variance (standardised units).
        n_raw: raw candidates scored per proposed point.
        n_refine: raw candidates refined by gradients per proposed point.
        fit_starts: GP fit starts while there are fewer than ``multistart_below``
            observations: the previous fit's hyperparameters (if any), the prior mode, and prior
            draws for the rest.
        maxiter: quasi-Newton iterations per start (fit and acquisition).
        multistart_below: from this many observations on, each fit runs two tracks instead:
            the previous fit's hyperparameters (warm start, ``maxiter`` iterations; it stops
            after a few) and an exploring start that continues from where it stopped at the
            previous ask for at most ``explore_maxiter`` iterations, restarted every
            ``explore_restart_every`` asks from the prior mode or a prior draw. The better of the
            two wins. Every ask then costs about the same (no periodic full refits), and the cost
            grows with ``n`` only through the linear algebra.
        explore_maxiter: iterations of the exploring start per ask.
        explore_restart_every: asks between restarts of the exploring start.
        noise_model: ``"heteroscedastic"`` (default): the told standard errors are known
            per-point noise, a learned homoscedastic term on top, and LogEI's incumbent is the
            best posterior mean at the observations once any standard error is positive;
            ``"homoscedastic"``: standard errors ignored, one learned noise; ``"noiseless"``:
            the data are taken as exact (noise fixed at ``noise_min``).
        input_warping: warp each input by a Kumaraswamy CDF fitted with the GP
            (:mod:`jaxmicro.bo.warping`): for surfaces that change fast in one part of the box
            and slowly elsewhere (a transport cliff beside a flat top). Off by default.
    """

    bounds: tuple[tuple[float, float], ...]
    fixed: tuple[tuple[int, float], ...] = ()
    seed: int = 0
    n_initial: int = 6
    acquisition: str = "logei"
    kernel: str = "matern52"
    maximize: bool = True
    beta: float = 2.0
    noise_min: float = 1e-6
    n_raw: int = 512
    n_refine: int = 8
    fit_starts: int = 4
    maxiter: int = 60
    multistart_below: int = 32
    explore_maxiter: int = 5
    explore_restart_every: int = 10
    noise_model: str = "heteroscedastic"
    input_warping: bool = False


def _check_bounds(bounds: Any) -> tuple[tuple[float, float], ...]:
    arr = np.asarray(bounds, dtype=np.float64) if len(bounds) else np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
        raise ValueError(f"bounds must be a list of (lower, upper) pairs, one per dimension, got {bounds!r}")
    if not np.isfinite(arr).all() or not (arr[:, 0] < arr[:, 1]).all():
        raise ValueError(f"each bound needs finite lower < upper, got {arr.tolist()}; fix the bounds")
    return tuple((float(lo), float(hi)) for lo, hi in arr)


def _check_settings(s: Settings) -> Settings:
    bounds = _check_bounds(s.bounds)
    d = len(bounds)
    fixed = []
    for k, v in dict(s.fixed).items():
        k = int(k)
        if not 0 <= k < d:
            raise ValueError(f"fixed dimension {k} is not in 0..{d - 1}; use a dimension index of bounds")
        lo, hi = bounds[k]
        if not lo <= float(v) <= hi:
            raise ValueError(f"fixed value {v} of dimension {k} is outside its bounds [{lo}, {hi}]")
        fixed.append((k, float(v)))
    if len(fixed) == d:
        raise ValueError("every dimension is fixed: nothing to optimise; leave at least one free")
    check_acquisition(s.acquisition)
    check_kernel(s.kernel)
    for name in ("n_initial", "n_raw", "n_refine", "fit_starts", "maxiter", "multistart_below",
                 "explore_maxiter", "explore_restart_every"):
        if int(getattr(s, name)) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(s, name)}")
    if s.n_raw < s.n_refine:
        raise ValueError(f"n_raw ({s.n_raw}) must be >= n_refine ({s.n_refine})")
    if not s.noise_min > 0:
        raise ValueError(f"noise_min must be > 0, got {s.noise_min}")
    if s.noise_model not in NOISE_MODELS:
        raise ValueError(f"unknown noise_model {s.noise_model!r}; pass one of {NOISE_MODELS}")
    if not isinstance(s.input_warping, bool):
        raise ValueError(f"input_warping must be True or False, got {s.input_warping!r}")
    return dataclasses.replace(s, bounds=bounds, fixed=tuple(sorted(fixed)), seed=int(s.seed),
                               n_initial=int(s.n_initial), maximize=bool(s.maximize))


@contextlib.contextmanager
def _compute_context() -> Iterator[None]:
    """Single-threaded BLAS while we compute.

    Why: on a busy machine OpenBLAS's threads turn each small LAPACK call into milliseconds of
    waiting (the jitted GP's LAPACK calls go through SciPy's OpenBLAS; measured in
    ``docs/bo.md``). ``threadpoolctl`` is used when
    installed; otherwise set ``OPENBLAS_NUM_THREADS=1``.
    """
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController

            _BLAS_CONTROLLER = ThreadpoolController()  # scans the loaded libraries once (~4 ms)
        except ImportError:  # pragma: no cover - optional speed-up only
            _BLAS_CONTROLLER = False
    if _BLAS_CONTROLLER is False:  # pragma: no cover
        yield
        return
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        yield


_BLAS_CONTROLLER: Any = None


def _fantasize(post: HostPosterior, x: np.ndarray) -> tuple[HostPosterior, float]:
    """Kriging believer: condition on the posterior mean at ``x`` (shape ``(d,)``); returns the
    new posterior (rank-one Cholesky update) and that mean."""
    mean, _ = host_predict(post, x[None, :])
    return append(post, x, float(mean[0])), float(mean[0])


class Optimizer:
    """Ask/tell Bayesian optimisation over a box, with failures, fixed dimensions and a state file.

    Example::

        opt = Optimizer(bounds=[(0.90, 0.96), (0.28, 0.44)], seed=0, n_initial=6)
        for _ in range(10):
            x = opt.ask(q=2)                  # (2, d), original units
            y = [objective(xi) for xi in x]   # NaN for a failed evaluation
            opt.tell(x, y)
            opt.save("bo.json")               # atomic; Optimizer.load("bo.json") resumes
        opt.best.x, opt.best.y

    Args:
        bounds: ``(lower, upper)`` per dimension in original units, shape ``(d, 2)``.
        seed: RNG seed; proposals are a deterministic function of the seed and the tells.
        n_initial: points from a scrambled Sobol design before the GP is used.
        acquisition: ``"logei"``, ``"ucb"`` or ``"mean"``.
        kernel: ``"matern52"`` or ``"rbf"``.
        fixed: ``{dimension index: value}`` held fixed in proposals (original units).
        maximize: True (default) maximises the objective; False minimises it.
        **options: further :class:`Settings` fields (``beta``, ``noise_min``, ``n_raw``,
            ``n_refine``, ``fit_starts``, ``maxiter``).

    Raises:
        ValueError: for bad bounds, fixed values outside them, unknown names or counts < 1.
    """

    def __init__(
        self,
        bounds: Sequence[tuple[float, float]],
        seed: int = 0,
        n_initial: int = 6,
        acquisition: str = "logei",
        kernel: str = "matern52",
        fixed: Mapping[int, float] | None = None,
        maximize: bool = True,
        **options: Any,
    ) -> None:
        unknown = set(options) - {f.name for f in dataclasses.fields(Settings)}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; see jaxmicro.bo.Settings")
        self.settings = _check_settings(Settings(
            bounds=tuple(bounds), fixed=tuple((fixed or {}).items()), seed=seed, n_initial=n_initial,
            acquisition=acquisition, kernel=kernel, maximize=maximize, **options))
        d = self.dim
        self._x = np.zeros((0, d))
        self._y = np.zeros(0)
        self._noise_std = np.zeros(0)  # told standard errors (0 = unknown)
        self._pending = np.zeros((0, d))
        self._n_design = 0
        self._theta: np.ndarray | None = None  # last GP fit (warm start of the next)
        self._explore: np.ndarray | None = None  # the exploring fit track (see Settings)

    # ----------------------------------------------------------------- properties
    @property
    def dim(self) -> int:
        """Input dimension ``d``."""
        return len(self.settings.bounds)

    @property
    def _theta_size(self) -> int:
        """Length of the GP's parameter vector (``3 d + 3`` with input warping)."""
        return (3 if self.settings.input_warping else 1) * self.dim + 3

    @property
    def x(self) -> np.ndarray:
        """Observed points in original units, shape ``(n, d)`` (a copy)."""
        return self._x.copy()

    @property
    def y(self) -> np.ndarray:
        """Observed values, shape ``(n,)``; NaN marks a failed evaluation (a copy)."""
        return self._y.copy()

    @property
    def noise_std(self) -> np.ndarray:
        """Told standard errors of the observations, shape ``(n,)``; 0 where none was told."""
        return self._noise_std.copy()

    @property
    def pending(self) -> np.ndarray:
        """Points asked but not yet told, shape ``(p, d)`` (a copy)."""
        return self._pending.copy()

    @property
    def best(self) -> Best | None:
        """The best successful observation (highest ``y``, lowest if minimising); None if none."""
        ok = np.flatnonzero(np.isfinite(self._y))
        if ok.size == 0:
            return None
        vals = self._y[ok] if self.settings.maximize else -self._y[ok]
        i = int(ok[np.argmax(vals)])
        return Best(self._x[i].copy(), float(self._y[i]), i)

    # ----------------------------------------------------------------- scaling
    def _lower_upper(self) -> tuple[np.ndarray, np.ndarray]:
        b = np.asarray(self.settings.bounds)
        return b[:, 0], b[:, 1]

    def _to_unit(self, x: np.ndarray) -> np.ndarray:
        lo, hi = self._lower_upper()
        return (x - lo) / (hi - lo)

    def _from_unit(self, u: np.ndarray) -> np.ndarray:
        lo, hi = self._lower_upper()
        x = np.clip(lo + np.clip(u, 0.0, 1.0) * (hi - lo), lo, hi)
        for k, v in self.settings.fixed:
            x[..., k] = v  # exact, not re-derived from the unit box
        return x

    def _unit_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit-box search bounds with fixed dimensions collapsed to their value."""
        lower, upper = np.zeros(self.dim), np.ones(self.dim)
        lo, hi = self._lower_upper()
        for k, v in self.settings.fixed:
            lower[k] = upper[k] = (v - lo[k]) / (hi[k] - lo[k])
        return lower, upper

    # ----------------------------------------------------------------- ask / tell
    def ask(self, q: int = 1) -> np.ndarray:
        """Proposes ``q`` points to evaluate next (and records them as pending).

        Args:
            q: batch size, >= 1.

        Returns:
            Points in original units, shape ``(q, d)``, inside the bounds, with fixed dimensions
            at their values, distinct from every observed and pending point.
        """
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
            raise ValueError(f"q must be an integer >= 1, got {q!r}")
        q = int(q)
        s = self.settings
        n_seen = len(self._y) + len(self._pending)
        have_data = bool(np.isfinite(self._y).any())
        n_design = q if not have_data else min(q, max(0, s.n_initial - n_seen))
        lower, upper = self._unit_box()
        design = np.clip(sobol_points(n_design, self.dim, s.seed, skip=self._n_design), lower, upper)
        chosen = list(design)
        if q > n_design:
            chosen += self._propose(q - n_design, design)
        x = self._from_unit(np.asarray(chosen).reshape(q, self.dim))
        self._n_design += n_design
        self._pending = np.concatenate([self._pending, x])
        return x.copy()

    def _propose(self, q: int, extra_pending: np.ndarray) -> list[np.ndarray]:
        """``q`` unit-box points by the GP, Kriging believer over pending and earlier choices."""
        s = self.settings
        x_obs = self._to_unit(self._x)
        pending = np.concatenate([self._to_unit(self._pending), extra_pending]) if len(extra_pending) \
            else self._to_unit(self._pending)
        y, ok, known = self._standardised()
        lower, upper = self._unit_box()
        # Randomness keyed by (seed, points seen): a reloaded state continues identically.
        counter = len(y) + len(pending)
        with _compute_context():
            sq_diffs = squared_differences(x_obs)
            theta = self._fit(x_obs, y, counter, sq_diffs, known)
            post = host_posterior(theta, x_obs, y, s.kernel, sq_diffs, known)
            if known is not None and known.any():
                # Known noise: the best posterior mean at the observations (plug-in noisy EI).
                best_f = float(host_predict(post, x_obs[ok])[0].max())
            else:
                # Incumbent = best successful observation (standardised), as BoTorch's standard
                # loop. The largest posterior mean at the observations did worse with a learned
                # noise (median regret on Hartmann-6, tuning seeds 100-109: 0.0057 vs 0.0027
                # noiseless, 0.090 vs 0.066 with noise sd 0.1).
                best_f = float(y[ok].max())
            for p in pending:  # a fantasy counts as an observation, incumbent included
                post, fantasy = _fantasize(post, p)
                best_f = max(best_f, fantasy)
            taken = np.concatenate([x_obs, pending])
            chosen: list[np.ndarray] = []
            for j in range(q):
                raw = sobol_points(s.n_raw, self.dim, (s.seed, counter, j))
                cands = maximize_host(s.acquisition, post, best_f, raw, lower, upper, s.beta,
                                      n_refine=s.n_refine, maxiter=s.maxiter)
                pick = _first_new(cands.x, taken)
                if pick is None:  # every refined point is a duplicate: take a fresh raw point
                    pick = _first_new(np.clip(raw, lower, upper), taken)
                if pick is None:  # pragma: no cover - 512 Sobol points all duplicates
                    raise RuntimeError("could not find a new point to propose")
                chosen.append(pick)
                taken = np.concatenate([taken, pick[None]])
                if j + 1 < q:
                    post, fantasy = _fantasize(post, pick)
                    best_f = max(best_f, fantasy)
        return chosen

    def _standardised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Standardised values (sign-flipped when minimising, failures imputed), the success
        mask, and the known noise variances in standardised units (None unless the noise model
        is heteroscedastic)."""
        y, ok, _, sd = _standardise(self._y if self.settings.maximize else -self._y)
        if self.settings.noise_model != "heteroscedastic":
            return y, ok, None
        return y, ok, self._told_variance(ok, sd)

    def _told_variance(self, ok: np.ndarray, sd: float) -> np.ndarray:
        """The told noise variances in standardised units (0 at failures)."""
        return np.where(ok, (self._noise_std / sd) ** 2, 0.0)

    def _fit(self, x: np.ndarray, y: np.ndarray, counter: int, sq_diffs: np.ndarray,
             known: np.ndarray | None) -> np.ndarray:
        """GP hyperparameters for this ask (see ``Settings.multistart_below``); updates the
        warm-start state. Random starts are keyed by ``(seed, counter)``."""
        s = self.settings
        d = self.dim
        rng = np.random.default_rng([s.seed, counter])
        options = self._fit_options(sq_diffs, known)
        warped = s.input_warping
        if self._theta is None or len(y) < s.multistart_below:
            warm = [] if self._theta is None else [self._theta]
            starts = np.concatenate([np.reshape(warm, (-1, self._theta_size)),
                                     prior_starts(d, max(0, s.fit_starts - 1 - len(warm)), rng, warped)])
            fit = fit_map(x, y, starts, maxiter=s.maxiter, **options)
            self._theta, self._explore = fit.theta, None
            return fit.theta
        main = fit_map(x, y, self._theta[None], maxiter=s.maxiter, **options)
        restarts = 0 if self._explore is None else counter // s.explore_restart_every
        if self._explore is None or counter % s.explore_restart_every == 0:
            # The prior mode, then prior draws in turn.
            start = prior_starts(d, 1, rng, warped)[min(restarts, 1)]
        else:
            start = self._explore
        explore = fit_map(x, y, start[None], maxiter=s.explore_maxiter, **options)
        best = explore if explore.value < main.value else main
        self._theta, self._explore = best.theta, explore.theta
        return best.theta

    def _fit_options(self, sq_diffs: np.ndarray, known: np.ndarray | None) -> dict[str, Any]:
        s = self.settings
        options = {"noise_min": s.noise_min, "kernel": s.kernel, "sq_diffs": sq_diffs, "known_noise": known}
        if s.noise_model == "noiseless":
            options["noise_max"] = s.noise_min
        return options

    def tell(self, x: Any, y: Any, noise_std: Any = None) -> None:
        """Records evaluations (NaN, inf or None in ``y`` = failed; kept and avoided).

        Args:
            x: points in original units, shape ``(m, d)`` (or ``(d,)`` for one point); they
                need not have been asked, but must lie inside the bounds.
            y: objective values, shape ``(m,)`` (or a scalar).
            noise_std: standard error of each value [objective units], shape ``(m,)``; NaN or
                None where unknown (treated as 0: the learned noise only). Used by the
                heteroscedastic noise model.

        Raises:
            ValueError: for wrong shapes, non-finite or out-of-bounds ``x``, negative or
                infinite ``noise_std``.
        """
        x = np.asarray(x, dtype=np.float64)
        y = _floats(y)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (m, {self.dim}) (one column per bound), got {x.shape}")
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape ({x.shape[0]},) to match x {x.shape}, got {y.shape}")
        if x.shape[0] == 0:
            raise ValueError("tell got no observations; pass at least one (x, y) pair")
        if not np.isfinite(x).all():
            raise ValueError("x must be finite; mark a failed evaluation with y = NaN instead")
        lo, hi = self._lower_upper()
        tol = 1e-9 * (hi - lo)
        if ((x < lo - tol) | (x > hi + tol)).any():
            raise ValueError(f"x has points outside the bounds {list(self.settings.bounds)}; "
                             "tell only points inside them")
        y = np.where(np.isfinite(y), y, np.nan)
        noise = _check_noise_std(noise_std, len(y))
        for row in self._to_unit(x):
            if len(self._pending):
                dist = np.max(np.abs(self._to_unit(self._pending) - row), axis=1)
                i = int(np.argmin(dist))
                if dist[i] < _DUPLICATE_TOL:
                    self._pending = np.delete(self._pending, i, axis=0)
        self._x = np.concatenate([self._x, np.clip(x, lo, hi)])
        self._y = np.concatenate([self._y, y])
        self._noise_std = np.concatenate([self._noise_std, noise])

    def recommend(self, level: float = 0.95, n_region: int = 1024,
                  edge_tol: float = 0.02, rule: str = "lower_bound",
                  shared_noise: bool = False) -> Recommendation | None:
        """The optimum with error bars, from the GP fitted to every observation.

        Args:
            level: confidence level of the interval and of "not distinguishable" (0..1).
            rule: which evaluated point is recommended (``"lower_bound"``: the best ``level``
                lower confidence bound; ``"mean"``: the best posterior mean; see
                :mod:`jaxmicro.bo.recommend`).
            n_region: Sobol points (over the free dimensions) searched for the region.
            edge_tol: a free coordinate within this fraction of its range from a bound counts as
                on that bound.
            shared_noise: the told ``noise_std`` is common to neighbouring points (common random
                numbers, as a design campaign's shared generator seeds), so each point's interval
                and lower bound keep its own noise variance (:func:`jaxmicro.bo.recommend.recommend`).

        Returns:
            A :class:`~jaxmicro.bo.recommend.Recommendation` (original units), or None with fewer
            than two successful observations. Deterministic for a given state.
        """
        check_rule(rule)
        ok = np.isfinite(self._y)
        if ok.sum() < 2:
            return None
        s = self.settings
        y, ok, known = self._standardised()
        _, _, mu, sd = _standardise(self._y if s.maximize else -self._y)
        x_obs = self._to_unit(self._x)
        lower, upper = self._unit_box()
        with _compute_context():
            sq_diffs = squared_differences(x_obs)
            # A fresh fit to every observation (the last ask's fit predates the last tell), from
            # that fit and the prior; the optimiser's own warm-start state is left alone.
            warm = np.reshape([] if self._theta is None else self._theta, (-1, self._theta_size))
            starts = np.concatenate([warm, prior_starts(self.dim, s.fit_starts - 1, np.random.default_rng(
                [s.seed, len(y), 1 << 20]), s.input_warping)])
            theta = fit_map(x_obs, y, starts, maxiter=s.maxiter, **self._fit_options(sq_diffs, known)).theta
            post = host_posterior(theta, x_obs, y, s.kernel, sq_diffs, known)
            grid = np.clip(sobol_points(n_region, self.dim, (s.seed, 1 << 20)), lower, upper)
            shared = self._told_variance(ok, sd) if shared_noise else None
            unit = recommend(post, ok, grid, level=level, seed=s.seed, rule=rule, shared_var=shared)
        sign = 1.0 if s.maximize else -1.0
        free = upper > lower
        u = x_obs[unit.index]
        edges = tuple((int(k), "lower" if u[k] <= edge_tol else "upper") for k in np.flatnonzero(free)
                      if u[k] <= edge_tol or u[k] >= 1.0 - edge_tol)
        low, high = sorted((sign * (mu + sd * unit.lower), sign * (mu + sd * unit.upper)))
        return Recommendation(
            x=self._x[unit.index].copy(), index=unit.index, mean=sign * (mu + sd * unit.mean),
            lower=low, upper=high, level=level, observed=float(self._y[unit.index]),
            prob_other_better=unit.prob_other_better, prob_better=unit.prob_better,
            max_shortfall=sd * unit.max_shortfall, region=self._from_unit(unit.region), on_edge=edges)

    # ----------------------------------------------------------------- state
    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (NaN stored as null; floats round-trip exactly)."""
        s = dataclasses.asdict(self.settings)
        s["bounds"] = [list(b) for b in self.settings.bounds]
        s["fixed"] = {str(k): v for k, v in self.settings.fixed}
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "settings": s,
            "x": self._x.tolist(),
            "y": [None if math.isnan(v) else float(v) for v in self._y],
            "noise_std": [float(v) for v in self._noise_std],
            "pending": self._pending.tolist(),
            "n_design": self._n_design,
            # Hyperparameters of the last fit, the next fit's warm start (exact as JSON floats).
            "gp_theta": None if self._theta is None else [float(v) for v in self._theta],
            "gp_explore": None if self._explore is None else [float(v) for v in self._explore],
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Optimizer:
        """Rebuilds an optimiser from :meth:`to_dict` output."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} state (format={state.get('format')!r})")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {state.get('version')!r}; expected {STATE_VERSION}")
        s = dict(state["settings"])
        fixed = {int(k): float(v) for k, v in s.pop("fixed").items()}
        bounds = [tuple(b) for b in s.pop("bounds")]
        opt = cls(bounds=bounds, fixed=fixed, **s)
        d = opt.dim
        opt._x = np.asarray(state["x"], dtype=np.float64).reshape(-1, d)
        opt._y = np.asarray([np.nan if v is None else v for v in state["y"]], dtype=np.float64)
        # Absent in states written before noisy observations: none told.
        opt._noise_std = np.asarray(state.get("noise_std", [0.0] * len(opt._y)), dtype=np.float64)
        opt._pending = np.asarray(state["pending"], dtype=np.float64).reshape(-1, d)
        opt._n_design = int(state["n_design"])
        for key, attr in (("gp_theta", "_theta"), ("gp_explore", "_explore")):
            theta = state.get(key)  # absent in states written before the warm start
            if theta is not None and len(theta) == opt._theta_size:
                setattr(opt, attr, np.asarray(theta, dtype=np.float64))
        if not opt._y.shape == opt._noise_std.shape == (opt._x.shape[0],):
            raise ValueError("corrupt state: x, y and noise_std have different lengths")
        return opt

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the state to a JSON file atomically (temporary file + ``os.replace``)."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Optimizer:
        """Reads a state written by :meth:`save`; the next proposals equal the saved one's."""
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __repr__(self) -> str:
        return (f"Optimizer(dim={self.dim}, observations={len(self._y)}, "
                f"failed={int(np.isnan(self._y).sum())}, pending={len(self._pending)})")


def _floats(values: Any) -> np.ndarray:
    """Values as a float64 array of at least one dimension, None read as NaN."""
    values = np.atleast_1d(np.asarray(values, dtype=object))
    flat = [np.nan if v is None else v for v in values.ravel()]
    return np.array(flat, dtype=np.float64).reshape(values.shape)


def _check_noise_std(noise_std: Any, m: int) -> np.ndarray:
    """Told standard errors as an array ``(m,)``; NaN/None -> 0 (unknown)."""
    if noise_std is None:
        return np.zeros(m)
    values = _floats(noise_std)
    if values.shape != (m,):
        raise ValueError(f"noise_std must have shape ({m},) to match y, got {values.shape}")
    if (values[~np.isnan(values)] < 0).any() or np.isinf(values).any():
        raise ValueError(f"noise_std must be finite and >= 0 (NaN for unknown), got {values.tolist()}")
    return np.nan_to_num(values, nan=0.0)


def _standardise(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Standardised values with failures imputed at the worst success, the success mask, and
    the shift and scale (``z = (y - mu) / sd``)."""
    ok = np.isfinite(y)
    good = y[ok]
    mu = good.mean()
    sd = good.std() if good.size > 1 else 1.0
    sd = sd if sd > 0 else 1.0
    z = np.where(ok, (y - mu) / sd, 0.0)
    # Pessimistic imputation: a failure looks as bad as the worst success, so the GP mean dips
    # there and the acquisition moves away, without inventing an arbitrary penalty scale.
    z[~ok] = ((good - mu) / sd).min()
    return z, ok, float(mu), float(sd)


def _first_new(candidates: np.ndarray, taken: np.ndarray) -> np.ndarray | None:
    """First row of ``candidates`` farther than the duplicate tolerance from every ``taken`` row."""
    for c in candidates:
        if not np.isfinite(c).all():
            continue
        if len(taken) == 0 or np.min(np.max(np.abs(taken - c), axis=1)) > _DUPLICATE_TOL:
            return c
    return None

