"""The particle law and the CBD placement by simulated moments on local response surfaces.

The stochastic-geometry fit's particle stage (:func:`~jaxmicro.generator.stochastic.fit_particles`)
matches distances between descriptor distributions; on data/wide64 (30 volumes of 64^3) those
distances could not tell the simulator's own law from the shipped fit's: the spread of their
values between two draws of one law was as large as the gap between the laws (stop 52). This
module estimates the law from a few mean statistics instead, weighted by their noise, on
volumes as large as those the model is judged at.

Statistics (:func:`am_moments`, per volume): the mean AM chord length through-plane and
in-plane, the mean AM local-thickness radius, the AM Euler characteristic density and the AM
specific surface; averaged over the volumes of each porosity level (:func:`moment_groups`:
calendering, which the porosity sets, shapes the particles).

Estimator: the method of simulated moments (McFadden 1989, Econometrica 57, 995), the expected
statistics as a function of the law approximated, round by round, by a linear response surface
(Box & Wilson 1951, J. R. Stat. Soc. B 13, 1) fitted to draws at Sobol points of a box about the
current law. The next law is the surface's weighted least-squares solution within the search
bounds and within twice the box's half-width; the weights are the surface's residual variances
(one draw's noise, as one training set's). ``(J^T W J)^-1`` gives the law's standard errors.

Measured (stop 52, from the shipped law, 12 points per round): on 12 training volumes of 128^3
one round moved the law to median radius 6.42 voxels, spread 0.251, loose fraction 0.401,
flattening 0.48 (the simulator's 6.46, 0.25, 0.40, 0.5), a law that with the simulator's CBD
met every morphology goal at 128^3; on other draws the same round gave 6.11, 0.268, 0.389,
0.452 and a second one 6.25, 0.273, 0.398, 0.451: with 12 points a round's law is noisier than
its standard errors say. On 30 volumes of 64^3 three rounds walked along the radius-spread
valley to 5.7 voxels and 0.31, a law that met the statistics there (chi-square 28 over 20 on
fresh draws, the simulator's 24.6) and missed the AM morphology at 128^3 by 3.5-4.1x the
control's distance.

The CBD placement (:func:`fit_cbd_moments`, stop 53): the same estimator on :func:`cbd_moments`
(CBD and pore chords, sizes and Euler densities, and the CBD coverage) per porosity level, one fit
per adhesion level (Kench et al. 2024 label the CBD morphology by the binder adhesion), the
packings drawn once (common random numbers). Its weights are one volume's noise from replicate
draws at the start on fresh packings: with common packings a point's draws differ only by the
placement's noise, so the surface's residual variance (the particle fit's weights) would mostly
measure the surface's curvature; so weighted, a round from a far start (4 volumes of 48^3, film
share 0.85 for the simulator's 0.5, agglomerate length 5 for 2) walked further off (agglomerate
length to its bound), with the replicates' weights it walked back (share 0.61, then 0.65). On
data/wide128's 30 volumes (two rounds per adhesion level from stop 50's CBD) it found neck
weight, roughness and agglomerate length within 0.11 of the simulator's and film shares 0.001,
0.53, 0.86 at adhesion 0, 0.5, 1; with stop 52's particle law that model meets 4 of issue 26's 5
goals at 128^3 with every morphology distance within 2x the control's (the simulator's own
result), but 2 of 5 at off-grid labels. A level cannot see every field (no film at adhesion 0:
the neck weight and roughness free) and two fields trade (share 0.86 with roughness 0.08 at
adhesion 1), and the regression carried both between the levels. Stop 54 pooled the shape
fields over the levels that see them (neck weight 0.511, roughness 0.100, agglomerate length
2.001 voxels) and refitted the film share alone per level (``fields=("film_share",)``): 0.000,
0.498, 1.000; that model meets 4 of 5 at the held-out and at the off-grid labels, as the
simulator does: `checkpoints/stochastic` since stop 54.
"""

from __future__ import annotations

import concurrent.futures
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

