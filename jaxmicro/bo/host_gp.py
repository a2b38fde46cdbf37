"""The GP as the :class:`~jaxmicro.bo.Optimizer` runs it: NumPy/SciPy on the host, exact size,
analytic gradients, warm-startable MAP fit and rank-one (incremental) Cholesky updates.

Same model as :mod:`jaxmicro.bo.gp` (same kernels, priors, bounds and parameterisation; a test
checks that both give the same log posterior), computed differently, for campaigns of hundreds of
observations on a CPU:

* **No padding, no compilation.** The jitted GP compiles once per padded size (3 to 14 s each on
  the shared 2-core CPU) and pays for up to twice the rows; here LAPACK runs on the exact ``n``.
* **Analytic gradient.** The gradient of the log marginal likelihood is
  ``0.5 tr((a a^T - K^-1) dK/dtheta)`` with ``K^-1`` from ``dpotri``: about one Cholesky's
  work more. Autodiff through the Cholesky took 10x a Cholesky at 256 rows, and ``vmap`` over
  fit starts made batched LAPACK calls 8 to 16x slower than one at a time (measured
  2026-12-03, ``docs/bo.md``).
* **Warm start.** :func:`fit_map` takes extra starts (the previous MAP): one new observation
  moves the MAP a little, so L-BFGS-B from there stops after a few iterations.
* **Incremental conditioning.** :func:`append` adds a point to a posterior in ``O(n^2)`` (new
  Cholesky row, new row of ``L^-1``), used for Kriging-believer fantasies.

Parameters are the flat vector ``theta = (log lengthscale (d), log outputscale, log noise,
mean)`` in unit-box inputs and standardised outputs, or with **input warping**
(:mod:`jaxmicro.bo.warping`) ``theta = (..., mean, log a (d), log b (d))``: each input passes
through a fitted Kumaraswamy CDF before the kernel. The length of ``theta`` says which
(``d + 3`` or ``3 d + 3``); the training inputs ``x`` stay in the unit box and every function
warps them (and query points) itself, so callers never see the warped coordinates.

**Known per-point noise** (heteroscedastic): every function takes an optional ``known_noise``,
shape ``(n,)``, the variance of each observation's own measurement error [standardised units^2]
(e.g. the squared standard error of a mean over seeds). It adds to the diagonal beside the
learned noise ``exp(theta[d + 1])``, which then models only what the known part leaves out
(model misfit, solver noise), as BoTorch's fixed-noise GP with a learned floor. ``None`` is all
zeros: the homoscedastic GP, unchanged.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import scipy.linalg
import scipy.optimize

from jaxmicro.bo import warping
from jaxmicro.bo.gp import LENGTHSCALE_BOUNDS, MEAN_BOUNDS, NOISE_MAX, OUTPUTSCALE_BOUNDS, _prior
from jaxmicro.bo.kernels import check_kernel

_SQRT5 = math.sqrt(5.0)
# Relative jitters tried in turn when a Cholesky factorisation fails (as jaxmicro.bo.gp).
_JITTERS = (0.0, 1e-9, 1e-7, 1e-5, 1e-3)


def kernel_and_slope(kernel: str, u: np.ndarray, outputscale: float) -> tuple[np.ndarray, np.ndarray]:
    """Kernel value ``k(u)`` and its slope ``dk/du`` as functions of the scaled squared distance.

    Args:
        kernel: ``"matern52"`` or ``"rbf"``.
        u: scaled squared distances ``sum_k (dx_k / l_k)^2``, any shape, ``>= 0``.
        outputscale: signal variance ``s`` [standardised units^2].

    Returns:
        ``(k, dk/du)``, each the shape of ``u``. For Matern-5/2 ``dk/du = -s 5/6 (1 + sqrt5 r)
        exp(-sqrt5 r)`` is finite at ``r = 0``.
    """
    if kernel == "matern52":
        sr = np.sqrt(5.0 * u)
        e = np.exp(-sr)
        e *= outputscale
        one_sr = sr + 1.0
        sr *= sr
        sr *= 1.0 / 3.0
        sr += one_sr
        sr *= e  # s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)
        one_sr *= e
        one_sr *= -5.0 / 6.0
        return sr, one_sr
    if kernel == "rbf":
        k = outputscale * np.exp(-0.5 * u)
        return k, -0.5 * k
    raise ValueError(f"unknown kernel {kernel!r}; pass 'matern52' or 'rbf'")


def param_bounds(d: int, noise_min: float, noise_max: float = NOISE_MAX,
                 warped: bool = False) -> list[tuple[float, float]]:
    """Box bounds of ``theta`` (same as the jitted fit's, plus :data:`warping.BOUNDS` for the
    warping's ``2 d`` parameters when ``warped``); ``noise_max = noise_min`` fixes the learned
    noise (a noiseless model)."""
    return ([(math.log(LENGTHSCALE_BOUNDS[0]), math.log(LENGTHSCALE_BOUNDS[1]))] * d
            + [(math.log(OUTPUTSCALE_BOUNDS[0]), math.log(OUTPUTSCALE_BOUNDS[1])),
               (math.log(noise_min), math.log(noise_max)), MEAN_BOUNDS]
            + [warping.BOUNDS] * (2 * d if warped else 0))


def is_warped(theta: np.ndarray, d: int) -> bool:
    """Whether ``theta`` (length ``d + 3`` or ``3 d + 3``) carries input-warping parameters."""
    if len(theta) not in (d + 3, 3 * d + 3):
        raise ValueError(f"theta must have {d + 3} or {3 * d + 3} entries for {d} inputs, got {len(theta)}")
    return len(theta) == 3 * d + 3


def _warp(theta: np.ndarray, x: np.ndarray) -> warping.Warped | None:
    """The warped inputs of unit-box ``x`` ``(n, d)`` under ``theta`` (``None``: not warped)."""
    d = x.shape[1]
    if not is_warped(theta, d):
        return None
    return warping.kumaraswamy(x, theta[d + 3: 2 * d + 3], theta[2 * d + 3:])


def _squared(x: np.ndarray, sq_diffs: np.ndarray | None, warped: warping.Warped | None) -> np.ndarray:
    """Per-dimension squared differences of the kernel's inputs (``sq_diffs`` of ``x`` reused
    when given and nothing is warped)."""
    if warped is not None:
        return squared_differences(warped.z)
    return squared_differences(x) if sq_diffs is None else sq_diffs


def kernel_inputs(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """What the kernel sees of unit-box inputs ``x`` ``(n, d)``: ``x``, or ``w(x)`` when warped."""
    warped = _warp(theta, x)
    return x if warped is None else warped.z


def _known(known_noise: np.ndarray | None, n: int) -> np.ndarray:
    """Known per-point noise variances, shape ``(n,)`` (zeros for ``None``)."""
    if known_noise is None:
        return np.zeros(n)
    known = np.asarray(known_noise, np.float64)
    if known.shape != (n,) or not (np.isfinite(known).all() and (known >= 0).all()):
        raise ValueError(f"known_noise must be {n} finite variances >= 0, got {known!r}")
    return known


def cholesky(matrix: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, retried with diagonal jitter ``(1e-9 .. 1e-3) * mean(diag)``.

    Raises:
        numpy.linalg.LinAlgError: if even the largest jitter fails.
    """
    scale = float(np.mean(np.diagonal(matrix)))
    for jitter in _JITTERS:
        a = matrix if jitter == 0.0 else matrix + (jitter * scale) * np.eye(len(matrix))
        chol, info = scipy.linalg.lapack.dpotrf(a, lower=1, clean=1)
        if info == 0:
            return chol
    raise np.linalg.LinAlgError("covariance is not positive definite even with 1e-3 jitter")


