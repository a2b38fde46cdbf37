"""A fitted stochastic-geometry generator: label -> parameters of a particle model -> volume.

The parametric route to conditional microstructures, stochastic 3-D microstructure modelling
(Westhoff et al. 2017, Comput. Mater. Sci. 126, 453, for anodes; Kuchler et al. 2018,
arXiv:1710.02051, for NMC cathodes; Grafensteiner et al. 2025, arXiv:2409.11080, for the CBD
as the excursion set of a Gaussian random field in the particles' complement): a stochastic
model with a few interpretable parameters (here :class:`~jaxmicro.data.simulator.GeometryParams`:
a log-normal particle law, a loose-packing fraction, a calendering flattening, and the CBD's
film, neck, roughness and agglomerate placement) is fitted to the training volumes by matching
their morphology descriptors, and the parameters are regressed on the manufacturing labels. A
new label gives new parameters and any number of new volumes, at any size, periodic, with the
label's phase fractions exact (AM and CBD are placed by rank).

What is learnt from the data is the parameters and how they move with the labels; the model
family is fixed. It is the family of this project's own simulator (``draw_electrode`` draws
both), so on simulated data it is a strong prior by construction, and the honest test of the
family is a volume it was not made from (``experiments/stochastic_on_tomogram.py``). The GAN
(:mod:`jaxmicro.generator.model`) assumes no family.

Fit (:func:`fit_dataset`): first one particle law (median radius, spread, loose fraction,
flattening) for all training volumes (:func:`fit_particles`: one powder and one coating process
make a dataset; a grid of starts, then a bounded Powell search, scipy), on the AM morphology
distances (:func:`~jaxmicro.characterise.morphology.morphology_distances`) between the
descriptors pooled over the drawn volumes and those pooled over the training volumes, plus
:data:`SURFACE_WEIGHT` times the relative error of their AM surface; then each volume's CBD
placement, that law fixed (:func:`fit_cbd`: a differential evolution, then Powell, on the pore
and CBD descriptors plus the CBD coverage's error). Each volume is drawn on its own key
(common random numbers). Then regression (:func:`regress`): per CBD parameter, the constant,
affine or quadratic function of the normalised labels with the least leave-one-fit-out error, each
volume weighted by how much its fit says about the parameter.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Final, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro._files import plain_json
from jaxmicro.characterise.morphology import Morphology, morphology, morphology_distances, pool_morphologies
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.data.simulator import GeometryParams, particle_distances, place_phases, target_volume_fractions

GEOMETRY_FILE: Final[str] = "geometry.json"
"""The file that marks a folder as a fitted stochastic-geometry generator."""

RELAXATION_SWEEPS: Final[int] = 40
"""Overlap-relaxation sweeps of the loose packing (collective rearrangement); not fitted."""

PARTICLE_RADIUS_BOUNDS_M: Final[tuple[float, float]] = (2.0e-6, 10.0e-6)
"""Median particle radius searched [m]: NMC secondary particles are 2-20 um across."""

BOUNDS: Final[dict[str, tuple[float, float]]] = {
    "radius_log_std": (0.0, 0.6),
    "precalender_am_fraction": (0.2, 0.45),
    "particle_flattening": (0.0, 1.5),
    "neck_weight": (0.0, 2.0),
    "film_roughness": (0.0, 1.0),
    "agglomerate_length": (0.5, 8.0),
    "film_share": (0.0, 1.0),
}
"""Search bounds of the fitted parameters other than the radius (:class:`GeometryParams` units;
``agglomerate_length`` in voxels)."""

PARTICLE_STAGE: Final[tuple[str, ...]] = (
    "log_median_radius", "radius_log_std", "precalender_am_fraction", "particle_flattening",
)  # fmt: skip
CBD_STAGE: Final[tuple[str, ...]] = ("neck_weight", "film_roughness", "agglomerate_length", "film_share")


PARTICLE_STARTS: Final[dict[str, tuple[float, ...]]] = {
    "radius_m": (3.0e-6, 5.0e-6, 7.5e-6),
    "precalender_am_fraction": (0.3, 0.4),
}
"""Grid tried before the particle stage's search (median radius [m], loose fraction); it starts
from the best point."""


class FitSettings(NamedTuple):
    """How the fit searches (a value passed in; the defaults are the shipped model's).

    Attributes:
        particle_evaluations: Powell evaluations of the particle stage, after its grid. Its
            objective is flat along radius against spread: with stop 50's per-volume objective,
            after 60 it stopped at a median radius of 6.0 voxels and 1.4 % above the objective
            of the simulator's 6.5; its AM surface read 3-5 % high.
        max_evaluations: Powell evaluations polishing the CBD stage's evolution.
        population: the CBD stage's differential-evolution population per parameter (scipy's
            ``popsize``; 0 skips the evolution). The CBD objective's minimum is a narrow,
            curved valley: from a 3x3 grid over two of its four parameters Powell stopped at
            1.7-1.8x the objective of the simulator's own parameters on the same draw (stop 49's
            fits at adhesion 0.5 and 1), from the best of 128 Sobol points at 1.29x, and an
            evolution of 40 over 12 generations reached 1.03x (stop 50, the simulator's
            particles, adhesion 0.5).
        generations: the evolution's generations.
        cbd_pooling: which training volumes share one CBD fit: ``"volume"``, each its own
            (stop 50), or ``"adhesion"``, those of one adhesion label, their descriptors pooled
            (the binder sets where the CBD goes; the AM fraction and porosity set how much CBD
            and pore space there is, which the rank placement takes from the label; Kench et
            al. 2024 label the CBD morphology by the binder adhesion alone). With the shipped
            particle law, per adhesion recovered the simulator's agglomerate length at adhesion
            0 (1.98 voxels against 2.0) but not at 0.5 (6.3, film share 0.69 against 0.5), and
            at 128^3 it met the same 3 of 5 goals with 10 morphology misses against 8 (CBD size
            and Euler within 2x, the CBD two-point 2.3 / 3.1x; stop 51).
        particle_objective: the particle stage's objective (:func:`fit_particles`): ``"mean"``,
            the mean over the volumes of each one's own distances (stop 50), or ``"pooled"``,
            the distances between the descriptors pooled over all drawn and all training
            volumes. Pooled scores the simulator's own law lower than the mean does against the
            fit's optimum (0.273 against a fit's 0.276; mean: 1.105 against 1.046), yet its fit
            on data/wide64 read a median radius of 6.0 voxels, spread 0.31, loose fraction 0.41,
            flattening 0.68 (simulator 6.5, 0.25, 0.40, 0.5; mean: 6.2, 0.23, 0.37, 0.35), and
            with the simulator's CBD it met 1 of 5 fidelity goals at 128^3 where the mean's
            law met 3 (AM chords 3.6 / 2.5x the control's distance against 3.4 / 3.2x, stop 51).
    """

    particle_evaluations: int = 150
    max_evaluations: int = 60
    population: int = 8
    generations: int = 10
    cbd_pooling: str = "volume"
    particle_objective: str = "mean"


DEFAULT_FIT: Final[FitSettings] = FitSettings()
PARTICLE_OBJECTIVES: Final[tuple[str, ...]] = ("mean", "pooled")

SURFACE_WEIGHT: Final[float] = 5.0
"""Weight of the surface term's relative error in a stage's objective. The morphology distances
of one drawn 64^3 volume from one training volume are noisy (their sum varied by 0.85-1.3 between
geometries that all drew the volume's CBD right), while the AM surface and the CBD coverage are
measured to a few per cent; at weight 1 the CBD stage overshot the coverage by 5-20 % at
adhesion 0 (stop 49)."""
PROGRESS_EVERY: Final[int] = 10
"""Evaluations between two progress lines of a fit stage (about a minute at 30 x 64^3)."""
FIT_STREAM: Final[int] = 0x5F17
"""Folded into the fit's seed before the volume index: a simulated dataset keys its volume i
``fold_in(PRNGKey(seed), i)``, and common random numbers on that very key would let a fit find
the volume's own particles (an objective of exactly 0 at the simulator's parameters)."""
REGRESSION_KINDS: Final[tuple[str, ...]] = ("constant", "affine", "quadratic")
FIT_VERSION: Final[int] = 2
"""Recorded with every fit (a folder fitted by another version is refused): 2 pools the
particle stage's descriptors over the volumes (stop 51); 1 averaged per-volume distances."""


def _bounds(name: str, voxel_size_m: float) -> tuple[float, float]:
    if name == "log_median_radius":
        low, high = PARTICLE_RADIUS_BOUNDS_M
        return math.log(low / voxel_size_m), math.log(high / voxel_size_m)
    return BOUNDS[name]


def particle_budget(geometry: GeometryParams, am_fraction: float, shape: Sequence[int]) -> int:
    """Particle slots for a loose packing of ``geometry`` that calenders to ``am_fraction``,
    rounded up to a power of two (few compiled programs across labels).

    Args:
        geometry: the particle law (Python floats).
        am_fraction: target AM volume fraction [-].
        shape: final box [voxels].

    Returns:
        The static budget, with a 1.5x margin plus eight standard deviations of the count.
    """
    precalender = float(geometry.precalender_am_fraction)
    factor = min(precalender / am_fraction, 1.0)
    box = math.prod(shape) / factor
    sigma = float(geometry.radius_log_std)
    mean_r3 = math.exp(3 * float(geometry.log_median_radius) + 4.5 * sigma**2)
    expected = precalender * box / (4 / 3 * math.pi * mean_r3)
    need = 1.5 * expected + 8 * math.sqrt(expected) + 8
    return 1 << max(4, math.ceil(math.log2(need)))


def _float32(geometry: GeometryParams) -> GeometryParams:
    return GeometryParams(*(jnp.asarray(v, jnp.float32) for v in geometry))


@partial(jax.jit, static_argnames=("shape", "budget"))
def _distances(
    key: jax.Array, am_fraction: jax.Array, geometry: GeometryParams, shape: tuple, budget: int
) -> tuple[jax.Array, jax.Array]:
    key_pack = jax.random.split(key, 3)[0]  # draw_electrode's split
    return particle_distances(key_pack, am_fraction, _float32(geometry), shape, budget, RELAXATION_SWEEPS)


@jax.jit
def _place(
    key: jax.Array, fractions: jax.Array, nearest: jax.Array, second: jax.Array, geometry: GeometryParams
) -> jax.Array:
    keys = tuple(jax.random.split(key, 3)[1:])
    return place_phases(keys, fractions, nearest, second, _float32(geometry))


def _fractions(labels: np.ndarray) -> np.ndarray:
    return np.asarray(target_volume_fractions(np.asarray(labels, np.float32)), np.float32)


def particles(
    key: jax.Array, labels: np.ndarray, geometry: GeometryParams, shape: Sequence[int]
) -> tuple[jax.Array, jax.Array]:
    """The particle half of :func:`draw`: the packing's nearest and second-nearest normalised
    distances (:func:`~jaxmicro.data.simulator.particle_distances`), which a search over the CBD
    fields alone computes once.

    Args:
        key: PRNG key (as :func:`draw`'s).
        labels: ``(3,)`` (am_wt, porosity, adhesion).
        geometry: the particle law (Python floats; its CBD fields are not used).
        shape: ``(z, y, x)`` [voxels].

    Returns:
        Two ``shape`` float32 arrays [-].
    """
    am_fraction = float(_fractions(labels)[AM])
    shape = tuple(int(n) for n in shape)
    budget = particle_budget(geometry, am_fraction, shape)
    geometry = GeometryParams(*(float(v) for v in geometry))
    return _distances(key, jnp.float32(am_fraction), geometry, shape, budget)


def draw(
    key: jax.Array,
    labels: np.ndarray,
    geometry: GeometryParams,
    shape: Sequence[int],
    distances: tuple[jax.Array, jax.Array] | None = None,
) -> np.ndarray:
    """One volume of the model at a label and a geometry.

    Args:
        key: PRNG key.
        labels: ``(3,)`` (am_wt, porosity, adhesion): sets the phase fractions.
        geometry: the model's parameters (Python floats).
        shape: ``(z, y, x)`` [voxels].
        distances: :func:`particles` of the same key, label and particle fields (None: computed).

    Returns:
        uint8 phase ids of ``shape``.
    """
    if distances is None:
        distances = particles(key, labels, geometry, shape)
    geometry = GeometryParams(*(float(v) for v in geometry))
    return np.asarray(_place(key, jnp.asarray(_fractions(labels)), *distances, geometry))


# ---------------------------------------------------------------------------------------------
# Fit of one volume


def surface_terms(volume: np.ndarray) -> np.ndarray:
    """AM surface faces per voxel and the share of them that touch CBD, by voxel faces.

    Args:
        volume: ``(z, y, x)`` phase ids.

    Returns:
        ``(2,)`` float64: AM specific surface [faces / voxel], CBD coverage of the AM [-]
        (the face counts of :func:`~jaxmicro.characterise.metrics.face_coverage`).
    """
    surface = covered = 0
    for axis in range(3):
        v = np.moveaxis(volume, axis, 0)
        a, b = v[:-1], v[1:]
        surface += np.count_nonzero((a == AM) != (b == AM))
        covered += np.count_nonzero(((a == AM) & (b == CBD)) | ((a == CBD) & (b == AM)))
    return np.array([surface / volume.size, covered / max(surface, 1)])


def _measure(volume: np.ndarray, phases: tuple[int, ...]) -> tuple[Morphology, np.ndarray]:
    """One volume's descriptors of ``phases`` (sizes too) and :func:`surface_terms`."""
    return morphology(volume[None], phases, phases), surface_terms(volume)


def _pooled_objective(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    keys: Sequence[jax.Array],
    phases: tuple[int, ...],
    surface_term: int,
    pool: Any,
    fixed_particles: GeometryParams | None = None,
) -> Callable[[GeometryParams], float]:
    """A stage's objective: the morphology distances (``phases``, sizes too) between the
    descriptors pooled over the volumes drawn on ``keys`` at ``labels`` and those pooled over
    ``volumes`` (:func:`~jaxmicro.characterise.morphology.pool_morphologies`), plus
    :data:`SURFACE_WEIGHT` times the relative error of the mean surface term (0: AM specific
    surface, 1: CBD coverage). One volume gives its own distances. With ``fixed_particles``,
    every evaluation reuses that geometry's packings (a search over the CBD fields alone). Draws
    and descriptors run on ``pool`` (anything with ``map``).

    Raises:
        ValueError: volumes of different shapes (their descriptors cannot be pooled).
    """
    volumes = [np.asarray(v, np.uint8) for v in volumes]
    shape = volumes[0].shape
    if any(v.shape != shape for v in volumes):
        raise ValueError(
            f"a fit pools the volumes' descriptors, so they must share one shape, got "
            f"{sorted({v.shape for v in volumes})}; crop them to one shape first"
        )
    indices = range(len(volumes))
    parts, surfaces = zip(*pool.map(lambda v: _measure(v, phases), volumes), strict=True)
    target = pool_morphologies(parts)
    target_surface = max(float(np.mean([t[surface_term] for t in surfaces])), 1e-12)
    cached = [None] * len(volumes)
    if fixed_particles is not None:
        cached = list(pool.map(lambda i: particles(keys[i], labels[i], fixed_particles, shape), indices))

    def objective(geometry: GeometryParams) -> float:
        def one(i: int) -> tuple[Morphology, np.ndarray]:
            return _measure(draw(keys[i], labels[i], geometry, shape, cached[i]), phases)

        drawn, drawn_surfaces = zip(*pool.map(one, indices), strict=True)
        distances = morphology_distances(pool_morphologies(drawn), target)
        surface = float(np.mean([t[surface_term] for t in drawn_surfaces]))
        return float(np.nansum(distances) + SURFACE_WEIGHT * abs(surface / target_surface - 1.0))

    return objective


class _Inline:
    """An executor that runs ``map`` in the calling thread (objectives nested in a pool's task)."""

    @staticmethod
    def map(fn: Callable[..., Any], *iterables: Any) -> Any:
        return map(fn, *iterables)


def _mean_objective(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    keys: Sequence[jax.Array],
    phases: tuple[int, ...],
    surface_term: int,
    pool: Any,
) -> Callable[[GeometryParams], float]:
    """The mean over the volumes of each one's own :func:`_pooled_objective` (the volumes on
    ``pool``, each in one thread)."""
    parts = [_pooled_objective([v], [lab], [k], phases, surface_term, _Inline()) for v, lab, k in
             zip(volumes, labels, keys, strict=True)]  # fmt: skip
    return lambda geometry: float(np.mean(list(pool.map(lambda part: part(geometry), parts))))


def _reporting(objective: Callable[[GeometryParams], float], name: str) -> Callable[[GeometryParams], float]:
    """``objective`` printing the best value so far every :data:`PROGRESS_EVERY` calls under
    ``name`` ("": silent)."""
    values: list[float] = []

    def reported(geometry: GeometryParams) -> float:
        values.append(objective(geometry))
        if name and len(values) % PROGRESS_EVERY == 0:
            print(f"{name}: {len(values)} evaluations, best {min(values):.4f}", flush=True)
        return values[-1]

    return reported


def _unit_box(names: tuple[str, ...], voxel_size_m: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.array([_bounds(n, voxel_size_m) for n in names]).T
    return low, high


def _at(
    start: GeometryParams, names: tuple[str, ...], unit: np.ndarray, voxel_size_m: float
) -> GeometryParams:
    """``start`` with ``names`` set to the point ``unit`` of their [0, 1]-scaled search box."""
    low, high = _unit_box(names, voxel_size_m)
    values = low + np.clip(unit, 0.0, 1.0) * (high - low)
    return start._replace(**{n: float(v) for n, v in zip(names, values, strict=True)})


def _unit_of(geometry: GeometryParams, names: tuple[str, ...], voxel_size_m: float) -> np.ndarray:
    """The inverse of :func:`_at`: ``names`` of ``geometry`` in their [0, 1]-scaled box, clipped."""
    low, high = _unit_box(names, voxel_size_m)
    return np.clip((np.array([getattr(geometry, n) for n in names]) - low) / (high - low), 0.0, 1.0)


def _evolve(
    objective: Callable[[GeometryParams], float],
    start: GeometryParams,
    names: tuple[str, ...],
    voxel_size_m: float,
    settings: FitSettings,
) -> GeometryParams:
    """The best point of a differential evolution (scipy, fixed seed, Sobol initial population
    with ``start`` in it) over ``names`` in their [0, 1]-scaled box."""
    from scipy.optimize import differential_evolution

    if settings.population < 1:
        return start
    result = differential_evolution(
        lambda x: objective(_at(start, names, x, voxel_size_m)),
        [(0.0, 1.0)] * len(names),
        popsize=settings.population,
        maxiter=settings.generations,
        init="sobol",
        x0=_unit_of(start, names, voxel_size_m),
        seed=0,
        polish=False,
        tol=1e-3,
    )
    return _at(start, names, result.x, voxel_size_m)


def _search(
    objective: Callable[[GeometryParams], float],
    start: GeometryParams,
    names: tuple[str, ...],
    voxel_size_m: float,
    max_evaluations: int,
) -> tuple[GeometryParams, float]:
    """Bounded Powell search over ``names`` in [0, 1]-scaled coordinates from ``start``."""
    from scipy.optimize import minimize

    result = minimize(
        lambda x: objective(_at(start, names, x, voxel_size_m)),
        _unit_of(start, names, voxel_size_m),
        method="Powell",
        bounds=[(0.0, 1.0)] * len(names),
        options={"maxfev": max_evaluations, "xtol": 1e-2, "ftol": 1e-3},
    )
    return _at(start, names, result.x, voxel_size_m), float(result.fun)


def neutral_geometry(voxel_size_m: float) -> GeometryParams:
    """The fit's start: the middle of every search range (the radius's in log space)."""
    values = {}
    for name in GeometryParams._fields:
        low, high = _bounds(name, voxel_size_m)
        values[name] = 0.5 * (low + high)
    return GeometryParams(**values)


def fit_particles(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    voxel_size_m: float,
    keys: Sequence[jax.Array],
    settings: FitSettings = DEFAULT_FIT,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[GeometryParams, float]:
    """Fits one particle law (median radius, spread, loose fraction, flattening) to all volumes.

    One powder and one coating process make every volume of a dataset, so the particle law is
    shared; the labels move the particles only through the AM fraction and the calendering
    factor the model derives from it. Each volume is drawn on its own key at its own label; the
    objective (:attr:`FitSettings.particle_objective`) is the mean over the volumes of each
    one's AM morphology distances plus :data:`SURFACE_WEIGHT` times its AM-surface error, or the
    same terms between the descriptors pooled over all drawn and all training volumes.
    Per-volume fits scattered (median radius 4.7-7.7 voxels, flattening 0.2-1.5 in stop 49,
    where the simulator's are 6.5 and 0.5) and fitted their own draw (0.38 there against 1.16
    on other draws at one adhesion-0 volume, stop 50).

    Args:
        volumes: ``(z, y, x)`` phase ids, one per volume (of one shape for the pooled objective).
        labels: their ``(3,)`` labels.
        voxel_size_m: their voxel edge [m].
        keys: one PRNG key per volume (common random numbers).
        settings: the search (:class:`FitSettings`; the grid of :data:`PARTICLE_STARTS`, then
            Powell).
        workers: threads drawing and measuring the volumes of one evaluation (None: the CPU
            count).
        progress: print the best objective every :data:`PROGRESS_EVERY` evaluations.

    Returns:
        The particle law (CBD fields neutral) and the final objective.

    Raises:
        ValueError: an unknown objective, or volumes of different shapes for the pooled one.
    """
    import concurrent.futures

    if settings.particle_objective not in PARTICLE_OBJECTIVES:
        raise ValueError(
            f"particle_objective must be one of {PARTICLE_OBJECTIVES}, got {settings.particle_objective!r}"
        )
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        stage = _mean_objective if settings.particle_objective == "mean" else _pooled_objective
        name = "particle law" if progress else ""
        objective = _reporting(stage(volumes, labels, keys, (AM,), 0, pool), name)
        geometry = neutral_geometry(voxel_size_m)
        starts = [
            geometry._replace(log_median_radius=math.log(r / voxel_size_m), precalender_am_fraction=f)
            for r in PARTICLE_STARTS["radius_m"]
            for f in PARTICLE_STARTS["precalender_am_fraction"]
        ]
        geometry = min(starts, key=objective)
        return _search(objective, geometry, PARTICLE_STAGE, voxel_size_m, settings.particle_evaluations)


def fit_cbd(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    voxel_size_m: float,
    particle_law: GeometryParams,
    keys: Sequence[jax.Array],
    settings: FitSettings = DEFAULT_FIT,
    workers: int | None = None,
    progress: str = "",
) -> tuple[GeometryParams, float]:
    """Fits one CBD placement (neck weight, roughness, agglomerate length, film share) to
    volumes that share it, the particle law fixed: a differential evolution, then Powell from its
    best, on the pore and CBD descriptors pooled over the volumes drawn on ``keys`` (their
    packings computed once) against those pooled over ``volumes``, plus :data:`SURFACE_WEIGHT`
    times the error of their mean CBD coverage.

    Args:
        volumes: ``(z, y, x)`` phase ids, all of one shape (one volume: its own fit).
        labels: their ``(3,)`` labels.
        voxel_size_m: their voxel edge [m].
        particle_law: :func:`fit_particles`' result.
        keys: one PRNG key per volume (common random numbers).
        settings: the search (:class:`FitSettings`).
        workers: threads drawing and measuring the volumes of one evaluation (None: the CPU
            count).
        progress: a name to print the best objective under every :data:`PROGRESS_EVERY`
            evaluations ("": silent).

    Returns:
        The full :class:`GeometryParams` and the final objective.
    """
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        objective = _reporting(
            _pooled_objective(volumes, labels, keys, (PORE, CBD), 1, pool, fixed_particles=particle_law),
            progress,
        )
        geometry = _evolve(objective, particle_law, CBD_STAGE, voxel_size_m, settings)
        return _search(objective, geometry, CBD_STAGE, voxel_size_m, settings.max_evaluations)


def fit_volume(
    volume: np.ndarray,
    labels: np.ndarray,
    voxel_size_m: float,
    key: jax.Array,
    settings: FitSettings = DEFAULT_FIT,
) -> tuple[GeometryParams, dict[str, float]]:
    """Fits every parameter to one labelled volume: :func:`fit_particles` of it alone, then
    :func:`fit_cbd`.

    Args:
        volume: ``(z, y, x)`` phase ids.
        labels: its ``(3,)`` labels.
        voxel_size_m: its voxel edge [m].
        key: PRNG key of the common random numbers.
        settings: the search (:class:`FitSettings`).

    Returns:
        The fitted :class:`GeometryParams` (Python floats) and each stage's final objective.
    """
    particle_law, particle_loss = fit_particles([volume], [labels], voxel_size_m, [key], settings, workers=1)
    geometry, cbd_loss = fit_cbd([volume], [labels], voxel_size_m, particle_law, [key], settings, workers=1)
    return geometry, {"particle": particle_loss, "cbd": cbd_loss}


# ---------------------------------------------------------------------------------------------
# Regression on the labels


def label_features(unit_labels: np.ndarray, kind: str) -> np.ndarray:
    """Design matrix of ``(n, k)`` labels scaled to [0, 1]: ``constant`` (1 column), ``affine``
    (1 + k) or ``quadratic`` (with the squares and pairwise products: 10 for k = 3)."""
    u = np.atleast_2d(np.asarray(unit_labels, np.float64))
    k = u.shape[1]
    columns = [np.ones(len(u))]
    if kind in ("affine", "quadratic"):
        columns += [u[:, i] for i in range(k)]
    if kind == "quadratic":
        columns += [u[:, i] * u[:, j] for i in range(k) for j in range(i, k)]
    return np.stack(columns, axis=1)


def _weighted_fit(features: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    root = np.sqrt(weights)
    return np.linalg.lstsq(features * root[:, None], values * root, rcond=None)[0]


def _leave_one_fit_out_rms(
    features: np.ndarray, values: np.ndarray, weights: np.ndarray, groups: np.ndarray
) -> float:
    """Weighted RMS of the residuals of each fit left out of the regression, the volumes sharing
    it (``groups``) left out together: else a fit shared by a level's volumes is predicted by
    its own copies and every kind scores as well as it interpolates the levels. inf where the
    rest do not determine a left-out fit (its rows outside the span of the weighted others)."""
    errors = np.zeros(len(values))
    weighed = weights > 1e-6
    for group in np.unique(groups[weighed]):
        out = groups == group
        kept = ~out & weighed
        rank = np.linalg.matrix_rank(features[kept])
        if rank == 0 or np.linalg.matrix_rank(np.vstack([features[kept], features[out & weighed]])) > rank:
            return math.inf
        errors[out] = features[out] @ _weighted_fit(features[kept], values[kept], weights[kept]) - values[out]
    return float(np.sqrt(np.sum(weights * errors**2) / np.sum(weights)))


def regression_weights(fits: np.ndarray) -> dict[str, np.ndarray]:
    """Per parameter, how much each fitted volume says about it: the film's parameters (neck
    weight, roughness) count by the film share squared, the agglomerate length by one minus it
    squared (a volume whose CBD is all film leaves the agglomerate length free, and the fits
    then scatter it over the whole search range: 1-6 voxels at adhesion 1 in stop 49, where the
    adhesion-0 volumes pinned it at 1.9-2.2), the rest equally.

    Args:
        fits: ``(n, 8)`` fitted parameters in :class:`GeometryParams` order.

    Returns:
        ``{field: (n,) weights}``.
    """
    share = np.clip(fits[:, GeometryParams._fields.index("film_share")], 0.0, 1.0)
    weights = {name: np.ones(len(fits)) for name in GeometryParams._fields}
    weights["neck_weight"] = weights["film_roughness"] = share**2
    weights["agglomerate_length"] = (1.0 - share) ** 2
    return weights


@dataclasses.dataclass(frozen=True)
class GeometryModel:
    """A fitted stochastic-geometry generator (a :class:`~jaxmicro.generator.protocol.VolumeGenerator`,
    not traceable: its volumes are drawn on the host, phases placed by rank).

    Attributes:
        coefficients: per :class:`GeometryParams` field, the regression's coefficients on
            :func:`label_features` of the normalised labels.
        kinds: per field, the regression kind (:data:`REGRESSION_KINDS`).
        label_ranges: per label field, the (low, high) of the training labels (the
            normalisation; outside it the regression extrapolates).
        voxel_size_m: voxel edge the parameters are in [m].
        provenance: what it was fitted on (free-form, JSON).
    """

    coefficients: dict[str, tuple[float, ...]]
    kinds: dict[str, str]
    label_ranges: dict[str, tuple[float, float]]
    voxel_size_m: float
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)

    traceable: ClassVar[bool] = False
    grid_period: ClassVar[None] = None

    def check_shape(self, shape: Sequence[int]) -> None:
        """Raises ValueError unless ``shape`` is 3 positive voxel counts (any size is drawn)."""
        if len(shape) != 3 or any(int(n) < 1 for n in shape):
            raise ValueError(f"shape {tuple(shape)} must be 3 positive voxel counts (z, y, x), e.g. 64 64 64")

    @property
    def info(self) -> dict[str, Any]:
        """Provenance, as a trained generator's ``info`` (what a design campaign records)."""
        return {"kind": "stochastic-geometry", **self.provenance}

    def unit_labels(self, labels: np.ndarray) -> np.ndarray:
        """``(n, 3)`` physical labels scaled to [0, 1] by the training range."""
        low = np.array([self.label_ranges[f][0] for f in LABEL_FIELDS])
        high = np.array([self.label_ranges[f][1] for f in LABEL_FIELDS])
        return (np.atleast_2d(labels) - low) / np.where(high > low, high - low, 1.0)

    def geometry(self, labels: np.ndarray) -> GeometryParams:
        """The model's parameters at one ``(3,)`` physical label, clipped to the search bounds."""
        unit = self.unit_labels(np.asarray(labels, np.float64))
        values = {}
        for name in GeometryParams._fields:
            value = float(label_features(unit, self.kinds[name])[0] @ np.asarray(self.coefficients[name]))
            low, high = _bounds(name, self.voxel_size_m)
            values[name] = min(max(value, low), high)
        return GeometryParams(**values)

    def central_geometry(self) -> GeometryParams:
        """:meth:`geometry` at the middle of every label range (its particle fields are the
        model's particle law, constant over the labels in a fit by :func:`fit_dataset`)."""
        return self.geometry(np.array([np.mean(self.label_ranges[f]) for f in LABEL_FIELDS]))

    def sample_batch(self, labels: np.ndarray, shape: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
        """Volumes at ``(n, 3)`` physical labels for every seed, as the design loop takes them.

        Returns:
            ``(len(seeds), n, *shape)`` uint8 phase ids; every label shares the seed's key.
        """
        labels = np.atleast_2d(labels)
        return np.stack([self.sample(label, shape, seeds) for label in labels], axis=1)

    def sample(self, labels: np.ndarray, shape: Sequence[int], seeds: Sequence[int]) -> np.ndarray:
        """Volumes at one physical label, one per seed.

        Args:
            labels: ``(3,)`` (am_wt, porosity, adhesion).
            shape: ``(z, y, x)`` [voxels].
            seeds: integer seeds; volume ``i`` uses ``PRNGKey(seeds[i])``.

        Returns:
            ``(len(seeds), *shape)`` uint8 phase ids.
        """
        geometry = self.geometry(labels)
        return np.stack([draw(jax.random.PRNGKey(int(s)), labels, geometry, shape) for s in seeds])


def regress(
    labels: np.ndarray,
    fits: Sequence[GeometryParams],
    label_ranges: dict[str, tuple[float, float]],
    voxel_size_m: float,
    provenance: dict[str, Any] | None = None,
    kinds: Sequence[str] = REGRESSION_KINDS,
) -> GeometryModel:
    """Regresses each fitted parameter on the labels: weighted least squares
    (:func:`regression_weights`), the kind by leave-one-fit-out error (the volumes that share
    one fit, e.g. an adhesion level's, leave together).

    Args:
        labels: ``(n, 3)`` physical labels of the fitted volumes.
        fits: their fitted parameters.
        label_ranges: per label field, the normalisation range.
        voxel_size_m: voxel edge [m].
        provenance: recorded with the model.
        kinds: the regression kinds to choose from (:data:`REGRESSION_KINDS`).

    Returns:
        The :class:`GeometryModel`.
    """
    model = GeometryModel({}, {}, dict(label_ranges), voxel_size_m, dict(provenance or {}))
    unit = model.unit_labels(np.asarray(labels, np.float64))
    values = np.array([[float(v) for v in fit] for fit in fits])
    unknown = set(kinds) - set(REGRESSION_KINDS)
    if unknown or not kinds:
        raise ValueError(f"regression kinds must be among {REGRESSION_KINDS}, got {list(kinds)}")
    coefficients, chosen = {}, {}
    weights = regression_weights(values)
    groups = np.unique(values, axis=0, return_inverse=True)[1].ravel()  # volumes sharing one fit
    for j, name in enumerate(GeometryParams._fields):
        w = weights[name]
        if np.ptp(values[:, j]) == 0 and "constant" in kinds:  # a pooled parameter
            kind = "constant"
        else:
            scores = {
                k: _leave_one_fit_out_rms(label_features(unit, k), values[:, j], w, groups) for k in kinds
            }
            kind = min(scores, key=scores.get)
        chosen[name] = kind
        fitted = _weighted_fit(label_features(unit, kind), values[:, j], w)
        coefficients[name] = tuple(float(c) for c in fitted)
    return dataclasses.replace(model, coefficients=coefficients, kinds=chosen)


def simulator_model(config: Any, label_ranges: dict[str, tuple[float, float]]) -> GeometryModel:
    """The simulator's own geometry (:func:`~jaxmicro.data.simulator.simulator_geometry`) as a
    model: every parameter constant but the film share, which is the adhesion. It draws the
    simulator's process (other realisations: its particle budget differs), so it is the perfect
    fit a fitted model is judged against, with any generator's tooling.

    Args:
        config: the :class:`~jaxmicro.data.simulator.SimulatorConfig` (its voxel size too).
        label_ranges: per label field, the (low, high) the labels are normalised by.

    Returns:
        The :class:`GeometryModel` (``provenance["kind"] = "simulator"``).
    """
    from jaxmicro.data.simulator import simulator_geometry

    geometry = simulator_geometry(np.zeros(3), config)
    coefficients = {name: (float(value),) for name, value in geometry._asdict().items()}
    kinds = {name: "constant" for name in coefficients}
    low, high = label_ranges["adhesion"]
    coefficients["film_share"], kinds["film_share"] = (low, 0.0, 0.0, high - low), "affine"
    provenance = {"simulator": plain_json(dataclasses.asdict(config))}
    return GeometryModel(coefficients, kinds, dict(label_ranges), float(config.voxel_size_m), provenance)


def load_simulator_model(root: str | os.PathLike) -> GeometryModel:
    """The simulator that made a dataset, as a model (:func:`simulator_model`; the label ranges
    those of the dataset's labels): the ground truth a generator fitted or trained on the dataset
    stands for, usable wherever a generator is (``--checkpoint DATASET``).

    Raises:
        ValueError: the dataset was not made by jaxmicro's simulator (one line, with the fix).
    """
    from jaxmicro.data import load_dataset
    from jaxmicro.data.simulated_dataset import dataset_simulator

    dataset = load_dataset(root)
    made = dataset_simulator(dataset)
    if made is None:
        raise ValueError(
            f"{root} is a dataset not made by jaxmicro's simulator, so it draws nothing; fit a "
            "generator to it (experiments/fit_stochastic.py) or train one (jaxmicro train)"
        )
    labels = dataset.label_array()
    ranges = {f: (float(labels[:, j].min()), float(labels[:, j].max())) for j, f in enumerate(LABEL_FIELDS)}
    model = simulator_model(made[0], ranges)
    return dataclasses.replace(model, provenance={**model.provenance, "dataset": str(dataset.root)})


FITS_FILE: Final[str] = "fits.jsonl"
"""Per-volume fits, one JSON line each, written as they come (a fit resumes from them)."""


PARTICLES_FILE: Final[str] = "particles.json"
"""The dataset's pooled particle law (:func:`fit_particles`), written once before the CBD fits."""


CBD_POOLINGS: Final[tuple[str, ...]] = ("adhesion", "volume")


def cbd_groups(labels: Sequence[np.ndarray], pooling: str) -> list[list[int]]:
    """Indices of the volumes that share one CBD fit (:attr:`FitSettings.cbd_pooling`), in
    order of their first volume.

    Args:
        labels: ``(3,)`` labels, one per volume.
        pooling: one of :data:`CBD_POOLINGS`.

    Returns:
        The groups, each a list of volume indices.
    """
    if pooling not in CBD_POOLINGS:
        raise ValueError(f"cbd_pooling must be one of {CBD_POOLINGS}, got {pooling!r}")
    if pooling == "volume":
        return [[i] for i in range(len(labels))]
    groups: dict[float, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(float(label[2]), []).append(i)
    return list(groups.values())


def fit_dataset(
    dataset: Any,
    folder: str | os.PathLike,
    seed: int = 0,
    settings: FitSettings = DEFAULT_FIT,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    kinds: Sequence[str] = REGRESSION_KINDS,
    particle_law: GeometryParams | None = None,
) -> GeometryModel | None:
    """Fits the model to a dataset's 3-D training volumes: one particle law for all of them
    (:func:`fit_particles`), the CBD placement of each group of volumes (:func:`cbd_groups`,
    :func:`fit_cbd`), and the CBD parameters regressed on the labels (:func:`regress`).

    The particle law goes to ``folder/particles.json`` (the first process computes it under an
    exclusive lock, the others wait and read it); each group's CBD fit is appended to
    ``folder/fits.jsonl`` as it finishes, one row per volume in one write, and groups already
    there are skipped, so a killed fit resumes; ``shard = (i, n)`` fits only groups
    ``i, i + n, ...`` (n processes share the work, each appending under an exclusive lock).
    Once every volume is fitted, the model is written to ``folder/geometry.json``.

    Args:
        dataset: a :class:`~jaxmicro.data.LabelledDataset` with 3-D training volumes.
        folder: where the fits and the model go.
        seed: seed of the common random numbers (volume ``i`` uses
            ``fold_in(fold_in(PRNGKey(seed), FIT_STREAM), i)``).
        settings: the search (:class:`FitSettings`).
        shard: ``(index, count)`` of this process's share of the CBD fits (by group).
        progress: print one line per fitted group, and each stage's best objective every
            :data:`PROGRESS_EVERY` evaluations.
        kinds: the regression kinds to choose from (:func:`regress`).
        particle_law: a given particle law (e.g. an earlier model's, :meth:`GeometryModel.geometry`)
            instead of fitting one: only the CBD is fitted (the law is part of the recipe a
            folder is checked against; particles.json records no loss).

    Returns:
        The model once every volume is fitted, else None (other shards still running).

    Raises:
        ValueError: fewer than 2 volumes, mixed voxel sizes, a bad shard, or a folder holding
            fits of other settings or another seed.
    """
    import fcntl

    samples = [s for s in dataset.train if np.ndim(s.volume) == 3]
    if len(samples) < 2:
        raise ValueError(f"{dataset.root}: a stochastic-geometry fit needs at least 2 3-D training volumes")
    voxel_sizes = {float(s.voxel_size_m) for s in samples}
    if len(voxel_sizes) != 1:
        raise ValueError(f"{dataset.root}: training volumes of several voxel sizes {sorted(voxel_sizes)}")
    voxel_size_m = voxel_sizes.pop()
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {tuple(shard)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fits_path = folder / FITS_FILE
    recipe = {"version": FIT_VERSION, "seed": seed, **settings._asdict()}
    if particle_law is not None:
        recipe["particle_law"] = {n: float(getattr(particle_law, n)) for n in PARTICLE_STAGE}

    def done() -> dict[int, dict[str, Any]]:
        if not fits_path.exists():
            return {}
        rows = [json.loads(line) for line in fits_path.read_text().splitlines() if line.strip()]
        return {row["index"]: row for row in rows}

    def refuse_other(found: Any, where: Path) -> None:
        if found != recipe:
            raise ValueError(f"{where} was fitted with {found}, not {recipe}; fit into a new folder")

    for row in done().values():
        refuse_other(row.get("fit"), fits_path)
    root = jax.random.fold_in(jax.random.PRNGKey(seed), FIT_STREAM)
    keys = [jax.random.fold_in(root, i) for i in range(len(samples))]
    labels = [s.labels.to_array() for s in samples]
    particles_path = folder / PARTICLES_FILE
    with open(folder / (PARTICLES_FILE + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process fits the particle law, the others wait
        if particles_path.exists():
            payload = json.loads(particles_path.read_text())
            refuse_other(payload.get("fit"), particles_path)
        else:
            if particle_law is not None:
                law, loss = neutral_geometry(voxel_size_m)._replace(**recipe["particle_law"]), None
            else:
                if progress:
                    print(f"fitting one particle law to {len(samples)} volumes", flush=True)
                volumes = [s.volume for s in samples]
                law, loss = fit_particles(volumes, labels, voxel_size_m, keys, settings, progress=progress)
            payload = {"geometry": law._asdict(), "loss": loss, "fit": recipe}
            tmp = particles_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(plain_json(payload), indent=2))
            os.replace(tmp, particles_path)
    particle_law = GeometryParams(**payload["geometry"])
    if progress:
        law = _rounded(particle_law, PARTICLE_STAGE)
        loss = "given" if payload["loss"] is None else f"loss {payload['loss']:.3f}"
        print(f"particle law {law} ({loss})", flush=True)
    groups = cbd_groups(labels, settings.cbd_pooling)
    for g, members in enumerate(groups):
        if g % count != index or done().keys() >= set(members):  # fits.jsonl read once per group
            continue
        name = f"CBD of group {g + 1}/{len(groups)} ({len(members)} volumes)"
        geometry, loss = fit_cbd([samples[i].volume for i in members], [labels[i] for i in members],
                                 voxel_size_m, particle_law, [keys[i] for i in members], settings,
                                 progress=name if progress else "")  # fmt: skip
        rows = [{"index": i, "name": samples[i].file, "labels": labels[i].tolist(), "group": g,
                 "geometry": geometry._asdict(), "loss": loss, "fit": recipe} for i in members]  # fmt: skip
        with open(fits_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write("".join(json.dumps(plain_json(row)) + "\n" for row in rows))
        if progress:
            print(f"fitted {name}: {_rounded(geometry, CBD_STAGE)} (loss {loss:.3f})", flush=True)
    rows = done()
    if len(rows) < len(samples):
        return None
    rows = [rows[i] for i in range(len(samples))]
    fitted_labels = np.array([row["labels"] for row in rows])
    fits = [GeometryParams(**row["geometry"]) for row in rows]
    ranges = {f: (float(fitted_labels[:, j].min()), float(fitted_labels[:, j].max()))
              for j, f in enumerate(LABEL_FIELDS)}  # fmt: skip
    provenance = {"dataset": str(dataset.root), "volumes": len(samples), "fit": recipe,
                  "regression_kinds": list(kinds), "particle_loss": payload["loss"]}  # fmt: skip
    model = regress(fitted_labels, fits, ranges, voxel_size_m, provenance, kinds)
    save_geometry_model(model, folder)
    return model


def _rounded(geometry: GeometryParams, names: tuple[str, ...]) -> dict[str, float]:
    return {n: round(float(getattr(geometry, n)), 3) for n in names}


def save_geometry_model(model: GeometryModel, folder: str | os.PathLike) -> Path:
    """Writes ``folder/geometry.json`` (a few kB) and returns its path."""
    path = Path(folder) / GEOMETRY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": "stochastic-geometry",
        "coefficients": {k: list(v) for k, v in model.coefficients.items()},
        "kinds": model.kinds,
        "label_ranges": {k: list(v) for k, v in model.label_ranges.items()},
        "voxel_size_m": model.voxel_size_m,
        "provenance": model.provenance,
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(plain_json(payload), indent=2))
    os.replace(tmp, path)
    return path


def load_geometry_model(folder: str | os.PathLike) -> GeometryModel:
    """Reads a folder written by :func:`save_geometry_model`.

    Raises:
        ValueError: no or an unreadable ``geometry.json``, or missing parameters.
    """
    path = Path(folder) / GEOMETRY_FILE
    try:
        payload = json.loads(path.read_text())
        coefficients = {k: tuple(float(c) for c in v) for k, v in payload["coefficients"].items()}
        kinds = dict(payload["kinds"])
        ranges = {k: (float(v[0]), float(v[1])) for k, v in payload["label_ranges"].items()}
        model = GeometryModel(coefficients, kinds, ranges, float(payload["voxel_size_m"]),
                              dict(payload.get("provenance", {})))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path}: not a readable stochastic-geometry generator ({error})") from None
    missing = [n for n in GeometryParams._fields if n not in coefficients or n not in kinds]
    if missing or set(ranges) != set(LABEL_FIELDS):
        raise ValueError(f"{path}: incomplete model (missing {missing or 'label ranges'}); fit it again")
    return model


__all__ = [
    "GEOMETRY_FILE",
    "FitSettings",
    "GeometryModel",
    "draw",
    "fit_cbd",
    "fit_dataset",
    "fit_particles",
    "fit_volume",
    "label_features",
    "load_geometry_model",
    "load_simulator_model",
    "neutral_geometry",
    "particle_budget",
    "particles",
    "regress",
    "save_geometry_model",
    "simulator_model",
    "surface_terms",
]