import jax
import numpy as np

from jaxmicro.characterise.morphology import mean_size, morphology
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.generator import stochastic as st

MOMENT_NAMES: Final[tuple[str, ...]] = (
    "am_chord_through_voxels", "am_chord_in_plane_voxels", "am_size_voxels", "am_euler_per_voxel",
    "am_surface_faces_per_voxel",
)  # fmt: skip
"""The per-volume statistics of :func:`am_moments`, in order."""


class MomentSettings(NamedTuple):
    """The response-surface rounds (a value passed in; the defaults are stop 52's).

    Attributes:
        points: draws of the law per round (Sobol points of the box; at least 6 for the 5
            coefficients of a linear surface in 4 parameters plus one residual).
        widths: per round, the box's half-width in the search bounds scaled to [0, 1].
        replicates: the CBD fit's draws of every volume at the start on fresh packings, whose
            spread gives the weights (the particle fit weighs by its surface's residuals).
    """

    points: int = 12
    widths: tuple[float, ...] = (0.06, 0.03, 0.03)
    replicates: int = 3


DEFAULT_MOMENTS: Final[MomentSettings] = MomentSettings()
"""The particle law's rounds (stop 52)."""

DEFAULT_CBD_MOMENTS: Final[MomentSettings] = MomentSettings(points=10, widths=(0.1, 0.05), replicates=3)
"""The CBD placement's rounds (stop 53): a wider first box (the shipped CBD fits scatter over
about 0.2 of the film share's range between volumes of one adhesion)."""


class MomentFit(NamedTuple):
    """A particle law fitted by :func:`fit_particle_moments`, or a CBD placement by
    :func:`fit_cbd_moments`.

    Attributes:
        geometry: the fit (its other fields those of the start).
        chi2: the last round's surface's chi-square at the fit [-].
        statistics: how many group statistics it sums (groups x statistics per volume).
        standard_errors: per fitted field (:data:`~jaxmicro.generator.stochastic.PARTICLE_STAGE`
            or the fitted of :data:`~jaxmicro.generator.stochastic.CBD_STAGE`), in its units (the
            log radius: relative).
        correlation: ``(k, k)`` correlations of those errors (k fitted fields).
        rounds: per round, the fitted fields and the chi-square at the box's centre.
    """

    geometry: st.GeometryParams
    chi2: float
    statistics: int
    standard_errors: dict[str, float]
    correlation: np.ndarray
    rounds: list[dict[str, float]]


def am_moments(volume: np.ndarray) -> np.ndarray:
    """One volume's AM statistics (:data:`MOMENT_NAMES`).

    Args:
        volume: ``(z, y, x)`` phase ids.

    Returns:
        ``(5,)`` float64: mean chord through-plane and in-plane [voxels], mean local-thickness
        radius [voxels], Euler characteristic density [1/voxel], specific surface
        [faces/voxel].
    """
    volume = np.asarray(volume, np.uint8)
    descriptors = morphology(volume[None], (AM,), (AM,))
    chords = descriptors.chord_counts[0]
    return np.array([
        mean_size(chords[0]),
        mean_size(chords[1] + chords[2]),
        mean_size(descriptors.size_counts[0]),
        float(descriptors.euler_density[0]),
        st.surface_terms(volume)[0],
    ])  # fmt: skip


CBD_MOMENT_NAMES: Final[tuple[str, ...]] = (
    "cbd_chord_through_voxels", "cbd_chord_in_plane_voxels", "cbd_size_voxels", "cbd_euler_per_voxel",
    "pore_chord_through_voxels", "pore_chord_in_plane_voxels", "pore_size_voxels", "pore_euler_per_voxel",
    "cbd_coverage",
)  # fmt: skip
"""The per-volume statistics of :func:`cbd_moments`, in order."""


