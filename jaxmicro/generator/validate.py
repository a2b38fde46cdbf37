"""Validation of a generator against held-out simulated microstructures.

At each held-out label (or each label of the caller's choosing, e.g. :func:`off_grid_labels`,
where every reference is simulated) the generator makes ``seeds`` volumes; their metrics,
averaged over seeds, are compared with the mean metrics of the *reference* volumes at that
label:

* ``porosity``, ``am_vf``, ``cbd_vf``: phase volume fractions [-].
* ``tau_through``: pore tortuosity factor along axis 0 (through-plane) [-].
* ``tau_in_plane``: pore tortuosity factor in-plane, axes 1 and 2 averaged as a conductance [-].
* ``am_ssa``: AM specific surface area (pore- and CBD-facing) per volume [1/m].
* ``cbd_coverage``: fraction of the AM surface touching CBD [-].

All seven are fields of the one :class:`~jaxmicro.characterise.Measurement` that the design loop
and the cell model use (:data:`METRICS` names them), measured with :func:`validation_settings`'s
options: the CBD dense (so the electrolyte is the pore phase) and the areas from the smoothed
estimate, which reads a voxelised sphere within 3 % where face counting reads it 1.5x too high.
Until 2026-12-04 validation kept its own metrics (face-counted areas, the in-plane taus'
arithmetic mean); the reports written before then differ by that.

The references are the dataset's held-out volume, plus (for a dataset made by the simulator,
whose settings travel in its manifest) further simulator volumes at the same label, or only
simulator volumes when another volume size is asked for. One 64^3 volume is a small sample:
the simulator's own through-plane tortuosity varies by about 15 % from seed to seed at 64^3,
so a perfect generator compared with a single 64^3 reference would show errors of that size.
The report therefore also scores a *control*: ``seeds`` more simulator volumes, not among the
references, treated exactly like generated ones. The control's errors are what a perfect
generator would get from the same comparison (the sampling floor of the check).

Two further parts make the report say what the generator adds:

* **Morphology**: per label, the generated volumes' pooled two-point correlations and chord-length
  distributions (per phase, through-plane and in-plane) and local-thickness pore, AM and CBD size
  distributions (:mod:`jaxmicro.characterise.morphology`) against the references', as relative
  distances; the control's distances are their floor. Beside them, per phase, how much its
  fraction varies by position in the generator's latent cell (:func:`grid_deviation`; the
  generator can draw one pattern in every cell, the simulator cannot): the control's value is the
  sampling floor, so the same 2x goal applies.
* **Interpolation baseline**: a least-squares fit of the training volumes' seven metrics over the
  labels (quadratic in the labels, or linear if there are too few finite values), evaluated at the
  held-out labels and scored like the generator. A generator that does not beat it on the scalar
  metrics adds nothing over a lookup table of its own training data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxmicro._files import plain_json
from jaxmicro.characterise.measure import Measurement, MeasureSettings, measure
from jaxmicro.characterise.morphology import (
    Morphology,
    distance_names,
    morphology,
    morphology_distances,
    morphology_summary,
)
from jaxmicro.data.dataset import LabelledDataset, load_dataset
from jaxmicro.data.labels import LABEL_FIELDS, label_tag, validate_labels
from jaxmicro.data.phases import AM, CBD, N_PHASES, PHASE_NAMES, PORE
from jaxmicro.data.simulated_dataset import SimulationRecipe, dataset_simulator, simulation_recipe
from jaxmicro.data.simulator import SimulatorConfig, simulate_electrodes
from jaxmicro.generator.checkpoint import Generator
from jaxmicro.generator.generate import generate
from jaxmicro.generator.losses import lattice_deviation
from jaxmicro.generator.protocol import VolumeGenerator
from jaxmicro.generator.slices import cubes_of
from jaxmicro.generator.stochastic import label_features

_VALIDATION_STREAM: Final = 0x7A11D  # keys of validation volumes, apart from the dataset's own
_CHOSEN_LABELS_STREAM: Final = 1  # within it, the references at labels other than the held-out
BASELINES: Final[tuple[str, ...]] = ("quadratic", "linear")
"""Interpolation baselines :func:`validate_generator` can score."""

METRICS: Final[tuple[tuple[str, Callable[[Measurement], jax.Array]], ...]] = (
    ("porosity", lambda m: m.volume_fraction[..., PORE]),
    ("am_vf", lambda m: m.volume_fraction[..., AM]),
    ("cbd_vf", lambda m: m.volume_fraction[..., CBD]),
    ("tau_through", lambda m: m.electrolyte_tau_through_plane),
    ("tau_in_plane", lambda m: m.electrolyte_tau_in_plane),
    ("am_ssa", lambda m: m.am_surface_area_per_volume_m),
    ("cbd_coverage", lambda m: m.cbd_coverage),
)
"""The validation's scalar metrics: short name -> the :class:`Measurement` field it reads."""

METRIC_NAMES: Final[tuple[str, ...]] = tuple(name for name, _ in METRICS)


def validation_settings(voxel_size_m: float) -> MeasureSettings:
    """What validation measures: pore transport through- and in-plane (the CBD dense) and the
    areas; not the solid conductivity or the particle radius (the morphology part compares
    sizes as whole distributions)."""
    return MeasureSettings(voxel_size_m, in_plane=True, solid_conductivity=False, particle_radius=False)


METRICS_CHUNK_VOXELS: int = 4 * 128**3
"""Voxels measured in one call by :func:`compute_metrics`. Its peak host memory grows by about
160 MB per 128^3 volume of a batch (0.75 GB for 2, 1.7 GB for 8; /usr/bin/time, 2026-12-06), so
one call on a 128^3 check's 36 volumes of a label would take about 6 GB by that growth, and two
such checks beside the test suite ran a 24 GB machine out of memory (2026-12-06)."""


