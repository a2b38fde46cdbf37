"""A procedural electrode manufacturing simulator: manufacturing labels -> 3-phase volume.

It mimics the three steps that set a cathode's microstructure:

1. **Mixing and coating.** Polydisperse spherical AM particles (log-normal radii) are dropped
   at random into a periodic box taller than the final one, at the slurry's AM volume fraction
   ``precalender_am_fraction``, and pushed apart by a few sweeps of soft-sphere overlap
   relaxation (collective rearrangement), giving a loose random packing.
2. **Calendering.** The box is compressed along axis 0 (through-plane) by the factor
   ``c = precalender_am_fraction / v_AM`` that the target AM volume fraction requires. Particle
   centres move affinely; particles flatten to oblate spheroids (axis ratio ``c**0.75`` with
   the default ``particle_flattening=0.5``, volume preserved), so through-plane transport
   becomes worse than in-plane.
3. **Binder (CBD) placement.** The CBD volume follows from ``am_wt`` through the solid
   densities. Pore voxels are ranked by a score that blends a *film* score (close to one AM
   surface, closer still to two: films and necks) and an *agglomerate* score (a smooth Gaussian
   random field, independent of the AM) with weight ``adhesion``; the top-ranked voxels become
   CBD.

AM and CBD are chosen by rank (a quantile threshold), so the phase fractions hit the label
exactly up to one voxel: the AM fraction, the CBD fraction, and so porosity and the AM:CBD mass
split. CBD voxels are treated as solid (its nano-porosity is not resolved).

The core, :func:`simulate_electrode`, is a pure jittable function of a PRNG key and a label
array, batched with :func:`simulate_electrodes` (``lax.map``). The box is periodic on all faces.
Cost is ``O(n_particles x n_voxels)``.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Final, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.data.labels import validate_labels
from jaxmicro.data.phases import AM, AM_DENSITY_G_CM3, CBD, CBD_DENSITY_G_CM3, PORE


@dataclasses.dataclass(frozen=True)
class SimulatorConfig:
    """Static settings of the manufacturing simulator (hashable, so it is a jit static arg).

    Attributes:
        shape: output volume shape ``(z, y, x)`` [voxels]; axis 0 is through-plane.
        voxel_size_m: voxel edge length [m].
        mean_radius_m: mean AM particle radius [m] (NMC-like: about 5 um).
        radius_log_std: standard deviation of ln(radius) [-] (log-normal spread).
        precalender_am_fraction: AM volume fraction of the coating before calendering [-].
        particle_flattening: how strongly particles flatten with the calendering factor ``c``:
            semi-axes ``r * c**k`` through-plane and ``r * c**(-k/2)`` in-plane [-].
        relaxation_sweeps: soft-sphere overlap-relaxation sweeps of the loose packing.
        agglomerate_length_m: correlation length of the CBD agglomerate field [m].
        neck_weight: weight of the distance to the second-nearest particle in the film score:
            larger puts more film CBD in the necks between particles [-].
        film_roughness: weight of fine noise in the film score, making films patchy [-].
        am_density_g_cm3, cbd_density_g_cm3: solid densities [g/cm^3].
    """

    shape: tuple[int, int, int] = (128, 128, 128)
    voxel_size_m: float = 0.5e-6
    mean_radius_m: float = 5.0e-6
    radius_log_std: float = 0.25
    precalender_am_fraction: float = 0.40
    particle_flattening: float = 0.5
    relaxation_sweeps: int = 40
    agglomerate_length_m: float = 1.5e-6
    neck_weight: float = 0.5
    film_roughness: float = 0.1
    am_density_g_cm3: float = AM_DENSITY_G_CM3
    cbd_density_g_cm3: float = CBD_DENSITY_G_CM3

    def __post_init__(self) -> None:
        try:
            shape = tuple(self.shape)
            whole = all(not isinstance(n, bool) and float(n) == int(n) for n in shape)
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole or len(shape) != 3:
            raise ValueError(f"SimulatorConfig.shape must be 3 whole numbers of voxels, got {self.shape!r}")
        object.__setattr__(self, "shape", tuple(int(n) for n in shape))
        if min(self.shape) < 8:
            raise ValueError(f"shape must be 3 sizes of at least 8 voxels, got {self.shape}")
        if math.prod(self.shape) >= 2**31:
            raise ValueError(
                f"SimulatorConfig.shape {self.shape} has {math.prod(self.shape):,} voxels; the simulator "
                "ranks voxels with int32, so use fewer than 2**31"
            )
        floats = ("voxel_size_m", "mean_radius_m", "radius_log_std", "precalender_am_fraction",
                  "particle_flattening", "agglomerate_length_m", "neck_weight", "film_roughness",
                  "am_density_g_cm3", "cbd_density_g_cm3")  # fmt: skip
        for name in floats:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
                raise ValueError(f"SimulatorConfig.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"SimulatorConfig.{name} must be finite, got {value}")
        for name in ("radius_log_std", "particle_flattening", "neck_weight", "film_roughness"):
            if getattr(self, name) < 0:
                raise ValueError(f"SimulatorConfig.{name} must be at least 0, got {getattr(self, name)}")
        sweeps = self.relaxation_sweeps
        if isinstance(sweeps, bool) or not isinstance(sweeps, int | np.integer) or sweeps < 0:
            raise ValueError(f"SimulatorConfig.relaxation_sweeps must be a whole number >= 0, got {sweeps!r}")
        positive = ("voxel_size_m", "mean_radius_m", "agglomerate_length_m",
                    "am_density_g_cm3", "cbd_density_g_cm3")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"SimulatorConfig.{name} must be positive, got {getattr(self, name)}")
        if not 0.05 <= self.precalender_am_fraction <= 0.45:
            raise ValueError(
                "SimulatorConfig.precalender_am_fraction must lie in [0.05, 0.45] (a loose packing "
                f"below every target AM fraction), got {self.precalender_am_fraction}"
            )
        if self.mean_radius_m / self.voxel_size_m < 1.5:
            raise ValueError(
                f"particles of mean radius {self.mean_radius_m} m are under 1.5 voxels of "
                f"{self.voxel_size_m} m; use a smaller voxel_size_m"
            )
        if self.mean_radius_m / self.voxel_size_m > min(self.shape) / 2:
            raise ValueError(
                f"the mean particle diameter ({2 * self.mean_radius_m / self.voxel_size_m:.0f} voxels) "
                f"exceeds the box {self.shape}; use a larger shape or voxel_size_m"
            )

    @property
    def mean_radius_voxels(self) -> float:
        return self.mean_radius_m / self.voxel_size_m

    @property
    def max_particles(self) -> int:
        """Static particle budget: enough for the densest label in ``LABEL_RANGES`` (see
        ``PARTICLE_BUDGET_LABEL``)."""
        max_am = max_am_volume_fraction(self)
        box = np.prod(self.shape) * max_am / self.precalender_am_fraction
        sigma = self.radius_log_std
        # E[r^3] of a log-normal with the given mean radius.
        mean_r3 = self.mean_radius_voxels**3 * math.exp(3 * sigma**2)
        expected = self.precalender_am_fraction * box / (4 / 3 * math.pi * mean_r3)
        return math.ceil(1.5 * expected + 8 * math.sqrt(expected) + 8)


def target_volume_fractions(
    labels: jax.Array,
    am_density_g_cm3: float = AM_DENSITY_G_CM3,
    cbd_density_g_cm3: float = CBD_DENSITY_G_CM3,
) -> jax.Array:
    """Phase volume fractions implied by a label.

    Args:
        labels: ``(..., 3)`` array of (am_wt, porosity, adhesion).
        am_density_g_cm3, cbd_density_g_cm3: solid densities [g/cm^3].

    Returns:
        ``(..., 3)`` volume fractions of (pore, AM, CBD), summing to 1.
    """
    am_wt, porosity = labels[..., 0], labels[..., 1]
    am_volume = am_wt / am_density_g_cm3
    cbd_volume = (1.0 - am_wt) / cbd_density_g_cm3
    solid = 1.0 - porosity
    am = solid * am_volume / (am_volume + cbd_volume)
    return jnp.stack([porosity, am, solid - am], axis=-1)


PARTICLE_BUDGET_LABEL: Final[tuple[float, float]] = (0.96, 0.25)
"""(am_wt, porosity) the particle budget is sized for: AM volume fraction 0.68. Kept where it
was when the shipped datasets were simulated (the budget is the length of the random draws, so
changing it changes every simulated volume). Its 1.5x margin (``max_particles``) covers the
densest physical label (am_wt 0.99, porosity 0.15: AM fraction 0.83, 1.22x the expected count);
``test_simulator.py`` checks that."""


def max_am_volume_fraction(config: SimulatorConfig) -> float:
    """The AM volume fraction the particle budget is sized for (``PARTICLE_BUDGET_LABEL``)."""
    am_wt, porosity = PARTICLE_BUDGET_LABEL
    am_volume = am_wt / config.am_density_g_cm3
    cbd_volume = (1.0 - am_wt) / config.cbd_density_g_cm3
    return (1.0 - porosity) * am_volume / (am_volume + cbd_volume)


def am_weight_fraction(volume_fractions: jax.Array, config: SimulatorConfig) -> jax.Array:
    """AM weight fraction of the solids from ``(..., 3)`` phase volume fractions."""
    am_mass = volume_fractions[..., AM] * config.am_density_g_cm3
    cbd_mass = volume_fractions[..., CBD] * config.cbd_density_g_cm3
    return am_mass / (am_mass + cbd_mass)


class Packing(NamedTuple):
    """AM particles after calendering, in voxel units of the final box.

    Attributes:
        centres: ``(n, 3)`` particle centres ``(z, y, x)`` [voxels].
        semi_axes: ``(n, 2)`` spheroid semi-axes (through-plane, in-plane) [voxels].
        active: ``(n,)`` bool, False for unused slots of the static particle budget.
        calendering_factor: final over initial thickness [-].
    """

    centres: jax.Array
    semi_axes: jax.Array
    active: jax.Array
    calendering_factor: jax.Array


def _minimum_image(delta: jax.Array, box: jax.Array) -> jax.Array:
    return delta - box * jnp.round(delta / box)


def _relax_overlaps(
    centres: jax.Array, radii: jax.Array, active: jax.Array, box: jax.Array, sweeps: int
) -> jax.Array:
    """Pushes overlapping spheres apart (periodic box), half the overlap per pair per sweep."""
    pair_mask = active[:, None] & active[None, :] & ~jnp.eye(len(radii), dtype=bool)
    contact = radii[:, None] + radii[None, :]

    def sweep(_, x):
        delta = _minimum_image(x[:, None, :] - x[None, :, :], box)
        distance = jnp.sqrt(jnp.sum(delta**2, axis=-1) + 1e-12)
        overlap = jnp.where(pair_mask, jnp.maximum(contact - distance, 0.0), 0.0)
        push = jnp.sum((0.5 * overlap / distance)[..., None] * delta, axis=1)
        return jnp.mod(x + push, box)

    return jax.lax.fori_loop(0, sweeps, sweep, centres)


class GeometryParams(NamedTuple):
    """The simulator's geometry in numbers: what :func:`draw_electrode` draws from.

    Every field is a scalar (a Python float, or a traced float32 where the parameters are fitted
    or vary per volume). :func:`simulator_geometry` gives the simulator's own values;
    :mod:`jaxmicro.generator.stochastic` fits them to labelled volumes.

    Attributes:
        log_median_radius: ln of the median particle radius before calendering [ln voxels].
        radius_log_std: standard deviation of ln(radius) [-].
        precalender_am_fraction: AM volume fraction of the loose coating [-].
        particle_flattening: calendering flattening exponent ``k`` (semi-axes ``r c**k``
            through-plane, ``r c**(-k/2)`` in-plane) [-].
        neck_weight: weight of the second-nearest particle in the film score [-].
        film_roughness: weight of the fine noise in the film score [-].
        agglomerate_length: correlation length of the CBD agglomerate field [voxels].
        film_share: weight of the film score against the agglomerate score in [0, 1] [-]; the
            simulator uses the label's adhesion.
    """

    log_median_radius: jax.Array | float
    radius_log_std: jax.Array | float
    precalender_am_fraction: jax.Array | float
    particle_flattening: jax.Array | float
    neck_weight: jax.Array | float
    film_roughness: jax.Array | float
    agglomerate_length: jax.Array | float
    film_share: jax.Array | float


FILM_ROUGHNESS_LENGTH_VOXELS: Final[float] = 1.5
"""Correlation length of the film score's fine noise [voxels]."""


