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
import math
import warnings
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.characterise.soft import decode_at_fractions
from jaxmicro.data.labels import validate_labels
from jaxmicro.generator.checkpoint import Generator
from jaxmicro.generator.config import GeneratorConfig, check_decoding, latent_shape_for
from jaxmicro.generator.model import Params, generator_apply
from jaxmicro.generator.protocol import VolumeGenerator

DEVICE_BYTES_PER_VOXEL: int = 64
"""Device memory of generating one label's volume, per output voxel [bytes]. XLA's memory
analysis of the default generator (64/32/16 channels) gives 58 / 42 B/voxel at 64^3 / 96^3
(temporaries falling towards 25 B/voxel, the 12 B/voxel float32 probabilities, the
parameters); budgeted with a margin."""

HOST_BYTES_PER_VOXEL: int = 26
"""Host memory per generated volume and voxel [bytes]: the probabilities copied from the device
and stacked (2 x 12) and the phase ids (1), rounded up."""


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
        labels_unit: ``(n, 3)`` labels as the network takes them (``Generator.unit_labels``).
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
    z = jax.random.normal(key, (1, *latent_shape, config.latent_input_channels), dtype=jnp.float32)
    z = jnp.broadcast_to(z, (labels_unit.shape[0], *z.shape[1:]))
    return generator_apply(params, config, z, labels_unit.astype(jnp.float32), output_shape)


@dataclasses.dataclass(frozen=True)
class GenerationResult:
    """Generated microstructures, one per (label, seed) pair, label-major.

    Attributes:
        probabilities: ``(n, z, y, x, 3)`` float32 soft phase probabilities (pore, AM, CBD);
            None from a generator that is not traceable (it places phases by rank).
        volume: ``(n, z, y, x)`` uint8 phase ids (the decoded probabilities).
        labels: ``(n, 3)`` physical labels of each volume.
        seeds: ``(n,)`` seed of each volume.
        voxel_size_m: voxel edge [m] (that of the training data).
    """

    probabilities: np.ndarray | None = dataclasses.field(repr=False)
    volume: np.ndarray = dataclasses.field(repr=False)
    labels: np.ndarray
    seeds: np.ndarray
    voxel_size_m: float


def check_labels(generator: VolumeGenerator, labels: np.ndarray, extrapolate: bool = False) -> np.ndarray:
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


def generation_memory_bytes(n_labels: int, n_seeds: int, shape: Sequence[int]) -> int:
    """Estimated peak memory of :func:`generate` [bytes]: one call's device memory (every label
    at one seed) plus the host arrays of all ``n_labels * n_seeds`` volumes."""
    voxels = math.prod(int(n) for n in shape)
    return voxels * (n_labels * DEVICE_BYTES_PER_VOXEL + n_labels * n_seeds * HOST_BYTES_PER_VOXEL)


def _check_generation_memory(n_labels: int, n_seeds: int, shape: Sequence[int]) -> None:
    """Refuses a generation whose :func:`generation_memory_bytes` exceeds the memory available
    (on an accelerator, also one call's device part against the device's memory)."""
    from jaxmicro import host_memory

    checks = [(generation_memory_bytes(n_labels, n_seeds, shape), host_memory.available_host_memory_bytes())]
    if jax.default_backend() != "cpu":
        from jaxmicro.characterise.memory import available_memory_bytes

        checks.append((generation_memory_bytes(n_labels, 0, shape), available_memory_bytes()))
    for need, have in checks:
        if have is not None and need > have:
            raise ValueError(
                f"generating {n_labels * n_seeds} volume(s) of {'x'.join(map(str, shape))} voxels "
                f"needs about {need / 1e9:.3g} GB but {have / 1e9:.3g} GB is available; generate a "
                "smaller size or fewer volumes at once"
            )


