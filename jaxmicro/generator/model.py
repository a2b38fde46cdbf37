"""The conditional SliceGAN networks (Flax linen) and their pure apply functions.

* :class:`Generator3D`: latent noise volume + labels -> phase logits of a 3-D volume. Every
  stage is ``concat label channels -> 3x3x3 conv (circular padding) to 8 x width channels ->
  depth-to-space x2`` (a sub-pixel convolution: a stride-2 transposed convolution computed at
  the coarse resolution, about 6x faster than upsample-then-convolve or ``ConvTranspose`` on
  CPU; ICNR initialisation starts it as nearest-neighbour upsampling, which avoids checkerboard
  artefacts). The label channels are constant, so their part of each convolution is one
  matrix product per volume added to the bias (:class:`LabelledConv`); the convolution proper
  sees the feature channels only. Hidden stages are normalised per volume and channel
  (instance norm) and then scaled and shifted by a learnt affine function of the labels
  (FiLM). The generator is translation-equivariant on a torus: the output edge is the latent
  edge times ``upsample_factor``, and the output is periodic on all faces (a non-periodic
  volume is a crop of it, which the last stage can compute alone).
* With ``config.particles_per_cell``, the AM is not the network's: it is drawn as explicit
  relaxed particles whose law (size, count, flattening) is a learnt function of the labels
  (:mod:`jaxmicro.generator.particles`); every stage after the first sees their distance field
  and the last stage's AM logit is that field, so the convolutions place the pore and the CBD
  (with ``config.cbd_films``, helped by a learnt film-and-neck term on the CBD logit).
* :class:`SliceCritic`: a 2-D slice (one-hot or soft phases) + labels -> a WGAN score. There is
  one critic per volume axis (calendered electrodes are anisotropic).

Labels enter both networks as constant channels: each unit label ``l`` (see
:func:`jaxmicro.data.normalise_labels`) as the two channels ``l`` and ``1 - l``.
"""

from __future__ import annotations

import itertools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxmicro.data.phases import AM, CBD, N_PHASES
from jaxmicro.generator import particles as particle_model
from jaxmicro.generator.config import GeneratorConfig

Params = Any

NOISE_GAIN = 10.0
"""Run-time multiplier of the learnt noise scales (an equalised learning rate, Karras et al.
2018, arXiv:1710.10196): Adam moves a parameter by about the learning rate per step whatever
its size, so at 1e-4 a scale starting at 0 would need ~10^4 steps to reach the unit size of
the normalised activations; with the gain it needs ~10^3."""

PARTICLE_EDGE_VOXELS = 0.5
"""Width [output voxels] over which the AM logit of drawn particles changes by 1: a sharp edge
(a voxel is AM to probability 0.88 one voxel inside a particle's surface)."""

PARTICLE_INPUT_SCALE_VOXELS = 4.0
"""The stages see ``tanh(distance / 4 voxels)`` of the drawn particles: the surface region,
where films and necks of CBD form, at full resolution, the far field clipped."""


INITIAL_NECK_WEIGHT = 0.5
"""Weight of the gap to the second-nearest particle in the CBD film score
(``GeneratorConfig.cbd_films``) before training: the simulator's ``neck_weight``
(:class:`~jaxmicro.data.simulator.SimulatorConfig`). Training moves it."""


def label_pair(labels_unit: jax.Array) -> jax.Array:
    """Unit labels ``(n, 3)`` -> the pair encoding ``(n, 6)``: ``l`` and ``1 - l`` per label."""
    return jnp.concatenate([labels_unit, 1.0 - labels_unit], axis=-1)


def label_channels(labels_unit: jax.Array, spatial_shape: tuple[int, ...]) -> jax.Array:
    """Broadcasts unit labels ``(n, 3)`` to constant channels ``(n, *spatial_shape, 6)``."""
    pair = label_pair(labels_unit)
    pair = pair.reshape(pair.shape[0], *(1,) * len(spatial_shape), pair.shape[-1])
    return jnp.broadcast_to(pair, (pair.shape[0], *spatial_shape, pair.shape[-1]))


