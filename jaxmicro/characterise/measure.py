"""One measurement of a 3-phase cathode volume: every property the cell model and the design
loop use, under one unit-bearing name each.

:func:`measure` (jittable, batched) returns a :class:`Measurement`; :func:`average_over_seeds`
reduces a seed axis (transport averaged as a conductance) and :func:`seed_standard_error` gives
the standard error of each property over that axis. What is measured, and why:

* **Electrolyte transport** (``electrolyte_*``): the pore phase, and with a nano-porous CBD
  (``cbd_nanoporosity > 0``) also the CBD as a second, slower conducting phase of relative
  diffusivity ``eps_np ** cbd_bruggeman`` (a Bruggeman estimate inside the CBD; the CBD's
  internal pores then count as electrolyte volume too). The tortuosity factor the cell model
  takes is ``tau = eps_e / D_rel``, with ``eps_e`` the electrolyte volume fraction and ``D_rel``
  the solved through-plane effective diffusivity relative to the bulk electrolyte.
* **Solid electronic conductivity** (``solid_conductivity_s_m``): through-plane effective
  conductivity of AM + CBD (pore non-conducting) from the same finite-volume solver, with the
  phase conductivities of :class:`MeasureSettings` (defaults and their sources there).
* **Areas**: the whole AM surface from the smoothed-gradient estimate
  (``microstructure_metrics``'s ``specific_surface_area_smooth``, TauFactor's
  ``method="gradient"``), split between pore and CBD in the face-counting proportions
  (``cbd_coverage``, the AM-CBD share of the AM voxel faces). Face counting reads a voxelised
  sphere's area about 1.5x too high (3 eps / a gives R = 6.68 for a sphere of radius 10 voxels),
  the smoothed estimate within 3 % for radii of 6.7 voxels or more (10.03 at radius 10, 6.88 at
  6.7; ``test_measure.py``); the staircase bias is the same for both pairs of the AM surface, so
  their face-count ratio carries none. The smoothed estimate of the pairs themselves (``(S_p +
  S_q - S_r) / 2``) does: it blurs a thin CBD film's two faces together, so a sphere half under a
  1.5-voxel film reads a coverage of 0.26, not 0.5 (0.40 under 2.5 voxels), and on the
  simulator's high-adhesion volumes it read 0.57 where the faces read 0.81, the electrolyte-facing
  area 2.3x too high (``docs/cell.md``). ``am_electrolyte_area_per_volume_m`` is the AM surface
  touching pore (it already excludes the AM surface under CBD).
* **Particle radius** two ways. ``particle_radius_m``: the volume-weighted mean local thickness
  of the AM (:func:`~jaxmicro.characterise.morphology.local_thickness`: the radius of the largest
  ball inside the AM that covers each voxel), which a contact between particles barely changes
  and which is a sphere's radius for a sphere. ``equivalent_particle_radius_m``: ``3 eps_AM /
  a_AM`` over the whole AM surface (pore- and CBD-facing), the radius of spheres with the same
  volume-to-surface ratio; AM-AM contacts hide surface, so in a calendered packing it exceeds
  the particles' own radius. On simulator volumes of 5 um particles (flattened by calendering)
  the first reads 4.9-5.3 um and the second 6.3-9.3 um across the label range (``docs/cell.md``).
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxmicro.characterise.metrics import _safe_ratio, microstructure_metrics
from jaxmicro.characterise.morphology import local_thickness
from jaxmicro.characterise.solver import tortuosity
from jaxmicro.data.phases import AM, CBD, IN_PLANE_AXES, PORE, THROUGH_PLANE_AXIS

NMC811_CONDUCTIVITY_S_M: float = 0.18
"""Electronic conductivity of NMC811 [S/m]: the positive-electrode value of Chen et al.,
J. Electrochem. Soc. 167 (2020) 080534 (PyBaMM's ``Chen2020`` set), the base set of the cell
model, used there with a solid transport efficiency of 1."""

CBD_CONDUCTIVITY_S_M: float = 10.0
"""Electronic conductivity of the carbon-binder domain [S/m]. Carbon-black/PVDF composites span
about 1 to 100 S/m with their carbon content and nano-porosity (the CBD is 1-2 orders of
magnitude above the electrolyte's ~1 S/m, which is why a few wt% suffice; Hein et al., Energies
15 (2022) 7821, review the measurements); 10 S/m is the middle of that range. It matters only
where the CBD network carries current that the AM network cannot (``docs/cell.md`` gives the
objective at 1, 10 and 100 S/m)."""


@dataclasses.dataclass(frozen=True)
class MeasureSettings:
    """How volumes are measured (hashable: a static argument of jitted code).

    Attributes:
        voxel_size_m: voxel edge [m].
        conv_crit: flux-spread criterion of the transport solves [-].
        in_plane: also solve the in-plane electrolyte tortuosity (mean of axes 1 and 2).
        solid_conductivity: solve the solid's through-plane electronic conductivity.
        am_conductivity_s_m: electronic conductivity of the AM [S/m], > 0.
        cbd_conductivity_s_m: electronic conductivity of the CBD [S/m], > 0.
        cbd_nanoporosity: electrolyte-filled volume fraction inside the CBD [-], in [0, 1);
            0 (default) treats the CBD as dense, the assumption of the simulator's
            ``am_wt``-to-volume-fraction mapping.
        cbd_bruggeman: exponent of the CBD's internal electrolyte diffusivity
            ``cbd_nanoporosity ** cbd_bruggeman`` [-] (1.5: Bruggeman).
        particle_radius: measure the AM's local-thickness radius (``particle_radius_m``).
        max_particle_radius_m: the largest local-thickness radius looked for [m] (thicker
            particles read this value; capped at half the box and at 100 voxels).
    """

    voxel_size_m: float
    conv_crit: float = 1e-3
    in_plane: bool = False
    solid_conductivity: bool = True
    am_conductivity_s_m: float = NMC811_CONDUCTIVITY_S_M
    cbd_conductivity_s_m: float = CBD_CONDUCTIVITY_S_M
    cbd_nanoporosity: float = 0.0
    cbd_bruggeman: float = 1.5
    particle_radius: bool = True
    max_particle_radius_m: float = 20e-6

    def __post_init__(self) -> None:
        for name in ("voxel_size_m", "am_conductivity_s_m", "cbd_conductivity_s_m", "max_particle_radius_m"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"MeasureSettings.{name} must be a positive finite number, got {value!r}")
        if not (isinstance(self.conv_crit, int | float) and 0 < self.conv_crit < 1):
            raise ValueError(f"MeasureSettings.conv_crit must be in (0, 1), got {self.conv_crit!r}")
        if not (isinstance(self.cbd_nanoporosity, int | float) and 0 <= self.cbd_nanoporosity < 1):
            raise ValueError(
                f"MeasureSettings.cbd_nanoporosity must be in [0, 1), got {self.cbd_nanoporosity!r}"
            )
        if not (isinstance(self.cbd_bruggeman, int | float) and self.cbd_bruggeman >= 1):
            raise ValueError(f"MeasureSettings.cbd_bruggeman must be >= 1, got {self.cbd_bruggeman!r}")

    @property
    def electrolyte_diffusivities(self) -> tuple[tuple[int, float], ...]:
        """Phase id -> diffusivity relative to the bulk electrolyte."""
        if self.cbd_nanoporosity == 0:
            return ((PORE, 1.0),)
        return ((PORE, 1.0), (CBD, float(self.cbd_nanoporosity**self.cbd_bruggeman)))


class Measurement(NamedTuple):
    """Measured properties of volumes (a JAX PyTree); leading axes as the input batch.

    Attributes:
        volume_fraction: ``(..., 3)`` pore, AM, CBD voxel fractions [-].
        electrolyte_fraction: electrolyte volume fraction, pore plus the CBD's nano-pores [-].
        cbd_solid_fraction: CBD solid volume fraction (CBD domain less its nano-pores) [-].
        electrolyte_tau_through_plane: electrolyte tortuosity factor along axis 0,
            ``electrolyte_fraction / electrolyte_d_rel_through_plane`` [-]; inf if it does not
            percolate.
        electrolyte_d_rel_through_plane: effective electrolyte diffusivity along axis 0 relative
            to the bulk (the transport efficiency) [-]; 0 if it does not percolate.
        electrolyte_tau_in_plane: the same along axes 1 and 2, averaged as a conductance [-];
            NaN when not measured.
        percolates: whether the electrolyte joins the two faces along axis 0.
        am_electrolyte_area_per_volume_m: AM surface touching pore per electrode volume [1/m].
        am_surface_area_per_volume_m: whole AM surface (pore- and CBD-facing) per volume [1/m].
        cbd_coverage: AM-CBD share of the AM surface (voxel faces) [-].
        particle_radius_m: volume-weighted mean local-thickness radius of the AM [m]; NaN
            when not measured.
        equivalent_particle_radius_m: ``3 * eps_AM / am_surface_area_per_volume_m`` [m].
        solid_conductivity_s_m: effective electronic conductivity of the solid along axis 0
            [S/m]; NaN when not measured, 0 when the solid does not percolate.
    """

    volume_fraction: jax.Array
    electrolyte_fraction: jax.Array
    cbd_solid_fraction: jax.Array
    electrolyte_tau_through_plane: jax.Array
    electrolyte_d_rel_through_plane: jax.Array
    electrolyte_tau_in_plane: jax.Array
    percolates: jax.Array
    am_electrolyte_area_per_volume_m: jax.Array
    am_surface_area_per_volume_m: jax.Array
    cbd_coverage: jax.Array
    particle_radius_m: jax.Array
    equivalent_particle_radius_m: jax.Array
    solid_conductivity_s_m: jax.Array


def _transport(volumes: jax.Array, diffusivities: dict[int, float], axis: int, conv_crit: float):
    return tortuosity(volumes, axis=axis, diffusivities=diffusivities, conv_crit=conv_crit)


@partial(jax.jit, static_argnums=1)
def _from_parts(
    metrics_fields: tuple[jax.Array, jax.Array, jax.Array],
    settings: MeasureSettings,
    d_rel: jax.Array,
    percolates: jax.Array,
    d_rel_in_plane: jax.Array,
    solid_d_rel: jax.Array,
    radius_voxels: jax.Array,
) -> Measurement:
    fractions, coverage, am_smooth = metrics_fields
    eps_np = settings.cbd_nanoporosity
    electrolyte = fractions[..., PORE] + eps_np * fractions[..., CBD]
    return Measurement(
        volume_fraction=fractions,
        electrolyte_fraction=electrolyte,
        cbd_solid_fraction=(1.0 - eps_np) * fractions[..., CBD],
        electrolyte_tau_through_plane=_safe_ratio(electrolyte, d_rel, jnp.inf),
        electrolyte_d_rel_through_plane=d_rel,
        # NaN when not measured (as documented), not the inf of a blocked electrolyte.
        electrolyte_tau_in_plane=jnp.where(
            jnp.isnan(d_rel_in_plane), jnp.nan, _safe_ratio(electrolyte, d_rel_in_plane, jnp.inf)
        ),
        percolates=percolates,
        am_electrolyte_area_per_volume_m=am_smooth * (1.0 - coverage),
        am_surface_area_per_volume_m=am_smooth,
        cbd_coverage=coverage,
        particle_radius_m=radius_voxels * settings.voxel_size_m,
        equivalent_particle_radius_m=_safe_ratio(3.0 * fractions[..., AM], am_smooth, jnp.nan),
        solid_conductivity_s_m=solid_d_rel * settings.cbd_conductivity_s_m,
    )


def measure(volumes: jax.Array, settings: MeasureSettings) -> Measurement:
    """Measures phase-id volumes ``(z, y, x)`` or a batch ``(n, z, y, x)``.

    Jittable with ``settings`` static. Outside jit a batch is checked as by
    :func:`~jaxmicro.characterise.tortuosity` and
    :func:`~jaxmicro.characterise.microstructure_metrics`.

    Args:
        volumes: integer phase ids (``PORE``, ``AM``, ``CBD``), axis 0 through-plane.
        settings: what to solve and with which phase properties.

    Returns:
        :class:`Measurement` with the input's leading batch axis (none for one volume).
    """
    metrics = microstructure_metrics(volumes, settings.voxel_size_m)
    electrolyte = dict(settings.electrolyte_diffusivities)
    through = _transport(volumes, electrolyte, THROUGH_PLANE_AXIS, settings.conv_crit)
    nan = jnp.full_like(through.D_rel, jnp.nan)
    in_plane = nan
    if settings.in_plane:
        in_plane = 0.5 * sum(
            _transport(volumes, electrolyte, axis, settings.conv_crit).D_rel for axis in IN_PLANE_AXES
        )
    solid = nan
    if settings.solid_conductivity:
        # Relative to the CBD, so the solver sees values <= 1 whatever the units' scale.
        ratio = settings.am_conductivity_s_m / settings.cbd_conductivity_s_m
        solid = _transport(volumes, {AM: ratio, CBD: 1.0}, THROUGH_PLANE_AXIS, settings.conv_crit).D_rel
    radius = nan
    if settings.particle_radius:
        radius = _mean_local_thickness(jnp.asarray(volumes), settings)
    fields = (
        metrics.volume_fraction,
        metrics.cbd_coverage,
        metrics.specific_surface_area_smooth[..., AM],
    )
    return _from_parts(fields, settings, through.D_rel, through.percolates, in_plane, solid, radius)


LOCAL_THICKNESS_BIAS_VOXELS: float = 1.25
"""Added to the mean local thickness [voxels]: a ball centred on a voxel centre with a whole-voxel
radius fits inside a digital sphere of radius R with about R - 1, and the outer shell is covered
by smaller balls. Over spheres of radius 4, 6.7, 10 and 14 voxels with random sub-voxel centres
(6 each) the mean local thickness read R - 1.36, - 1.08, - 1.31, - 1.29 (spread under 0.09)."""


def _mean_local_thickness(volumes: jax.Array, settings: MeasureSettings) -> jax.Array:
    """Volume-weighted mean local-thickness radius of the AM, bias-corrected [voxels] (NaN
    without AM)."""
    largest = math.ceil(settings.max_particle_radius_m / settings.voxel_size_m)
    cap = min(min(volumes.shape[-3:]) // 2, 100, largest)
    thickness = local_thickness(volumes, AM, max_radius=cap).astype(jnp.float32)
    inside = (volumes == AM).astype(jnp.float32)
    axes = (-3, -2, -1)
    mean = _safe_ratio(jnp.sum(thickness * inside, axis=axes), jnp.sum(inside, axis=axes), jnp.nan)
    return mean + LOCAL_THICKNESS_BIAS_VOXELS


def average_over_seeds(measurement: Measurement, axis: int = 0) -> Measurement:
    """Reduces a seed axis (jittable).

    Fractions, areas, coverage and radius are averaged. Transport is averaged as a conductance:
    the effective diffusivity (and conductivity) is averaged, a non-percolating seed counting
    0, and ``tau = eps_e / D_rel``; so a label's tortuosity is finite if any seed percolates.
    """

    def mean(x: jax.Array) -> jax.Array:
        return jnp.mean(x.astype(jnp.float32), axis=axis)

    averaged = jax.tree.map(mean, measurement)
    return averaged._replace(
        electrolyte_tau_through_plane=_safe_ratio(
            averaged.electrolyte_fraction, averaged.electrolyte_d_rel_through_plane, jnp.inf
        ),
        electrolyte_tau_in_plane=_conductance_mean_tau(measurement, axis),
        percolates=jnp.any(measurement.percolates, axis=axis),
    )


def _conductance_mean_tau(measurement: Measurement, axis: int) -> jax.Array:
    tau = measurement.electrolyte_tau_in_plane
    d_rel = _safe_ratio(measurement.electrolyte_fraction, tau, 0.0)
    eps = jnp.mean(measurement.electrolyte_fraction, axis=axis)
    mean = _safe_ratio(eps, jnp.mean(d_rel, axis=axis), jnp.inf)
    return jnp.where(jnp.any(jnp.isnan(tau), axis=axis), jnp.nan, mean)  # not measured stays NaN


def seed_standard_error(measurement: Measurement, axis: int = 0) -> Measurement:
    """Standard error of the seed mean of every field (``std / sqrt(n)``, ``ddof=1``) [field's
    unit]; NaN for one seed. Tortuosities are propagated from the averaged conductance."""
    n = measurement.volume_fraction.shape[axis]

    def error(x: jax.Array) -> jax.Array:
        return jnp.std(x.astype(jnp.float32), axis=axis, ddof=1) / math.sqrt(n)

    errors = jax.tree.map(error, measurement)
    mean = average_over_seeds(measurement, axis)
    # tau = eps / D: relative error of the mean conductance (eps varies far less across seeds).
    d_rel = mean.electrolyte_d_rel_through_plane
    relative = _safe_ratio(errors.electrolyte_d_rel_through_plane, d_rel, jnp.inf)
    return errors._replace(electrolyte_tau_through_plane=relative * mean.electrolyte_tau_through_plane)