def cbd_moments(volume: np.ndarray) -> np.ndarray:
    """One volume's CBD and pore statistics (:data:`CBD_MOMENT_NAMES`).

    Args:
        volume: ``(z, y, x)`` phase ids.

    Returns:
        ``(9,)`` float64: per phase (CBD, pore) mean chord through-plane and in-plane [voxels],
        mean local-thickness radius [voxels] and Euler characteristic density [1/voxel]; then
        the CBD coverage of the AM surface [-].
    """
    volume = np.asarray(volume, np.uint8)
    descriptors = morphology(volume[None], (CBD, PORE), (CBD, PORE))
    values = []
    for k in range(2):
        chords = descriptors.chord_counts[k]
        values += [
            mean_size(chords[0]),
            mean_size(chords[1] + chords[2]),
            mean_size(descriptors.size_counts[k]),
            float(descriptors.euler_density[k]),
        ]
    return np.array([*values, st.surface_terms(volume)[1]])


def moment_groups(labels: Sequence[np.ndarray]) -> np.ndarray:
    """Group index of each volume: volumes of one porosity label (to 1e-3) share a group.

    Args:
        labels: ``(3,)`` labels (am_wt, porosity, adhesion) per volume.

    Returns:
        ``(n,)`` int group indices, ordered by porosity.
    """
    levels = np.round([float(label[1]) for label in labels], 3)
    return np.searchsorted(np.unique(levels), levels)


