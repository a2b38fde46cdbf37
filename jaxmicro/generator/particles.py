"""Explicit active-material particles for the generator: a relaxed, marked point pattern drawn
as a union of spheroids.

The AM of an NMC cathode is a packing of distinct, near-spherical secondary particles,
flattened by calendering (e.g. Ebner et al. 2013, Adv. Energy Mater. 3, 845, for NMC
tomography). A convolutional generator has to place such particles from a smooth coarse
latent, and the `small` networks never learnt to: their AM is merged irregular blobs whose
particle size reads 5x the simulator control's distance from the reference at every training
recipe tried (docs/generator.md, stops 33-39). Here the particles are drawn explicitly, and
the network learns their law from the data:

1. **Points.** ``k`` candidate points per latent voxel, uniform in it (the normal CDF of three
   latent channels each), with a radius mark and a keep mark (two more latent channels).
2. **Their law, a function of the labels** (:func:`particle_law`): mean log-radius, its spread,
   the fraction of candidates kept (soft thinning of the keep mark: the particle count) and the
   log flattening ``phi`` (semi-axes ``r e^phi`` through-plane, ``r e^(-phi/2)`` in-plane, so
   the volume is kept), each an affine function of the label pair.
3. **Relaxation** (:func:`relax`): a few Jacobi sweeps of soft-sphere overlap removal in the
   metric that makes the spheroids spheres (collective rearrangement; for a calendered packing,
   the affine image of a relaxed sphere packing), so particles touch instead of merging, as in
   a real packing.
4. **Drawing** (:func:`particle_distance`): the signed distance-like field
   ``min_p (d_phi(x, c_p) - r_p)`` in that metric, over the points of the 27 neighbouring
   latent voxels (periodic). Negative inside AM. The generator's AM logit is this field over a
   temperature; its convolutions see it at every stage and place the CBD and pore around it.

Everything is periodic and translation-equivariant on the latent torus, like the rest of the
generator, and differentiable in the law's parameters (the points' positions are noise).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp

POINT_CHANNELS = 5
"""Latent channels per candidate point: three coordinates, a radius mark, a keep mark."""

LAW_FIELDS = ("log_radius", "radius_spread", "keep_logit", "log_flattening")
"""The particle law's parameters per volume, in this order (:func:`particle_law`)."""

INITIAL_LAW = (-0.9, -1.2, 0.0, 0.0)
"""Before training: mean radius ``e^-0.9 = 0.41`` latent voxels (13 output voxels' diameter
with 16 voxels per latent voxel, the size of an NMC particle at 0.75 um), log-radius spread
``softplus(-1.2) = 0.26``, half the candidates kept, no flattening. Training moves them."""

LAW_GAIN = 100.0
"""Run-time multiplier of the law's parameters (an equalised learning rate, as
:data:`~jaxmicro.generator.model.NOISE_GAIN`): Adam moves a parameter by about the learning rate
per step, 1e-4, and the law has to move by about 1 (the kept fraction from the AM of one label
to another's) within a few hundred steps; with a gain of 10 it had moved by 0.04 after 100
steps (stop 40)."""

DROPPED_RADIUS = -1.0
"""Radius [latent voxels] of a dropped candidate: negative, so it neither pushes its neighbours
in :func:`relax` nor is ever the nearest particle in :func:`particle_distance` (a radius of 0
left it a point that pushed kept particles and dented the distance field in the pore)."""

MAX_DRIFT = 0.25
"""How far [latent voxels] relaxation may move a point outside its own latent voxel. With the
radius cap of :func:`particle_law` (largest semi-axis ``1 - MAX_DRIFT``) every particle lies
inside the 27 latent voxels searched, so none is drawn with a flat face (stop 40 saw flat-faced
blocks before the cap, when the learnt radius spread sent the largest particles past it)."""