def depth_to_space(x: jax.Array) -> jax.Array:
    """``(n, a, b, c, 8 * k)`` -> ``(n, 2a, 2b, 2c, k)``: channel block ``(i, j, l)`` fills the
    sub-voxel ``(i, j, l)`` of each 2x2x2 output block."""
    n, a, b, c, channels = x.shape
    k = channels // 8
    x = x.reshape(n, a, b, c, 2, 2, 2, k).transpose(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(n, 2 * a, 2 * b, 2 * c, k)


def _icnr():
    """ICNR init: the 8 sub-voxel filters start equal, so depth-to-space starts as nearest
    upsampling."""

    base = nn.initializers.lecun_normal()

    def init(key, shape, dtype=jnp.float32):
        kernel = base(key, (*shape[:-1], shape[-1] // 8), dtype)
        return jnp.tile(kernel[..., None, :], (1,) * (len(shape) - 1) + (8, 1)).reshape(shape)

    return init


class LabelledConv(nn.Module):
    """3x3x3 circular convolution of ``concat([x, label channels])`` to ``features`` channels.

    The label channels (:func:`label_channels`) are constant over the volume, and circular
    padding keeps them so at the faces, so their contribution is the same at every voxel: the
    label rows of the kernel, summed over the 27 taps, times the labels. Computing that once per
    volume and convolving the feature channels alone gives the same result (to float32
    rounding) as the convolution of the concatenation, with the same parameters (``kernel``
    ``(3, 3, 3, c + 6, features)``, feature rows first, then ``bias``). It is faster on CPU (fewer
    input channels, and channel counts that are multiples of 8; measured in
    ``docs/generator.md``, "Timings").
    """

    features: int
    # "icnr" (a sub-pixel upsampling stage), "lecun" (a plain convolution) or "zeros" (the last
    # convolution of a residual branch, which then starts as the identity).
    kernel_init: str = "icnr"

    @nn.compact
    def __call__(self, x: jax.Array, labels_unit: jax.Array, with_halo: bool = False) -> jax.Array:
        """``(n, a, b, c, k)`` features + ``(n, 3)`` unit labels -> ``(n, a, b, c, features)``.

        With ``with_halo``, ``x`` already holds a one-voxel halo on every side (see
        :func:`periodic_window`) and the output is 2 voxels shorter along each axis.
        """
        pair = label_pair(labels_unit)
        n_features = x.shape[-1]
        init = {"icnr": _icnr, "lecun": nn.initializers.lecun_normal, "zeros": nn.initializers.zeros_init}
        init = init[self.kernel_init]()
        kernel = self.param("kernel", init, (3, 3, 3, n_features + pair.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        padded = x if with_halo else jnp.pad(x, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)), mode="wrap")
        y = jax.lax.conv_general_dilated(
            padded, kernel[..., :n_features, :], (1, 1, 1), "VALID",
            dimension_numbers=("NDHWC", "DHWIO", "NDHWC"),
        )
        constant = bias + pair @ jnp.sum(kernel[..., n_features:, :], axis=(0, 1, 2))
        return y + constant[:, None, None, None, :]


def periodic_window(x: jax.Array, sizes: tuple[int, ...]) -> jax.Array:
    """The first ``sizes`` voxels of a periodic ``(n, a, b, c, k)`` volume with a one-voxel halo
    on every side (taken across the periodic faces): ``(n, sizes[0] + 2, ..., k)``."""
    for axis, size in enumerate(sizes, start=1):
        x = jnp.take(x, jnp.arange(-1, size + 1) % x.shape[axis], axis=axis)
    return x


class Generator3D(nn.Module):
    """Latent ``(n, lz, ly, lx, c)`` + unit labels ``(n, 3)`` -> logits ``(n, f*lz, f*ly, f*lx, 3)``,
    or only their first ``output_shape`` voxels (even sizes)."""

    config: GeneratorConfig

    @nn.compact
    def __call__(
        self, z: jax.Array, labels_unit: jax.Array, output_shape: tuple[int, int, int] | None = None
    ) -> jax.Array:
        x, noise, seeds, points = _split_latent(z, self.config)
        drawn = None if points is None else self._particles(points, labels_unit)
        widths = (*self.config.channels, N_PHASES)
        for index, width in enumerate(widths):
            if index > 0 and seeds is not None:
                x = jnp.concatenate([x, seed_fields(seeds, 2**index)], axis=-1)
            if index > 0 and drawn is not None:
                x = jnp.concatenate([x, self._particle_channel(drawn, 2**index)], axis=-1)
            conv = LabelledConv(8 * width, name=f"conv{index}")
            if index == len(widths) - 1 and output_shape is not None:
                # Nothing normalises the last stage over the volume, so it can compute just the
                # coarse voxels behind the requested output: the same values, and for a crop of
                # 128^3 from 144^3, 27 % less time for the whole network.
                window = periodic_window(x, tuple(n // 2 for n in output_shape))
                x = depth_to_space(conv(window, labels_unit, with_halo=True))
            else:
                x = depth_to_space(conv(x, labels_unit))
            if index < len(widths) - 1:
                if self.config.norm == "film":
                    x = _film(x, labels_unit, width, f"film{index}")
                if noise:
                    scale = self.param(f"noise{index}", nn.initializers.zeros_init(), (width,))
                    x = x + noise[index] * (NOISE_GAIN * scale)
                x = nn.leaky_relu(x, 0.2)
                for block in range(self.config.blocks_after(index)):
                    name = f"res{index}_{block}"
                    h = LabelledConv(width, kernel_init="lecun", name=f"{name}a")(x, labels_unit)
                    h = nn.leaky_relu(h, 0.2)
                    x = x + LabelledConv(width, kernel_init="zeros", name=f"{name}b")(h, labels_unit)
        if drawn is not None:
            x = self._with_particle_logit(x, drawn, labels_unit)
        return x

    def _particles(self, points: jax.Array, labels_unit: jax.Array):
        """The drawn particles: relaxed positions, radii and flattening (:mod:`particles`)."""
        law = nn.Dense(len(particle_model.LAW_FIELDS), kernel_init=nn.initializers.zeros_init(),
                       name="particle_law")(label_pair(labels_unit))
        law = jnp.asarray(particle_model.INITIAL_LAW) + particle_model.LAW_GAIN * law
        positions, radius_marks, keep_marks = particle_model.split_points(jax.lax.stop_gradient(points))
        radii, log_flattening = particle_model.particle_law(law, radius_marks, keep_marks)
        return particle_model.relax(positions, radii, log_flattening), radii, log_flattening

    def _particle_channel(self, drawn, per_voxel: int) -> jax.Array:
        """The particles' distance field at a stage's input, in output voxels, softly clipped."""
        distance = particle_model.particle_distance(*drawn, per_voxel)
        return jnp.tanh(distance * self.config.upsample_factor / PARTICLE_INPUT_SCALE_VOXELS)

    def _with_particle_logit(self, logits: jax.Array, drawn, labels_unit: jax.Array) -> jax.Array:
        """The AM logit is the particles' distance field [output voxels] over
        :data:`PARTICLE_EDGE_VOXELS` (negative outside); inside a particle the other phases'
        logits fall at the same rate, so the convolutions place pore and CBD around the
        particles, not in them. With ``config.cbd_films`` the CBD logit also falls by
        ``rate * (g1 + w * g2)`` with the gaps ``g1``, ``g2`` [output voxels] to the nearest and
        second-nearest particle outside them: films on the surfaces and thicker ones in the
        necks, at a learnt label-dependent rate (0 before training) and neck weight ``w``."""
        factor = self.config.upsample_factor
        crop = tuple(-(-n // factor) for n in logits.shape[1:4])  # latent voxels behind the output
        nearest = 2 if self.config.cbd_films else 1
        gaps = particle_model.particle_distance(*drawn, factor, latent_shape=crop, nearest=nearest)
        gaps = gaps[:, : logits.shape[1], : logits.shape[2], : logits.shape[3]] * factor
        distance = gaps[..., :1] / PARTICLE_EDGE_VOXELS
        others = logits + jnp.minimum(distance, 0.0)
        if self.config.cbd_films:
            film = nn.Dense(2, kernel_init=nn.initializers.zeros_init(), name="cbd_film_law")(
                label_pair(labels_unit)
            ) * particle_model.LAW_GAIN
            rate, neck = film[:, 0], INITIAL_NECK_WEIGHT + film[:, 1]
            outside = jnp.maximum(gaps, 0.0)
            score = outside[..., 0] + neck[:, None, None, None] * outside[..., 1]
            others = others.at[..., CBD].add(-rate[:, None, None, None] * score)
        return jnp.concatenate([others[..., :AM], -distance, others[..., AM + 1 :]], axis=-1)


def _split_latent(
    z: jax.Array, config: GeneratorConfig
) -> tuple[jax.Array, list[jax.Array], jax.Array | None, jax.Array | None]:
    """The latent ``(n, lz, ly, lx, latent_input_channels)`` -> the coarse latent ``(n, lz, ly,
    lx, latent_channels)``, one single-channel noise field per hidden stage, at that stage's
    output resolution (``(n, 2**(i+1) lz, ..., 1)``, its channels moved to space), the seed
    channels ``(n, lz, ly, lx, 4 * seeds_per_cell)`` and the particle channels ``(n, lz, ly,
    lx, 5 * particles_per_cell)`` (``None`` without them)."""
    x = z[..., : config.latent_channels]
    fields, start = [], config.latent_channels
    for stage, width in enumerate(config.noise_channels):
        field = z[..., start : start + width]
        for _ in range(stage + 1):
            field = depth_to_space(field)
        fields.append(field)
        start += width
    end = start + 4 * config.seeds_per_cell
    seeds = z[..., start:end] if config.seeds_per_cell else None
    points = z[..., end:] if config.particles_per_cell else None
    return x, fields, seeds, points


def seed_fields(seed_latent: jax.Array, per_voxel: int) -> jax.Array:
    """The seed points' fields at ``per_voxel`` voxels per latent voxel along each axis.

    Each latent voxel holds ``k = seed_latent.shape[-1] // 4`` points: channels ``3i..3i+2`` are
    point ``i``'s coordinates in the voxel (standard normal, mapped to uniform on ``[0, 1)``
    by the normal CDF), channels ``3k + i`` its mark. The nearest point to any position lies in
    its own latent voxel or one of the 26 around it (periodic), which bounds the search.

    Args:
        seed_latent: ``(n, lz, ly, lx, 4k)`` standard-normal seed channels.
        per_voxel: output voxels per latent voxel along each axis.

    Returns:
        ``(n, lz * per_voxel, ly * per_voxel, lx * per_voxel, 2)``: the distance from each voxel
        centre to the nearest point [latent voxels] and that point's mark.
    """
    n, a, b, c, channels = seed_latent.shape
    k = channels // 4
    seed_latent = jax.lax.stop_gradient(seed_latent)
    position = jax.scipy.stats.norm.cdf(seed_latent[..., : 3 * k]).reshape(n, a, b, c, 1, 1, 1, k, 3)
    mark = seed_latent[..., 3 * k :].reshape(n, a, b, c, 1, 1, 1, k)
    centre = (jnp.arange(per_voxel, dtype=position.dtype) + 0.5) / per_voxel
    axes = [centre.reshape(shape) for shape in ((-1, 1, 1, 1), (1, -1, 1, 1), (1, 1, -1, 1))]
    # A running minimum over the 27 neighbouring latent voxels: memory of one voxel's points at
    # a time, not of all 27 (a 512^3 volume's fields stay a few GB).
    best = jnp.full((n, a, b, c, per_voxel, per_voxel, per_voxel), jnp.inf, position.dtype)
    best_mark = jnp.zeros_like(best)
    for offset in itertools.product((-1, 0, 1), repeat=3):
        shift = tuple(-o for o in offset)
        points = jnp.roll(position, shift, axis=(1, 2, 3))  # the neighbour's points, its frame
        squared = sum((axes[i] - (points[..., i] + offset[i])) ** 2 for i in range(3))
        nearest = jnp.argmin(squared, axis=-1)[..., None]
        marks = jnp.broadcast_to(jnp.roll(mark, shift, axis=(1, 2, 3)), squared.shape)
        closest = jnp.take_along_axis(squared, nearest, axis=-1)[..., 0]
        closer = closest < best
        best = jnp.where(closer, closest, best)
        best_mark = jnp.where(closer, jnp.take_along_axis(marks, nearest, axis=-1)[..., 0], best_mark)
    fields = jnp.stack([jnp.sqrt(best), best_mark], axis=-1)  # (n, a, b, c, p, p, p, 2)
    fields = fields.transpose(0, 1, 4, 2, 5, 3, 6, 7)
    return fields.reshape(n, a * per_voxel, b * per_voxel, c * per_voxel, 2)


def _film(x: jax.Array, labels_unit: jax.Array, width: int, name: str) -> jax.Array:
    """Label-conditioned instance norm: normalise each channel over the volume, then scale and
    shift it by an affine function of the labels (FiLM / conditional instance norm)."""
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    var = jnp.var(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * jax.lax.rsqrt(var + 1e-5)
    pair = label_pair(labels_unit)
    affine = nn.Dense(2 * width, kernel_init=nn.initializers.zeros, name=name)(pair)
    scale, shift = jnp.split(affine[:, None, None, None, :], 2, axis=-1)
    return x * (1.0 + scale) + shift


class SliceCritic(nn.Module):
    """Slices ``(m, h, w, 3)`` + unit labels ``(m, 3)`` -> WGAN scores ``(m,)``."""

    channels: tuple[int, ...]

    @nn.compact
    def __call__(self, images: jax.Array, labels_unit: jax.Array) -> jax.Array:
        x = images
        for index, width in enumerate(self.channels):
            x = jnp.concatenate([x, label_channels(labels_unit, x.shape[1:-1])], axis=-1)
            x = nn.Conv(width, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)), name=f"conv{index}")(x)
            x = nn.leaky_relu(x, 0.2)
        x = nn.Conv(1, (3, 3), padding="SAME", name="score")(x)
        return jnp.mean(x, axis=(1, 2, 3))


def add_seed_inputs(params: Params, config: GeneratorConfig) -> Params:
    """The parameters of a generator without seed points (``config.seeds_per_cell == 0``)
    widened to take them: zero kernel rows for the two seed-field channels of every stage after
    the first, so the network computes what it did (and learns to use them in training)."""
    layers = dict(params["params"])
    for index, width in enumerate(config.channels, start=1):
        conv = dict(layers[f"conv{index}"])
        kernel = conv["kernel"]  # rows: the previous stage's `width` features, then the labels
        rows = jnp.zeros((*kernel.shape[:3], 2, kernel.shape[4]), kernel.dtype)
        conv["kernel"] = jnp.concatenate([kernel[:, :, :, :width], rows, kernel[:, :, :, width:]], axis=3)
        layers[f"conv{index}"] = conv
    return {"params": layers}


def widen_generator(params: Params, config: GeneratorConfig, fresh: Params) -> Params:
    """A trained generator's parameters embedded in the fresh parameters of a wider one.

    The wider network (``fresh``, e.g. :func:`init_generator` of ``config`` with larger
    ``channels``) keeps the trained weights for the old channels; each new channel keeps its
    fresh filters (ICNR-tied, so it starts as nearest upsampling) and FiLM (identity) and noise
    scale (0); every kernel row that reads a new channel is 0. So at step 0 the wider network
    computes what the trained one did, and training lets the new channels in (Net2Net-style
    growth, Chen et al. 2016, arXiv:1511.05641, with zero outgoing weights instead of split ones).

    Args:
        params: the trained generator's parameters (``config``).
        config: its configuration: plain stages (no residual blocks, seed points or particles).
        fresh: the wider generator's initial parameters: the same stages, each at least as wide.

    Returns:
        Parameters shaped like ``fresh``.

    Raises:
        ValueError: a configuration with residual blocks, seed points or particles, or a
            ``fresh`` that is narrower or has other stages.
    """
    if config.residual_blocks or config.seeds_per_cell or config.particles_per_cell:
        raise ValueError("widening supports plain stages only: no residual blocks, seed points or particles")
    old, new = params["params"], dict(fresh["params"])
    widths = (*config.channels, N_PHASES)
    wider = tuple(new[f"conv{i}"]["bias"].shape[0] // 8 for i in range(len(widths)))
    if len(wider) != len(widths) or any(w < o for w, o in zip(wider, widths, strict=True)):
        raise ValueError(f"cannot widen stages {widths} to {wider}: give each stage at least its width")
    inputs_old, inputs_new = config.latent_channels, config.latent_channels
    for index, (w_old, w_new) in enumerate(zip(widths, wider, strict=True)):
        conv = old[f"conv{index}"]
        kernel = new[f"conv{index}"]["kernel"].reshape(3, 3, 3, -1, 8, w_new)
        trained = conv["kernel"].reshape(3, 3, 3, -1, 8, w_old)
        kernel = kernel.at[:, :, :, :, :, :w_old].set(0.0)
        kernel = kernel.at[:, :, :, :inputs_old, :, :w_old].set(trained[:, :, :, :inputs_old])
        kernel = kernel.at[:, :, :, inputs_new:, :, :w_old].set(trained[:, :, :, inputs_old:])  # labels
        bias = new[f"conv{index}"]["bias"].reshape(8, w_new).at[:, :w_old].set(conv["bias"].reshape(8, w_old))
        new[f"conv{index}"] = {"kernel": kernel.reshape(3, 3, 3, -1, 8 * w_new), "bias": bias.reshape(-1)}
        if f"film{index}" in old:
            film = dict(new[f"film{index}"])
            for name in ("kernel", "bias"):  # [scale | shift], each `width` wide
                value = old[f"film{index}"][name]
                film[name] = film[name].at[..., :w_old].set(value[..., :w_old])
                film[name] = film[name].at[..., w_new : w_new + w_old].set(value[..., w_old:])
            new[f"film{index}"] = film
        if f"noise{index}" in old:
            new[f"noise{index}"] = new[f"noise{index}"].at[:w_old].set(old[f"noise{index}"])
        inputs_old, inputs_new = w_old, w_new
    return {"params": new}


def init_generator(config: GeneratorConfig, key: jax.Array) -> Params:
    """Initial generator parameters (independent of the latent size)."""
    z = jnp.zeros((1, 1, 1, 1, config.latent_input_channels), jnp.float32)
    return Generator3D(config).init(key, z, jnp.zeros((1, 3), jnp.float32))


def generator_logits(
    params: Params,
    config: GeneratorConfig,
    z: jax.Array,
    labels_unit: jax.Array,
    output_shape: tuple[int, int, int] | None = None,
) -> jax.Array:
    """Pure generator: latent ``(n, lz, ly, lx, c)`` and unit labels ``(n, 3)`` -> logits
    ``(n, f*lz, f*ly, f*lx, 3)``, ``f = config.upsample_factor``; with ``output_shape`` (even
    sizes, at most the full output), only its first ``output_shape`` voxels, computed without
    the rest of the last stage."""
    return Generator3D(config).apply(params, z, labels_unit, output_shape)


def generator_apply(
    params: Params,
    config: GeneratorConfig,
    z: jax.Array,
    labels_unit: jax.Array,
    output_shape: tuple[int, int, int] | None = None,
) -> jax.Array:
    """Pure generator: as :func:`generator_logits`, softmaxed over the 3 phases (pore, AM, CBD)."""
    return jax.nn.softmax(generator_logits(params, config, z, labels_unit, output_shape), axis=-1)


def init_critics(channels: tuple[int, ...], slice_size: int, key: jax.Array) -> tuple[Params, Params, Params]:
    """Parameters of the three critics, one per volume axis (slices normal to z, y, x)."""
    images = jnp.zeros((1, slice_size, slice_size, N_PHASES), jnp.float32)
    critic = SliceCritic(channels)
    return tuple(critic.init(k, images, jnp.zeros((1, 3))) for k in jax.random.split(key, 3))


def critic_apply(
    params: Params, channels: tuple[int, ...], images: jax.Array, labels_unit: jax.Array
) -> jax.Array:
    """Pure critic: slices ``(m, h, w, 3)`` and unit labels ``(m, 3)`` -> scores ``(m,)``."""
    return SliceCritic(channels).apply(params, images, labels_unit)


def count_parameters(params: Params) -> int:
    return sum(int(leaf.size) for leaf in jax.tree_util.tree_leaves(params))