def _group_means(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    return np.concatenate([values[groups == g].mean(0) for g in range(groups.max() + 1)])


def _response_surface(
    names: tuple[str, ...],
    start: st.GeometryParams,
    voxel_size_m: float,
    target: np.ndarray,
    drawn: Callable[[st.GeometryParams, jax.Array], np.ndarray],
    seed: int,
    settings: MomentSettings,
    progress: str,
    variance: np.ndarray | None = None,
) -> MomentFit:
    """The rounds of the module's estimator over the fields ``names`` of ``start``.

    Args:
        names: the fitted :class:`GeometryParams` fields.
        start: the first box's centre (its other fields stay).
        voxel_size_m: voxel edge [m] (the search bounds).
        target: ``(m,)`` the training volumes' statistics.
        drawn: the same statistics of volumes drawn at a geometry on a key.
        seed: point ``p`` of round ``r`` draws on ``fold_in(fold_in(PRNGKey(seed), r), p)``.
        settings: the rounds.
        progress: a name to print each point and round under ("": silent).
        variance: ``(m,)`` the noise variance of ``target - drawn`` (the weights); None: each
            round's surface residual variance.

    Returns:
        The :class:`MomentFit`.
    """
    from scipy.optimize import lsq_linear
    from scipy.stats import qmc

    low, high = st._unit_box(names, voxel_size_m)
    root = jax.random.PRNGKey(seed)
    rounds: list[dict[str, float]] = []
    centre = st._unit_of(start, names, voxel_size_m)
    for index, width in enumerate(settings.widths):
        with warnings.catch_warnings():  # any point count: the balance of 2^k points is not needed
            warnings.simplefilter("ignore", UserWarning)
            sobol = qmc.Sobol(len(names), scramble=True, seed=index).random(settings.points)
        points = np.clip(centre + width * (2 * sobol - 1), 0.0, 1.0)
        key = jax.random.fold_in(root, index)
        where = f"{progress} round {index + 1}/{len(settings.widths)}"
        values = []
        for j, point in enumerate(points):
            values.append(drawn(st._at(start, names, point, voxel_size_m), jax.random.fold_in(key, j)))
            if progress:
                print(f"{where}: point {j + 1}/{len(points)}", flush=True)
        values = np.array(values)
        design = np.c_[np.ones(len(points)), points - centre]
        coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
        residual = values - design @ coefficients
        if variance is None:
            weights = (residual**2).sum(0) / (len(points) - design.shape[1])
        else:
            weights = variance
        offset, jacobian = coefficients[0], coefficients[1:].T  # (m,), (m, k)
        scale = 1.0 / np.sqrt(np.maximum(weights, 1e-30))
        bounds = (-centre, 1.0 - centre)
        step = lsq_linear(jacobian * scale[:, None], scale * (target - offset), bounds=bounds).x
        step = np.clip(step, -2 * width, 2 * width)  # the surface holds near its box only
        chi2_centre = float(np.sum(((target - offset) * scale) ** 2))
        chi2 = float(np.sum(((target - offset - jacobian @ step) * scale) ** 2))
        centre = np.clip(centre + step, 0.0, 1.0)
        law = st._at(start, names, centre, voxel_size_m)
        rounds.append({**{n: float(getattr(law, n)) for n in names}, "chi2_centre": chi2_centre})
        if progress:
            print(
                f"{where}: chi-square {chi2_centre:.1f} -> {chi2:.1f} over {len(target)} statistics, "
                f"{st._rounded(law, names)}",
                flush=True,
            )
    covariance = np.linalg.inv(jacobian.T @ (jacobian * (scale**2)[:, None]))
    errors = np.sqrt(np.diag(covariance))
    spans = high - low
    return MomentFit(
        geometry=law,
        chi2=chi2,
        statistics=len(target),
        standard_errors={n: float(e * s) for n, e, s in zip(names, errors, spans, strict=True)},
        correlation=covariance / np.outer(errors, errors),
        rounds=rounds,
    )


def _checked(
    volumes: Sequence[np.ndarray], names: tuple[str, ...], settings: MomentSettings
) -> list[np.ndarray]:
    """The volumes as uint8, or ValueError for inputs a fit would only reject after its draws."""
    if settings.points < len(names) + 2 or not settings.widths:
        raise ValueError(
            f"MomentSettings needs at least {len(names) + 2} points and one round, got {settings.points} "
            f"points and widths {settings.widths}"
        )
    volumes = [np.asarray(v, np.uint8) for v in volumes]
    if len(volumes) < 2 or len({v.shape for v in volumes}) != 1:
        raise ValueError(
            f"a moments fit needs at least 2 volumes of one shape, got {sorted({v.shape for v in volumes})} "
            f"for {len(volumes)}; crop them to one shape"
        )
    return volumes


def fit_particle_moments(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    voxel_size_m: float,
    start: st.GeometryParams,
    seed: int = 0,
    settings: MomentSettings = DEFAULT_MOMENTS,
    workers: int | None = None,
    progress: bool = False,
) -> MomentFit:
    """Fits the particle law (median radius, spread, loose fraction, flattening) to volumes by
    the method of simulated moments (the module's docstring).

    Args:
        volumes: ``(z, y, x)`` phase ids, one per volume, all of one shape (as large as the
            model will be judged at: at 64^3 the statistics do not tell the law's radius from
            its spread).
        labels: their ``(3,)`` labels.
        voxel_size_m: their voxel edge [m].
        start: the first box's centre (e.g. a fit by :func:`~jaxmicro.generator.stochastic.
            fit_particles`).
        seed: seed of the draws (point ``p`` of round ``r`` draws volume ``i`` on
            ``fold_in(fold_in(fold_in(PRNGKey(seed), r), p), i)``).
        settings: the rounds (:class:`MomentSettings`).
        workers: threads drawing and measuring (None: the CPU count).
        progress: print each point drawn and each round's law.

    Returns:
        The :class:`MomentFit`.

    Raises:
        ValueError: fewer than 2 volumes, volumes of different shapes, too few points or no round.
    """
    volumes = _checked(volumes, st.PARTICLE_STAGE, settings)
    shape = volumes[0].shape
    groups = moment_groups(labels)
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        target = _group_means(np.array(list(pool.map(am_moments, volumes))), groups)

        def drawn(law: st.GeometryParams, key: jax.Array) -> np.ndarray:
            def one(i: int) -> np.ndarray:
                return am_moments(st.draw(jax.random.fold_in(key, i), labels[i], law, shape))

            return _group_means(np.array(list(pool.map(one, range(len(volumes))))), groups)

        name = "moments" if progress else ""
        return _response_surface(st.PARTICLE_STAGE, start, voxel_size_m, target, drawn, seed, settings, name)


def fit_cbd_moments(
    volumes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    voxel_size_m: float,
    start: st.GeometryParams,
    seed: int = 0,
    settings: MomentSettings = DEFAULT_CBD_MOMENTS,
    workers: int | None = None,
    progress: str = "",
    fields: tuple[str, ...] = st.CBD_STAGE,
) -> MomentFit:
    """Fits one CBD placement (neck weight, roughness, agglomerate length, film share, or the
    ``fields`` of them) to volumes that share it (one adhesion level), the particle law fixed,
    by the module's estimator on :func:`cbd_moments` averaged per porosity level.

    Every volume's packing is drawn once, on ``fold_in(split(PRNGKey(seed))[0], i)`` with
    ``start``'s particle law, and reused at every point (common random numbers: the response
    surface sees the placement's noise, not the packings'); the placement draws on a fresh key
    per point. The weights are one volume's noise, packing and placement, from
    ``settings.replicates`` draws of every volume at ``start`` on fresh keys (from
    ``split(PRNGKey(seed))[1]``), pooled over each porosity level's volumes; the target and a
    draw each carry it once.

    Args:
        volumes: ``(z, y, x)`` phase ids, all of one shape (stop 53: 128^3).
        labels: their ``(3,)`` labels.
        voxel_size_m: their voxel edge [m].
        start: the particle law and the first box's CBD centre.
        seed: seed of the packings and the placements.
        settings: the rounds (:data:`DEFAULT_CBD_MOMENTS`).
        workers: threads drawing and measuring (None: the CPU count).
        progress: a name to print each point and round under ("": silent).
        fields: the fitted CBD fields (:data:`~jaxmicro.generator.stochastic.CBD_STAGE` or a
            subset; the others stay ``start``'s).

    Returns:
        The :class:`MomentFit` (its other fields ``start``'s).

    Raises:
        ValueError: fewer than 2 volumes, volumes of different shapes, too few points, no round,
            fewer than 2 replicates or fields outside the CBD stage.
    """
    if not fields or not set(fields) <= set(st.CBD_STAGE):
        raise ValueError(f"fields {list(fields)} must be among the CBD fields {list(st.CBD_STAGE)}")
    volumes = _checked(volumes, tuple(fields), settings)
    shape = volumes[0].shape
    groups = moment_groups(labels)
    if settings.replicates < 2:
        raise ValueError(f"a CBD moments fit weighs by at least 2 replicates, got {settings.replicates}")
    root, noise_root = jax.random.split(jax.random.PRNGKey(seed))
    indices = range(len(volumes))
    with concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        target = _group_means(np.array(list(pool.map(cbd_moments, volumes))), groups)
        packings = list(pool.map(
            lambda i: st.particles(jax.random.fold_in(root, i), labels[i], start, shape), indices
        ))  # fmt: skip

        def per_volume(geometry: st.GeometryParams, key: jax.Array, packed: bool) -> np.ndarray:
            def one(i: int) -> np.ndarray:
                distances = packings[i] if packed else None
                return cbd_moments(st.draw(jax.random.fold_in(key, i), labels[i], geometry, shape, distances))

            return np.array(list(pool.map(one, indices)))

        replicates = []
        for r in range(settings.replicates):
            replicates.append(per_volume(start, jax.random.fold_in(noise_root, r), False))
            if progress:
                print(f"{progress} noise: replicate {r + 1}/{settings.replicates}", flush=True)
        replicates = np.array(replicates)
        spread = replicates.var(axis=0, ddof=1)  # (n, m)
        counts = np.bincount(groups)
        variance = 2 * _group_means(spread, groups) / np.repeat(counts, spread.shape[1])

        def drawn(geometry: st.GeometryParams, key: jax.Array) -> np.ndarray:
            return _group_means(per_volume(geometry, key, True), groups)

        return _response_surface(
            tuple(fields), start, voxel_size_m, target, drawn, seed + 1, settings, progress, variance
        )
