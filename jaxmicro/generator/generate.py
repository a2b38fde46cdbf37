"""Generating microstructures with a trained generator.

:func:`generate_probabilities` is the jittable core (pure, static config and latent shape), for
callers that batch labels inside their own ``jit``; :func:`generate` is the checked front end
returning a :class:`GenerationResult`.

Noise: the latent of seed ``s`` comes from ``jax.random.PRNGKey(s)`` alone, so every label
generated with the same seed shares its noise (common random numbers: the volume changes
smoothly with the labels), and the same ``(labels, seed, shape, periodic)`` always gives the same
volume.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.data.labels import LABEL_RANGES, normalise_labels, validate_labels
from jaxmicro.generator.checkpoint import Generator
from jaxmicro.generator.config import GeneratorConfig
from jaxmicro.generator.model import Params, generator_apply


@partial(jax.jit, static_argnames=("config", "latent_shape", "output_shape"))
def generate_probabilities(
    params: Params,
    config: GeneratorConfig,
    key: jax.Array,
    labels_unit: jax.Array,
    latent_shape: tuple[int, int, int],
    output_shape: tuple[int, int, int] | None = None,
) -> jax.Array:
    """Soft phase probabilities for a batch of labels sharing one latent noise volume.

    Args:
        params: generator parameters.
        config: the generator network (static).
        key: PRNG key of the latent noise.
        labels_unit: ``(n, 3)`` labels normalised with ``LABEL_RANGES`` (unit cube).
        latent_shape: ``(lz, ly, lx)`` latent size (static); the output is periodic with edge
            ``latent * config.upsample_factor``.
        output_shape: ``(z, y, x)`` (static, even sizes): return only the first ``z, y, x``
            voxels of that periodic volume, which the last stage then computes alone (the
            same values; non-periodic volumes are such crops, see :func:`latent_shape_for`).
            ``None``: the whole volume.

    Returns:
        ``(n, lz*f, ly*f, lx*f, 3)`` (or ``(n, z, y, x, 3)``) float32 probabilities of (pore,
        AM, CBD), summing to 1.

    Raises:
        ValueError: an ``output_shape`` that is odd or larger than the periodic volume.
    """
    full = tuple(n * config.upsample_factor for n in latent_shape)
    if output_shape is not None and (
        len(output_shape) != 3
        or any(not 0 < n <= m or n % 2 for n, m in zip(output_shape, full, strict=True))
    ):
        raise ValueError(f"output_shape {output_shape} must be 3 even sizes of at most {full}")
    # float32 whatever jax_enable_x64 says, so the noise of a seed never depends on it.
    z = jax.random.normal(key, (1, *latent_shape, config.latent_channels), dtype=jnp.float32)
    z = jnp.broadcast_to(z, (labels_unit.shape[0], *z.shape[1:]))
    return generator_apply(params, config, z, labels_unit.astype(jnp.float32), output_shape)


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    """Generated microstructures, one per (label, seed) pair, label-major.

    Attributes:
        probabilities: ``(n, z, y, x, 3)`` float32 soft phase probabilities (pore, AM, CBD).
        volume: ``(n, z, y, x)`` uint8 phase ids (argmax of the probabilities).
        labels: ``(n, 3)`` physical labels of each volume.
        seeds: ``(n,)`` seed of each volume.
        voxel_size_m: voxel edge [m] (that of the training data).
    """

    probabilities: np.ndarray = dataclasses.field(repr=False)
    volume: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray
    seeds: np.ndarray
    voxel_size_m: float


def check_labels(generator: Generator, labels: np.ndarray, extrapolate: bool = False) -> np.ndarray:
    """Validates labels ``(3,)`` or ``(n, 3)`` against the generator's trained range.

    Returns:
        The labels as float64 ``(n, 3)``.

    Raises:
        ValueError: a label outside the trained range (or, with ``extrapolate``, outside the
            physical ``LABEL_RANGES``).
    """
    labels = validate_labels(labels).reshape(-1, 3)  # physical ranges first
    try:
        validate_labels(labels, generator.label_ranges)
    except ValueError as error:
        if not extrapolate:
            raise ValueError(
                f"{error.args[0].split(' (')[0]}: that is outside the generator's trained range "
                f"{dict(generator.label_ranges)}; pass extrapolate=True (--extrapolate) to generate anyway"
            ) from None
        warnings.warn(f"extrapolating beyond the trained range: {error.args[0]}", stacklevel=3)
    return labels


def latent_shape_for(config: GeneratorConfig, shape: Sequence[int], periodic: bool) -> tuple[int, int, int]:
    """Latent size giving an output of ``shape``: ``shape / f``, plus one when not periodic."""
    shape = tuple(int(n) for n in shape)
    f = config.upsample_factor
    if len(shape) != 3 or any(n < f or n % f for n in shape):
        raise ValueError(
            f"shape {shape} must be 3 positive multiples of {f} (the generator's upsampling factor), "
            f"e.g. {(4 * f,) * 3}"
        )
    return tuple(n // f + (0 if periodic else 1) for n in shape)


def generate(
    generator: Generator,
    labels: np.ndarray | Sequence[float],
    shape: Sequence[int] = (64, 64, 64),
    seed: int | Sequence[int] = 0,
    periodic: bool = False,
    extrapolate: bool = False,
) -> GenerationResult:
    """Generates microstructures at physical labels.

    Args:
        generator: a trained :class:`Generator` (see :func:`load_generator`).
        labels: ``(3,)`` or ``(n, 3)`` physical labels, columns ``LABEL_FIELDS``.
        shape: output ``(z, y, x)`` [voxels], multiples of ``generator.config.upsample_factor``;
            64^3, 128^3 and 256^3 all come from the same weights.
        seed: one seed or a sequence of seeds; every label is generated with every seed.
        periodic: if True the volume is periodic on all faces; otherwise it is cropped from a
            larger periodic volume, so opposite faces are unrelated.
        extrapolate: allow labels outside the trained range (with a warning).

    Returns:
        A :class:`GenerationResult` of ``n * len(seeds)`` volumes, label-major.

    Raises:
        ValueError: bad labels, shape or seeds.
    """
    labels = check_labels(generator, np.asarray(labels, dtype=np.float64), extrapolate)
    seeds = np.atleast_1d(np.asarray(seed))
    if seeds.ndim != 1 or seeds.size == 0 or not np.issubdtype(seeds.dtype, np.integer):
        raise ValueError(f"seed must be an int or a non-empty sequence of ints, got {seed!r}")
    latent = latent_shape_for(generator.config, shape, periodic)
    unit = jnp.asarray(normalise_labels(labels, LABEL_RANGES), jnp.float32)
    blocks = []
    for s in seeds.tolist():
        probs = generate_probabilities(
            generator.params, generator.config, jax.random.PRNGKey(s), unit, latent, shape
        )
        blocks.append(np.asarray(probs))
    probabilities = np.stack(blocks, axis=1).reshape(-1, *tuple(shape), 3)
    return GenerationResult(
        probabilities=probabilities,
        volume=np.argmax(probabilities, axis=-1).astype(np.uint8),
        labels=np.repeat(labels, seeds.size, axis=0),
        seeds=np.tile(seeds, labels.shape[0]),
        voxel_size_m=generator.voxel_size_m,
    )
