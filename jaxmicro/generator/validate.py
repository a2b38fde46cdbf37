"""Validation of a generator against held-out simulated microstructures.

At each held-out label the generator makes ``seeds`` volumes; their metrics, averaged over
seeds, are compared with the mean metrics of the *reference* volumes at that label:

* ``porosity``, ``am_vf``, ``cbd_vf``: phase volume fractions [-].
* ``tau_through``: pore tortuosity factor along axis 0 (through-plane) [-].
* ``tau_in_plane``: mean of the pore tortuosity factors along axes 1 and 2 [-].
* ``am_ssa``: AM specific surface area, AM/non-AM voxel faces per volume [1/m].
* ``cbd_coverage``: fraction of the AM surface (faces) touching CBD [-].

The references are the dataset's held-out volume, plus (for a dataset made by the simulator,
whose settings travel in its manifest) further simulator volumes at the same label, or only
simulator volumes when another volume size is asked for. One 64^3 volume is a small sample:
the simulator's own through-plane tortuosity varies by about 15 % from seed to seed at 64^3,
so a perfect generator compared with a single 64^3 reference would show errors of that size.
The report therefore also scores a *control*: ``seeds`` more simulator volumes, not among the
references, treated exactly like generated ones. The control's errors are what a perfect
generator would get from the same comparison (the sampling floor of the check).

Tortuosity uses :func:`jaxmicro.characterise.tortuosity` (no-flux side faces), areas and
coverage :func:`jaxmicro.characterise.microstructure_metrics` (face counting on the faces inside
the volume, not across its boundary).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxmicro._files import plain_json
from jaxmicro.characterise import microstructure_metrics, tortuosity
from jaxmicro.data.dataset import LabelledDataset
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.data.simulated_dataset import dataset_simulator
from jaxmicro.data.simulator import SimulatorConfig, simulate_electrodes
from jaxmicro.generator.checkpoint import Generator
from jaxmicro.generator.generate import generate, latent_shape_for

_VALIDATION_STREAM: Final = 0x7A11D  # keys of validation volumes, apart from the dataset's own

METRIC_NAMES: Final[tuple[str, ...]] = (
    "porosity",
    "am_vf",
    "cbd_vf",
    "tau_through",
    "tau_in_plane",
    "am_ssa",
    "cbd_coverage",
)


class Metrics(NamedTuple):
    """Microstructure metrics of a batch of volumes, each an ``(n,)`` float64 array (see the
    module docstring for the definitions and units)."""

    porosity: np.ndarray
    am_vf: np.ndarray
    cbd_vf: np.ndarray
    tau_through: np.ndarray
    tau_in_plane: np.ndarray
    am_ssa: np.ndarray
    cbd_coverage: np.ndarray


def pore_tortuosity(volumes: np.ndarray, axis: int) -> np.ndarray:
    """Pore tortuosity factors ``(n,)`` of ``(n, z, y, x)`` volumes along ``axis`` (inf if the
    pores do not percolate), with the jaxmicro JAX solver."""
    volumes = np.asarray(volumes, np.int32)
    tau = np.full(volumes.shape[0], np.inf)
    has_pores = np.any(volumes == PORE, axis=(1, 2, 3))  # the solver rejects an empty phase
    if has_pores.any():
        tau[has_pores] = np.asarray(tortuosity(volumes[has_pores], PORE, axis).tau, dtype=np.float64)
    return tau


def compute_metrics(volumes: np.ndarray, voxel_size_m: float) -> Metrics:
    """Metrics of phase-id volumes ``(n, z, y, x)`` (or one ``(z, y, x)``) with voxel edge
    ``voxel_size_m`` [m]."""
    volumes = np.asarray(volumes)
    volumes = volumes[None] if volumes.ndim == 3 else volumes
    if volumes.ndim != 4:
        raise ValueError(f"volumes must be (z, y, x) or (n, z, y, x), got shape {volumes.shape}")
    m = jax.device_get(microstructure_metrics(volumes.astype(np.int32), voxel_size_m))
    fractions = np.asarray(m.volume_fraction, dtype=np.float64)
    tau_in = 0.5 * (pore_tortuosity(volumes, 1) + pore_tortuosity(volumes, 2))
    return Metrics(
        fractions[:, PORE],
        fractions[:, AM],
        fractions[:, CBD],
        pore_tortuosity(volumes, 0),
        tau_in,
        np.asarray(m.specific_surface_area[:, AM], dtype=np.float64),
        np.asarray(m.cbd_coverage, dtype=np.float64),
    )


def _relative_error(candidate: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.abs(candidate.mean(axis=1) - reference.mean(axis=1)) / np.abs(reference.mean(axis=1))


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
    """

    labels: np.ndarray
    reference: np.ndarray
    generated: np.ndarray
    shape: tuple[int, int, int]
    control: np.ndarray | None = None

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
            lines.append(row(",".join(f"{v:.2f}" for v in label), errors))
        lines.append(row("mean", self.metric_mean_error))
        if self.control_error is not None:
            lines.append(row("control mean", self.control_error.mean(axis=0)))
        lines.append(
            f"mean relative error {100 * self.mean_error:.1f} % "
            f"(goal < 5 %); worst metric mean {100 * self.metric_mean_error.max():.1f} % (goal < 10 %); "
            f"worst single entry {100 * self.relative_error.max():.1f} %"
        )
        if self.control_error is not None:
            lines.append(
                f"control ({self.control.shape[1]} more simulator volumes per label, scored like "
                f"generated ones: the floor of this check): mean {100 * self.control_error.mean():.1f} %, "
                f"worst metric mean {100 * self.control_error.mean(axis=0).max():.1f} %"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def summary(metrics: np.ndarray) -> dict[str, Any]:
            with np.errstate(invalid="ignore"):  # inf tortuosities (no percolation) give nan spreads
                return {"mean": metrics.mean(axis=1).tolist(), "std": metrics.std(axis=1).tolist()}

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
        return plain_json(report)


def _simulated(config: SimulatorConfig, key: jax.Array, label: np.ndarray, count: int) -> np.ndarray:
    """``count`` simulator volumes ``(count, *config.shape)`` at one label."""
    if count == 0:
        return np.zeros((0, *config.shape), np.uint8)
    keys = jax.random.split(key, count)
    return np.asarray(simulate_electrodes(keys, np.tile(np.asarray(label, np.float32), (count, 1)), config))


def validate_generator(
    generator: Generator,
    dataset: LabelledDataset,
    seeds: int = 3,
    *,
    size: int | None = None,
    reference_seeds: int = 1,
    control: bool = True,
    progress: bool = True,
) -> ValidationReport:
    """Compares generated volumes with simulated reference volumes at the held-out labels.

    Args:
        generator: the trained generator.
        dataset: a dataset with 3-D ``heldout`` samples (e.g. ``jaxmicro simulate``'s).
        seeds: generated volumes per held-out label (seeds ``0 .. seeds-1``).
        size: edge of the compared cubes [voxels]; default: the held-out volumes' shape. Another
            size needs a simulated dataset (references are then all simulated at that size).
        reference_seeds: reference volumes per label: the held-out volume (when its shape is
            compared) and simulator volumes for the rest; more than 1 needs a simulated dataset.
        control: also score ``seeds`` simulator volumes that are not references (the floor of
            the check; skipped for datasets not made by the simulator).
        progress: show a progress bar.

    Returns:
        The :class:`ValidationReport`.

    Raises:
        ValueError: no 3-D held-out samples, ``seeds`` or ``reference_seeds < 1``, a size or
            reference count that needs the simulator for a dataset it did not make, or a shape
            the generator cannot make.
    """
    heldout = [s for s in dataset.heldout if s.volume.ndim == 3]
    if not heldout:
        raise ValueError(f"{dataset.root}: no 3-D 'heldout' samples to validate against")
    if seeds < 1 or reference_seeds < 1:
        raise ValueError(f"seeds and reference_seeds must be at least 1, got {seeds}, {reference_seeds}")
    simulator = dataset_simulator(dataset)
    shapes = {s.volume.shape for s in heldout}
    shape = (size,) * 3 if size else heldout[0].volume.shape
    latent_shape_for(generator.config, shape, periodic=False)  # a shape it cannot make fails now
    use_heldout = shapes == {shape}
    if simulator is None and (not use_heldout or reference_seeds > 1):
        raise ValueError(
            f"{dataset.root} was not made by jaxmicro's simulator, so only its held-out volumes "
            f"{sorted(shapes)} can be references; drop --size / --reference-seeds"
        )
    if simulator is not None:
        config, dataset_seed = simulator
        config = dataclasses.replace(config, shape=shape)
        root = jax.random.fold_in(jax.random.PRNGKey(dataset_seed), _VALIDATION_STREAM)
    reference, generated, controls = [], [], []
    for index, sample in enumerate(tqdm(heldout, desc="validating", unit="label", disable=not progress)):
        label = sample.labels.to_array()
        references = [sample.volume[None].astype(np.uint8)] if use_heldout else []
        control_volumes = np.zeros((0, *shape), np.uint8)
        if simulator is not None:
            key_reference, key_control = jax.random.split(jax.random.fold_in(root, index))
            references.append(_simulated(config, key_reference, label, reference_seeds - len(references)))
            if control:
                control_volumes = _simulated(config, key_control, label, seeds)
        fakes = generate(generator, label, shape, list(range(seeds)), extrapolate=True).volume
        volumes = [np.concatenate(references), fakes, control_volumes]
        metrics = np.stack(compute_metrics(np.concatenate(volumes), sample.voxel_size_m), axis=-1)
        ref, gen, ctl = np.split(metrics, np.cumsum([len(v) for v in volumes[:2]]))
        reference.append(ref)
        generated.append(gen)
        controls.append(ctl)
    labels = np.stack([s.labels.to_array() for s in heldout])
    has_control = control and simulator is not None
    return ValidationReport(
        labels,
        np.stack(reference),
        np.stack(generated),
        tuple(int(n) for n in shape),
        np.stack(controls) if has_control else None,
    )
