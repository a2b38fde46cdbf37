"""Gaussian-process surrogate: exact GP regression with a learnt constant mean, signal variance,
ARD lengthscales and Gaussian noise, fitted by maximum a posteriori (MAP) from several starts.

Conventions:

* Inputs live in the unit box ``[0, 1]^d`` (the :class:`~jaxmicro.bo.Optimizer` scales physical
  bounds onto it) and outputs are standardised (zero mean, unit variance), so the priors below
  are problem independent.
* Observations are padded to a static size with a ``mask`` (1 = observed, 0 = padding) so a
  jitted function compiles once per padded size (see :func:`bucket_size`), not once per
  observation count. Padding rows are decoupled: they get unit variance and zero covariance,
  so they change neither the likelihood nor the posterior.
* Priors: Gaussian on the log of each positive parameter (we optimise the logs). They match
  BoTorch's ``SingleTaskGP`` defaults (Hvarfner et al. 2024): a LogNormal(mu, s^2) prior on a
  parameter, maximised in the parameter itself as gpytorch does, equals a Gaussian N(mu - s^2, s^2)
  on its log. So ``log lengthscale ~ N(sqrt2 + log(d)/2 - 3, 3)`` (LogNormal(sqrt2 + log(d)/2,
  3)) and ``log noise ~ N(-5, 1)`` (LogNormal(-4, 1)); plus ``log outputscale ~ N(0, 1)`` and
  ``mean ~ N(0, 1)`` (BoTorch has no outputscale by default; outputs are standardised).
  Box constraints keep the fit sane: lengthscale in [0.025, 100], outputscale in [0.05, 20],
  noise in [``noise_min``, 2], mean in [-4, 4].

Everything here is pure and jittable; floating point follows the inputs (use float64 via
``jax.enable_x64(True)`` for the best conditioning, as :class:`~jaxmicro.bo.Optimizer` does).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.scipy.linalg import cho_solve, solve_triangular

from jaxmicro.bo.kernels import check_kernel, covariance
from jaxmicro.bo.optim import minimize_box

LENGTHSCALE_BOUNDS = (0.025, 100.0)
OUTPUTSCALE_BOUNDS = (0.05, 20.0)
NOISE_MAX = 2.0
MEAN_BOUNDS = (-4.0, 4.0)
# Relative jitters tried in turn when a Cholesky factorisation fails (NaN).
_JITTERS = (1e-9, 1e-7, 1e-5, 1e-3)


class GPParams(NamedTuple):
    """GP hyperparameters in standardised-output, unit-box-input units.

    Attributes:
        lengthscale: ARD lengthscales, shape ``(d,)`` [unit-box widths].
        outputscale: signal variance, scalar [standardised output units^2].
        noise: Gaussian observation-noise variance, scalar [standardised output units^2].
        mean: constant prior mean, scalar [standardised output units].
    """

    lengthscale: Array
    outputscale: Array
    noise: Array
    mean: Array


class GPData(NamedTuple):
    """Training data padded to a static size.

    Attributes:
        x: inputs in the unit box, shape ``(n_pad, d)``.
        y: standardised outputs, shape ``(n_pad,)``; values at padding rows are ignored.
        mask: 1.0 for an observation, 0.0 for padding, shape ``(n_pad,)``.
    """

    x: Array
    y: Array
    mask: Array


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["params", "data", "chol", "alpha"],
    meta_fields=["kernel"],
)
@dataclasses.dataclass(frozen=True)
class GPPosterior:
    """A conditioned GP, ready for :func:`predict` (a JAX PyTree; ``kernel`` is static).

    Attributes:
        params: the hyperparameters.
        data: the padded training data.
        chol: lower Cholesky factor of the masked training covariance, ``(n_pad, n_pad)``.
        alpha: ``K^-1 (y - mean)`` on the observed rows (0 on padding), shape ``(n_pad,)``.
        kernel: ``"matern52"`` or ``"rbf"``.
    """

    params: GPParams
    data: GPData
    chol: Array
    alpha: Array
    kernel: str


def bucket_size(n: int, min_size: int = 16) -> int:
    """Padded size for ``n`` observations: the next power of two, at least ``min_size``.

    Jitted GP code recompiles only when the bucket changes (about log2(n) times per campaign).
    """
    if n < 0 or min_size < 1:
        raise ValueError(f"need n >= 0 and min_size >= 1, got n={n}, min_size={min_size}")
    size = max(int(min_size), 1)
    while size < n:
        size *= 2
    return size


def make_data(x: np.ndarray, y: np.ndarray, n_pad: int | None = None,
              min_size: int = 16) -> GPData:
    """Pads unit-box inputs and standardised outputs into a :class:`GPData`.

    Args:
        x: inputs in the unit box, shape ``(n, d)``, finite, ``n >= 1``.
        y: standardised outputs, shape ``(n,)``, finite.
        n_pad: padded size (``>= n``); default :func:`bucket_size(n, min_size) <bucket_size>`.
        min_size: smallest padded size when ``n_pad`` is not given.

    Returns:
        The padded data, with the dtype of the current JAX precision (float64 under x64).

    Raises:
        ValueError: for empty data, shape mismatches, non-finite values or a too small ``n_pad``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (n, d) with n, d >= 1, got {x.shape}; "
                         "tell the GP at least one observation")
    n = x.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match x {x.shape}, got {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite; impute or drop failed observations first")
    n_pad = bucket_size(n, min_size) if n_pad is None else int(n_pad)
    if n_pad < n:
        raise ValueError(f"n_pad={n_pad} is smaller than the {n} observations; pass n_pad >= n")
    xp = np.zeros((n_pad, x.shape[1]))
    yp = np.zeros(n_pad)
    mask = np.zeros(n_pad)
    xp[:n], yp[:n], mask[:n] = x, y, 1.0
    return GPData(jnp.asarray(xp), jnp.asarray(yp), jnp.asarray(mask))


def robust_cholesky(matrix: Array) -> Array:
    """Lower Cholesky factor, retried with growing diagonal jitter if it fails.

    Args:
        matrix: symmetric positive (semi-)definite matrix, shape ``(n, n)``.

    Returns:
        ``L`` with ``L L^T = matrix + j * mean(diag) * I`` for the smallest ``j`` in
        ``(0, 1e-9, 1e-7, 1e-5, 1e-3)`` that factorises; NaN only if all of them fail.
        Each retry runs only when needed (``lax.cond``) unless the call is vmapped.
    """
    scale = jnp.mean(jnp.diagonal(matrix))
    eye = jnp.eye(matrix.shape[-1], dtype=matrix.dtype)
    chol = jnp.linalg.cholesky(matrix)
    for jitter in _JITTERS:
        chol = jax.lax.cond(
            jnp.all(jnp.isfinite(chol)),
            lambda c: c,
            lambda c, j=jitter: jnp.linalg.cholesky(matrix + j * scale * eye),
            chol,
        )
    return chol


def train_covariance(params: GPParams, data: GPData, kernel: str) -> Array:
    """Masked training covariance ``K + noise I`` on observed rows, identity on padding rows."""
    m = data.mask
    k = covariance(kernel, data.x, data.x, params.lengthscale, params.outputscale)
    return k * m[:, None] * m[None, :] + jnp.diag(params.noise * m + (1.0 - m))


@functools.partial(jax.jit, static_argnames=("kernel",))
def log_marginal_likelihood(params: GPParams, data: GPData, kernel: str = "matern52") -> Array:
    """Exact log marginal likelihood ``log p(y | X, params)`` of the observed rows (scalar)."""
    chol = robust_cholesky(train_covariance(params, data, kernel))
    return _lml_from_chol(params, data, chol)


def _lml_from_chol(params: GPParams, data: GPData, chol: Array) -> Array:
    resid = (data.y - params.mean) * data.mask
    a = solve_triangular(chol, resid, lower=True)
    n = jnp.sum(data.mask)
    return (-0.5 * jnp.dot(a, a) - jnp.sum(jnp.log(jnp.diagonal(chol)))
            - 0.5 * n * math.log(2.0 * math.pi))


def _prior(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian prior (loc, scale) of the flat parameter vector (log ls, log os, log noise, mean)."""
    loc = np.concatenate([np.full(d, math.sqrt(2.0) + 0.5 * math.log(d) - 3.0), [0.0, -5.0, 0.0]])
    scale = np.concatenate([np.full(d, math.sqrt(3.0)), [1.0, 1.0, 1.0]])
    return loc, scale


def _param_bounds(d: int, noise_min: Array) -> tuple[Array, Array]:
    lower = jnp.concatenate([
        jnp.full(d, math.log(LENGTHSCALE_BOUNDS[0])),
        jnp.array([math.log(OUTPUTSCALE_BOUNDS[0])]),
        jnp.log(jnp.reshape(noise_min, (1,))),
        jnp.array([MEAN_BOUNDS[0]]),
    ])
    upper = jnp.concatenate([
        jnp.full(d, math.log(LENGTHSCALE_BOUNDS[1])),
        jnp.array([math.log(OUTPUTSCALE_BOUNDS[1]), math.log(NOISE_MAX), MEAN_BOUNDS[1]]),
    ])
    return lower, upper


def _unflatten(theta: Array, d: int) -> GPParams:
    return GPParams(jnp.exp(theta[:d]), jnp.exp(theta[d]), jnp.exp(theta[d + 1]), theta[d + 2])


def _neg_log_posterior(theta: Array, data: GPData, kernel: str) -> Array:
    """Negative log joint ``-(log p(y | theta) + log p(theta))`` of the flat parameters.

    A failed factorisation (only possible far outside the noise floor) gives a large finite
    value, so the line search backs away instead of propagating NaN.
    """
    d = data.x.shape[1]
    params = _unflatten(theta, d)
    chol = jnp.linalg.cholesky(train_covariance(params, data, kernel))
    loc, scale = _prior(d)
    log_prior = -0.5 * jnp.sum(((theta - loc) / scale) ** 2)
    value = -(_lml_from_chol(params, data, chol) + log_prior)
    return jnp.where(jnp.isfinite(value), value, 1e10)


@functools.partial(jax.jit, static_argnames=("kernel", "n_starts", "maxiter"))
def fit_gp(
    data: GPData,
    key: Array,
    noise_min: float | Array = 1e-6,
    *,
    kernel: str = "matern52",
    n_starts: int = 8,
    maxiter: int = 60,
) -> GPParams:
    """MAP hyperparameters by projected L-BFGS (:func:`~jaxmicro.bo.optim.minimize_box`) from
    several starts at once.

    The first start is the prior mode; the others are prior draws (clipped to the bounds). The
    starts run vectorised (``vmap``) and the one with the highest log posterior wins.

    Args:
        data: padded training data with at least one observed row.
        key: JAX PRNG key for the random starts.
        noise_min: lower bound on the noise variance [standardised units^2]; 1e-6 lets a
            noiseless function be interpolated, a larger value regularises.
        kernel: ``"matern52"`` or ``"rbf"`` (static).
        n_starts: number of optimiser starts, >= 1 (static).
        maxiter: quasi-Newton iterations per start (static).

    Returns:
        The best :class:`GPParams` found.
    """
    check_kernel(kernel)
    if n_starts < 1:
        raise ValueError(f"n_starts must be >= 1, got {n_starts}")
    d = data.x.shape[1]
    dtype = data.x.dtype
    loc, scale = (jnp.asarray(v, dtype) for v in _prior(d))
    lower, upper = _param_bounds(d, jnp.asarray(noise_min, dtype))
    noise = jax.random.normal(key, (n_starts - 1, loc.shape[0]), dtype)
    starts = jnp.clip(jnp.concatenate([loc[None], loc + scale * noise]), lower, upper)

    def objective(theta: Array) -> Array:
        return _neg_log_posterior(theta, data, kernel)

    def run(theta0: Array):
        return minimize_box(objective, theta0, lower, upper, maxiter=maxiter, init_step=0.5)

    finals = jax.vmap(run)(starts)
    losses = jnp.where(jnp.isfinite(finals.value), finals.value, jnp.inf)
    return _unflatten(finals.x[jnp.argmin(losses)], d)


@functools.partial(jax.jit, static_argnames=("kernel",))
def gp_posterior(params: GPParams, data: GPData, kernel: str = "matern52") -> GPPosterior:
    """Conditions the GP on the data: Cholesky factor and weights for :func:`predict`."""
    check_kernel(kernel)
    chol = robust_cholesky(train_covariance(params, data, kernel))
    alpha = cho_solve((chol, True), (data.y - params.mean) * data.mask) * data.mask
    return GPPosterior(params, data, chol, alpha, kernel)


@jax.jit
def predict(post: GPPosterior, x: Array) -> tuple[Array, Array]:
    """Posterior mean and variance of the latent function (no observation noise).

    Args:
        post: a conditioned GP from :func:`gp_posterior`.
        x: query points in the unit box, shape ``(m, d)``.

    Returns:
        ``(mean, var)``, each shape ``(m,)``, in standardised output units. The variance is
        floored at ``1e-12 * outputscale`` so its square root has a finite gradient.
    """
    p = post.params
    cross = covariance(post.kernel, x, post.data.x, p.lengthscale, p.outputscale)
    cross = cross * post.data.mask[None, :]
    mean = p.mean + cross @ post.alpha
    v = solve_triangular(post.chol, cross.T, lower=True)
    var = p.outputscale - jnp.sum(v * v, axis=0)
    return mean, jnp.maximum(var, 1e-12 * p.outputscale)


@jax.jit
def condition(post: GPPosterior, x: Array, y: Array) -> GPPosterior:
    """Adds one observation ``(x, y)`` into the first padding row, keeping the hyperparameters.

    Used for Kriging-believer batches (``y`` = the posterior mean at ``x``). The caller must
    leave a free padding row (the result is undefined when ``mask`` is all ones).

    Args:
        post: the current posterior.
        x: new input in the unit box, shape ``(d,)``.
        y: its (fantasised) standardised output, scalar.

    Returns:
        The posterior conditioned on the extra observation.
    """
    slot = jnp.argmin(post.data.mask)
    data = GPData(post.data.x.at[slot].set(x), post.data.y.at[slot].set(y),
                  post.data.mask.at[slot].set(1.0))
    return gp_posterior(post.params, data, post.kernel)