def decoding_fractions(
    generator: Generator, labels: np.ndarray, decoding: str | None = None
) -> np.ndarray | None:
    """The phase fractions a generator decodes its volumes at, or None for the argmax.

    Args:
        generator: the generator.
        labels: ``(n, 3)`` physical labels.
        decoding: ``"argmax"`` or ``"fractions"``; None: the generator's own
            (``GeneratorConfig.decoding``).

    Returns:
        ``(n, 3)`` float32 target volume fractions (pore, AM, CBD) from
        :func:`~jaxmicro.data.simulator.target_volume_fractions` with the default solid
        densities, or None when decoding by the argmax.
    """
    from jaxmicro.data.simulator import target_volume_fractions

    if check_decoding(decoding or generator.config.decoding) != "fractions":
        return None
    labels = np.atleast_2d(np.asarray(labels, np.float64))
    return np.asarray(target_volume_fractions(jnp.asarray(labels)), np.float32)


def check_fractions(config: GeneratorConfig, fractions: jax.Array | np.ndarray | None) -> bool:
    """Whether volumes of ``config`` decode at ``fractions`` (else by the argmax).

    Args:
        config: the generator network; its ``decoding`` decides.
        fractions: ``(n, 3)`` (or ``(3,)``) target phase fractions, or None.

    Returns:
        True for a generator that decodes at the fractions (``fractions`` given), False for
        the argmax (``fractions`` then ignored).

    Raises:
        ValueError: a generator that decodes at the fractions, without them.
    """
    if config.decoding != "fractions":
        return False
    if fractions is None:
        raise ValueError(
            "this generator decodes its volumes at the labels' phase fractions: pass "
            "fractions=decoding_fractions(generator, labels)"
        )
    return True


@partial(jax.jit, static_argnames=("config", "shape"))
def generate_volumes(
    params,
    config: GeneratorConfig,
    keys: jax.Array,
    labels_unit: jax.Array,
    shape: tuple[int, int, int],
    fractions: jax.Array | None = None,
) -> jax.Array:
    """Generates ``(seeds, labels)`` volumes (jitted), decoded as the generator decodes.

    Args:
        params: generator parameters.
        config: generator network (static); ``config.decoding`` says how probabilities
            become phases.
        keys: ``(s, 2)`` PRNG keys, one per seed; every label shares the seed's noise.
        labels_unit: ``(n, 3)`` labels normalised to the unit cube.
        shape: ``(z, y, x)`` of each volume [voxels] (static), multiples of the generator's
            upsampling factor; cropped from a larger periodic volume, as :func:`generate`.
        fractions: ``(n, 3)`` phase volume fractions to decode each label's volumes at
            (:func:`~jaxmicro.generator.decoding_fractions`); needed when ``config.decoding``
            is ``"fractions"``, ignored for the argmax.

    Returns:
        ``(s, n, z, y, x)`` uint8 phase ids.

    Raises:
        ValueError: a generator that decodes at the fractions, without ``fractions``.
    """
    latent_shape = latent_shape_for(config, shape, periodic=False)
    probabilities = jax.vmap(generate_probabilities, in_axes=(None, None, 0, None, None, None))(
        params, config, keys, labels_unit, latent_shape, shape
    )
    if not check_fractions(config, fractions):
        return jnp.argmax(probabilities, axis=-1).astype(jnp.uint8)
    per_label = jax.vmap(decode_at_fractions)  # over labels, each at its own fractions
    return jax.vmap(per_label, in_axes=(0, None))(probabilities, fractions).astype(jnp.uint8)


