"""The default labelled dataset: the simulator run over a label grid spanning the range NMC
cathodes are made in.

The default grid (``GRID_LEVELS``): am_wt 0.85/0.915/0.98 x porosity 0.20/0.30/0.40/0.50 x
adhesion 0/0.5/1, 36 labels; 6 fixed labels (``HELDOUT_LABELS``) are held out and 30 are for
training. No held-out label is a corner of the grid, so validating on them asks the generator to
interpolate, not to extrapolate. The range is that of industrial NMC cathodes: AM 85-98 wt %
(binder plus carbon 2-15 wt %) and 20-50 % porosity after calendering (Zheng et al., J. Power
Sources 208 (2012) 52; Kench et al., Matter 2024, whose training grid it widens).

The grid the shipped generator up to 2026-12-05 was trained on (``LEGACY_GRID_LEVELS``: am_wt
0.90/0.93/0.96 x porosity 0.28/0.36/0.44 x adhesion 0/0.5/1, 27 labels, 21 for training, as in
the paper; that generator is ``checkpoints/narrow`` now) is ``jaxmicro simulate --grid narrow``,
and what a provenance without recorded labels means.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxmicro.data.dataset import LabelledDataset, Sample, check_dataset_destination, write_dataset
from jaxmicro.data.labels import Labels, validate_labels
from jaxmicro.data.simulator import SimulatorConfig, check_seed, check_simulation_size, simulate_electrode

GRID_LEVELS: Final[dict[str, tuple[float, ...]]] = {
    "am_wt": (0.85, 0.915, 0.98),
    "porosity": (0.20, 0.30, 0.40, 0.50),
    "adhesion": (0.0, 0.5, 1.0),
}
HELDOUT_LABELS: Final[tuple[tuple[float, float, float], ...]] = (
    (0.915, 0.30, 0.5),  # interior
    (0.915, 0.40, 0.5),
    (0.85, 0.40, 0.5),  # face centres
    (0.98, 0.30, 0.5),
    (0.915, 0.20, 1.0),  # edge midpoints
    (0.915, 0.50, 0.0),
)
LEGACY_GRID_LEVELS: Final[dict[str, tuple[float, ...]]] = {
    "am_wt": (0.90, 0.93, 0.96),
    "porosity": (0.28, 0.36, 0.44),
    "adhesion": (0.0, 0.5, 1.0),
}
LEGACY_HELDOUT_LABELS: Final[tuple[tuple[float, float, float], ...]] = (
    (0.93, 0.36, 0.5),  # centre
    (0.90, 0.36, 0.5),  # face centres
    (0.96, 0.36, 0.5),
    (0.93, 0.28, 1.0),  # edge midpoints
    (0.93, 0.44, 0.0),
    (0.96, 0.44, 0.5),
)
GRIDS: Final[dict[str, tuple[Mapping[str, tuple[float, ...]], tuple[tuple[float, float, float], ...]]]] = {
    "wide": (GRID_LEVELS, HELDOUT_LABELS),
    "narrow": (LEGACY_GRID_LEVELS, LEGACY_HELDOUT_LABELS),
}
"""``jaxmicro simulate --grid`` choices: (levels, held-out labels)."""


def label_grid(levels: Mapping[str, tuple[float, ...]] = GRID_LEVELS) -> np.ndarray:
    """The product of ``levels``, shape ``(n, 3)``, am_wt slowest and adhesion fastest (36
    labels for the default grid, 27 for ``LEGACY_GRID_LEVELS``)."""
    return np.array(list(itertools.product(*levels.values())), dtype=np.float64)


def default_label_grid() -> np.ndarray:
    """The default grid's 36 labels, shape ``(36, 3)`` (see :func:`label_grid`)."""
    return label_grid(GRID_LEVELS)


def sample_file_name(labels: Labels, suffix: str = ".npy") -> str:
    return f"am{labels.am_wt:.3f}_por{labels.porosity:.3f}_adh{labels.adhesion:.2f}{suffix}"


def _is_heldout(label: np.ndarray, heldout: np.ndarray) -> bool:
    return bool(heldout.size) and bool(np.any(np.all(np.isclose(heldout, label), axis=1)))


def simulate_samples(
    labels: np.ndarray,
    config: SimulatorConfig,
    seed: int,
    heldout: np.ndarray,
    suffix: str = ".npy",
    progress: bool = True,
) -> Iterator[Sample]:
    """Simulates one sample per label, lazily; label ``i`` uses ``fold_in(PRNGKey(seed), i)``."""
    root_key = jax.random.PRNGKey(seed)
    for index, label in enumerate(tqdm(labels, desc="simulating", unit="vol", disable=not progress)):
        volume = np.asarray(simulate_electrode(jax.random.fold_in(root_key, index), label, config))
        typed = Labels.from_array(label)
        split = "heldout" if _is_heldout(label, heldout) else "train"
        yield Sample(sample_file_name(typed, suffix), typed, config.voxel_size_m, split, volume)


