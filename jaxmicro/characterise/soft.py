"""A differentiable measurement of soft (probabilistic) 3-phase volumes.

:func:`soft_measure` takes a generator's phase probabilities ``(n, z, y, x, 3)`` and returns the
same :class:`~jaxmicro.characterise.measure.Measurement` as :func:`~jaxmicro.characterise.measure.measure`
does for the argmax volumes, with every field the cell uses differentiable in the
probabilities, so gradients flow from cell performance back to the generator's labels:

* The probabilities are first sharpened, ``softmax(log p / T)`` with ``T = temperature``
  (:func:`sharpen`, as the generator's auxiliary losses use it; ``T -> 0`` is the one-hot argmax,
  ``T = 1`` leaves them). The generator's probabilities are soft at phase boundaries; at ``T = 1``
  the mean probabilities equal the argmax fractions within 0.2 %, but transport through half-pore
  boundary voxels reads too conductive (with a floor of 1e-3: pore tau 8-27 % low, solid
  conductivity 32-70 % high on the narrow-range generator's 48^3 volumes). ``SOFT_TEMPERATURE =
  0.1`` with ``SOFT_FLOOR = 1e-4`` reads, on those volumes at five labels across the trained
  range, pore tau 0.7-4.9 % low (worst at porosity 0.28), solid conductivity 2.5-5.4 % high, areas
  and coverage within 0.2 %; T 0.2 with floor 1e-3 (the training loss's) gave tau 2.5-14 % low and
  conductivity 9-30 % high. The shipped (wide-range) generator at 32^3, corners and centre of its
  range: tau 0.6-5.3 % low, conductivity 3.0-5.8 % high; ``tests/characterise/test_soft.py`` holds
  it to this. A low temperature saturates confident voxels: the derivative then lives on near-tied
  (boundary) voxels, the phase boundaries moving.
* Phase fractions: mean sharpened probabilities.
* Electrolyte and solid transport: the finite-volume solve of
  :func:`~jaxmicro.characterise.tortuosity_from_field` on the per-voxel field ``sum_p p_p D_p``
  (the phases' relative diffusivities or conductivities, at least ``SOFT_FLOOR`` times the
  smallest of them, so that every voxel conducts a little and has a gradient); implicit
  differentiation through the solve.
* Areas and CBD coverage: the AM surface from the smoothed-gradient estimate (TauFactor's
  ``gradient`` method) of the sharpened AM probability, split by the expected face counts of
  :func:`~jaxmicro.characterise.metrics.face_coverage`, as the hard measurement does on the
  indicators.
* Particle radius: not differentiable (a maximum over balls); measured on the argmax volume and
  held constant (``jax.lax.stop_gradient``) when asked for. The design loop's default fixes it
  at the training data's 5 um anyway.
"""

from __future__ import annotations

from functools import partial
from typing import Final

import jax
import jax.numpy as jnp

from jaxmicro.characterise.measure import Measurement, MeasureSettings, _from_parts, _mean_local_thickness
from jaxmicro.characterise.metrics import _smoothed_surface, face_coverage
from jaxmicro.characterise.solver import tortuosity_from_field
from jaxmicro.data.phases import AM, CBD, IN_PLANE_AXES, THROUGH_PLANE_AXIS

SOFT_TEMPERATURE: Final[float] = 0.1
"""Default sharpening temperature of :func:`soft_measure` [-] (see the module docstring)."""

ELECTROLYTE_GRADIENT_TEMPERATURE: Final[float] = 0.01
"""Sharpening temperature of the electrolyte transport when the soft measurement serves a
gradient (:mod:`jaxmicro.design.gradient`) [-]. Measured against common-seed central
differences of the argmax measurement at (0.93, 0.36, 0.5), 64^3 x 8 seeds
(``experiments/property_jacobian_check.py``): d tau / d am_wt read -4.78 +- 0.56 argmax and
-7.3, -9.2, -8.0, -7.0, -5.8 soft at T = 0.2, 0.1, 0.05, 0.02, 0.01, while the other properties'
derivatives agree best near 0.1 and drift at 0.01 (solid conductivity's porosity derivative
+64 %): so the electrolyte alone is sharpened this far."""

SOFT_FLOOR: Final[float] = 1e-4
"""Conductivity of a voxel with none of the conducting phases, relative to the field's smallest
phase value [-]: as in the training's tortuosity loss (``TAU_FLOOR``, 1e-3), it keeps the volume
one conducting cluster, so closing or opening a throat has a gradient; 10x lower than there
because at 1e-3 conduction through the solid alone lowered a low-porosity tau by ~10 %."""