def simulator_geometry(labels: jax.Array, config: SimulatorConfig) -> GeometryParams:
    """The simulator's :class:`GeometryParams` at ``labels`` (film share = adhesion)."""
    sigma = config.radius_log_std
    return GeometryParams(
        log_median_radius=math.log(config.mean_radius_voxels) - 0.5 * sigma**2,
        radius_log_std=sigma,
        precalender_am_fraction=config.precalender_am_fraction,
        particle_flattening=config.particle_flattening,
        neck_weight=config.neck_weight,
        film_roughness=config.film_roughness,
        agglomerate_length=config.agglomerate_length_m / config.voxel_size_m,
        film_share=labels[2],
    )


def pack_spheroids(
    key: jax.Array,
    am_fraction: jax.Array,
    geometry: GeometryParams,
    shape: tuple[int, int, int],
    budget: int,
    sweeps: int,
) -> Packing:
    """Random loose packing of log-normal spheres, then calendered to ``am_fraction``.

    Args:
        key: PRNG key.
        am_fraction: the target AM volume fraction [-].
        geometry: particle law and calendering (the CBD fields are not used here).
        shape: final box ``(z, y, x)`` [voxels] (static).
        budget: static number of particle slots (enough for the loose packing's count).
        sweeps: overlap-relaxation sweeps (static).

    Returns:
        The calendered :class:`Packing`.
    """
    box_final = jnp.asarray(shape, dtype=jnp.float32)
    factor = jnp.minimum(geometry.precalender_am_fraction / am_fraction, 1.0)
    box = box_final.at[0].divide(factor)  # the loose coating is taller by 1 / factor

    key_radius, key_centre = jax.random.split(key)
    normal = jax.random.normal(key_radius, (budget,), dtype=jnp.float32)
    radii = jnp.exp(geometry.log_median_radius + geometry.radius_log_std * normal)
    particle_volume = 4.0 / 3.0 * jnp.pi * radii**3
    target_volume = geometry.precalender_am_fraction * jnp.prod(box)
    active = jnp.cumsum(particle_volume) - particle_volume < target_volume

    centres = jax.random.uniform(key_centre, (budget, 3), dtype=jnp.float32) * box
    centres = _relax_overlaps(centres, radii, active, box, sweeps)
    centres = centres.at[:, 0].multiply(factor)
    k = geometry.particle_flattening
    semi_axes = jnp.stack([radii * factor**k, radii * factor ** (-k / 2)], axis=-1)
    return Packing(centres, semi_axes, active, factor)