@functools.lru_cache(maxsize=16)
def _prior_cached(d: int) -> tuple[np.ndarray, np.ndarray]:
    return _prior(d)


def _prior_of(d: int, warped: bool) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian prior (loc, scale) of ``theta``, with :data:`warping.PRIOR` when ``warped``."""
    loc, scale = _prior_cached(d)
    if not warped:
        return loc, scale
    return (np.concatenate([loc, np.full(2 * d, warping.PRIOR[0])]),
            np.concatenate([scale, np.full(2 * d, warping.PRIOR[1])]))


def squared_differences(x: np.ndarray) -> np.ndarray:
    """Per-dimension squared differences ``(x_ik - x_jk)^2``, shape ``(d, n, n)``."""
    diff = x.T[:, :, None] - x.T[:, None, :]
    return diff * diff


def neg_log_posterior(theta: np.ndarray, x: np.ndarray, y: np.ndarray, kernel: str = "matern52",
                      sq_diffs: np.ndarray | None = None,
                      known_noise: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Negative log joint ``-(log p(y | theta) + log p(theta))`` and its gradient in ``theta``.

    Args:
        theta: flat parameters, shape ``(d + 3,)``, or ``(3 d + 3,)`` with input warping.
        x: inputs in the unit box, shape ``(n, d)``.
        y: standardised outputs, shape ``(n,)``.
        kernel: ``"matern52"`` or ``"rbf"``.
        sq_diffs: :func:`squared_differences` of ``x`` if already computed (saves work across
            calls; unused with input warping, whose distances change with ``theta``).
        known_noise: known per-point noise variances, shape ``(n,)`` (module docstring).

    Returns:
        ``(value, gradient)``; ``(1e10, 0)`` if the covariance cannot be factorised.
    """
    n, d = x.shape
    warped = _warp(theta, x)
    sq = _squared(x, sq_diffs, warped)
    ls2 = np.exp(2.0 * theta[:d])
    s, noise, mean = math.exp(theta[d]), math.exp(theta[d + 1]), float(theta[d + 2])
    u = (sq.reshape(d, -1).T @ (1.0 / ls2)).reshape(n, n)
    kf, slope = kernel_and_slope(kernel, u, s)
    cov = kf.copy()
    cov[np.diag_indices(n)] += noise + _known(known_noise, n)
    try:
        chol = cholesky(cov)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    resid = y - mean
    alpha = scipy.linalg.cho_solve((chol, True), resid)
    kinv, info = scipy.linalg.lapack.dpotri(chol, lower=1)
    if info != 0:  # pragma: no cover - dpotri fails only on a singular factor
        return 1e10, np.zeros_like(theta)
    kinv = kinv + kinv.T  # dpotri fills the lower triangle; the upper one is 0 (clean factor)
    kinv[np.diag_indices(n)] *= 0.5
    loc, scale = _prior_of(d, warped is not None)
    standard = (theta - loc) / scale
    value = (0.5 * resid @ alpha + np.sum(np.log(np.diagonal(chol))) + 0.5 * n * math.log(2.0 * math.pi)
             + 0.5 * np.sum(standard * standard))
    w = np.outer(alpha, alpha) - kinv  # d(-lml) = -0.5 tr(w dK)
    grad = np.empty_like(theta)
    ws = w * slope
    # dK/dlog l_k = slope * (-2 sq_k / l_k^2)
    grad[:d] = (sq.reshape(d, -1) @ ws.ravel()) / ls2
    grad[d] = -0.5 * np.sum(w * kf)
    grad[d + 1] = -0.5 * noise * np.trace(w)
    grad[d + 2] = -np.sum(alpha)
    if warped is not None:
        # dK_ij/dz_mk = slope_ij 2 (z_ik - z_jk) / l_k^2 (delta_im - delta_jm), W symmetric.
        z = warped.z
        dz = -2.0 * (z * ws.sum(axis=1)[:, None] - ws @ z) / ls2
        grad[d + 3: 2 * d + 3] = np.sum(dz * warped.dz_dlog_a, axis=0)
        grad[2 * d + 3:] = np.sum(dz * warped.dz_dlog_b, axis=0)
    grad += standard / scale
    if not np.isfinite(value) or not np.isfinite(grad).all():
        return 1e10, np.zeros_like(theta)
    return float(value), grad