def simulate_dataset(
    root: str | os.PathLike,
    config: SimulatorConfig = SimulatorConfig(),
    seed: int = 0,
    labels: np.ndarray | None = None,
    heldout: Sequence[Sequence[float]] = HELDOUT_LABELS,
    *,
    file_format: str = "npy",
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Simulates a labelled dataset and writes it atomically (see :func:`write_dataset`).

    Args:
        root: destination folder; must not exist unless ``force``.
        config: simulator settings (shape, voxel size, particle sizes, ...).
        seed: dataset seed; the same seed and config give bit-identical volumes.
        labels: ``(n, 3)`` labels; default :func:`default_label_grid`.
        heldout: labels marked ``"heldout"``; the others are ``"train"``.
        file_format: ``"npy"`` or ``"tif"``.
        force: replace an existing dataset (only a folder with a dataset manifest, or an
            empty one, is ever replaced).
        progress: show a progress bar.

    Returns:
        The dataset folder.

    Raises:
        FileExistsError: ``root`` exists and not ``force``, or is not a dataset.
        ValueError: a seed outside ``[0, 2**32)``, bad labels, or a volume too large for the
            memory available (checked before simulating).
    """
    root = Path(root)
    check_dataset_destination(root, force)  # before minutes of simulation, not after
    seed = check_seed(seed)
    if file_format not in ("npy", "tif"):
        raise ValueError(f"file_format must be 'npy' or 'tif', got {file_format!r}")
    check_simulation_size(config)
    labels = validate_labels(default_label_grid() if labels is None else labels).reshape(-1, 3)
    heldout = np.asarray(heldout, dtype=np.float64).reshape(-1, 3)
    source = {
        "generator": "jaxmicro.data.simulator",
        "seed": seed,
        "simulator_config": dataclasses.asdict(config),
        # Enough to simulate the dataset again (simulation_recipe): label i is simulated with
        # fold_in(PRNGKey(seed), i), so the order of the labels is part of the recipe.
        "labels": labels.tolist(),
        "heldout": heldout.tolist(),
    }
    samples = simulate_samples(labels, config, seed, heldout, f".{file_format}", progress)
    return write_dataset(root, samples, source=source, force=force)


def dataset_simulator(dataset: LabelledDataset) -> tuple[SimulatorConfig, int] | None:
    """The simulator settings and seed that made ``dataset`` (from its manifest's ``source``), or
    None if it was not made by :func:`simulate_dataset` (e.g. imaged data)."""
    source = dataset.source
    if source.get("generator") != "jaxmicro.data.simulator" or "simulator_config" not in source:
        return None
    try:
        return SimulatorConfig(**source["simulator_config"]), int(source.get("seed", 0))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{dataset.root}: the manifest's simulator settings are not readable by this version ({error})"
        ) from None


@dataclasses.dataclass(frozen=True)
class SimulationRecipe:
    """What :func:`simulate_dataset` needs to make a dataset again (see :func:`simulation_recipe`).

    Attributes:
        config: the simulator settings.
        seed: the dataset seed (label ``i`` is simulated with ``fold_in(PRNGKey(seed), i)``).
        labels: ``(n, 3)`` labels in simulation order.
        heldout: ``(m, 3)`` labels of the ``"heldout"`` split.
        recorded: whether the labels and the split were recorded; False for a source written
            before they were (then they are the legacy grid's, the only ones ``jaxmicro
            simulate`` made then).
    """

    config: SimulatorConfig
    seed: int
    labels: np.ndarray = dataclasses.field(repr=False)
    heldout: np.ndarray = dataclasses.field(repr=False)
    recorded: bool = True

    def simulate(self, root: str | os.PathLike, *, force: bool = False, progress: bool = True) -> Path:
        """Simulates the dataset into ``root`` (see :func:`simulate_dataset`)."""
        return simulate_dataset(
            root, self.config, self.seed, self.labels, self.heldout, force=force, progress=progress
        )

    def splits(self) -> list[str]:
        """The split of each label: ``"heldout"`` or ``"train"``."""
        return ["heldout" if _is_heldout(label, self.heldout) else "train" for label in self.labels]

    @property
    def train_labels(self) -> np.ndarray:
        """``(k, 3)`` labels of the ``"train"`` split."""
        return self.labels[np.array([split == "train" for split in self.splits()], bool)].reshape(-1, 3)


def simulation_recipe(source: Any, where: str = "the provenance") -> SimulationRecipe | None:
    """The recipe of a dataset from its manifest's ``source`` (as :func:`simulate_dataset` writes
    it, and as a trained generator keeps it in ``generator.json``), or None if it was not made
    by the simulator (imaged data, or no provenance at all).

    Raises:
        ValueError: naming ``where``, for a simulator source this version cannot read.
    """
    if not isinstance(source, dict) or source.get("generator") != "jaxmicro.data.simulator":
        return None
    if "simulator_config" not in source:
        return None
    recorded = "labels" in source and "heldout" in source
    try:
        config = SimulatorConfig(**source["simulator_config"])
        seed = check_seed(source.get("seed", 0))
        labels = source["labels"] if recorded else label_grid(LEGACY_GRID_LEVELS)
        labels = validate_labels(labels).reshape(-1, 3)
        heldout = source["heldout"] if recorded else LEGACY_HELDOUT_LABELS
        heldout = np.asarray(heldout, np.float64).reshape(-1, 3)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: simulator settings not readable by this version ({error})") from None
    return SimulationRecipe(config, seed, labels, heldout, recorded)
