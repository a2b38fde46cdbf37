"""The finite-volume steady-diffusion operator on a voxel grid (matrix-free, 7-point).

One volume, transport along array axis 0 (callers move their transport axis there). Every
voxel is one unknown (the concentration at its centre). Voxels ``i`` and ``i+1`` along axis
``k`` are joined by a face conductance ``g[k][i]``; the last entry along each axis is the wrap
face (between the last and the first voxel), nonzero only for periodic side faces (axis 0 is
never periodic: there it holds the outlet faces, see below). The two faces normal to axis 0
hold fixed concentrations ``1`` (inlet, before voxel 0) and ``0`` (outlet, after voxel
``n0 - 1``), half a voxel outside the first and last voxel centres, as in TauFactor's
``Solver`` (optionally a whole voxel outside, as TauFactor's ``MultiPhaseSolver``). Their
conductances sit in ``g[0]`` itself: the inlet faces in its padding layer before the first
voxel layer, the outlet faces in the wrap-face entry of the last layer. Every vector is zero on
the padding, so the stencil needs no separate Dirichlet term (one array and one multiply-add
fewer per pass), and the Dirichlet values enter only through the right-hand side
(:func:`inlet_rhs`) and the flux sums. Voxels that do not conduct, or that are not connected to
the inlet, are *pinned*: their row of the operator is the identity and their concentration is
zero, so the operator is symmetric positive definite on the whole grid.

Conductances are in units of ``D_0 * A_0 / h_0`` (``D_0`` the reference diffusivity, ``h_0``
the voxel length along the transport axis, ``A_0`` the voxel face normal to it): a face normal
to axis ``k`` between voxels of diffusivities ``a`` and ``b`` has conductance
``(h_0 / h_k)**2 * 2ab / (a + b)`` (harmonic mean), a Dirichlet face ``2 * a``.

Layout: every per-voxel array (operator fields and the vectors it acts on) is stored *padded*
by one voxel on each side, shape ``(n0 + 2, n1 + 2, n2 + 2)``: zeros before and after axis 0,
and along axes 1 and 2 zeros too, or for periodic side faces copies of the opposite boundary
(kept consistent because every vector is a linear combination of padded vectors). Neighbours
are then plain slices. XLA:CPU vectorises these offset reads even when the input is itself a
fused expression; the ``jnp.roll`` form compiles to per-element selects and runs about 3x
slower. Reductions (dot products, sums) use the interior only.

:func:`apply` is written in flux form, ``sum_faces g (u_i - u_j)``, not as ``diag * u - sum g
u_j``: in float32 the latter loses the small differences to rounding of the large terms, which
stalled the flux criterion near 1e-4 on many grid sizes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import Array

COARSE_SCALE = 0.5  # coarse face conductance = COARSE_SCALE * sum of the fine faces it covers


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DiffusionOperator:
    """The matrix-free operator ``A`` of one volume (a JAX PyTree of padded arrays).

    Attributes:
        g: three face-conductance arrays, each ``(n0 + 2, n1 + 2, n2 + 2)`` (padded);
            ``g[k][i]`` joins voxel ``i`` and voxel ``i + 1`` (mod ``n_k``) along axis ``k``;
            ``g[0]`` also holds the Dirichlet faces (module docstring).
        diag: diagonal of ``A`` (sum of the voxel's conductances; 1 if pinned or padding).
        active: bool, the voxels that are unknowns (not pinned).
        periodic: periodic faces normal to axes 1 and 2 (static).
    """

    g: tuple[Array, Array, Array]
    diag: Array
    active: Array
    periodic: bool = dataclasses.field(default=False, metadata={"static": True})

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape without the padding."""
        n0, n1, n2 = self.diag.shape
        return n0 - 2, n1 - 2, n2 - 2


def pad(x: Array, periodic: bool = False) -> Array:
    """``(n0, n1, n2)`` -> padded ``(n0 + 2, n1 + 2, n2 + 2)`` (see the module layout note)."""
    x = jnp.pad(x, ((1, 1), (0, 0), (0, 0)))
    return jnp.pad(x, ((0, 0), (1, 1), (1, 1)), mode="wrap" if periodic else "constant")


def interior(x: Array) -> Array:
    """Padded ``(n0 + 2, n1 + 2, n2 + 2)`` -> ``(n0, n1, n2)``."""
    return x[1:-1, 1:-1, 1:-1]


def dot(a: Array, b: Array, periodic: bool = False) -> Array:
    """Inner product of two padded arrays over the interior.

    Without periodic faces the padding of every vector is zero, so the sum runs over the whole
    padded arrays: XLA:CPU's reductions read contiguous operands, and an interior slice would
    first be copied out (an extra pass over both arrays). Periodic padding holds copies of the
    opposite boundary, so then only the interior counts.
    """
    if periodic:
        return jnp.sum(interior(a) * interior(b))
    return jnp.sum(a * b)


def neighbour(x: Array, axis: int, step: int) -> Array:
    """Values at the neighbour ``i + step`` (``step`` = +1 or -1) along ``axis`` of every voxel.

    Args:
        x: padded array ``(n0 + 2, n1 + 2, n2 + 2)``.
        axis: 0, 1 or 2.
        step: +1 or -1.

    Returns:
        ``(n0, n1, n2)`` array.
    """
    index = [slice(1, -1)] * 3
    index[axis] = slice(1 + step, x.shape[axis] - 1 + step)
    return x[tuple(index)]


def _harmonic_mean(a: Array, b: Array) -> Array:
    """``2ab / (a + b)``, 0 where either is 0 (safe for gradients)."""
    both = (a > 0) & (b > 0)
    s = jnp.where(both, a + b, 1.0)
    return jnp.where(both, 2.0 * a * b / s, 0.0)


def _pad_faces(faces: Sequence[Array], inlet: Array, periodic: bool) -> list[Array]:
    """Padded ``g`` from unpadded face conductances ``(n0, n1, n2)`` along each axis (along axis
    0 the last layer's being the outlet faces) and the inlet faces ``(1, n1, n2)``, which go in
    ``g[0]``'s padding layer before the first voxel layer."""
    g0 = jnp.concatenate([inlet, faces[0], jnp.zeros_like(inlet)])
    g0 = jnp.pad(g0, ((0, 0), (1, 1), (1, 1)), mode="wrap" if periodic else "constant")
    return [g0, pad(faces[1], periodic), pad(faces[2], periodic)]


def _inlet_faces(g0: Array) -> Array:
    """Inlet Dirichlet conductances ``(1, n1, n2)`` of a padded ``g[0]``."""
    return g0[:1, 1:-1, 1:-1]


def _assemble(g: Sequence[Array], active: Array, periodic: bool) -> DiffusionOperator:
    """Operator from padded conductances."""
    total = 0.0
    for k in range(3):
        total = total + interior(g[k]) + neighbour(g[k], k, -1)
    diag = pad(jnp.where(interior(active), total, 1.0) - 1.0, periodic) + 1.0
    return DiffusionOperator(tuple(g), diag, active, periodic)


def build_operator(
    conductivity: Array,
    keep: Array,
    *,
    periodic: bool = False,
    weights: Sequence[float] = (1.0, 1.0, 1.0),
    dirichlet_offset: float = 0.5,
) -> DiffusionOperator:
    """Builds the operator of one volume from its per-voxel diffusivity.

    Args:
        conductivity: ``(n0, n1, n2)`` float, relative diffusivity of each voxel (``>= 0``);
            ``n0 >= 2``.
        keep: ``(n0, n1, n2)`` bool, the voxels to solve for; all others are pinned.
        periodic: periodic faces normal to axes 1 and 2 (else no flux through them).
        weights: per-axis weight ``(h_0 / h_k)**2`` for anisotropic voxels; ``weights[0] == 1``.
        dirichlet_offset: distance of the fixed-concentration planes from the first and last
            voxel centres [voxels]: 0.5 (the voxel faces, TauFactor's ``Solver``) or 1.0
            (a ghost voxel, TauFactor's ``MultiPhaseSolver``).

    Returns:
        The :class:`DiffusionOperator` (padded arrays).
    """
    # zero beyond the non-periodic faces: their conductance is 0. Materialised once: otherwise
    # each conductance below recomputes it twice from the caller's inputs.
    padded = jax.lax.optimization_barrier(pad(jnp.where(keep, conductivity, 0.0), periodic))
    d = interior(padded)
    g = [weights[k] * _harmonic_mean(d, neighbour(padded, k, 1)) for k in range(3)]
    outlet = jnp.arange(d.shape[0])[:, None, None] == d.shape[0] - 1
    g[0] = jnp.where(outlet, d / dirichlet_offset, g[0])
    g = _pad_faces(g, d[:1] / dirichlet_offset, periodic)
    active = padded > 0
    # Materialise the conductances before the diagonal sums them: left to itself, XLA:CPU fuses
    # their (padded, harmonic-mean) computation into several consumers, 4x slower in all.
    g, active = jax.lax.optimization_barrier((g, active))
    return _assemble(g, active, periodic)


def inlet_rhs(op: DiffusionOperator) -> Array:
    """Right-hand side ``b`` (padded) for concentration 1 at the inlet, 0 at the outlet."""
    return jnp.zeros_like(op.diag).at[1].set(op.g[0][0])


def apply(op: DiffusionOperator, u: Array) -> Array:
    """``A @ u`` for a padded ``u`` that is zero on the pinned voxels (result padded, also zero there).

    A pinned voxel has no conducting face, so its row of the stencil is zero, not the identity
    row of ``A``; both give zero on such vectors, which all the solver's vectors are (they are
    combinations of the right-hand side, the start field and corrections masked to the active
    voxels). Not selecting the identity row saves a pass over ``active`` (about 5 % of a solve).
    """
    centre = interior(u)
    out = 0.0
    for k in range(3):  # flux form: conductance x concentration difference, face by face
        out = out + interior(op.g[k]) * (centre - neighbour(u, k, 1))
        out = out + neighbour(op.g[k], k, -1) * (centre - neighbour(u, k, -1))
    return pad(out, op.periodic)


def dense_matrix(op: DiffusionOperator) -> Array:
    """The operator as a dense ``(m, m)`` matrix, ``m`` the voxel count (C order), identity rows
    on pinned voxels: symmetric positive definite. For small grids (the coarsest multigrid
    level, tests)."""
    m = math.prod(op.shape)
    basis = jnp.eye(m, dtype=op.diag.dtype).reshape((m, *op.shape))
    stencil = jax.vmap(lambda e: interior(apply(op, pad(e, op.periodic))).reshape(-1))(basis)
    pinned = ~interior(op.active).reshape(-1)
    return stencil + jnp.diag(pinned.astype(stencil.dtype))


def layer_fluxes(op: DiffusionOperator, u: Array) -> Array:
    """Total flux through each plane normal to axis 0, inlet face to outlet face.

    Args:
        op: the operator.
        u: padded concentrations.

    Returns:
        ``(n0 + 1,)`` fluxes in the +axis-0 direction (conductance units): entry 0 through the
        inlet face, entry ``n0`` through the outlet face, the others between voxel layers. At
        the exact solution all are equal.
    """
    centre = interior(u)
    inlet = jnp.sum(_inlet_faces(op.g[0]) * (1.0 - centre[:1]))
    # Every face after a voxel layer, the outlet faces last (the padding beyond is zero).
    per_voxel = (interior(op.g[0]) * (centre - neighbour(u, 0, 1))).reshape(centre.shape[0], -1)
    # A matrix-vector product sums the layers about 4x faster than jnp.sum(axis=(1, 2)) on CPU.
    after = per_voxel @ jnp.ones(per_voxel.shape[1], per_voxel.dtype)
    return jnp.concatenate([inlet[None], after])


def dissipation(op: DiffusionOperator, u: Array) -> Array:
    """Dissipation ``sum_faces g (u_i - u_j)^2`` of padded concentrations ``u``, Dirichlet faces included.

    With concentration 1 at the inlet and 0 at the outlet, the exact solution minimises this
    energy, and its minimum is the total flux through the sample (Dirichlet principle). For an
    approximate ``u`` the excess is ``(u - u*)^T A (u - u*)``, quadratic in the error, where a
    plane flux is off linearly. The solver estimates ``D_eff`` from it, less an estimate of that
    excess.

    Args:
        op: the operator.
        u: padded concentrations.

    Returns:
        Scalar, in conductance units (as :func:`layer_fluxes`).
    """
    centre = interior(u)
    n0 = centre.shape[0]
    inlet = jnp.sum(_inlet_faces(op.g[0]) * (1.0 - centre[:1]) ** 2)
    per_voxel = 0.0  # the outlet faces are among g[0]'s, with the zero padding beyond
    for k in range(3):
        per_voxel = per_voxel + interior(op.g[k]) * (centre - neighbour(u, k, 1)) ** 2
    per_layer = per_voxel.reshape(n0, -1) @ jnp.ones(per_voxel[0].size, per_voxel.dtype)
    return inlet + jnp.sum(per_layer)


def _pad_pairs(x: Array, axis: int, how: str) -> Array:
    """Pads an odd-sized ``axis`` of an unpadded array to even length (one zero cell).

    ``how="sum"`` (cell fields) appends the zero cell; ``how="face"`` (face fields) inserts it
    before the last entry, the wrap face, so that it stays the wrap face of the coarse grid.
    """
    n = x.shape[axis]
    if n == 1 or n % 2 == 0:
        return x
    pad_shape = list(x.shape)
    pad_shape[axis] = 1
    zero = jnp.zeros(pad_shape, x.dtype)
    if how == "face":
        head = jax.lax.slice_in_dim(x, 0, n - 1, axis=axis)
        wrap = jax.lax.slice_in_dim(x, n - 1, n, axis=axis)
        return jnp.concatenate([head, zero, wrap], axis=axis)
    return jnp.concatenate([x, zero], axis=axis)


def _aggregate(x: Array, face_axis: int | None = None) -> Array:
    """Sums an unpadded array over 2x2x2 aggregates (axes of size 1 stay); along ``face_axis``
    keeps the face between pairs (the second entry of each pair) instead of summing."""
    for a in range(3):
        x = _pad_pairs(x, a, "face" if a == face_axis else "sum")
        if x.shape[a] == 1:
            continue
        odd = jax.lax.slice_in_dim(x, 1, None, 2, axis=a)
        x = odd if a == face_axis else jax.lax.slice_in_dim(x, 0, None, 2, axis=a) + odd
    return x


def coarse_shape(shape: Sequence[int]) -> tuple[int, ...]:
    """Grid shape after one 2x coarsening (axes of size 1 stay 1)."""
    return tuple(1 if n == 1 else (n + 1) // 2 for n in shape)


def coarsen(op: DiffusionOperator) -> DiffusionOperator:
    """Rediscretises the operator on a grid of 2x2x2 aggregates.

    A coarse face conductance is half the sum of the fine face conductances it covers (for each
    fine column, two fine cells in series: exact for uniform media); coarse Dirichlet
    conductances likewise. A coarse voxel is active if any child is. Connectivity is preserved,
    so the coarse operator stays positive definite.
    """
    periodic = op.periodic
    g = [COARSE_SCALE * _aggregate(interior(op.g[k]), face_axis=k) for k in range(3)]
    g = _pad_faces(g, COARSE_SCALE * _aggregate(_inlet_faces(op.g[0])), periodic)
    active = pad(_aggregate(interior(op.active).astype(op.diag.dtype)) > 0, periodic)
    g, active = jax.lax.optimization_barrier((g, active))  # as in build_operator
    return _assemble(g, active, periodic)


def restrict(r: Array, periodic: bool = False) -> Array:
    """Sum of a padded residual over each 2x2x2 aggregate (transpose of :func:`prolong`)."""
    return pad(_aggregate(interior(r)), periodic)


def prolong(e: Array, shape: Sequence[int], periodic: bool = False) -> Array:
    """Piecewise-constant interpolation of a padded coarse correction to the fine grid.

    Args:
        e: padded coarse array.
        shape: fine grid shape without padding.
        periodic: padding mode (see :func:`pad`).

    Returns:
        Padded fine array.
    """
    e = interior(e)
    for a in range(3):
        if shape[a] > 1:
            e = jnp.repeat(e, 2, axis=a)
    return pad(e[: shape[0], : shape[1], : shape[2]], periodic)