def generate(
    generator: VolumeGenerator,
    labels: np.ndarray | Sequence[float],
    shape: Sequence[int] = (64, 64, 64),
    seed: int | Sequence[int] = 0,
    periodic: bool = False,
    extrapolate: bool = False,
    decoding: str | None = None,
) -> GenerationResult:
    """Generates microstructures at physical labels.

    Args:
        generator: a trained :class:`Generator` (see :func:`load_generator`), or a generator
            that is not traceable (a fitted stochastic-geometry model, the shipped default):
            its volumes only, no probabilities, periodic or decoding.
        labels: ``(3,)`` or ``(n, 3)`` physical labels, columns ``LABEL_FIELDS``.
        shape: output ``(z, y, x)`` [voxels], for a trained generator multiples of
            ``generator.config.upsample_factor``; 64^3, 128^3 and 256^3 all come from the same
            weights.
        seed: one seed or a sequence of seeds; every label is generated with every seed.
        periodic: if True the volume is periodic on all faces; otherwise it is cropped from a
            larger periodic volume, so opposite faces are unrelated.
        extrapolate: allow labels outside the trained range (with a warning).
        decoding: how probabilities become phases: ``"argmax"``, or ``"fractions"``: each
            volume at its label's phase volume fractions
            (:func:`~jaxmicro.characterise.soft.decode_at_fractions`, targets from
            :func:`~jaxmicro.data.simulator.target_volume_fractions` with the default solid
            densities); ``None``: the generator's own (``GeneratorConfig.decoding``, what it
            was trained for). The probabilities are the same either way.

    Returns:
        A :class:`GenerationResult` of ``n * len(seeds)`` volumes, label-major.

    Raises:
        ValueError: bad labels, shape or seeds (each a whole number in ``[0, 2**32)``: PRNG
            keys take 32 bits, so larger seeds would repeat smaller ones), or a memory estimate
            (:func:`generation_memory_bytes`) above the memory available, before allocating.
    """
    from jaxmicro.data.simulator import check_seed

    labels = check_labels(generator, np.asarray(labels, dtype=np.float64), extrapolate)
    seeds = np.atleast_1d(np.asarray(seed, dtype=object))
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seed must be an int or a non-empty sequence of ints, got {seed!r}")
    seeds = np.array([check_seed(s, "seed") for s in seeds.tolist()], dtype=np.int64)
    if generator.traceable:
        probabilities, volume = _generate_decoded(generator, labels, seeds, shape, periodic, decoding)
    else:
        if periodic or decoding is not None:
            raise ValueError(
                "this generator places phases by rank (a stochastic-geometry model: no "
                "probabilities, no decoding, no periodic volumes); drop periodic / decoding"
            )
        generator.check_shape(shape)
        volumes = np.asarray(generator.sample_batch(labels, shape, seeds.tolist()))  # (s, n, ...)
        probabilities, volume = None, np.swapaxes(volumes, 0, 1).reshape(-1, *tuple(shape))
    return GenerationResult(
        probabilities=probabilities,
        volume=volume.astype(np.uint8),
        labels=np.repeat(labels, seeds.size, axis=0),
        seeds=np.tile(seeds, labels.shape[0]),
        voxel_size_m=generator.voxel_size_m,
    )


def _generate_decoded(
    generator: Generator,
    labels: np.ndarray,
    seeds: np.ndarray,
    shape: Sequence[int],
    periodic: bool,
    decoding: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`generate`'s trained-generator part: ``(n * s, z, y, x, 3)`` probabilities, label-major,
    and their decoded phase ids."""
    latent = latent_shape_for(generator.config, shape, periodic)
    _check_generation_memory(len(labels), seeds.size, shape)
    unit = jnp.asarray(generator.unit_labels(labels))
    blocks = []
    for s in seeds.tolist():
        probs = generate_probabilities(
            generator.params, generator.config, jax.random.PRNGKey(s), unit, latent, shape
        )
        blocks.append(np.asarray(probs))
    probabilities = np.stack(blocks, axis=1).reshape(-1, *tuple(shape), 3)
    fractions = decoding_fractions(generator, labels, decoding)
    if fractions is None:
        return probabilities, np.argmax(probabilities, axis=-1)
    targets = np.repeat(fractions, seeds.size, axis=0)
    pairs = zip(probabilities, targets, strict=True)
    return probabilities, np.stack([np.asarray(decode_at_fractions(p, t)) for p, t in pairs])
