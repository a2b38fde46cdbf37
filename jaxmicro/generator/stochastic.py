"""A fitted stochastic-geometry generator: label -> parameters of a particle model -> volume.

The parametric route to conditional microstructures, stochastic 3-D microstructure modelling
(Westhoff et al. 2017, Comput. Mater. Sci. 126, 453, for anodes; Kuchler et al. 2018,
arXiv:1710.02051, for NMC cathodes; Grafensteiner et al. 2025, arXiv:2409.11080, for the CBD
as the excursion set of a Gaussian random field in the particles' complement): a stochastic
model with a few interpretable parameters (here :class:`~jaxmicro.data.simulator.GeometryParams`:
a log-normal particle law, a loose-packing fraction, a calendering flattening, and the CBD's
film, neck, roughness and agglomerate placement) is fitted to each training volume by matching
its morphology descriptors, and each parameter is then regressed on the manufacturing labels. A
new label gives new parameters and any number of new volumes, at any size, periodic, with the
label's phase fractions exact (AM and CBD are placed by rank).

What is learnt from the data is the parameters and how they move with the labels; the model
family is fixed. It is the family of this project's own simulator (``draw_electrode`` draws
both), so on simulated data it is a strong prior by construction, and the honest test of the
family is a volume it was not made from (``experiments/stochastic_on_tomogram.py``). The GAN
(:mod:`jaxmicro.generator.model`) assumes no family.

Fit (:func:`fit_volume`): per training volume, two stages on common random numbers, each a
small grid of starts and then a bounded Powell search (scipy): the particle law and calendering
on the AM descriptors and the AM specific surface, then the CBD placement on the pore and CBD
descriptors and the CBD coverage of the AM; each objective is the sum of the relative distances
of :func:`~jaxmicro.characterise.morphology.morphology_distances` plus :data:`SURFACE_WEIGHT`
times the surface term's relative error. Regression (:func:`regress`): per parameter, the
constant, affine or quadratic function of the normalised labels with the least leave-one-out
error, each volume weighted by how much its fit says about the parameter.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro._files import plain_json
from jaxmicro.characterise.morphology import morphology, morphology_distances
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import AM, AM_DENSITY_G_CM3, CBD, CBD_DENSITY_G_CM3, PORE
from jaxmicro.data.simulator import GeometryParams, draw_electrode, target_volume_fractions

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
CBD_STARTS: Final[dict[str, tuple[float, ...]]] = {
    "film_share": (0.1, 0.5, 0.9),
    "agglomerate_length": (1.5, 3.0, 6.0),
}
"""Grid tried before the CBD stage's search. From the middle of the ranges alone the film share
stayed near 0.5 at every adhesion-0 training volume (the agglomerate length, at 4.25 voxels
there, made a pure agglomerate look worse)."""
SURFACE_WEIGHT: Final[float] = 5.0
"""Weight of the surface term's relative error in a stage's objective. The morphology distances
of one drawn 64^3 volume from one training volume are noisy (their sum varied by 0.85-1.3 between
geometries that all drew the volume's CBD right), while the AM surface and the CBD coverage are
measured to a few per cent; at weight 1 the CBD stage overshot the coverage by 5-20 % at
adhesion 0 (stop 49)."""
FIT_STREAM: Final[int] = 0x5F17
"""Folded into the fit's seed before the volume index: a simulated dataset keys its volume i
``fold_in(PRNGKey(seed), i)``, and common random numbers on that very key would let a fit find
the volume's own particles (an objective of exactly 0 at the simulator's parameters)."""
REGRESSION_KINDS: Final[tuple[str, ...]] = ("constant", "affine", "quadratic")


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


@partial(jax.jit, static_argnames=("shape", "budget"))
def _draw(
    key: jax.Array, labels: jax.Array, geometry: GeometryParams, shape: tuple, budget: int
) -> jax.Array:
    geometry = GeometryParams(*(jnp.asarray(v, jnp.float32) for v in geometry))
    return draw_electrode(
        key, labels, geometry, shape, budget, RELAXATION_SWEEPS, AM_DENSITY_G_CM3, CBD_DENSITY_G_CM3
    )


def draw(key: jax.Array, labels: np.ndarray, geometry: GeometryParams, shape: Sequence[int]) -> np.ndarray:
    """One volume of the model at a label and a geometry.

    Args:
        key: PRNG key.
        labels: ``(3,)`` (am_wt, porosity, adhesion): sets the phase fractions.
        geometry: the model's parameters (Python floats).
        shape: ``(z, y, x)`` [voxels].

    Returns:
        uint8 phase ids of ``shape``.
    """
    labels = np.asarray(labels, np.float32)
    am_fraction = float(target_volume_fractions(labels)[AM])
    shape = tuple(int(n) for n in shape)
    budget = particle_budget(geometry, am_fraction, shape)
    geometry = GeometryParams(*(float(v) for v in geometry))
    return np.asarray(_draw(key, jnp.asarray(labels), geometry, shape, budget))


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


def _stage_objective(
    reference: np.ndarray,
    labels: np.ndarray,
    key: jax.Array,
    phases: tuple[int, ...],
    size_phases: tuple[int, ...],
    surface_term: int,
) -> Callable[[GeometryParams], float]:
    """The sum of the morphology distances and of :data:`SURFACE_WEIGHT` times the relative error
    of one surface term (0: AM specific surface, 1: CBD coverage) of one drawn volume against
    ``reference``."""
    target = morphology(reference[None], phases, size_phases)
    target_surface = surface_terms(reference)[surface_term]

    def objective(geometry: GeometryParams) -> float:
        volume = draw(key, labels, geometry, reference.shape)
        distances = morphology_distances(morphology(volume[None], phases, size_phases), target)
        surface = surface_terms(volume)[surface_term]
        surface_error = abs(surface / max(target_surface, 1e-12) - 1.0)
        return float(np.nansum(distances) + SURFACE_WEIGHT * surface_error)

    return objective


def _search(
    objective: Callable[[GeometryParams], float],
    start: GeometryParams,
    names: tuple[str, ...],
    voxel_size_m: float,
    max_evaluations: int,
) -> tuple[GeometryParams, float]:
    """Bounded Powell search over ``names`` in [0, 1]-scaled coordinates from ``start``."""
    from scipy.optimize import minimize

    bounds = [_bounds(n, voxel_size_m) for n in names]

    def geometry_at(x: np.ndarray) -> GeometryParams:
        pairs = zip(names, x, bounds, strict=True)
        values = {n: lo + float(np.clip(u, 0, 1)) * (hi - lo) for n, u, (lo, hi) in pairs}
        return start._replace(**values)

    x0 = [(getattr(start, n) - lo) / (hi - lo) for n, (lo, hi) in zip(names, bounds, strict=True)]
    result = minimize(
        lambda x: objective(geometry_at(x)),
        np.clip(x0, 0, 1),
        method="Powell",
        bounds=[(0.0, 1.0)] * len(names),
        options={"maxfev": max_evaluations, "xtol": 1e-2, "ftol": 1e-3},
    )
    return geometry_at(result.x), float(result.fun)


def neutral_geometry(voxel_size_m: float) -> GeometryParams:
    """The fit's start: the middle of every search range (the radius's in log space)."""
    values = {}
    for name in GeometryParams._fields:
        low, high = _bounds(name, voxel_size_m)
        values[name] = 0.5 * (low + high)
    return GeometryParams(**values)


def fit_volume(
    volume: np.ndarray,
    labels: np.ndarray,
    voxel_size_m: float,
    key: jax.Array,
    max_evaluations: int = 60,
) -> tuple[GeometryParams, dict[str, float]]:
    """Fits the model's parameters to one labelled volume.

    Args:
        volume: ``(z, y, x)`` phase ids.
        labels: its ``(3,)`` labels.
        voxel_size_m: its voxel edge [m].
        key: PRNG key of the common random numbers (one draw per evaluation, the same key).
        max_evaluations: objective evaluations per stage.

    Returns:
        The fitted :class:`GeometryParams` (Python floats) and each stage's final objective.
    """
    volume = np.asarray(volume, np.uint8)
    geometry = neutral_geometry(voxel_size_m)
    particle = _stage_objective(volume, labels, key, (AM,), (AM,), 0)
    starts = [
        geometry._replace(log_median_radius=math.log(r / voxel_size_m), precalender_am_fraction=f)
        for r in PARTICLE_STARTS["radius_m"]
        for f in PARTICLE_STARTS["precalender_am_fraction"]
    ]
    geometry = min(starts, key=particle)
    geometry, particle_loss = _search(particle, geometry, PARTICLE_STAGE, voxel_size_m, max_evaluations)
    cbd = _stage_objective(volume, labels, key, (PORE, CBD), (PORE, CBD), 1)
    starts = [
        geometry._replace(film_share=f, agglomerate_length=a)
        for f in CBD_STARTS["film_share"]
        for a in CBD_STARTS["agglomerate_length"]
    ]
    geometry = min(starts, key=cbd)
    geometry, cbd_loss = _search(cbd, geometry, CBD_STAGE, voxel_size_m, max_evaluations)
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


def _leave_one_out_rms(features: np.ndarray, values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted RMS of the leave-one-out residuals (inf where the fit has too few volumes)."""
    n = len(values)
    if features.shape[1] >= np.count_nonzero(weights > 1e-6) - 1:
        return math.inf
    errors = np.zeros(n)
    for i in range(n):
        keep = np.arange(n) != i
        errors[i] = features[i] @ _weighted_fit(features[keep], values[keep], weights[keep]) - values[i]
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
    """A fitted stochastic-geometry generator.

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
    (:func:`regression_weights`), the kind by leave-one-out error.

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
    for j, name in enumerate(GeometryParams._fields):
        w = weights[name]
        scores = {k: _leave_one_out_rms(label_features(unit, k), values[:, j], w) for k in kinds}
        kind = min(scores, key=scores.get)
        chosen[name] = kind
        fitted = _weighted_fit(label_features(unit, kind), values[:, j], w)
        coefficients[name] = tuple(float(c) for c in fitted)
    return dataclasses.replace(model, coefficients=coefficients, kinds=chosen)


FITS_FILE: Final[str] = "fits.jsonl"
"""Per-volume fits, one JSON line each, written as they come (a fit resumes from them)."""


def fit_dataset(
    dataset: Any,
    folder: str | os.PathLike,
    seed: int = 0,
    max_evaluations: int = 60,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    kinds: Sequence[str] = REGRESSION_KINDS,
) -> GeometryModel | None:
    """Fits every 3-D training volume of a dataset, then regresses the parameters on the labels.

    Each volume's fit is appended to ``folder/fits.jsonl`` as it finishes, and volumes already
    there are skipped, so a killed fit resumes; ``shard = (i, n)`` fits only volumes ``i, i + n,
    ...`` (n processes share the work, each appending under an exclusive lock). Once every volume
    is fitted, the model is written to ``folder/geometry.json``.

    Args:
        dataset: a :class:`~jaxmicro.data.LabelledDataset` with 3-D training volumes.
        folder: where the fits and the model go.
        seed: seed of the common random numbers (volume ``i`` uses
            ``fold_in(fold_in(PRNGKey(seed), FIT_STREAM), i)``).
        max_evaluations: objective evaluations per stage and volume.
        shard: ``(index, count)`` of this process's share.
        progress: print one line per fitted volume.
        kinds: the regression kinds to choose from (:func:`regress`).

    Returns:
        The model once every volume is fitted, else None (other shards still running).
    """
    import fcntl

    samples = [s for s in dataset.train if np.ndim(s.volume) == 3]
    if len(samples) < 2:
        raise ValueError(f"{dataset.root}: a stochastic-geometry fit needs at least 2 3-D training volumes")
    voxel_sizes = {float(s.voxel_size_m) for s in samples}
    if len(voxel_sizes) != 1:
        raise ValueError(f"{dataset.root}: training volumes of several voxel sizes {sorted(voxel_sizes)}")
    voxel_size_m = voxel_sizes.pop()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fits_path = folder / FITS_FILE

    def done() -> dict[int, dict[str, Any]]:
        if not fits_path.exists():
            return {}
        rows = [json.loads(line) for line in fits_path.read_text().splitlines() if line.strip()]
        return {row["index"]: row for row in rows}

    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard must be (index, count) with 0 <= index < count, got {tuple(shard)}")
    root = jax.random.fold_in(jax.random.PRNGKey(seed), FIT_STREAM)
    for i, sample in enumerate(samples):
        if i % count != index or i in done():
            continue
        labels = sample.labels.to_array()
        geometry, losses = fit_volume(
            sample.volume, labels, voxel_size_m, jax.random.fold_in(root, i), max_evaluations
        )
        row = {"index": i, "name": sample.file, "labels": labels.tolist(),
               "geometry": geometry._asdict(), "losses": losses}  # fmt: skip
        with open(fits_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(json.dumps(plain_json(row)) + "\n")
        if progress:
            print(f"fitted {i + 1}/{len(samples)} {sample.file}: {losses}", flush=True)
    rows = done()
    if len(rows) < len(samples):
        return None
    rows = [rows[i] for i in range(len(samples))]
    labels = np.array([row["labels"] for row in rows])
    fits = [GeometryParams(**row["geometry"]) for row in rows]
    ranges = {f: (float(labels[:, j].min()), float(labels[:, j].max())) for j, f in enumerate(LABEL_FIELDS)}
    provenance = {"dataset": str(dataset.root), "volumes": len(samples), "seed": seed,
                  "max_evaluations": max_evaluations}  # fmt: skip
    provenance["regression_kinds"] = list(kinds)
    model = regress(labels, fits, ranges, voxel_size_m, provenance, kinds)
    save_geometry_model(model, folder)
    return model


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
    "GeometryModel",
    "draw",
    "fit_dataset",
    "fit_volume",
    "label_features",
    "load_geometry_model",
    "neutral_geometry",
    "particle_budget",
    "regress",
    "save_geometry_model",
    "surface_terms",
]