def pack_particles(key: jax.Array, labels: jax.Array, config: SimulatorConfig) -> Packing:
    """Random loose packing of log-normal spheres, then calendered to the label's AM fraction.

    Args:
        key: PRNG key.
        labels: ``(3,)`` array (am_wt, porosity, adhesion).
        config: simulator settings.

    Returns:
        The calendered :class:`Packing`.
    """
    am_fraction = target_volume_fractions(labels, config.am_density_g_cm3, config.cbd_density_g_cm3)[AM]
    geometry = simulator_geometry(labels, config)
    budget, sweeps = config.max_particles, config.relaxation_sweeps
    return pack_spheroids(key, am_fraction, geometry, config.shape, budget, sweeps)


def _nearest_two(packing: Packing, shape: tuple[int, int, int]) -> tuple[jax.Array, jax.Array]:
    """Smallest and second-smallest normalised distance ``|x - c_i|_i`` over particles.

    A voxel is inside particle ``i`` where its normalised distance is below 1. Unused slots of
    the budget are skipped (a branch per slot: under ``vmap`` both branches run).

    Returns:
        Two ``shape`` arrays [-].
    """
    axes = [jnp.arange(n, dtype=jnp.float32) + 0.5 for n in shape]
    box = jnp.asarray(shape, dtype=jnp.float32)

    def add(carry, particle):
        first, second = carry
        centre, (a_through, a_in), _ = particle
        dz, dy, dx = (
            (_minimum_image(axis - c, length) / a) ** 2
            for axis, c, length, a in zip(axes, centre, box, (a_through, a_in, a_in), strict=True)
        )
        q = dz[:, None, None] + dy[None, :, None] + dx[None, None, :]
        return jnp.minimum(first, q), jnp.minimum(second, jnp.maximum(first, q))

    def add_particle(carry, particle):
        return jax.lax.cond(particle[2], add, lambda carry, _: carry, carry, particle), None

    init = (jnp.full(shape, jnp.inf), jnp.full(shape, jnp.inf))
    particles = (packing.centres, (packing.semi_axes[:, 0], packing.semi_axes[:, 1]), packing.active)
    (first, second), _ = jax.lax.scan(add_particle, init, particles)
    return jnp.sqrt(first), jnp.sqrt(second)