def sharpen(probabilities: jax.Array, temperature: float) -> jax.Array:
    """``softmax(log(p) / T)`` over the last (phase) axis; ``T = 1`` returns ``p``."""
    if temperature == 1.0:
        return probabilities
    return jax.nn.softmax(jnp.log(jnp.maximum(probabilities, 1e-30)) / temperature, axis=-1)


FRACTION_ROUNDS: Final[int] = 8
"""Rounds of :func:`decode_at_fractions`' coordinate updates (each sets the pore, then the CBD
offset exactly); the error falls about 3x a round, and 8 leave the fractions within 3e-4 of
the targets on 64^3 generated volumes (tested)."""


@partial(jax.jit, static_argnames=("rounds",))
def decode_at_fractions(
    probabilities: jax.Array, fractions: jax.Array, rounds: int = FRACTION_ROUNDS
) -> jax.Array:
    """Phase ids of one volume with given phase fractions: the argmax of ``log(p) + b``, with
    one offset ``b`` per phase chosen so that each phase takes its fraction of the voxels.

    The generator learns where each phase goes; its plain argmax does not hit the label's phase
    fractions exactly (a trained model's decoded porosity read 0.01-0.03 high at 5 of 6 held-out
    labels, docs/generator.md), while the simulator's volumes, and the labels' definition,
    do: the simulator itself places AM and CBD by rank. Thresholding a generated field at the
    target fraction is how SliceGAN volumes are often matched to a measured volume fraction;
    here it is the three-phase form: the AM offset is held at 0 and the pore and CBD offsets
    are set in turn to the quantile of their margins (``max_q (log p_q + b_q) - log p_phase``
    over the other phases) that gives the phase its fraction.

    Args:
        probabilities: ``(z, y, x, 3)`` phase probabilities (pore, AM, CBD).
        fractions: ``(3,)`` target volume fractions, summing to 1.
        rounds: coordinate-update rounds (static).

    Returns:
        ``(z, y, x)`` int32 phase ids.
    """
    logs = jnp.log(jnp.maximum(probabilities, 1e-30))
    offsets = fraction_offsets(probabilities, fractions, rounds)
    return jnp.argmax(logs + offsets, axis=-1)


def fraction_offsets(
    probabilities: jax.Array, fractions: jax.Array, rounds: int = FRACTION_ROUNDS
) -> jax.Array:
    """The log-probability offsets of :func:`decode_at_fractions` (no gradient).

    Args:
        probabilities: ``(z, y, x, 3)`` phase probabilities (pore, AM, CBD).
        fractions: ``(3,)`` target volume fractions, summing to 1.
        rounds: coordinate-update rounds (static).

    Returns:
        ``(3,)`` offsets ``b`` (AM's 0): ``argmax(log p + b)`` gives each phase its fraction.
    """
    logs = jax.lax.stop_gradient(jnp.log(jnp.maximum(probabilities, 1e-30)).reshape(-1, 3))
    offsets = jnp.zeros(3, logs.dtype)
    for _ in range(rounds):
        for phase in (0, 2):  # pore, CBD; AM fixes the gauge
            others = jnp.max(jnp.where(jnp.arange(3) == phase, -jnp.inf, logs + offsets), axis=1)
            margin = others - logs[:, phase]  # a voxel is this phase iff margin < offset
            offsets = offsets.at[phase].set(jnp.quantile(margin, fractions[phase]))
    return offsets


def shift_to_fractions(probabilities: jax.Array, fractions: jax.Array) -> jax.Array:
    """Probabilities whose argmax is :func:`decode_at_fractions`: ``softmax(log p + b)``.

    The soft counterpart of decoding at the fractions, for a differentiable measurement of a
    generator that decodes so (``GeneratorConfig.decoding == "fractions"``). The offsets ``b``
    carry no gradient, so the gradient is the network's own at fixed offsets.

    Args:
        probabilities: ``(z, y, x, 3)`` phase probabilities.
        fractions: ``(3,)`` target volume fractions.

    Returns:
        ``(z, y, x, 3)`` shifted probabilities (summing to 1).
    """
    logs = jnp.log(jnp.maximum(probabilities, 1e-30))
    return jax.nn.softmax(logs + fraction_offsets(probabilities, fractions), axis=-1)