def compute_metrics(
    volumes: np.ndarray, voxel_size_m: float, chunk_voxels: int = METRICS_CHUNK_VOXELS
) -> np.ndarray:
    """The :data:`METRICS` of phase-id volumes.

    Args:
        volumes: ``(n, z, y, x)`` (or one ``(z, y, x)``) integer phase ids.
        voxel_size_m: voxel edge [m].
        chunk_voxels: measure at most this many voxels at once (at least one volume): the
            volumes are independent, so the chunks change only the peak memory.

    Returns:
        ``(n, len(METRIC_NAMES))`` float64 array (tortuosity inf where the pores do not
        percolate, as the solver reports it eager or traced).
    """
    volumes = np.asarray(volumes)
    volumes = volumes[None] if volumes.ndim == 3 else volumes
    if volumes.ndim != 4:
        raise ValueError(f"volumes must be (z, y, x) or (n, z, y, x), got shape {volumes.shape}")
    per_chunk = max(1, chunk_voxels // max(1, math.prod(volumes.shape[1:])))
    # Equal chunks (sizes differ by at most one): at most two batch shapes to compile.
    chunks = np.array_split(volumes, max(1, math.ceil(len(volumes) / per_chunk)))
    settings = validation_settings(voxel_size_m)
    rows = []
    for chunk in chunks:
        measured = jax.device_get(measure(chunk.astype(np.int32), settings))
        rows.append(np.stack([np.asarray(read(measured), np.float64) for _, read in METRICS], axis=-1))
    return np.concatenate(rows)


def _label_features(labels: np.ndarray, low: np.ndarray, span: np.ndarray, kind: str) -> np.ndarray:
    """Design matrix ``(m, f)``: 1, the scaled labels, and for ``quadratic`` their products."""
    return label_features((labels - low) / span, "affine" if kind == "linear" else kind)


def interpolation_baseline(
    train_labels: np.ndarray, train_metrics: np.ndarray, labels: np.ndarray, kind: str = "quadratic"
) -> np.ndarray:
    """Metrics predicted at ``labels`` by a least-squares fit of training metrics over labels.

    Each metric (column) is fitted on its finite training values alone (a non-percolating
    training volume has an infinite tortuosity). Labels are scaled to [0, 1] over the training
    range; a label constant over the training set is left out. A ``quadratic`` fit falls back to
    ``linear`` for a metric with fewer finite values than quadratic coefficients.

    Args:
        train_labels: ``(t, 3)`` labels of the training volumes.
        train_metrics: ``(t, k)`` their metrics.
        labels: ``(m, 3)`` labels to predict at.
        kind: ``"quadratic"`` (1 + 3 + 6 coefficients for 3 labels) or ``"linear"``.

    Returns:
        ``(m, k)`` predicted metrics (nan for a metric with too few finite training values).

    Raises:
        ValueError: an unknown ``kind`` or mismatched shapes.
    """
    if kind not in BASELINES:
        raise ValueError(f"baseline kind must be one of {BASELINES}, got {kind!r}")
    train_labels = np.asarray(train_labels, np.float64)
    train_metrics = np.asarray(train_metrics, np.float64)
    labels = np.asarray(labels, np.float64)
    if train_labels.ndim != 2 or train_metrics.shape[:1] != train_labels.shape[:1] or labels.ndim != 2:
        raise ValueError(
            f"need (t, 3) training labels, (t, k) training metrics and (m, 3) labels, got "
            f"{train_labels.shape}, {train_metrics.shape}, {labels.shape}"
        )
    varying = np.ptp(train_labels, axis=0) > 0
    low = train_labels[:, varying].min(axis=0)
    span = np.ptp(train_labels[:, varying], axis=0)
    predicted = np.full((len(labels), train_metrics.shape[1]), np.nan)
    for column, values in enumerate(train_metrics.T):
        finite = np.isfinite(values)
        for fit in (kind, "linear") if kind == "quadratic" else (kind,):
            design = _label_features(train_labels[finite][:, varying], low, span, fit)
            if finite.sum() >= design.shape[1]:
                coefficients = np.linalg.lstsq(design, values[finite], rcond=None)[0]
                predicted[:, column] = _label_features(labels[:, varying], low, span, fit) @ coefficients
                break
    return predicted


_TAU_COLUMNS: Final[tuple[int, ...]] = (METRIC_NAMES.index("tau_through"), METRIC_NAMES.index("tau_in_plane"))
_POROSITY_COLUMN: Final[int] = METRIC_NAMES.index("porosity")


def volume_mean(metrics: np.ndarray) -> np.ndarray:
    """``(m, k)`` mean over the volumes axis of ``(m, n, k)`` metrics; the tortuosities averaged
    as a conductance, ``mean(eps) / mean(eps / tau)`` (a volume whose pores do not percolate
    counts as 0 conductance), as the design loop averages seeds
    (:func:`~jaxmicro.characterise.measure.average_over_seeds`, here on the stored metric
    columns, where the electrolyte is the pore): one non-percolating volume of a low-porosity
    label does not make the whole label's mean infinite."""
    mean = metrics.mean(axis=1)
    porosity = metrics[..., _POROSITY_COLUMN]
    for column in _TAU_COLUMNS:
        conductance = np.mean(porosity / metrics[..., column], axis=1)  # eps / inf = 0
        with np.errstate(divide="ignore"):
            mean[:, column] = np.where(conductance > 0, porosity.mean(axis=1) / conductance, np.inf)
    return mean


GRID_NAMES: Final[tuple[str, ...]] = tuple(f"grid_{name.lower()}" for name in PHASE_NAMES.values())
"""Names of :func:`grid_deviation`'s entries in :class:`MorphologyComparison`, one per phase."""


def grid_deviation(volumes: np.ndarray, period: int) -> np.ndarray:
    """How much each phase's fraction depends on the position in a grid cell of ``period`` voxels.

    Each phase's fraction at each 3-D position in the cell, pooled over every cell of the
    volumes (:func:`~jaxmicro.generator.losses.lattice_deviation`), as an RMS relative
    deviation from the phase's mean. A stationary structure reads its sampling noise,
    ``sqrt((1 - f) / (f n))`` for ``n`` cells and phase fraction ``f``; the generator,
    equivariant only to shifts by whole latent voxels, can draw the same pattern in every cell
    and read more (stop 42: the shipped default's CBD).

    Args:
        volumes: ``(n, z, y, x)`` phase ids; each edge is cut to a multiple of ``period``.
        period: the grid's period [voxels], e.g. the generator's ``upsample_factor``.

    Returns:
        ``(len(GRID_NAMES),)`` RMS relative deviations [-], in :data:`GRID_NAMES` order.

    Raises:
        ValueError: an edge shorter than ``period``.
    """
    volumes = np.asarray(volumes)
    if min(volumes.shape[1:]) < period:
        raise ValueError(f"volumes {volumes.shape[1:]} are smaller than the grid period {period} voxels")
    cut = tuple(slice(0, n - n % period) for n in volumes.shape[1:])
    one_hot = jax.nn.one_hot(volumes[(slice(None), *cut)], N_PHASES)
    return np.sqrt(np.asarray(lattice_deviation(one_hot, period)))


def _morphology_row(
    candidate: Morphology, reference: Morphology, volumes: np.ndarray, period: int | None
) -> np.ndarray:
    """One row of :class:`MorphologyComparison`: the distances of ``candidate`` (the pooled
    descriptors of ``volumes``) from ``reference``, then their :func:`grid_deviation` (unless
    ``period`` is None)."""
    row = morphology_distances(candidate, reference)
    return row if period is None else np.concatenate([row, grid_deviation(volumes, period)])


def _signed_error(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    reference_mean = volume_mean(reference)
    return (volume_mean(candidate) - reference_mean) / np.abs(reference_mean)


def _relative_error(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.abs(_signed_error(candidate, reference))


GOAL_MEAN_ERROR: Final[float] = 0.03
"""Fidelity goal: every metric's mean relative error over the labels below this (and below the
interpolation baseline's)."""
GOAL_ENTRY_ERROR: Final[float] = 0.06
"""Fidelity goal: no label-metric error above ``max(GOAL_ENTRY_ERROR, 2 x the control's)``."""
GOAL_FLOOR_RATIO: Final[float] = 2.0
"""Fidelity goal: entries and morphology distances within this multiple of the control's."""
GOAL_PRECISION: Final[float] = 0.005
"""Errors below this count as equal in the baseline comparison: the simulator hits its labels'
phase fractions, so a fit of them reads ~0.0x %, and a generator 0.3 % off has not lost to it."""
BIAS_METRICS: Final[tuple[str, ...]] = ("am_ssa", "cbd_coverage")
"""Metrics whose systematic (same-sign) error the fidelity goals bound by the control's."""


class GoalCheck(NamedTuple):
    """One fidelity goal of :meth:`ValidationReport.goals`.

    Attributes:
        name: what is checked.
        passed: whether the report meets it.
        failures: what misses it (metric or distance names with their values), empty if passed.
        control_passed: whether the control (more simulator volumes, a perfect generator's
            stand-in) meets it in the same check, or None without a control. A goal the control
            misses cannot tell a perfect generator from a failing one at this check's size and
            reference count.
    """

    name: str
    passed: bool
    failures: tuple[str, ...]
    control_passed: bool | None = None


@dataclasses.dataclass(frozen=True)
class MorphologyComparison:
    """Morphology distances at the held-out labels (see :mod:`jaxmicro.characterise.morphology`).

    Attributes:
        names: the distances (:func:`jaxmicro.characterise.morphology.distance_names`), then
            the latent-grid deviations (:data:`GRID_NAMES`; absent for volumes smaller than the
            generator's latent cell).
        generated: ``(m, d)`` relative distances, pooled generated vs pooled reference volumes;
            then the generated volumes' :func:`grid_deviation` [-].
        control: ``(m, d)`` the same for the control volumes (the floor), or None.
        size_names: the summaries in ``sizes`` (``morphology_summary``; the unit is in each
            name): mean chord lengths per phase
            through-plane and in-plane, mean local-thickness radius of pore, AM and CBD [m], Euler
            characteristic density per phase [1/um^3].
        sizes: ``(m, 3, s)`` those summaries of the reference, generated and control volumes
            (nan for a missing control).
    """

    names: tuple[str, ...]
    generated: np.ndarray
    control: np.ndarray | None
    size_names: tuple[str, ...]
    sizes: np.ndarray

    def to_json(self) -> dict[str, Any]:
        report = {
            "distances": list(self.names),
            "generated": self.generated.tolist(),
            "generated_mean": dict(zip(self.names, np.nanmean(self.generated, 0).tolist(), strict=True)),
            "summary_names": list(self.size_names),
            "summaries": {
                group: self.sizes[:, i].tolist()
                for i, group in enumerate(("reference", "generated", "control"))
            },
        }
        if self.control is not None:
            report["control"] = self.control.tolist()
            report["control_mean"] = dict(zip(self.names, np.nanmean(self.control, 0).tolist(), strict=True))
        return report


def _check(goal: str, names: Any, values: np.ndarray, failed: np.ndarray, ratio: bool = False) -> GoalCheck:
    """The :class:`GoalCheck` ``goal``, naming the entries of ``names`` with their ``values``
    (relative errors, shown in %, or ratios) where ``failed``."""
    names, failed = np.asarray(names), np.asarray(failed)
    shown = [f"{v:.1f}x" if ratio else f"{100 * v:+.1f} %" for v in values[failed]]
    failures = tuple(f"{n} {v}" for n, v in zip(names[failed], shown, strict=True))
    return GoalCheck(goal, not failed.any(), failures)


def _goals_line(checks: tuple[GoalCheck, ...]) -> str:
    """One line per goal: met, or what misses it (at most 4 named, then a count)."""
    met = sum(c.passed for c in checks)
    lines = [f"fidelity goals met: {met} of {len(checks)}"]
    for check in checks:
        if check.passed:
            lines.append(f"  {check.name}: met")
        else:
            shown = ", ".join(check.failures[:4])
            more = f" and {len(check.failures) - 4} more" if len(check.failures) > 4 else ""
            lines.append(f"  {check.name}: not met ({shown}{more})")
        if check.control_passed is False:
            lines.append(
                f"    the control misses '{check.name}' too: this check cannot tell a perfect "
                "generator from a failing one (more --reference-seeds or a larger --size)"
            )
    return "\n".join(lines)


def _morphology_table(comparison: MorphologyComparison, labels: np.ndarray) -> list[str]:
    """Rows: distances; columns: labels, mean, control mean, generated / control."""
    tags = [label_tag(label) for label in labels]
    head = f"{'distance [%]':>20} " + " ".join(f"{t:>14}" for t in tags) + f" {'mean':>7}"
    if comparison.control is not None:
        head += f" {'control':>7} {'gen/ctl':>7}"
    lines = [
        "morphology: relative distance [%] of the pooled generated volumes from the pooled "
        "references (S2: L2 of the normalised autocovariance; chords and sizes: Wasserstein-1 / "
        "reference mean, sizes as local-thickness radius + 1/2 voxel; through = axis 0, in_plane "
        "= axes 1 and 2; grid: RMS relative deviation of the phase's fraction by 3-D position in "
        "the generator's latent cell, not a distance)",
        head,
    ]
    with np.errstate(invalid="ignore", divide="ignore"):
        for index, name in enumerate(comparison.names):
            values = comparison.generated[:, index]
            row = f"{name:>20} " + " ".join(f"{100 * v:14.1f}" for v in values)
            mean = np.nanmean(values) if np.isfinite(values).any() else np.nan
            row += f" {100 * mean:7.1f}"
            if comparison.control is not None:
                floor = comparison.control[:, index]
                floor_mean = np.nanmean(floor) if np.isfinite(floor).any() else np.nan
                row += f" {100 * floor_mean:7.1f} {mean / floor_mean:7.1f}"
            lines.append(row)
    return lines


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """Generated (and control) vs reference metrics at the held-out labels.

    Attributes:
        labels: ``(m, 3)`` held-out labels.
        reference: ``(m, r, k)`` metrics of the ``r`` reference volumes per label, columns
            ``METRIC_NAMES``.
        generated: ``(m, s, k)`` metrics of the ``s`` generated volumes per label.
        shape: ``(z, y, x)`` of every compared volume [voxels].
        control: ``(m, c, k)`` metrics of simulator volumes that are not references, or None
            (the dataset was not made by the simulator, or the control was not asked for).
        baseline: ``(m, k)`` metrics predicted by the interpolation baseline, or None (not asked
            for, or no 3-D training volumes).
        baseline_kind: the baseline's fit (:data:`BASELINES`), or None.
        morphology: the :class:`MorphologyComparison`, or None (not asked for).
        slices: middle slices for a montage: three ``(m, 2, a, b)`` uint8 arrays, normal to
            axes 0, 1, 2, entry ``[:, 0]`` of the first generated volume and ``[:, 1]`` of the
            first reference; or None.
    """

    labels: np.ndarray
    reference: np.ndarray
    generated: np.ndarray
    shape: tuple[int, int, int]
    control: np.ndarray | None = None
    baseline: np.ndarray | None = None
    baseline_kind: str | None = None
    morphology: MorphologyComparison | None = None
    slices: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def relative_error(self) -> np.ndarray:
        """``(m, k)``: ``|mean generated - mean reference| / |mean reference|``, per label."""
        return _relative_error(self.generated, self.reference)

    @property
    def metric_mean_error(self) -> np.ndarray:
        """``(k,)`` relative error of each metric averaged over the labels."""
        return self.relative_error.mean(axis=0)

    @property
    def mean_error(self) -> float:
        """The mean relative error over all labels and metrics."""
        return float(self.relative_error.mean())

    @property
    def control_error(self) -> np.ndarray | None:
        """``(m, k)`` relative error of the control volumes (a perfect generator's), or None."""
        return None if self.control is None else _relative_error(self.control, self.reference)

    @property
    def spread(self) -> np.ndarray:
        """``(m, k)`` relative standard deviation of one simulator volume's metric at each label:
        the sample standard deviation of the references (and control volumes, pooled) over
        their mean [-]; nan with a single volume. What makes the control err."""
        pooled = self.reference if self.control is None else np.concatenate([self.reference, self.control], 1)
        if pooled.shape[1] < 2:
            return np.full(pooled.shape[::2], np.nan)
        with np.errstate(invalid="ignore"):  # non-percolating volumes: inf tortuosity
            return pooled.std(axis=1, ddof=1) / np.abs(volume_mean(self.reference))

    def references_needed(self, target: float = GOAL_MEAN_ERROR / 2) -> np.ndarray:
        """``(k,)`` references per label (with as many control volumes) at which the control's
        expected metric mean error would be ``target``: with ``n`` references and ``n`` control
        volumes a label's control error is ``|N(0, 2 s^2 / n)|`` for the relative spread ``s``
        (:attr:`spread`), mean ``s sqrt(2 / n) sqrt(2 / pi)``, so ``n = 4 mean(s)^2 / (pi
        target^2)``. An estimate from this check's own volumes; nan where the spread is unknown.

        Args:
            target: the control's metric mean error to reach [-]; half the 3 % goal by default,
                leaving the generator room inside the goal.

        Returns:
            ``(k,)`` reference counts per label (0 for a metric the simulator hits exactly, such
            as the phase fractions; nan where no label has two finite values).
        """
        spread, finite = self.spread, np.isfinite(self.spread)
        with np.errstate(invalid="ignore"):  # 0 / 0 where no label has a spread
            mean = np.where(finite, spread, 0.0).sum(axis=0) / finite.sum(axis=0)
        return np.ceil(4 * mean**2 / (np.pi * target**2))

    @property
    def baseline_error(self) -> np.ndarray | None:
        """``(m, k)`` relative error of the interpolation baseline, scored like the generator."""
        return None if self.baseline is None else _relative_error(self.baseline[:, None], self.reference)

    def goals(self) -> tuple[GoalCheck, ...]:
        """The fidelity goals a generator must meet to be worth running over a lookup table of
        its training data, each checked on this report:

        * ``mean < 3 %``: every metric's mean relative error over the labels below
          :data:`GOAL_MEAN_ERROR`;
        * ``beats baseline``: ... and below the interpolation baseline's, or both below
          :data:`GOAL_PRECISION` (skipped without a baseline);
        * ``entries``: every label-metric error at most ``max(6 %, 2 x the control's error
          for that entry)`` (6 % without a control);
        * ``no bias``: for :data:`BIAS_METRICS`, the mean signed error over the labels within
          the largest per-label signed error of the control (skipped without one): an error of
          one sign at every label is a bias the floor's scatter cannot explain;
        * ``morphology``: every morphology distance's mean within 2x the control's, the
          latent-grid deviations among them (skipped without a control or morphology).

        With a control, each check also says whether the control volumes, scored as if they
        were generated, meet it (:attr:`GoalCheck.control_passed`): the last three hold for the
        control by construction, the first two need the references' sampling error well under
        3 %.

        Returns:
            The checks that apply, in that order.
        """
        comparison = self.morphology
        distances = None if comparison is None else comparison.generated
        checks = self._goal_checks(self.generated, distances)
        if self.control is None:
            return checks
        distances = None if comparison is None else comparison.control
        floor = self._goal_checks(self.control, distances)
        return tuple(c._replace(control_passed=f.passed) for c, f in zip(checks, floor, strict=True))

    def _goal_checks(self, candidate: np.ndarray, distances: np.ndarray | None) -> tuple[GoalCheck, ...]:
        """:meth:`goals` for ``candidate`` ``(m, s, k)`` metrics and morphology ``distances``
        ``(m, d)`` (or None) in place of the generated volumes'."""
        names, errors = METRIC_NAMES, _relative_error(candidate, self.reference)
        mean = errors.mean(axis=0)
        checks = [_check("mean < 3 %", names, mean, mean >= GOAL_MEAN_ERROR)]
        if self.baseline_error is not None:
            baseline = np.nanmean(self.baseline_error, axis=0)
            beaten = (mean < baseline) | ((mean < GOAL_PRECISION) & (baseline < GOAL_PRECISION))
            checks.append(_check("beats baseline", names, mean, ~beaten))
        limit = np.full(errors.shape, GOAL_ENTRY_ERROR)
        if self.control is not None:
            limit = np.maximum(limit, GOAL_FLOOR_RATIO * self.control_error)
        tags = np.array([[f"{label_tag(label)} {n}" for n in METRIC_NAMES] for label in self.labels])
        checks.append(_check("entries", tags.ravel(), errors.ravel(), ~(errors <= limit).ravel()))
        if self.control is not None:
            columns = [METRIC_NAMES.index(n) for n in BIAS_METRICS]
            bias = _signed_error(candidate, self.reference)[:, columns].mean(axis=0)
            scatter = np.abs(_signed_error(self.control, self.reference)[:, columns]).max(axis=0)
            checks.append(_check("no bias", BIAS_METRICS, bias, np.abs(bias) > scatter))
        comparison = self.morphology
        if distances is not None and comparison.control is not None:
            with np.errstate(invalid="ignore"):
                ratio = np.nanmean(distances, 0) / np.nanmean(comparison.control, 0)
            checks.append(_check("morphology", comparison.names, ratio, ~(ratio <= GOAL_FLOOR_RATIO), True))
        return tuple(checks)

    def table(self) -> str:
        """A text table of relative errors [%], one row per label, the per-metric mean, and the
        control's per-metric mean (the floor of this comparison)."""
        names = [n.replace("_", " ") for n in METRIC_NAMES]
        head = f"{'am_wt,por,adh':>16} " + " ".join(f"{n:>12}" for n in names)
        n_ref, n_gen = self.reference.shape[1], self.generated.shape[1]
        lines = [
            f"relative error [%] of the mean of {n_gen} generated volumes vs the mean of {n_ref} "
            f"simulated reference volume(s), {'x'.join(map(str, self.shape))} voxels",
            head,
        ]

        def row(tag: str, errors: np.ndarray) -> str:
            return f"{tag:>16} " + " ".join(f"{100 * e:12.1f}" for e in errors)

        for label, errors in zip(self.labels, self.relative_error, strict=True):
            lines.append(row(label_tag(label), errors))
        lines.append(row("mean", self.metric_mean_error))
        if self.baseline_error is not None:
            lines.append(row(f"{self.baseline_kind} fit", self.baseline_error.mean(axis=0)))
        if self.control_error is not None:
            lines.append(row("control mean", self.control_error.mean(axis=0)))
        lines.append(
            f"mean relative error {100 * self.mean_error:.1f} %; worst metric mean "
            f"{100 * self.metric_mean_error.max():.1f} % (goal < {100 * GOAL_MEAN_ERROR:.0f} %); "
            f"worst single entry {100 * self.relative_error.max():.1f} %"
        )
        if self.control_error is not None:
            lines.append(
                f"control ({self.control.shape[1]} more simulator volumes per label, scored like "
                f"generated ones: the floor of this check): mean {100 * self.control_error.mean():.1f} %, "
                f"worst metric mean {100 * self.control_error.mean(axis=0).max():.1f} %"
            )
            missed = self.control_error.mean(axis=0) >= GOAL_MEAN_ERROR
            if missed.any():
                needed = self.references_needed()
                named = ", ".join(
                    f"{n} {needed[i]:.0f}"
                    for i, n in enumerate(METRIC_NAMES)
                    if missed[i] and np.isfinite(needed[i])
                )
                lines.append(
                    f"the control's own metric mean is above {100 * GOAL_MEAN_ERROR:.0f} % for "
                    f"{', '.join(np.asarray(METRIC_NAMES)[missed])}: one simulator volume's spread "
                    f"sets this check's floor; references per label (and as many control volumes) "
                    f"for a {50 * GOAL_MEAN_ERROR:.1f} % floor: {named or 'unknown (one volume)'}"
                )
        if self.baseline_error is not None:
            baseline = self.baseline_error.mean(axis=0)
            wins = int(np.sum(self.metric_mean_error < baseline))
            lines.append(
                f"interpolation baseline ({self.baseline_kind} least-squares fit of the training "
                f"volumes' metrics over the labels, scored the same way): mean "
                f"{100 * np.nanmean(self.baseline_error):.1f} %, worst metric mean "
                f"{100 * np.nanmax(baseline):.1f} %; the generator beats it on {wins} of "
                f"{len(METRIC_NAMES)} metrics"
            )
        if self.morphology is not None:
            lines += ["", *_morphology_table(self.morphology, self.labels)]
        lines += ["", _goals_line(self.goals())]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def summary(metrics: np.ndarray) -> dict[str, Any]:
            with np.errstate(invalid="ignore"):  # inf tortuosities (no percolation) give nan spreads
                return {"mean": volume_mean(metrics).tolist(), "std": metrics.std(axis=1).tolist()}

        report = {
            "metrics": list(METRIC_NAMES),
            "label_fields": list(LABEL_FIELDS),
            "labels": self.labels.tolist(),
            "shape": list(self.shape),
            "reference": summary(self.reference),
            "generated": summary(self.generated),
            "relative_error": self.relative_error.tolist(),
            "metric_mean_error": dict(zip(METRIC_NAMES, self.metric_mean_error.tolist(), strict=True)),
            "mean_error": self.mean_error,
        }
        if self.control is not None:
            control_error = self.control_error
            report["control"] = summary(self.control)
            report["control_relative_error"] = control_error.tolist()
            report["control_metric_mean_error"] = dict(
                zip(METRIC_NAMES, control_error.mean(axis=0).tolist(), strict=True)
            )
            report["control_mean_error"] = float(control_error.mean())
            report["spread"] = self.spread.tolist()
            report["references_needed"] = dict(
                zip(METRIC_NAMES, self.references_needed().tolist(), strict=True)
            )
        if self.baseline is not None:
            baseline_error = self.baseline_error
            report["baseline"] = {
                "kind": self.baseline_kind,
                "metrics": self.baseline.tolist(),
                "relative_error": baseline_error.tolist(),
                "metric_mean_error": dict(
                    zip(METRIC_NAMES, baseline_error.mean(axis=0).tolist(), strict=True)
                ),
                "mean_error": float(np.nanmean(baseline_error)),
            }
        if self.morphology is not None:
            report["morphology"] = self.morphology.to_json()
        report["goals"] = [check._asdict() for check in self.goals()]
        return plain_json(report)


def off_grid_labels(generator: VolumeGenerator, n: int, seed: int = 0) -> np.ndarray:
    """``n`` labels spread over the generator's trained range and off its training grid: points
    of a scrambled Sobol sequence (``scipy.stats.qmc``), for :func:`validate_generator`'s
    ``labels``. Almost surely none lies on a grid level, so they test interpolation between
    the training labels rather than recall of them.

    Args:
        generator: the generator (its ``label_ranges``).
        n: number of labels, >= 1.
        seed: the sequence's scrambling seed.

    Returns:
        ``(n, 3)`` physical labels, columns ``LABEL_FIELDS``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of off-grid labels must be a whole number >= 1, got {n!r}")
    from scipy.stats import qmc

    sobol = qmc.Sobol(d=len(LABEL_FIELDS), scramble=True, seed=seed)
    unit = sobol.random_base2(math.ceil(math.log2(n)))[:n]  # a power of 2 keeps its balance
    low, high = (np.array([generator.label_ranges[f][i] for f in LABEL_FIELDS]) for i in (0, 1))
    return low + unit * (high - low)


def _simulated(config: SimulatorConfig, key: jax.Array, label: np.ndarray, count: int) -> np.ndarray:
    """``count`` simulator volumes ``(count, *config.shape)`` at one label."""
    if count == 0:
        return np.zeros((0, *config.shape), np.uint8)
    keys = jax.random.split(key, count)
    return np.asarray(simulate_electrodes(keys, np.tile(np.asarray(label, np.float32), (count, 1)), config))


def validate_generator(
    generator: VolumeGenerator,
    dataset: LabelledDataset,
    seeds: int = 3,
    *,
    size: int | None = None,
    reference_seeds: int = 1,
    control: bool = True,
    baseline: str | None = "quadratic",
    morphology_check: bool = True,
    progress: bool = True,
    allow_voxel_size_mismatch: bool = False,
    labels: np.ndarray | None = None,
    decoding: str | None = None,
) -> ValidationReport:
    """Compares generated volumes with simulated reference volumes at the held-out labels (or at
    labels of your choosing).

    Args:
        generator: any :class:`~jaxmicro.generator.VolumeGenerator`: the trained generator, or a
            fitted stochastic-geometry model (not traceable: phases at the label's fractions, no
            decoding to choose, no latent grid).
        dataset: a dataset with 3-D ``heldout`` samples (e.g. ``jaxmicro simulate``'s).
        seeds: generated volumes per held-out label (seeds ``0 .. seeds-1``).
        size: edge of the compared cubes [voxels]; default: the held-out volumes' shape. Another
            size needs a simulated dataset (references are then all simulated at that size).
        reference_seeds: reference volumes per label: the held-out volume (when its shape is
            compared) and simulator volumes for the rest; more than 1 needs a simulated dataset.
        control: also score ``seeds`` simulator volumes that are not references (the floor of
            the check; skipped for datasets not made by the simulator).
        baseline: also score the interpolation baseline of this kind (:data:`BASELINES`), fitted
            to the metrics of the dataset's 3-D training volumes; None skips it (as does a
            dataset without 3-D training volumes).
        morphology_check: also compare morphology descriptors (:class:`MorphologyComparison`;
            about as long again as the scalar metrics at 128^3).
        progress: show a progress bar.
        allow_voxel_size_mismatch: compare even if the generator's voxel size differs from the
            held-out volumes' (their metrics in metres, e.g. the AM surface area, then differ
            by the ratio: say so in the report). By default that is refused.
        labels: ``(m, 3)`` physical labels to validate at instead of the held-out ones (e.g.
            :func:`off_grid_labels`); every reference is then a simulator volume, so it needs a
            simulated dataset (``size`` defaults to its volumes' edge).
        decoding: how the generated probabilities become phases (``"argmax"`` or
            ``"fractions"``, see :func:`~jaxmicro.generator.generate.generate`); ``None``: the
            generator's own.

    Returns:
        The :class:`ValidationReport`.

    Raises:
        ValueError: no 3-D held-out samples, ``seeds`` or ``reference_seeds < 1``, a size or
            reference count that needs the simulator for a dataset it did not make, a shape
            the generator cannot make, an unknown baseline, or (unless
            ``allow_voxel_size_mismatch``) held-out volumes of another voxel size than the
            generator's.
    """
    simulator = dataset_simulator(dataset)
    if labels is not None:
        if simulator is None:
            raise ValueError(
                f"{dataset.root} was not made by jaxmicro's simulator, so it has no references at "
                "other labels; validate at its held-out labels (drop --labels / --off-grid)"
            )
        labels = validate_labels(np.atleast_2d(np.asarray(labels, np.float64)))
        # (label, held-out volume or None, voxel size [m]) per validated label.
        targets = [(label, None, simulator[0].voxel_size_m) for label in labels]
        first_shape = simulator[0].shape
    else:
        heldout = [s for s in dataset.heldout if s.volume.ndim == 3]
        if not heldout:
            raise ValueError(f"{dataset.root}: no 3-D 'heldout' samples to validate against")
        targets = [(s.labels.to_array(), s.volume, s.voxel_size_m) for s in heldout]
        first_shape = heldout[0].volume.shape
    shapes = {first_shape if volume is None else volume.shape for _, volume, _ in targets}
    sizes_m = sorted({voxel_size_m for _, _, voxel_size_m in targets})
    if not allow_voxel_size_mismatch and any(
        not math.isclose(size, generator.voxel_size_m, rel_tol=1e-6) for size in sizes_m
    ):
        raise ValueError(
            f"the generator makes voxels of {generator.voxel_size_m:g} m but {dataset.root}'s held-out "
            f"volumes have {', '.join(f'{v:g}' for v in sizes_m)} m: their structures are not "
            "comparable voxel for voxel; validate against a dataset of the generator's voxel size "
            "(or pass allow_voxel_size_mismatch=True)"
        )
    if seeds < 1 or reference_seeds < 1:
        raise ValueError(f"seeds and reference_seeds must be at least 1, got {seeds}, {reference_seeds}")
    if baseline is not None and baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES} or None, got {baseline!r}")
    shape = (size,) * 3 if size else first_shape
    if not generator.traceable and decoding is not None:
        raise ValueError(
            "this generator places its phases by rank at the label's fractions (a stochastic-"
            "geometry model), it has no probabilities to decode; drop --decoding"
        )
    generator.check_shape(shape)  # a shape it cannot make fails now
    use_heldout = labels is None and shapes == {shape}
    if simulator is None and (not use_heldout or reference_seeds > 1):
        raise ValueError(
            f"{dataset.root} was not made by jaxmicro's simulator, so only its held-out volumes "
            f"{sorted(shapes)} can be references; drop --size / --reference-seeds"
        )
    if simulator is not None:
        config, dataset_seed = simulator
        config = dataclasses.replace(config, shape=shape)
        root = jax.random.fold_in(jax.random.PRNGKey(dataset_seed), _VALIDATION_STREAM)
        if labels is not None:  # other keys than the held-out labels' references
            root = jax.random.fold_in(root, _CHOSEN_LABELS_STREAM)
    # The latent-grid deviation needs one whole latent cell; None: not measured.
    cell = generator.grid_period
    period = cell if cell and min(shape) >= cell else None
    reference, generated, controls = [], [], []
    distances, control_distances, sizes, slices = [], [], [], []
    for index, (label, volume, voxel_size_m) in enumerate(
        tqdm(targets, desc="validating", unit="label", disable=not progress)
    ):
        references = [volume[None].astype(np.uint8)] if use_heldout else []
        control_volumes = np.zeros((0, *shape), np.uint8)
        if simulator is not None:
            key_reference, key_control = jax.random.split(jax.random.fold_in(root, index))
            references.append(_simulated(config, key_reference, label, reference_seeds - len(references)))
            if control:
                control_volumes = _simulated(config, key_control, label, seeds)
        if generator.traceable:  # the decoding chosen, through the checked front end
            fakes = generate(
                generator, label, shape, list(range(seeds)), extrapolate=True, decoding=decoding
            ).volume
        else:
            fakes = generator.sample(label, shape, range(seeds))
        volumes = [np.concatenate(references), fakes, control_volumes]
        metrics = compute_metrics(np.concatenate(volumes), voxel_size_m)
        ref, gen, ctl = np.split(metrics, np.cumsum([len(v) for v in volumes[:2]]))
        reference.append(ref)
        generated.append(gen)
        controls.append(ctl)
        slices.append([np.stack([_middle(fakes[0], a), _middle(volumes[0][0], a)]) for a in range(3)])
        if morphology_check:
            pooled = [morphology(v) if len(v) else None for v in volumes]
            distances.append(_morphology_row(pooled[1], pooled[0], fakes, period))
            if pooled[2] is not None:
                control_distances.append(_morphology_row(pooled[2], pooled[0], control_volumes, period))
            summaries = [morphology_summary(p, voxel_size_m) if p else None for p in pooled]
            size_names = tuple(summaries[0])
            sizes.append([[d[n] if d else np.nan for n in size_names] for d in summaries])
    labels = np.stack([label for label, _, _ in targets])
    has_control = control and simulator is not None
    comparison = None
    if morphology_check:
        comparison = MorphologyComparison(
            distance_names() + (GRID_NAMES if period else ()),
            np.stack(distances),
            np.stack(control_distances) if has_control else None,
            size_names,
            np.asarray(sizes, np.float64),
        )
    predicted = dataset_baseline(dataset, labels, shape, baseline) if baseline is not None else None
    return ValidationReport(
        labels,
        np.stack(reference),
        np.stack(generated),
        tuple(int(n) for n in shape),
        np.stack(controls) if has_control else None,
        predicted,
        baseline if predicted is not None else None,
        comparison,
        tuple(np.stack([label_slices[a] for label_slices in slices]) for a in range(3)),
    )


def _training_metrics(volumes: np.ndarray, shape: tuple[int, ...], voxel_size_m: float) -> np.ndarray:
    """The baseline's ``(t, k)`` metrics of ``(t, z, y, x)`` training volumes, at the compared
    cubes' size where the volumes hold such cubes: each volume's mean over its cubes
    (:func:`volume_mean`), since a smaller cube's tortuosity reads higher (20 % through-plane at
    porosity 0.2 between 64^3 and 128^3, docs/generator.md). Otherwise (a check of other
    than cubes, or bigger than the volumes) whole volumes."""
    edge = shape[0]
    if len(set(shape)) > 1 or min(volumes.shape[1:]) < edge:  # (a volume of the check's size: 1 cube)
        return compute_metrics(volumes, voxel_size_m)
    cubes = cubes_of(volumes, edge)
    metrics = compute_metrics(cubes, voxel_size_m).reshape(len(volumes), len(cubes) // len(volumes), -1)
    return volume_mean(metrics)


def dataset_baseline(
    dataset: LabelledDataset, labels: np.ndarray, shape: Sequence[int], kind: str = "quadratic"
) -> np.ndarray | None:
    """The interpolation baseline of a dataset's 3-D training volumes at ``labels``.

    Args:
        dataset: its ``train`` volumes (those of the first volume's shape) are fitted.
        labels: ``(m, 3)`` physical labels to predict at.
        shape: ``(z, y, x)`` of the compared volumes [voxels]: training volumes that hold cubes
            of that edge are measured as their cubes' mean (:func:`_training_metrics`).
        kind: :data:`BASELINES`.

    Returns:
        ``(m, len(METRIC_NAMES))`` predicted metrics, or None without 3-D training volumes.
    """
    train = [s for s in dataset.train if s.volume.ndim == 3]
    train = [s for s in train if s.volume.shape == train[0].volume.shape]  # one batch of one shape
    if not train:
        return None
    metrics = _training_metrics(np.stack([s.volume for s in train]), tuple(shape), train[0].voxel_size_m)
    # Tortuosity fitted as log tau: it spans 1.7 to 30 over the wide grid, steeply at low
    # porosity, where a quadratic in tau itself overshoots (tau through-plane 155 % off).
    log_tau = np.array(_TAU_COLUMNS)
    metrics[:, log_tau] = np.log(metrics[:, log_tau])
    predicted = interpolation_baseline(np.stack([s.labels.to_array() for s in train]), metrics, labels, kind)
    predicted[:, log_tau] = np.exp(predicted[:, log_tau])
    return predicted


def _middle(volume: np.ndarray, axis: int) -> np.ndarray:
    """The middle slice of a ``(z, y, x)`` volume normal to ``axis``, uint8."""
    return np.take(volume, volume.shape[axis] // 2, axis=axis).astype(np.uint8)


# --- the generator's own training data, rebuilt from its provenance ---------------------------

NO_PROVENANCE: Final[str] = (
    "this generator's generator.json records no simulated training data to rebuild (info.data."
    "source of jaxmicro's simulator; a generator trained on other data, or saved without it); "
    "pass --data DATASET"
)


@dataclasses.dataclass(frozen=True)
class RebuiltDataset:
    """A generator's training dataset, simulated again from the provenance in its
    ``generator.json`` (see :func:`rebuild_training_dataset`).

    Attributes:
        dataset: the dataset, with its ``train`` and ``heldout`` splits.
        recipe: the simulator settings, seed, labels and held-out split it was simulated from.
        rebuilt: True if simulated in this call, False if an earlier rebuild was reused.
        identical: whether its training volumes are bit-identical to the ones the generator was
            trained on (their sha256 fingerprint, recorded at training); None when none was
            recorded. False means the same settings, labels, seeds and split drawn by another
            JAX/XLA build: other volumes of the same process, not the training ones.
    """

    dataset: LabelledDataset
    recipe: SimulationRecipe = dataclasses.field(repr=False)
    rebuilt: bool
    identical: bool | None

    def describe(self) -> str:
        """One line for the user: where the data is and whether it is the training data."""
        what = "rebuilt" if self.rebuilt else "reused the rebuild of"
        line = f"{what} the generator's training data (data seed {self.recipe.seed}) in {self.dataset.root}"
        if self.identical:
            return line + ": bit-identical to its training volumes (sha256)"
        if self.identical is None:
            return line + " (no fingerprint recorded to compare with the training volumes)"
        return line + (
            ": same simulator settings, labels, seeds and held-out split, but not bit-identical to "
            "the training volumes (another JAX/XLA build draws other particles); pass --data "
            "DATASET to validate on the original files"
        )


def training_data_recipe(generator: Generator) -> SimulationRecipe:
    """The recipe of ``generator``'s training dataset, from ``info["data"]["source"]`` (what
    ``jaxmicro train`` records from the dataset's manifest), checked against the other facts
    recorded there (training volume count and shape, voxel size, trained label range).

    Raises:
        ValueError: no simulator provenance (:data:`NO_PROVENANCE`), or one that does not
            describe the data the generator was trained on; both say "pass --data DATASET".
    """
    data = generator.info.get("data") if isinstance(generator.info, dict) else None
    data = data if isinstance(data, dict) else {}
    try:
        recipe = simulation_recipe(data.get("source"), "generator.json info.data.source")
    except ValueError as error:
        raise ValueError(f"{error}; pass --data DATASET") from None
    if recipe is None:
        raise ValueError(NO_PROVENANCE)
    train_labels = recipe.train_labels
    problems = []
    if "n_train" in data and int(data["n_train"]) != len(train_labels):
        problems.append(f"{data['n_train']} training volumes recorded, {len(train_labels)} in the recipe")
    if "shapes" in data and data["shapes"] != [repr(list(recipe.config.shape))]:
        problems.append(f"training shapes {data['shapes']}, recipe {list(recipe.config.shape)}")
    if not math.isclose(recipe.config.voxel_size_m, generator.voxel_size_m, rel_tol=1e-6):
        problems.append(f"voxel size {generator.voxel_size_m:g} m, recipe {recipe.config.voxel_size_m:g} m")
    if len(train_labels):
        for index, name in enumerate(LABEL_FIELDS):
            low, high = generator.label_ranges.get(name, (np.nan, np.nan))
            column = train_labels[:, index]
            if not np.allclose([column.min(), column.max()], [low, high]):
                problems.append(f"{name} range {low:g}..{high:g}, recipe {column.min():g}..{column.max():g}")
    if problems:
        raise ValueError(
            "the provenance in this generator's generator.json does not describe its training "
            f"data ({'; '.join(problems)}); pass --data DATASET"
        )
    return recipe


def _rebuild_folder(generator: Generator, recipe: SimulationRecipe, cache_dir: Path) -> Path:
    """``cache_dir/training-<fingerprint>-jax<version>``: one folder per training dataset and JAX
    version (another version may draw other volumes from the same seed)."""
    fingerprint = generator.info.get("data", {}).get("sha256")
    if not (isinstance(fingerprint, str) and len(fingerprint) >= 16 and fingerprint.isalnum()):
        body = json.dumps(
            [dataclasses.asdict(recipe.config), recipe.seed, recipe.labels.tolist(), recipe.heldout.tolist()],
            sort_keys=True,
        )
        fingerprint = hashlib.sha256(body.encode()).hexdigest()
    return cache_dir / f"training-{fingerprint[:16]}-jax{jax.__version__}"


def _matches(dataset: LabelledDataset, recipe: SimulationRecipe) -> bool:
    """Whether a dataset found in the cache has the recipe's labels, split and shape."""
    if len(dataset.samples) != len(recipe.labels):
        return False
    for sample, label, split in zip(dataset.samples, recipe.labels, recipe.splits(), strict=True):
        if (
            not np.allclose(sample.labels.to_array(), label)
            or sample.split != split
            or sample.volume.shape != recipe.config.shape
        ):
            return False
    return True


def rebuild_training_dataset(
    generator: Generator, cache_dir: str | os.PathLike, *, progress: bool = True
) -> RebuiltDataset:
    """``generator``'s training dataset, simulated again from its provenance into ``cache_dir``
    (or the earlier rebuild found there), to validate the generator on its own held-out labels.

    The recipe (:func:`training_data_recipe`) gives the simulator settings, the data seed, the
    labels in order (label ``i`` is drawn with ``fold_in(PRNGKey(seed), i)``) and the held-out
    split; for a provenance written before the labels were recorded, ``jaxmicro simulate``'s
    defaults (the 27-label grid, 6 held out), checked against the recorded training volume count
    and label range. The volumes are simulated on the CPU, as the shipped training data was (a
    GPU rounds differently). The sha256
    fingerprint recorded at training says whether the rebuilt training volumes are the very
    ones the generator saw (:attr:`RebuiltDataset.identical`).

    Args:
        generator: a generator trained by ``jaxmicro train`` on a simulated dataset.
        cache_dir: folder of rebuilt datasets; a rebuild goes into a subfolder named after the
            training data's fingerprint and the JAX version, and a later call reuses it.
        progress: say what is rebuilt where (stderr) and show a progress bar.

    Raises:
        ValueError: no usable provenance (the message says "pass --data DATASET").
    """
    from jaxmicro.generator.train import data_description

    recipe = training_data_recipe(generator)
    folder = _rebuild_folder(generator, recipe, Path(cache_dir))
    dataset = None
    if (folder / "manifest.json").is_file():
        try:
            dataset = load_dataset(folder)
        except (ValueError, OSError):  # a damaged cache is simulated again
            dataset = None
        if dataset is not None and not _matches(dataset, recipe):
            dataset = None
    rebuilt = dataset is None
    if rebuilt:
        if progress:
            n, edge = len(recipe.labels), "x".join(map(str, recipe.config.shape))
            print(
                f"rebuilding the generator's training data from its provenance ({n} volumes of "
                f"{edge}, data seed {recipe.seed}) into {folder}",
                file=sys.stderr,
            )
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            cpu = jax.devices("cpu")[0]
        except RuntimeError:  # JAX_PLATFORMS without cpu
            cpu = None
        with jax.default_device(cpu) if cpu is not None else contextlib.nullcontext():
            try:
                recipe.simulate(folder, force=folder.exists(), progress=progress)
            except FileExistsError:  # another process finished the same rebuild meanwhile
                if not (folder / "manifest.json").is_file():
                    raise
        dataset = load_dataset(folder)
    recorded = generator.info.get("data", {}).get("sha256")
    identical = None if not recorded else data_description(dataset)["sha256"] == recorded
    return RebuiltDataset(dataset, recipe, rebuilt, identical)
