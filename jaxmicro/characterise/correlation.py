"""Two-point phase-pair probabilities of soft or one-hot phase fields (jittable, differentiable).

``S_pq(L, d)`` is the probability that a voxel is phase ``p`` and the voxel ``L`` steps further
along axis ``d`` is phase ``q``, over all voxel pairs inside the field (no wrap-around). At
``L = 1`` the off-diagonal entries are interfacial-area densities along ``d`` (their ratio gives
e.g. CBD coverage of AM); the diagonal ``S_pp(L, d)`` is the classic two-point correlation,
whose decay with ``L`` measures feature size. For soft probabilities the voxel phases are taken
as independent: ``S_pq = mean(P_p(x) P_q(x + L e_d))``, which equals the counting definition on
one-hot fields and is differentiable in the probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import Array


def two_point_probabilities(probabilities: Array, axis: int, lag: int) -> Array:
    """``S_pq`` along one axis at one lag, averaged over every leading axis.

    Args:
        probabilities: ``(..., n_phases)`` soft or one-hot phase probabilities; the spatial
            (and any batch) axes come first.
        axis: the spatial axis ``d`` of ``probabilities`` along which pairs are taken (not the
            last, phase axis); negative values count from the phase axis, e.g. ``-2``.
        lag: ``L >= 1`` [voxels], smaller than the field along ``axis``.

    Returns:
        ``(n_phases, n_phases)`` float array; entry ``[p, q]`` is ``S_pq`` (sums to 1 for
        normalised probabilities).

    Raises:
        ValueError: an axis that is the phase axis or out of range, or a lag that does not fit.
    """
    ndim = probabilities.ndim
    spatial = axis % ndim if -ndim <= axis < ndim else None
    if spatial is None or spatial == ndim - 1:
        raise ValueError(f"axis {axis} is not a spatial axis of an array of shape {probabilities.shape}")
    if not 1 <= lag < probabilities.shape[spatial]:
        raise ValueError(
            f"lag {lag} must be at least 1 and less than the field's {probabilities.shape[spatial]} "
            f"voxels along axis {axis}"
        )
    n = probabilities.shape[spatial] - lag
    n_phases = probabilities.shape[-1]
    first = jax.lax.slice_in_dim(probabilities, 0, n, axis=spatial).reshape(-1, n_phases)
    second = jax.lax.slice_in_dim(probabilities, lag, lag + n, axis=spatial).reshape(-1, n_phases)
    return first.T @ second / first.shape[0]


def two_point_statistics(probabilities: Array, axes: Sequence[int], lags: Sequence[int]) -> Array:
    """:func:`two_point_probabilities` for every lag and axis.

    Args:
        probabilities: ``(..., n_phases)`` soft or one-hot phase probabilities.
        axes: spatial axes of ``probabilities``.
        lags: lags [voxels].

    Returns:
        ``(len(lags), len(axes), n_phases, n_phases)`` array.
    """
    return jnp.stack(
        [jnp.stack([two_point_probabilities(probabilities, a, lag) for a in axes]) for lag in lags]
    )