def straight_through(
    probabilities: jax.Array, temperature: float, fractions: jax.Array | None = None
) -> jax.Array:
    """One-hot decoded phases forward; the gradient of :func:`sharpen` at ``temperature`` backward.

    The straight-through estimator (Bengio, Leonard & Courville 2013, arXiv:1308.3432): a loss
    sees the decoded phases exactly, and its gradient reaches the probabilities through a soft
    surrogate (``T > 1`` softens it, so a confidently absent phase still gets a gradient).

    Args:
        probabilities: ``(..., n_phases)`` phase probabilities; with ``fractions``, a batch of
            volumes ``(b, z, y, x, 3)``.
        temperature: ``T > 0`` of the backward surrogate ``softmax(log(p) / T)``.
        fractions: ``None``: decode by the argmax; ``(b, 3)``: each volume at these phase
            fractions (:func:`decode_at_fractions`).

    Returns:
        ``(..., n_phases)`` one-hot float array carrying the surrogate's gradient.
    """
    soft = sharpen(probabilities, temperature)
    if fractions is None:
        phases = jnp.argmax(probabilities, axis=-1)
    else:
        phases = jax.vmap(decode_at_fractions)(jax.lax.stop_gradient(probabilities), fractions)
    hard = jax.nn.one_hot(phases, probabilities.shape[-1], dtype=soft.dtype)
    return soft + jax.lax.stop_gradient(hard - soft)


def _field_d_rel(p: jax.Array, values: dict[int, float], axis: int, conv_crit: float) -> jax.Array:
    """Effective diffusivity (relative) along ``axis`` of the field ``sum_p p_p values[p]``."""
    field = sum(p[..., phase] * value for phase, value in values.items())
    field = jnp.maximum(field, SOFT_FLOOR * min(values.values()))
    result = tortuosity_from_field(field, axis, conv_crit=conv_crit)
    return result.D_rel


@partial(jax.jit, static_argnames=("settings", "temperature", "electrolyte_temperature"))
def soft_measure(
    probabilities: jax.Array,
    settings: MeasureSettings,
    temperature: float = SOFT_TEMPERATURE,
    electrolyte_temperature: float | None = None,
) -> Measurement:
    """Measures soft volumes differentiably (see the module docstring).

    Args:
        probabilities: ``(n, z, y, x, 3)`` float32 probabilities of (pore, AM, CBD), axis 1
            through-plane, summing to 1 over the last axis.
        settings: as for :func:`~jaxmicro.characterise.measure.measure` (static).
        temperature: sharpening temperature in (0, 1] (static).
        electrolyte_temperature: the electrolyte transport's own temperature in (0, 1]
            (static; None: ``temperature``). See :data:`ELECTROLYTE_GRADIENT_TEMPERATURE`.

    Returns:
        :class:`Measurement` with a leading ``(n,)`` axis. ``percolates`` is always True (the
        floor conducts); a blocked electrolyte reads a tortuosity of order ``1 / SOFT_FLOOR``.
    """
    electrolyte_temperature = temperature if electrolyte_temperature is None else electrolyte_temperature
    for name, value in (("temperature", temperature), ("electrolyte_temperature", electrolyte_temperature)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    p = sharpen(probabilities.astype(jnp.float32), temperature)
    p_e = p if electrolyte_temperature == temperature else sharpen(probabilities, electrolyte_temperature)
    spacing = (settings.voxel_size_m,) * 3
    fractions = jnp.mean(p, axis=(1, 2, 3))
    electrolyte_values = dict(settings.electrolyte_diffusivities)
    d_rel = _field_d_rel(p_e, electrolyte_values, THROUGH_PLANE_AXIS, settings.conv_crit)
    nan = jnp.full_like(d_rel, jnp.nan)
    in_plane = nan
    if settings.in_plane:
        in_plane = 0.5 * sum(
            _field_d_rel(p_e, electrolyte_values, axis, settings.conv_crit) for axis in IN_PLANE_AXES
        )
    solid = nan
    if settings.solid_conductivity:
        ratio = settings.am_conductivity_s_m / settings.cbd_conductivity_s_m
        solid = _field_d_rel(p, {AM: ratio, CBD: 1.0}, THROUGH_PLANE_AXIS, settings.conv_crit)
    radius = nan
    if settings.particle_radius:
        hard = jnp.argmax(probabilities, axis=-1)
        radius = jax.lax.stop_gradient(_mean_local_thickness(hard, settings))
    am_surface = jax.vmap(lambda v: _smoothed_surface(v[..., AM], spacing))(p)
    # Every voxel conducts (the floor): the electrolyte always percolates.
    percolates = jnp.ones_like(d_rel, dtype=bool)
    fields = (fractions, jax.vmap(face_coverage)(p), am_surface)
    return _from_parts(fields, settings, d_rel, percolates, in_plane, solid, radius)