@dataclasses.dataclass(frozen=True)
class FitResult:
    """A MAP fit.

    Attributes:
        theta: the best parameters, shape ``(d + 3,)`` (``(3 d + 3,)`` with input warping).
        value: their negative log posterior.
        n_evaluations: objective evaluations over all starts (a cost measure).
    """

    theta: np.ndarray
    value: float
    n_evaluations: int


def fit_map(x: np.ndarray, y: np.ndarray, starts: np.ndarray, *, noise_min: float = 1e-6,
            kernel: str = "matern52", maxiter: int = 60, sq_diffs: np.ndarray | None = None,
            known_noise: np.ndarray | None = None, noise_max: float = NOISE_MAX) -> FitResult:
    """MAP hyperparameters by SciPy's L-BFGS-B from each start in turn; the lowest value wins.

    Args:
        x: inputs in the unit box, shape ``(n, d)``, ``n >= 1``.
        y: standardised outputs, shape ``(n,)``, finite.
        starts: start points, shape ``(k, d + 3)``, ``k >= 1`` (clipped into the bounds);
            ``(k, 3 d + 3)`` fits with input warping.
        noise_min: lower bound of the noise variance [standardised units^2].
        kernel: ``"matern52"`` or ``"rbf"``.
        maxiter: L-BFGS-B iterations per start.
        sq_diffs: :func:`squared_differences` of ``x`` if already computed.
        known_noise: known per-point noise variances, shape ``(n,)`` (module docstring).
        noise_max: upper bound of the learned noise variance (``noise_min`` fixes it).

    Returns:
        The :class:`FitResult`. Deterministic for given inputs (one BLAS thread).
    """
    check_kernel(kernel)
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    starts = np.atleast_2d(np.asarray(starts, np.float64))
    d = x.shape[1]
    if (x.ndim != 2 or len(x) == 0 or y.shape != (len(x),) or len(starts) == 0
            or starts.shape[1] not in (d + 3, 3 * d + 3)):
        raise ValueError(f"need x (n, d) with n >= 1, y (n,) and starts (k, d + 3) or (k, 3 d + 3); got "
                         f"{x.shape}, {y.shape}, {starts.shape}")
    bounds = param_bounds(d, noise_min, noise_max, warped=is_warped(starts[0], d))
    lo, hi = np.array(bounds).T
    sq = squared_differences(x) if sq_diffs is None else sq_diffs
    known = _known(known_noise, len(x))
    best, n_eval = None, 0
    for start in starts:
        res = scipy.optimize.minimize(
            neg_log_posterior, np.clip(start, lo, hi), args=(x, y, kernel, sq, known), jac=True,
            method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})
        n_eval += int(res.nfev)
        if best is None or res.fun < best.fun:
            best = res
    return FitResult(np.clip(best.x, lo, hi), float(best.fun), n_eval)