def gaussian_random_field(key: jax.Array, shape: tuple[int, ...], length_voxels: float) -> jax.Array:
    """A periodic, zero-mean, unit-variance Gaussian random field with a Gaussian covariance
    of correlation length ``length_voxels`` [voxels]."""
    noise = jax.random.normal(key, shape, dtype=jnp.float32)
    frequencies = jnp.meshgrid(
        *[jnp.fft.fftfreq(n) for n in shape[:-1]], jnp.fft.rfftfreq(shape[-1]), indexing="ij"
    )
    k_squared = sum(f**2 for f in frequencies) * (2 * jnp.pi) ** 2
    spectrum = jnp.exp(-0.25 * k_squared * length_voxels**2)
    field = jnp.fft.irfftn(jnp.fft.rfftn(noise) * spectrum, s=shape)
    return (field - field.mean()) / (field.std() + 1e-12)


def _standardise(values: jax.Array, mask: jax.Array) -> jax.Array:
    count = jnp.maximum(mask.sum(), 1)
    mean = jnp.sum(jnp.where(mask, values, 0.0)) / count
    var = jnp.sum(jnp.where(mask, (values - mean) ** 2, 0.0)) / count
    return (values - mean) / jnp.sqrt(var + 1e-12)


def _top_k_mask(score: jax.Array, k: jax.Array) -> jax.Array:
    """True for the ``k`` (traced) highest scores of a flat array; -inf scores are never picked
    unless ``k`` exceeds the finite ones."""
    order = jnp.argsort(-score)
    ranks = jnp.empty_like(order).at[order].set(jnp.arange(score.size, dtype=order.dtype))
    return ranks < k


