"""Validation of a generator against held-out simulated microstructures.

At each held-out label the generator makes ``seeds`` volumes of the held-out volume's shape;
their metrics, averaged over seeds, are compared with the simulated volume's:

* ``porosity``, ``am_vf``, ``cbd_vf``: phase volume fractions [-].
* ``tau_through``: pore tortuosity factor along axis 0 (through-plane) [-].
* ``tau_in_plane``: mean of the pore tortuosity factors along axes 1 and 2 [-].
* ``am_ssa``: AM specific surface area, AM/non-AM voxel faces per volume [1/m].
* ``cbd_coverage``: fraction of the AM surface (faces) touching CBD [-].

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

from jaxmicro.characterise import microstructure_metrics, tortuosity
from jaxmicro.data.dataset import LabelledDataset
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.generator.checkpoint import Generator
from jaxmicro.generator.generate import generate

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


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """Generated vs simulated metrics at the held-out labels.

    Attributes:
        labels: ``(m, 3)`` held-out labels.
        reference: ``(m, k)`` metrics of the simulated volumes, columns ``METRIC_NAMES``.
        generated: ``(m, s, k)`` metrics of the ``s`` generated volumes per label.
    """

    labels: np.ndarray
    reference: np.ndarray
    generated: np.ndarray

    @property
    def relative_error(self) -> np.ndarray:
        """``(m, k)``: ``|mean over seeds of generated - reference| / |reference|``."""
        return np.abs(self.generated.mean(axis=1) - self.reference) / np.abs(self.reference)

    @property
    def metric_mean_error(self) -> np.ndarray:
        """``(k,)`` relative error of each metric averaged over the labels."""
        return self.relative_error.mean(axis=0)

    @property
    def mean_error(self) -> float:
        """The mean relative error over all labels and metrics."""
        return float(self.relative_error.mean())

    def table(self) -> str:
        """A text table of relative errors [%], one row per label, then the per-metric mean."""
        names = [n.replace("_", " ") for n in METRIC_NAMES]
        head = f"{'am_wt,por,adh':>16} " + " ".join(f"{n:>12}" for n in names)
        lines = ["relative error [%] of the generated mean vs the simulated held-out volume", head]
        for label, errors in zip(self.labels, self.relative_error, strict=True):
            tag = ",".join(f"{v:.2f}" for v in label)
            lines.append(f"{tag:>16} " + " ".join(f"{100 * e:12.1f}" for e in errors))
        lines.append(f"{'mean':>16} " + " ".join(f"{100 * e:12.1f}" for e in self.metric_mean_error))
        lines.append(
            f"mean relative error {100 * self.mean_error:.1f} % "
            f"(goal < 5 %); worst metric mean {100 * self.metric_mean_error.max():.1f} % (goal < 10 %); "
            f"worst single entry {100 * self.relative_error.max():.1f} %"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        with np.errstate(invalid="ignore"):  # inf tortuosities (no percolation) give nan spreads
            std = self.generated.std(axis=1)
        return {
            "metrics": list(METRIC_NAMES),
            "label_fields": list(LABEL_FIELDS),
            "labels": self.labels.tolist(),
            "reference": self.reference.tolist(),
            "generated_mean": self.generated.mean(axis=1).tolist(),
            "generated_std": std.tolist(),
            "relative_error": self.relative_error.tolist(),
            "metric_mean_error": dict(zip(METRIC_NAMES, self.metric_mean_error.tolist(), strict=True)),
            "mean_error": self.mean_error,
        }


def validate_generator(
    generator: Generator, dataset: LabelledDataset, seeds: int = 3, progress: bool = True
) -> ValidationReport:
    """Compares generated volumes with the dataset's held-out simulated volumes.

    Args:
        generator: the trained generator.
        dataset: a dataset with 3-D ``heldout`` samples (e.g. ``jaxmicro simulate``'s).
        seeds: generated volumes per held-out label (seeds ``0 .. seeds-1``).
        progress: show a progress bar.

    Returns:
        The :class:`ValidationReport`.

    Raises:
        ValueError: no 3-D held-out samples, ``seeds < 1``, or held-out volumes whose shape the
            generator cannot make.
    """
    heldout = [s for s in dataset.heldout if s.volume.ndim == 3]
    if not heldout:
        raise ValueError(f"{dataset.root}: no 3-D 'heldout' samples to validate against")
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    reference, generated = [], []
    for sample in tqdm(heldout, desc="validating", unit="label", disable=not progress):
        result = generate(
            generator, sample.labels.to_array(), sample.volume.shape, list(range(seeds)), extrapolate=True
        )
        both = np.concatenate([sample.volume[None], result.volume])
        metrics = np.stack(compute_metrics(both, sample.voxel_size_m), axis=-1)
        reference.append(metrics[0])
        generated.append(metrics[1:])
    labels = np.stack([s.labels.to_array() for s in heldout])
    return ValidationReport(labels, np.stack(reference), np.stack(generated))