def prior_starts(d: int, n_draws: int, rng: np.random.Generator, warped: bool = False) -> np.ndarray:
    """The prior mode followed by ``n_draws`` prior draws of ``theta``, shape ``(1 + n_draws, d + 3)``
    (``3 d + 3`` columns when ``warped``; the first ``d + 3`` draws are the unwarped ones)."""
    loc, scale = _prior_cached(d)
    draws = rng.standard_normal((n_draws, d + 3))
    starts = np.concatenate([loc[None], loc + scale * draws])
    if not warped:
        return starts
    # The warping starts at the identity (the prior mode) and its draws come after the others,
    # so the unwarped part of each start is the unwarped fit's.
    wloc, wscale = warping.PRIOR
    extra = np.concatenate([np.full((1, 2 * d), wloc), wloc + wscale * rng.standard_normal((n_draws, 2 * d))])
    return np.concatenate([starts, extra], axis=1)


@dataclasses.dataclass(frozen=True)
class HostPosterior:
    """A conditioned GP with everything a prediction and its gradient need.

    Attributes:
        theta: parameters, shape ``(d + 3,)`` (``(3 d + 3,)`` with input warping).
        kernel: ``"matern52"`` or ``"rbf"``.
        x: training inputs (unit box), shape ``(n, d)``.
        y: training outputs (standardised), shape ``(n,)``.
        chol: lower Cholesky factor ``L`` of ``K + noise I + diag(known_noise)``, shape ``(n, n)``.
        chol_inv: ``L^-1`` (lower triangular), shape ``(n, n)``.
        alpha: ``K^-1 (y - mean)``, shape ``(n,)``.
        known_noise: known per-point noise variances, shape ``(n,)`` (zeros: homoscedastic).
        z: the training inputs as the kernel sees them (:func:`kernel_inputs`), shape ``(n, d)``.
    """

    theta: np.ndarray
    kernel: str
    x: np.ndarray
    y: np.ndarray
    chol: np.ndarray
    chol_inv: np.ndarray
    alpha: np.ndarray
    known_noise: np.ndarray
    z: np.ndarray

    @property
    def lengthscale(self) -> np.ndarray:
        """ARD lengthscales [unit-box widths], shape ``(d,)``."""
        return np.exp(self.theta[: self.x.shape[1]])

    @property
    def outputscale(self) -> float:
        """Signal variance [standardised units^2]."""
        return math.exp(self.theta[self.x.shape[1]])

    @property
    def noise(self) -> float:
        """Noise variance [standardised units^2]."""
        return math.exp(self.theta[self.x.shape[1] + 1])

    @property
    def mean(self) -> float:
        """Constant prior mean [standardised units]."""
        return float(self.theta[self.x.shape[1] + 2])