SIMULATOR_BYTES_PER_VOXEL: int = 100
"""Peak memory of one simulated volume, per voxel, as budgeted before simulating [bytes]. XLA's
memory analysis of the compiled simulator gives 58 / 58 / 70 B/voxel of temporaries at
32^3 / 48^3 / 64^3 (distance fields, scores, ranks, the random fields' FFTs), plus 1 B/voxel of
output; the margin covers the host copies."""


def simulation_memory_bytes(config: SimulatorConfig) -> int:
    """Estimated peak memory of simulating one volume of ``config`` [bytes]."""
    return SIMULATOR_BYTES_PER_VOXEL * math.prod(config.shape)


def check_simulation_size(config: SimulatorConfig) -> None:
    """Refuses a simulation whose memory estimate exceeds the memory available, before any work.

    Raises:
        ValueError: stating the estimate and the memory available.
    """
    from jaxmicro.characterise.memory import available_memory_bytes

    need, have = simulation_memory_bytes(config), available_memory_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"simulating a volume of shape {config.shape} needs about {need / 1e9:.2f} GB "
            f"({SIMULATOR_BYTES_PER_VOXEL} B/voxel) but only {have / 1e9:.2f} GB is available; "
            "use a smaller shape (--size)"
        )


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` as an int if it is a whole number in ``[0, 2**32)`` (PRNG keys take 32 bits).

    Raises:
        ValueError: naming ``name``, for a bool, a non-integer or a value out of range (a larger
            seed would wrap and silently repeat another seed's results).
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{name} must be a whole number in [0, 2**32), got {seed!r}")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"{name} must be in [0, 2**32) = [0, 4294967295], got {seed}")
    return int(seed)


def particle_distances(
    key: jax.Array,
    am_fraction: jax.Array,
    geometry: GeometryParams,
    shape: tuple[int, int, int],
    budget: int,
    sweeps: int,
) -> tuple[jax.Array, jax.Array]:
    """The packing's nearest and second-nearest normalised particle distance at every voxel.

    The particle half of :func:`draw_electrode` (its ``key`` is the pack key there); pure and
    jittable (``shape``, ``budget`` and ``sweeps`` static).

    Returns:
        Two ``shape`` float32 arrays [-] (below 1 inside a particle).
    """
    packing = pack_spheroids(key, am_fraction, geometry, shape, budget, sweeps)
    return _nearest_two(packing, shape)


def place_phases(
    keys: tuple[jax.Array, jax.Array],
    fractions: jax.Array,
    nearest: jax.Array,
    second: jax.Array,
    geometry: GeometryParams,
) -> jax.Array:
    """AM and CBD placed by rank from the packing's distances: the half of
    :func:`draw_electrode` that only the CBD fields of ``geometry`` move. Pure and jittable.

    Args:
        keys: the agglomerate field's and the film roughness's PRNG keys.
        fractions: ``(3,)`` target volume fractions (pore, AM, CBD) [-].
        nearest, second: :func:`particle_distances` [-].
        geometry: the CBD placement (its particle fields are not used here).

    Returns:
        uint8 phase ids of ``nearest.shape``.
    """
    key_agglomerate, key_rough = keys
    shape = nearest.shape
    n_voxels = math.prod(shape)
    n_am = jnp.round(fractions[AM] * n_voxels).astype(jnp.int32)
    n_cbd = jnp.round(fractions[CBD] * n_voxels).astype(jnp.int32)

    is_am = _top_k_mask(-nearest.ravel(), n_am).reshape(shape)
    pore = ~is_am
    film = -(nearest + geometry.neck_weight * second)
    film = film + geometry.film_roughness * gaussian_random_field(
        key_rough, shape, FILM_ROUGHNESS_LENGTH_VOXELS
    )
    agglomerate = gaussian_random_field(key_agglomerate, shape, geometry.agglomerate_length)
    share = geometry.film_share
    score = share * _standardise(film, pore) + (1 - share) * _standardise(agglomerate, pore)
    score = jnp.where(pore, score, -jnp.inf)
    is_cbd = _top_k_mask(score.ravel(), n_cbd).reshape(shape)
    volume = jnp.where(is_am, AM, jnp.where(is_cbd, CBD, PORE))
    return volume.astype(jnp.uint8)


def draw_electrode(
    key: jax.Array,
    labels: jax.Array,
    geometry: GeometryParams,
    shape: tuple[int, int, int],
    budget: int,
    sweeps: int,
    am_density_g_cm3: float = AM_DENSITY_G_CM3,
    cbd_density_g_cm3: float = CBD_DENSITY_G_CM3,
) -> jax.Array:
    """One 3-phase volume from a label and a geometry: pack, calender, place AM and CBD by rank.

    Pure and jittable (``shape``, ``budget`` and ``sweeps`` static); the geometry may be traced.

    Args:
        key: PRNG key.
        labels: ``(3,)`` float array (am_wt, porosity, adhesion); sets the phase fractions.
        geometry: the particle law and CBD placement (:class:`GeometryParams`).
        shape: output shape ``(z, y, x)`` [voxels].
        budget: particle slots (static; see :attr:`SimulatorConfig.max_particles`).
        sweeps: overlap-relaxation sweeps.
        am_density_g_cm3, cbd_density_g_cm3: solid densities [g/cm^3].

    Returns:
        uint8 array of phase ids, shape ``shape``.
    """
    labels = jnp.asarray(labels, dtype=jnp.float32)
    key_pack, key_agglomerate, key_rough = jax.random.split(key, 3)
    fractions = target_volume_fractions(labels, am_density_g_cm3, cbd_density_g_cm3)
    nearest, second = particle_distances(key_pack, fractions[AM], geometry, shape, budget, sweeps)
    return place_phases((key_agglomerate, key_rough), fractions, nearest, second, geometry)


@partial(jax.jit, static_argnames="config")
def simulate_electrode(key: jax.Array, labels: jax.Array, config: SimulatorConfig) -> jax.Array:
    """Simulates one calendered 3-phase electrode volume. Pure and jittable; no validation.

    Args:
        key: PRNG key.
        labels: ``(3,)`` float array (am_wt, porosity, adhesion), assumed within range
            (validate at the edge with :func:`jaxmicro.data.validate_labels`).
        config: simulator settings (static).

    Returns:
        uint8 array of phase ids, shape ``config.shape``.
    """
    labels = jnp.asarray(labels, dtype=jnp.float32)
    return draw_electrode(
        key,
        labels,
        simulator_geometry(labels, config),
        config.shape,
        config.max_particles,
        config.relaxation_sweeps,
        config.am_density_g_cm3,
        config.cbd_density_g_cm3,
    )


@partial(jax.jit, static_argnames="config")
def simulate_electrodes(keys: jax.Array, labels: jax.Array, config: SimulatorConfig) -> jax.Array:
    """Batched :func:`simulate_electrode`: keys ``(n, 2)``, labels ``(n, 3)`` -> ``(n, *shape)``,
    one volume after the other (``lax.map``: under ``vmap`` every unused particle slot would be
    computed, and one volume's work already fills the device)."""
    return jax.lax.map(lambda pair: simulate_electrode(pair[0], pair[1], config), (keys, labels))


def simulate(
    labels: np.ndarray, config: SimulatorConfig = SimulatorConfig(), seed: int = 0
) -> np.ndarray:
    """Validates labels and simulates one volume per label (the user-facing entry point).

    Args:
        labels: ``(3,)`` or ``(n, 3)`` labels (am_wt, porosity, adhesion).
        config: simulator settings.
        seed: integer seed; label ``i`` of the batch uses ``fold_in(PRNGKey(seed), i)``.

    Returns:
        uint8 phase-id volume ``config.shape``, or ``(n, *config.shape)`` for a batch.
    """
    seed = check_seed(seed)
    labels = validate_labels(labels)
    check_simulation_size(config)
    batch = np.atleast_2d(labels)
    root = jax.random.PRNGKey(seed)
    keys = jnp.stack([jax.random.fold_in(root, i) for i in range(len(batch))])
    volumes = np.stack(
        [np.asarray(simulate_electrode(k, lab, config)) for k, lab in zip(keys, batch, strict=True)]
    )
    return volumes[0] if labels.ndim == 1 else volumes
