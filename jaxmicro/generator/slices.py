"""2-D slices for the SliceGAN critics: the bank of real slices and random crops of volumes.

Axis convention (as in :mod:`jaxmicro.data.dataset`): the critic for axis ``a`` judges slices
normal to volume axis ``a``. A slice normal to axis 0 is an in-plane ``(y, x)`` image; slices
normal to axes 1 and 2 are through-plane images ``(z, x)`` and ``(z, y)`` whose first image
axis is ``z``. Real slices come from all three axes of every 3-D training volume, or from 2-D
cross-sections (``Sample.slice_normal_axis``) for 2-D -> 3-D training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.characterise.correlation import ball_erosion, lineal_path, two_point_probabilities
from jaxmicro.characterise.morphology import euler_density
from jaxmicro.data.dataset import Sample
from jaxmicro.data.labels import LABEL_FIELDS, normalise_labels
from jaxmicro.data.phases import N_PHASES, PORE
from jaxmicro.generator.losses import TAU_AXES, soft_log_tau

# Transpose that puts the slice-normal axis first and keeps z first in through-plane images.
AXIS_ORDER = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


class SliceBank(NamedTuple):
    """The real training slices, grouped by label (a JAX PyTree).

    Attributes:
        images: per axis ``a``, uint8 phase ids ``(n_labels, n_slices_a, h_a, w_a)``: the
            slices normal to axis ``a`` of every training sample with that label.
        labels_unit: ``(n_labels, 3)`` float32 unit labels.
        phase_fractions: ``(n_labels, 3)`` float32 pore/AM/CBD volume fractions of the slices.
        two_point: ``(n_labels, n_lags, 3, 3, 3)`` float32 two-point phase-pair probabilities
            ``[label, lag, volume axis, p, q]`` of the slices (see :func:`real_two_point`).
        lineal_path: ``(n_labels, n_lengths, 3, 3)`` float32 lineal-path functions
            ``[label, length, volume axis, p]`` of the slices (see :func:`real_lineal_path`);
            ``(n_labels, 0, 3, 3)`` where not computed.
        log_tau: ``(n_labels, len(TAU_AXES))`` float32 mean soft ``log tau`` of the label's 3-D
            volumes (:func:`jaxmicro.generator.losses.soft_log_tau`); NaN where not computed.
        erosion: ``(n_labels, n_radii, 3)`` float32 mean ball erosion ``[label, radius, p]`` of
            the label's 3-D volumes (:func:`jaxmicro.characterise.ball_erosion`); ``(n_labels,
            0, 3)`` where not computed.
        euler: ``(n_labels, 3)`` float32 mean Euler characteristic per voxel ``[label, p]`` of
            the label's 3-D volumes (:func:`jaxmicro.characterise.euler_density`); zeros where
            not computed.
        anchor_volumes: ``(n_anchors, e, e, e)`` uint8 phase ids: the non-overlapping cubes of
            the fake volumes' edge ``e`` of every 3-D training volume, which the reconstruction
            term (``TrainConfig.anchor_weight``) draws back; None where not used.
        anchor_labels: ``(n_anchors,)`` int32 index of each anchor's labels in ``labels_unit``;
            None where not used.
    """

    images: tuple[jax.Array, jax.Array, jax.Array]
    labels_unit: jax.Array
    phase_fractions: jax.Array
    two_point: jax.Array
    lineal_path: jax.Array
    log_tau: jax.Array
    erosion: jax.Array
    euler: jax.Array
    anchor_volumes: jax.Array | None = None
    anchor_labels: jax.Array | None = None


def _slices_of(sample: Sample, axis: int) -> np.ndarray | None:
    if sample.volume.ndim == 3:
        return np.transpose(sample.volume, AXIS_ORDER[axis])
    if sample.slice_normal_axis == axis:
        return sample.volume[None]
    return None


def _along_volume_axes(
    slices: Sequence[np.ndarray], statistic: Callable[[jax.Array, int], jax.Array]
) -> np.ndarray:
    """A statistic along each volume axis, from 2-D slices alone.

    Lines along volume axis ``d`` lie in the slices normal to the two other axes; the result
    averages those two estimates (for slices of a 3-D volume both count every line of the
    volume, so they agree), which makes 2-D -> 3-D training data work the same way.

    Args:
        slices: per slice-normal axis ``a``, phase ids ``(n_a, h_a, w_a)`` (see ``AXIS_ORDER``).
        statistic: ``(one_hot (n, h, w, 3), image axis) -> array`` averaged over the images.

    Returns:
        ``(3, *statistic's shape)`` float array: ``[volume axis d, ...]``.
    """
    out = None
    for normal, stack in enumerate(slices):
        one_hot = jax.nn.one_hot(np.asarray(stack), N_PHASES, dtype=jnp.float32)
        for image_axis, volume_axis in ((1, AXIS_ORDER[normal][1]), (2, AXIS_ORDER[normal][2])):
            value = np.asarray(statistic(one_hot, image_axis), np.float64)
            out = np.zeros((3, *value.shape)) if out is None else out
            out[volume_axis] += 0.5 * value
    return out


def real_two_point(slices: Sequence[np.ndarray], lags: Sequence[int]) -> np.ndarray:
    """Two-point phase-pair probabilities along the volume axes, from 2-D slices alone.

    Args:
        slices: per slice-normal axis ``a``, phase ids ``(n_a, h_a, w_a)`` (see ``AXIS_ORDER``).
        lags: lags [voxels], each less than every slice edge.

    Returns:
        ``(len(lags), 3, 3, 3)`` float32: ``[lag, volume axis d, p, q]``.
    """
    values = _along_volume_axes(
        slices, lambda one_hot, axis: jnp.stack([two_point_probabilities(one_hot, axis, lag) for lag in lags])
    )
    return np.moveaxis(values, 0, 1).astype(np.float32)


def real_lineal_path(slices: Sequence[np.ndarray], lengths: Sequence[int]) -> np.ndarray:
    """Lineal-path functions along the volume axes, from 2-D slices alone.

    Args:
        slices: per slice-normal axis ``a``, phase ids ``(n_a, h_a, w_a)`` (see ``AXIS_ORDER``).
        lengths: segment lengths [voxels], each at most every slice edge.

    Returns:
        ``(len(lengths), 3, 3)`` float32: ``[length, volume axis d, p]``.
    """
    values = _along_volume_axes(slices, lambda one_hot, axis: lineal_path(one_hot, axis, lengths))
    return np.moveaxis(values, 0, 1).astype(np.float32)


def _volumes_of(group: Sequence[Sample], weight: str) -> np.ndarray:
    volumes = [s.volume for s in group if s.volume.ndim == 3]
    if len(volumes) < len(group):
        raise ValueError(f"{weight} needs 3-D training volumes; train on 2-D sections with {weight} 0")
    return np.stack(volumes)


def cube_count(shape: Sequence[int], edge: int) -> int:
    """How many non-overlapping ``edge^3`` cubes :func:`cubes_of` cuts from one volume of
    ``shape`` ``(z, y, x)`` [voxels]."""
    return math.prod(size // edge for size in shape)


def cubes_of(volumes: np.ndarray, edge: int) -> np.ndarray:
    """The non-overlapping ``edge^3`` cubes of ``(n, z, y, x)`` volumes (a remainder of each
    axis is left out), ``(n * cubes, edge, edge, edge)``.

    Raises:
        ValueError: a volume smaller than ``edge`` along an axis.
    """
    n, *shape = volumes.shape
    if min(shape) < edge:
        raise ValueError(f"volumes of {tuple(shape)} voxels hold no {edge}^3 cube; train on bigger volumes")
    counts = [size // edge for size in shape]
    trimmed = volumes[:, : counts[0] * edge, : counts[1] * edge, : counts[2] * edge]
    blocks = trimmed.reshape(n, counts[0], edge, counts[1], edge, counts[2], edge)
    return blocks.transpose(0, 1, 3, 5, 2, 4, 6).reshape(-1, edge, edge, edge)


def _real_log_tau(group: Sequence[Sample], edge: int | None) -> np.ndarray:
    volumes = _volumes_of(group, "tau_weight")
    # One solve at a time: the cubes of a 256^3 volume at once would need 64 solves' memory.
    cubes = volumes if edge is None else cubes_of(volumes, edge)
    log_tau = [soft_log_tau(jnp.asarray(cube[None] == PORE, jnp.float32))[0] for cube in cubes]
    return np.asarray(jnp.mean(jnp.stack(log_tau), axis=0))


def _real_erosion(group: Sequence[Sample], radii: Sequence[int]) -> np.ndarray:
    volumes = _volumes_of(group, "erosion_weight")
    return np.mean([ball_erosion(jax.nn.one_hot(v, N_PHASES), tuple(radii)) for v in volumes], axis=0)


def _real_euler(group: Sequence[Sample]) -> np.ndarray:
    volumes = _volumes_of(group, "euler_weight")
    return np.mean([euler_density(jax.nn.one_hot(v, N_PHASES)) for v in volumes], axis=0)


def build_slice_bank(
    samples: Sequence[Sample],
    slice_size: int,
    label_normalisation: Mapping[str, tuple[float, float]],
    stats_lags: Sequence[int] = (1,),
    tortuosity_targets: bool = False,
    lineal_lengths: Sequence[int] | None = None,
    erosion_radii: Sequence[int] | None = None,
    euler_targets: bool = False,
    tau_edge: int | None = None,
    anchor_edge: int | None = None,
) -> SliceBank:
    """Groups the training samples' slices by label and axis.

    Args:
        samples: training samples: 3-D volumes, and/or 2-D sections with ``slice_normal_axis``
            (then every label needs a section normal to each of the three axes).
        slice_size: the critics' slice edge [voxels]; every slice must be at least this big.
        label_normalisation: ``{field: (low, high)}`` mapped onto [0, 1] for the network
            (:attr:`jaxmicro.generator.Generator.label_normalisation`).
        stats_lags: lags of the bank's ``two_point`` statistics [voxels].
        lineal_lengths: segment lengths of the bank's ``lineal_path`` functions [voxels] (None:
            not computed).
        erosion_radii: ball radii of the bank's ``erosion`` [voxels] (needs 3-D volumes; None:
            not computed).
        tortuosity_targets: compute ``log_tau`` (needs 3-D volumes; NaN otherwise).
        euler_targets: compute ``euler`` (needs 3-D volumes).
        tau_edge: measure ``log_tau`` as the mean over the volumes' non-overlapping cubes of
            this edge [voxels] (:func:`cubes_of`): the fake training volumes' edge, since the
            tortuosity of a smaller cube reads higher (the simulator's 64^3 cubes read 20 / 9 %
            above their 128^3 volume through / in-plane at porosity 0.2, 5 / 4 % at 0.3, under
            1 % at 0.4-0.5; docs/generator.md) and the loss compares the two; None: whole
            volumes.
        anchor_edge: keep the 3-D training volumes' cubes of this edge [voxels] as
            ``anchor_volumes`` (None: not kept).

    Returns:
        The :class:`SliceBank`.

    Raises:
        ValueError: no samples, a label missing an axis, slices smaller than ``slice_size``,
            labels whose slices differ in number or size along an axis, or tortuosity
            targets asked of 2-D sections.
    """
    if not samples:
        raise ValueError("no training samples; the dataset has no 'train' split")
    keys = sorted({tuple(s.labels.to_array()) for s in samples})
    per_axis: list[list[np.ndarray]] = [[], [], []]
    log_tau = np.full((len(keys), len(TAU_AXES)), np.nan, np.float32)
    erosion = np.zeros((len(keys), len(erosion_radii or ()), N_PHASES), np.float32)
    euler = np.zeros((len(keys), N_PHASES), np.float32)
    anchors, anchor_labels = [], []
    for i, key in enumerate(keys):
        group = [s for s in samples if tuple(s.labels.to_array()) == key]
        if anchor_edge is not None:
            cubes = cubes_of(_volumes_of(group, "anchor_weight"), anchor_edge)
            anchors.append(cubes)
            anchor_labels += [i] * len(cubes)
        if tortuosity_targets:
            log_tau[i] = _real_log_tau(group, tau_edge)
        if erosion_radii:
            erosion[i] = _real_erosion(group, erosion_radii)
        if euler_targets:
            euler[i] = _real_euler(group)
        for axis in range(3):
            stacks = [x for x in (_slices_of(s, axis) for s in group) if x is not None]
            if not stacks:
                raise ValueError(
                    f"labels {dict(zip(LABEL_FIELDS, key, strict=True))} have no 3-D volume and no "
                    f"2-D section normal to axis {axis}; 2-D training needs one section per axis"
                )
            try:
                per_axis[axis].append(np.concatenate(stacks))
            except ValueError:
                raise ValueError(f"sections normal to axis {axis} of one label differ in size") from None
    images = []
    for axis, stacks in enumerate(per_axis):
        shapes = {stack.shape for stack in stacks}
        if len(shapes) > 1:
            raise ValueError(
                f"labels have different numbers or sizes of axis-{axis} slices: {sorted(shapes)}"
            )
        shape = shapes.pop()
        if min(shape[1:]) < slice_size:
            raise ValueError(
                f"axis-{axis} slices of {shape[1:]} voxels are smaller than slice_size {slice_size}"
            )
        images.append(jnp.asarray(np.stack(stacks)))
    fractions = np.array(
        [
            [np.mean([(stacks[i] == p).mean() for stacks in per_axis]) for p in range(N_PHASES)]
            for i in range(len(keys))
        ]
    )
    two_point = np.stack(
        [real_two_point([stacks[i] for stacks in per_axis], stats_lags) for i in range(len(keys))]
    )
    lineal = np.zeros((len(keys), 0, 3, N_PHASES), np.float32)
    if lineal_lengths:
        lineal = np.stack(
            [real_lineal_path([stacks[i] for stacks in per_axis], lineal_lengths) for i in range(len(keys))]
        )
    return SliceBank(
        tuple(images),
        jnp.asarray(normalise_labels(np.array(keys), label_normalisation), jnp.float32),
        jnp.asarray(fractions, jnp.float32),
        jnp.asarray(two_point),
        jnp.asarray(lineal),
        jnp.asarray(log_tau),
        jnp.asarray(erosion),
        jnp.asarray(euler),
        jnp.asarray(np.concatenate(anchors), jnp.uint8) if anchors else None,
        jnp.asarray(anchor_labels, jnp.int32) if anchors else None,
    )


def random_crops(stack: jax.Array, key: jax.Array, items: jax.Array, size: int) -> jax.Array:
    """Random square crops of random slices.

    Args:
        stack: ``(n, s, h, w, ...)``: ``n`` items of ``s`` slices of ``(h, w, ...)``.
        key: PRNG key.
        items: ``(m,)`` int, which item each crop comes from.
        size: crop edge [voxels], at most ``h`` and ``w``.

    Returns:
        ``(m, size, size, ...)`` crops, each from a uniformly random slice and offset.
    """
    _, n_slices, h, w = stack.shape[:4]
    k_slice, k_y, k_x = jax.random.split(key, 3)
    m = items.shape[0]
    slice_index = jax.random.randint(k_slice, (m,), 0, n_slices)
    oy = jax.random.randint(k_y, (m,), 0, h - size + 1)
    ox = jax.random.randint(k_x, (m,), 0, w - size + 1)
    trailing = stack.shape[4:]

    def crop(item, j, y, x):
        start = (item, j, y, x, *(0,) * len(trailing))
        return jax.lax.dynamic_slice(stack, start, (1, 1, size, size, *trailing))[0, 0]

    return jax.vmap(crop)(items, slice_index, oy, ox)


def volume_slices(volumes: jax.Array, axis: int, key: jax.Array, per_volume: int, size: int) -> jax.Array:
    """``per_volume`` random crops normal to ``axis`` from each volume.

    Args:
        volumes: ``(b, z, y, x, c)`` soft phases.
        axis: the slice-normal volume axis (0, 1 or 2).

    Returns:
        ``(b * per_volume, size, size, c)``, volume-major.
    """
    moved = jnp.transpose(volumes, (0, *(1 + a for a in AXIS_ORDER[axis]), 4))
    items = jnp.repeat(jnp.arange(volumes.shape[0]), per_volume)
    return random_crops(moved, key, items, size)


def real_slices(
    bank: SliceBank, axis: int, key: jax.Array, label_index: jax.Array, per_volume: int, size: int
) -> jax.Array:
    """One-hot real slices ``(b * per_volume, size, size, 3)`` normal to ``axis`` for the labels
    ``bank.labels_unit[label_index]`` (``label_index`` of shape ``(b,)``), label-major."""
    items = jnp.repeat(label_index, per_volume)
    crops = random_crops(bank.images[axis], key, items, size)
    return jax.nn.one_hot(crops, N_PHASES, dtype=jnp.float32)