def posterior(theta: np.ndarray, x: np.ndarray, y: np.ndarray, kernel: str = "matern52",
              sq_diffs: np.ndarray | None = None, known_noise: np.ndarray | None = None) -> HostPosterior:
    """Conditions the GP with parameters ``theta`` on ``(x, y)`` (one Cholesky, one triangular
    inverse); ``sq_diffs`` and ``known_noise`` as in :func:`fit_map`."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    theta = np.asarray(theta, np.float64)
    d = x.shape[1]
    sq = _squared(x, sq_diffs, _warp(theta, x))
    u = np.tensordot(np.exp(-2.0 * theta[:d]), sq, axes=1)
    kf, _ = kernel_and_slope(kernel, u, math.exp(theta[d]))
    known = _known(known_noise, len(x))
    chol = cholesky(kf + np.diag(math.exp(theta[d + 1]) + known))
    chol_inv, _ = scipy.linalg.lapack.dtrtri(chol, lower=1)
    return _finish(theta, kernel, x, y, chol, chol_inv, known)


def _finish(theta, kernel, x, y, chol, chol_inv, known_noise) -> HostPosterior:
    resid = y - theta[x.shape[1] + 2]
    alpha = chol_inv.T @ (chol_inv @ resid)
    return HostPosterior(theta, kernel, x, y, chol, chol_inv, alpha, known_noise, kernel_inputs(theta, x))


def cross_covariance(post: HostPosterior, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel between unit-box query points ``(m, d)`` and the training inputs, and its slope
    ``dk/du``; each shape ``(m, n)``. Distances from explicit differences (exact 0 at a training
    point), between warped inputs when the GP warps them."""
    diff = kernel_inputs(post.theta, xq)[:, None, :] - post.z[None, :, :]
    u = (diff * diff) @ (1.0 / post.lengthscale**2)
    return kernel_and_slope(post.kernel, u, post.outputscale)


