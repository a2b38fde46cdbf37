"""Generated microstructures and their measured properties.

:func:`generate_volumes` draws volumes from the generator at a batch of labels and several
seeds, and :func:`characterise_seeds` measures each volume's pore tortuosity (through-plane,
optionally in-plane), phase fractions, AM-electrolyte interfacial area and CBD coverage;
:func:`generate_and_characterise` is the two in one jitted computation. :func:`average_over_seeds`
reduces the seeds of one label to the properties a cell simulation takes.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmicro.characterise import microstructure_metrics, tortuosity
from jaxmicro.data.phases import IN_PLANE_AXES, PORE, THROUGH_PLANE_AXIS
from jaxmicro.generator import GeneratorConfig, generate_probabilities, latent_shape_for

_PORE_AM_PAIR = 0  # index of (pore, AM) in jaxmicro.characterise.PHASE_PAIRS


class MicrostructureProperties(NamedTuple):
    """Measured properties of volumes (a JAX PyTree); leading axes as the input batch.

    Attributes:
        volume_fraction: ``(..., 3)`` pore, AM, CBD [-].
        tau_through_plane: pore tortuosity factor along axis 0 [-]; inf when not percolating.
        tau_in_plane: pore tortuosity factor along axis 2 [-] (NaN when not computed).
        d_rel_through_plane: pore relative effective diffusivity along axis 0, ``eps / tau`` [-].
        percolates: whether the pore phase joins the two faces along axis 0.
        am_pore_area_per_volume_m: AM-electrolyte interfacial area per volume [1/m].
        cbd_coverage: fraction of the AM surface covered by CBD [-].
    """

    volume_fraction: jax.Array
    tau_through_plane: jax.Array
    tau_in_plane: jax.Array
    d_rel_through_plane: jax.Array
    percolates: jax.Array
    am_pore_area_per_volume_m: jax.Array
    cbd_coverage: jax.Array


def characterise_volumes(
    volumes: jax.Array, voxel_size_m: float, in_plane: bool = False, conv_crit: float = 1e-3
) -> MicrostructureProperties:
    """Measures a batch of volumes ``(n, z, y, x)`` (jittable; options static)."""
    through = tortuosity(volumes, PORE, THROUGH_PLANE_AXIS, conv_crit=conv_crit)
    if in_plane:
        tau_in_plane = tortuosity(volumes, PORE, IN_PLANE_AXES[1], conv_crit=conv_crit).tau
    else:
        tau_in_plane = jnp.full_like(through.tau, jnp.nan)
    metrics = microstructure_metrics(volumes, voxel_size_m)
    return MicrostructureProperties(
        volume_fraction=metrics.volume_fraction,
        tau_through_plane=through.tau,
        tau_in_plane=tau_in_plane,
        d_rel_through_plane=through.D_rel,
        percolates=through.percolates,
        am_pore_area_per_volume_m=metrics.interfacial_area[..., _PORE_AM_PAIR],
        cbd_coverage=metrics.cbd_coverage,
    )


@partial(jax.jit, static_argnames=("config", "shape"))
def generate_volumes(
    params, config: GeneratorConfig, keys: jax.Array, labels_unit: jax.Array, shape: tuple[int, int, int]
) -> jax.Array:
    """Generates ``(seeds, labels)`` volumes (jitted).

    Args:
        params: generator parameters.
        config: generator network (static).
        keys: ``(s, 2)`` PRNG keys, one per seed; every label shares the seed's noise.
        labels_unit: ``(n, 3)`` labels normalised to the unit cube.
        shape: ``(z, y, x)`` of each volume [voxels] (static), multiples of the generator's
            upsampling factor; cropped from a larger periodic volume, as :func:`generate`.

    Returns:
        ``(s, n, z, y, x)`` uint8 phase ids.
    """
    latent_shape = latent_shape_for(config, shape, periodic=False)
    probabilities = jax.vmap(generate_probabilities, in_axes=(None, None, 0, None, None, None))(
        params, config, keys, labels_unit, latent_shape, shape
    )
    return jnp.argmax(probabilities, axis=-1).astype(jnp.uint8)


def characterise_seeds(
    volumes: jax.Array, voxel_size_m: float, in_plane: bool = False, conv_crit: float = 1e-3
) -> MicrostructureProperties:
    """:func:`characterise_volumes` of ``(s, n, z, y, x)`` volumes; properties with leading
    ``(s, n)``. Jittable; called outside jit (on concrete volumes), every computation in it can
    be kept by the persistent compilation cache, because on CPU the tortuosity solve's clusters
    are then labelled on the host between jitted calls, not through a callback inside one."""
    flat = volumes.reshape(-1, *volumes.shape[2:])
    properties = characterise_volumes(flat, voxel_size_m, in_plane, conv_crit)
    return jax.tree.map(lambda x: x.reshape(*volumes.shape[:2], *x.shape[1:]), properties)


@partial(
    jax.jit,
    static_argnames=("config", "shape", "voxel_size_m", "in_plane", "conv_crit"),
)
def generate_and_characterise(
    params,
    config: GeneratorConfig,
    keys: jax.Array,
    labels_unit: jax.Array,
    shape: tuple[int, int, int],
    voxel_size_m: float,
    in_plane: bool = False,
    conv_crit: float = 1e-3,
) -> tuple[jax.Array, MicrostructureProperties]:
    """:func:`generate_volumes` then :func:`characterise_seeds`, as one XLA computation (what
    each device runs in a sharded sweep).

    Args:
        params, config, keys, labels_unit, shape: as :func:`generate_volumes`.
        voxel_size_m: voxel edge [m] (static).
        in_plane: also solve the in-plane tortuosity (twice the solver cost).
        conv_crit: tortuosity flux-spread criterion.

    Returns:
        ``volumes`` uint8 ``(s, n, z, y, x)`` and their properties with leading ``(s, n)``.
    """
    volumes = generate_volumes(params, config, keys, labels_unit, shape)
    return volumes, characterise_seeds(volumes, voxel_size_m, in_plane, conv_crit)


def average_over_seeds(properties: MicrostructureProperties) -> MicrostructureProperties:
    """Reduces the leading seed axis.

    Fractions, areas and coverage are averaged. Transport is averaged as a conductance:
    ``D_rel`` is averaged (a non-percolating seed contributes 0) and ``tau = eps / D_rel``, so
    the label's tortuosity is finite if any seed percolates and inf only if none does.
    """
    mean = jax.tree.map(lambda x: jnp.mean(x.astype(jnp.float32), axis=0), properties)
    porosity = mean.volume_fraction[..., PORE]
    d_rel = mean.d_rel_through_plane
    tau = jnp.where(d_rel > 0, porosity / jnp.where(d_rel > 0, d_rel, 1.0), jnp.inf)
    return mean._replace(
        tau_through_plane=tau,
        percolates=jnp.any(properties.percolates, axis=0),
        tau_in_plane=jnp.mean(properties.tau_in_plane, axis=0),
    )
