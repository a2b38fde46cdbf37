"""Stationary ARD covariance functions on unit-box inputs: Matern-5/2 and RBF.

All functions are pure and jittable. Inputs are scaled to the unit box before they reach a
kernel, so lengthscales are in unit-box units (1.0 = the whole width of a bound).
"""

from __future__ import annotations

from typing import Final

import jax.numpy as jnp
from jax import Array

KERNELS: Final[tuple[str, ...]] = ("matern52", "rbf")

_SQRT5: Final[float] = 5.0**0.5


def check_kernel(kernel: str) -> str:
    """Returns ``kernel`` if it names a known kernel, else raises a one-line ``ValueError``."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; pass one of {KERNELS}")
    return kernel


def scaled_sqdist(x1: Array, x2: Array, lengthscale: Array) -> Array:
    """Squared distances after dividing each input dimension by its lengthscale.

    Args:
        x1: inputs, shape ``(n, d)``.
        x2: inputs, shape ``(m, d)``.
        lengthscale: ARD lengthscales, shape ``(d,)``, positive.

    Returns:
        ``sum_k ((x1[i, k] - x2[j, k]) / lengthscale[k])**2``, shape ``(n, m)``. Computed from
        explicit differences (no ``a^2 + b^2 - 2ab`` cancellation), so it is exactly 0 on the
        diagonal of ``x1 == x2``.
    """
    diff = (x1[:, None, :] - x2[None, :, :]) / lengthscale
    return jnp.sum(diff * diff, axis=-1)


def matern52(x1: Array, x2: Array, lengthscale: Array, outputscale: Array) -> Array:
    """Matern-5/2 ARD kernel ``s (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)``.

    Args:
        x1: shape ``(n, d)``.
        x2: shape ``(m, d)``.
        lengthscale: shape ``(d,)``.
        outputscale: signal variance ``s``, scalar.

    Returns:
        Covariance matrix, shape ``(n, m)``. Differentiable at ``r = 0`` (the square root is
        taken of a distance floored at a tiny positive value, which changes ``k`` by < 1e-15).
    """
    sqdist = scaled_sqdist(x1, x2, lengthscale)
    r = jnp.sqrt(jnp.maximum(sqdist, 1e-36))
    sr = _SQRT5 * r
    return outputscale * (1.0 + sr + sr * sr / 3.0) * jnp.exp(-sr)


def rbf(x1: Array, x2: Array, lengthscale: Array, outputscale: Array) -> Array:
    """Squared-exponential ARD kernel ``s exp(-r^2 / 2)``; arguments as :func:`matern52`."""
    return outputscale * jnp.exp(-0.5 * scaled_sqdist(x1, x2, lengthscale))


def covariance(
    kernel: str, x1: Array, x2: Array, lengthscale: Array, outputscale: Array
) -> Array:
    """Dispatches on the kernel name (a static string): ``"matern52"`` or ``"rbf"``."""
    if kernel == "matern52":
        return matern52(x1, x2, lengthscale, outputscale)
    if kernel == "rbf":
        return rbf(x1, x2, lengthscale, outputscale)
    raise ValueError(f"unknown kernel {kernel!r}; pass one of {KERNELS}")