def predict(post: HostPosterior, xq: np.ndarray, grad: bool = False):
    """Posterior mean and latent variance at query points, optionally with their gradients.

    Args:
        post: the conditioned GP.
        xq: query points in the unit box, shape ``(m, d)``.
        grad: also return the gradients in ``xq``.

    Returns:
        ``(mean, var)`` of shape ``(m,)`` (variance floored at ``1e-12 * outputscale``), plus
        ``(dmean, dvar)`` of shape ``(m, d)`` when ``grad`` is True.
    """
    xq = np.atleast_2d(np.asarray(xq, np.float64))
    k, slope = cross_covariance(post, xq)
    mean = post.mean + k @ post.alpha
    v = k @ post.chol_inv.T  # rows: L^-1 k_i
    floor = 1e-12 * post.outputscale
    raw_var = post.outputscale - np.sum(v * v, axis=1)
    var = np.maximum(raw_var, floor)
    if not grad:
        return mean, var
    warped = _warp(post.theta, xq)
    zq = xq if warped is None else warped.z
    # d/dxq = d/dzq x dzq/dxq (1 without warping)
    scale = 2.0 / post.lengthscale**2 * (1.0 if warped is None else warped.dz_dx)

    def weighted_diff_sum(w: np.ndarray) -> np.ndarray:
        # sum_j w_ij dk_ij/dzq_i with dk_ij/dzq_i = slope_ij 2 (zq_i - z_j) / l^2
        w = w * slope
        return (zq * w.sum(axis=1)[:, None] - w @ post.z) * scale

    dmean = weighted_diff_sum(np.broadcast_to(post.alpha, k.shape))
    dvar = -2.0 * weighted_diff_sum(v @ post.chol_inv)  # rows of v @ L^-1: K^-1 k_i
    dvar = np.where((raw_var > floor)[:, None], dvar, 0.0)
    return mean, var, dmean, dvar


def append(post: HostPosterior, x_new: np.ndarray, y_new: float, known_noise: float = 0.0) -> HostPosterior:
    """Adds one observation, keeping the parameters: a new row of ``L`` and ``L^-1``, ``O(n^2)``.

    Args:
        post: the current posterior.
        x_new: the input, shape ``(d,)``.
        y_new: its (possibly fantasised) standardised output.
        known_noise: its known noise variance [standardised units^2].

    Returns:
        The posterior conditioned on the extra point (equal to :func:`posterior` on the
        extended data up to round-off; tested).
    """
    x_new = np.asarray(x_new, np.float64).reshape(1, -1)
    k = cross_covariance(post, x_new)[0][0]
    row = post.chol_inv @ k  # L^-1 k: the new row of L
    diag2 = post.outputscale + post.noise + known_noise - row @ row
    diag = math.sqrt(max(diag2, 1e-12 * (post.outputscale + post.noise)))
    n = len(post.x)
    chol = np.zeros((n + 1, n + 1))
    chol[:n, :n] = post.chol
    chol[n, :n] = row
    chol[n, n] = diag
    chol_inv = np.zeros((n + 1, n + 1))
    chol_inv[:n, :n] = post.chol_inv
    chol_inv[n, :n] = -(row @ post.chol_inv) / diag
    chol_inv[n, n] = 1.0 / diag
    x = np.concatenate([post.x, x_new])
    y = np.concatenate([post.y, [float(y_new)]])
    known = np.concatenate([post.known_noise, [float(known_noise)]])
    return _finish(post.theta, post.kernel, x, y, chol, chol_inv, known)


def joint_predict(post: HostPosterior, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and joint latent covariance at query points.

    Args:
        post: the conditioned GP.
        xq: query points in the unit box, shape ``(m, d)``.

    Returns:
        ``(mean, cov)`` of shapes ``(m,)`` and ``(m, m)`` [standardised units, units^2].
    """
    xq = np.atleast_2d(np.asarray(xq, np.float64))
    k, _ = cross_covariance(post, xq)
    zq = kernel_inputs(post.theta, xq)
    diff = zq[:, None, :] - zq[None, :, :]
    kqq, _ = kernel_and_slope(post.kernel, (diff * diff) @ (1.0 / post.lengthscale**2), post.outputscale)
    v = k @ post.chol_inv.T
    return post.mean + k @ post.alpha, kqq - v @ v.T