def split_points(point_latent: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(n, a, b, c, 5k)`` standard-normal channels -> positions ``(n, a, b, c, k, 3)`` in their
    latent voxel [latent voxels, uniform in [0, 1)], radius marks ``(n, a, b, c, k)`` (standard
    normal) and keep marks ``(n, a, b, c, k)`` (uniform in [0, 1))."""
    n, a, b, c, channels = point_latent.shape
    k = channels // POINT_CHANNELS
    cdf = jax.scipy.stats.norm.cdf
    positions = cdf(point_latent[..., : 3 * k]).reshape(n, a, b, c, k, 3)
    return positions, point_latent[..., 3 * k : 4 * k], cdf(point_latent[..., 4 * k :])


def particle_law(law: jax.Array, radius_marks: jax.Array, keep_marks: jax.Array, sharpness: float = 100.0):
    """Per-point radii and per-volume flattening from the law ``(n, 4)`` (:data:`LAW_FIELDS`).

    A candidate is kept when its keep mark falls below the kept fraction ``sigmoid(keep_logit)``
    (a logistic step of ``sharpness``, so the count is differentiable); a dropped candidate
    gets :data:`DROPPED_RADIUS`. Radii are capped so that the largest semi-axis is ``1 - MAX_DRIFT``.

    Returns:
        ``radii`` ``(n, a, b, c, k)`` [latent voxels] and ``log_flattening`` ``(n,)``.
    """
    log_radius, spread, keep_logit, log_flattening = (law[:, i] for i in range(4))
    expand = (slice(None), *(None,) * (radius_marks.ndim - 1))
    radius = jnp.exp(log_radius[expand] + jax.nn.softplus(spread)[expand] * radius_marks)
    stretch = jnp.maximum(jnp.exp(log_flattening), jnp.exp(-log_flattening / 2))
    radius = jnp.minimum(radius, (1.0 - MAX_DRIFT) / stretch[expand])
    kept = jax.nn.sigmoid(sharpness * (jax.nn.sigmoid(keep_logit)[expand] - keep_marks))
    return radius * kept + DROPPED_RADIUS * (1.0 - kept), log_flattening


def _metric(log_flattening: jax.Array, ndim: int) -> jax.Array:
    """Scales ``(n, 1, ..., 1, 3)`` that map spheroid coordinates to sphere coordinates: the
    through-plane axis 0 by ``e^-phi``, the in-plane axes by ``e^(phi/2)``."""
    scale = jnp.exp(jnp.stack([-log_flattening, log_flattening / 2, log_flattening / 2], axis=-1))
    return scale.reshape(scale.shape[0], *(1,) * (ndim - 2), 3)


def _neighbours(x: jax.Array, offset: tuple[int, int, int]) -> jax.Array:
    """The values of the latent voxel ``offset`` away, at each latent voxel (periodic)."""
    return jnp.roll(x, tuple(-o for o in offset), axis=(1, 2, 3))


def relax(positions: jax.Array, radii: jax.Array, log_flattening: jax.Array, sweeps: int = 6) -> jax.Array:
    """Soft-sphere overlap relaxation of the points (Jacobi sweeps, periodic).

    Each sweep moves every point by half the sum of its overlaps with the points of the 27
    neighbouring latent voxels, along the line between centres, in the metric where the
    spheroids are spheres; points stay within :data:`MAX_DRIFT` of their latent voxel.

    Args:
        positions: ``(n, a, b, c, k, 3)`` in their latent voxel [latent voxels].
        radii: ``(n, a, b, c, k)`` [latent voxels].
        log_flattening: ``(n,)``.
        sweeps: relaxation sweeps.

    Returns:
        the moved positions, ``(n, a, b, c, k, 3)``.
    """
    k = radii.shape[-1]
    scale = _metric(log_flattening, positions.ndim + 1)  # (n, 1, 1, 1, 1, 1, 3)
    self_pairs = jnp.eye(k, dtype=bool)

    def sweep(_, positions):
        push = jnp.zeros_like(positions)
        for offset in itertools.product((-1, 0, 1), repeat=3):
            other = _neighbours(positions, offset) + jnp.asarray(offset, positions.dtype)
            diff = (positions[..., :, None, :] - other[..., None, :, :]) * scale  # (n,a,b,c,k,k,3)
            distance = jnp.sqrt(jnp.sum(diff**2, axis=-1) + 1e-8)
            overlap = jax.nn.relu(radii[..., :, None] + _neighbours(radii, offset)[..., None, :] - distance)
            if offset == (0, 0, 0):
                overlap = jnp.where(self_pairs, 0.0, overlap)
            push = push + jnp.sum((overlap / distance)[..., None] * diff, axis=-2) / scale[..., 0, :]
        return jnp.clip(positions + 0.5 * push, -MAX_DRIFT, 1.0 + MAX_DRIFT)

    # A loop, not unrolled: the 27-neighbour sweep compiles once.
    return jax.lax.fori_loop(0, sweeps, sweep, positions)


def particle_distance(
    positions: jax.Array,
    radii: jax.Array,
    log_flattening: jax.Array,
    per_voxel: int,
    latent_shape: tuple[int, int, int] | None = None,
    nearest: int = 1,
) -> jax.Array:
    """The particles' distance-like field at ``per_voxel`` voxels per latent voxel per axis.

    Args:
        positions: ``(n, a, b, c, k, 3)`` [latent voxels, relative to their latent voxel].
        radii: ``(n, a, b, c, k)`` [latent voxels]; negative for a dropped candidate.
        log_flattening: ``(n,)``.
        per_voxel: output voxels per latent voxel along each axis.
        latent_shape: draw only the first ``latent_shape`` latent voxels (a crop; every
            particle still counts) [all].
        nearest: 1, the gap to the nearest particle; 2, also the gap to the second-nearest
            (small at a neck between two particles).

    Returns:
        ``(n, a * per_voxel, b * per_voxel, c * per_voxel, nearest)``: ``min_p (d_phi(x, c_p) -
        r_p)`` over all points [latent voxels], negative inside a particle; then the
        second-smallest. With ``latent_shape``, ``a, b, c`` are its sizes.
    """
    if nearest not in (1, 2):
        raise ValueError(f"nearest must be 1 or 2, got {nearest!r}")
    n, _, _, _, k, _ = positions.shape
    scale = _metric(log_flattening, 7)  # (n, 1, 1, 1, 1, 1, 3)
    # Every latent voxel's 27 k candidates, in its own frame and the sphere metric.
    offsets = list(itertools.product((-1, 0, 1), repeat=3))
    candidates = jnp.concatenate(
        [_neighbours(positions, o) + jnp.asarray(o, positions.dtype) for o in offsets], axis=-2
    )[:, :, :, :, None] * scale  # (n, a, b, c, 1, 27k, 3)
    candidate_radii = jnp.concatenate([_neighbours(radii, o) for o in offsets], axis=-1)[:, :, :, :, None]
    if latent_shape is not None:  # the crop's latent voxels only, each with all its candidates
        window = (slice(None), *(slice(0, size) for size in latent_shape))
        candidates, candidate_radii = candidates[window], candidate_radii[window]
    a, b, c = candidates.shape[1:4]
    centre = (jnp.arange(per_voxel, dtype=positions.dtype) + 0.5) / per_voxel
    grid = jnp.stack(jnp.meshgrid(centre, centre, centre, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    grid = grid * scale  # (n, 1, 1, 1, p^3, 1, 3)

    def gap(points, point_radii):
        return jnp.sqrt(jnp.sum((grid - points) ** 2, axis=-1) + 1e-8) - point_radii

    # The nearest candidates are found without gradients, as a running minimum (or pair) over
    # the 27 neighbouring latent voxels (memory of one voxel's k points per voxel at a time);
    # the gaps to them alone are differentiated (the gradient of a minimum), so the backward
    # pass stores ``nearest`` points per voxel, not 27 k.
    found = jax.lax.stop_gradient((candidates, candidate_radii))
    shape = (n, a, b, c, per_voxel**3)
    best = [jnp.full(shape, jnp.inf, positions.dtype) for _ in range(nearest)]
    chosen = [jnp.zeros(shape, jnp.int32) for _ in range(nearest)]
    for index in range(len(offsets)):
        part = gap(found[0][..., index * k : (index + 1) * k, :], found[1][..., index * k : (index + 1) * k])
        if nearest == 1:
            closer = jnp.min(part, axis=-1) < best[0]
            best[0] = jnp.where(closer, jnp.min(part, axis=-1), best[0])
            chosen[0] = jnp.where(closer, index * k + jnp.argmin(part, axis=-1), chosen[0])
            continue
        for j in range(k):  # insert each candidate into the sorted pair
            value, label = part[..., j], index * k + j
            first, second = value < best[0], value < best[1]
            best[1] = jnp.where(first, best[0], jnp.where(second, value, best[1]))
            chosen[1] = jnp.where(first, chosen[0], jnp.where(second, label, chosen[1]))
            best[0] = jnp.where(first, value, best[0])
            chosen[0] = jnp.where(first, label, chosen[0])
    chosen = jnp.stack(chosen, axis=-1)
    points = jnp.take_along_axis(candidates, chosen[..., None], axis=-2)  # (n, a, b, c, p^3, nearest, 3)
    point_radii = jnp.take_along_axis(jnp.broadcast_to(candidate_radii, (*shape, 27 * k)), chosen, -1)
    best = gap(points, point_radii)
    best = best.reshape(n, a, b, c, per_voxel, per_voxel, per_voxel, nearest)
    best = best.transpose(0, 1, 4, 2, 5, 3, 6, 7)
    return best.reshape(n, a * per_voxel, b * per_voxel, c * per_voxel, nearest)
