"""Labelled datasets: a folder of volumes plus one manifest with each file's labels.

Layout::

    dataset/
      manifest.json          # or manifest.csv
      am0.900_por0.280_adh0.00.npy
      ...

``manifest.json``::

    {"format": "jaxmicro-dataset", "version": 1,
     "grey_values": [0, 1, 2],            # file grey value of (pore, AM, CBD)
     "through_plane_axis": 0,
     "source": {...},                      # free-form provenance (e.g. simulator settings)
     "samples": [{"file": "...", "am_wt": 0.9, "porosity": 0.28, "adhesion": 0.0,
                  "voxel_size_m": 5e-07, "split": "train",          # or "heldout"
                  "shape": [128, 128, 128],                         # optional, checked
                  "slice_normal_axis": null}]}                      # 0/1/2 for 2-D sections

``manifest.csv`` has the columns ``file, am_wt, porosity, adhesion, voxel_size_m, split`` and
optionally ``slice_normal_axis``; its grey values are passed to :func:`load_dataset`.

A 2-D sample is a cross-section normal to ``slice_normal_axis`` (0: an in-plane ``(y, x)``
section; 1 or 2: a through-plane section with axis 0 of the image being ``z``).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from jaxmicro._files import replace_dir, staging_dir
from jaxmicro.data.labels import LABEL_FIELDS, Labels
from jaxmicro.data.phases import THROUGH_PLANE_AXIS
from jaxmicro.data.volume_io import default_grey_values, read_volume, write_volume

MANIFEST_JSON: Final[str] = "manifest.json"
MANIFEST_CSV: Final[str] = "manifest.csv"
FORMAT_NAME: Final[str] = "jaxmicro-dataset"
FORMAT_VERSION: Final[int] = 1
SPLITS: Final[tuple[str, str]] = ("train", "heldout")


@dataclasses.dataclass(frozen=True)
class Sample:
    """One labelled microstructure.

    Attributes:
        file: file name inside the dataset folder.
        labels: its manufacturing labels.
        voxel_size_m: voxel edge length [m].
        split: ``"train"`` or ``"heldout"``.
        volume: uint8 phase ids, ``(z, y, x)``, or ``(h, w)`` for a 2-D section.
        slice_normal_axis: for a 2-D section, the volume axis it is normal to; None for 3-D.
    """

    file: str
    labels: Labels
    voxel_size_m: float
    split: str
    volume: np.ndarray = dataclasses.field(repr=False, compare=False)
    slice_normal_axis: int | None = None

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "file": self.file,
            **self.labels.to_dict(),
            "voxel_size_m": self.voxel_size_m,
            "split": self.split,
            "shape": list(self.volume.shape),
            "slice_normal_axis": self.slice_normal_axis,
        }


@dataclasses.dataclass(frozen=True)
class LabelledDataset:
    """A loaded, validated labelled dataset.

    Attributes:
        root: the dataset folder.
        samples: every sample, in manifest order.
        grey_values: the files' grey value for (pore, AM, CBD).
        source: provenance recorded in the manifest (e.g. simulator settings).
    """

    root: Path
    samples: tuple[Sample, ...]
    grey_values: tuple[int, ...]
    source: dict[str, Any] = dataclasses.field(default_factory=dict)

    def split(self, name: str) -> tuple[Sample, ...]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return tuple(s for s in self.samples if s.split == name)

    @property
    def train(self) -> tuple[Sample, ...]:
        return self.split("train")

    @property
    def heldout(self) -> tuple[Sample, ...]:
        return self.split("heldout")

    def label_array(self, split: str | None = None) -> np.ndarray:
        """Labels of the samples in ``split`` (all when None), shape ``(n, 3)``."""
        samples = self.samples if split is None else self.split(split)
        return np.stack([s.labels.to_array() for s in samples]) if samples else np.zeros((0, 3))

    def volumes(self, split: str | None = None) -> np.ndarray:
        """Stacked 3-D volumes of ``split`` (all when None), shape ``(n, z, y, x)`` uint8."""
        samples = self.samples if split is None else self.split(split)
        shapes = {s.volume.shape for s in samples}
        if len(shapes) > 1 or any(s.volume.ndim != 3 for s in samples):
            raise ValueError(f"volumes() needs 3-D samples of one shape, got shapes {sorted(shapes)}")
        return np.stack([s.volume for s in samples])


def _sample_from_entry(root: Path, entry: dict[str, Any], grey_values, index: int) -> Sample:
    where = f"{root / MANIFEST_JSON}: sample {index}"
    required = ("file", *LABEL_FIELDS, "voxel_size_m", "split")
    missing = [key for key in required if entry.get(key) in (None, "")]
    if missing:
        raise ValueError(f"{where} lacks {missing}; each sample needs {list(required)}")
    try:
        labels = Labels.from_dict({name: float(entry[name]) for name in LABEL_FIELDS})
    except ValueError as error:
        raise ValueError(f"{where} ({entry['file']}): {error}") from None
    voxel_size_m = float(entry["voxel_size_m"])
    if not (np.isfinite(voxel_size_m) and 0 < voxel_size_m < 1e-3):
        raise ValueError(f"{where}: voxel_size_m={voxel_size_m} must be in metres, in (0, 1e-3)")
    if entry["split"] not in SPLITS:
        raise ValueError(f"{where}: split {entry['split']!r} must be one of {SPLITS}")
    normal = entry.get("slice_normal_axis")
    normal = None if normal in (None, "") else int(normal)
    if normal not in (None, 0, 1, 2):
        raise ValueError(f"{where}: slice_normal_axis must be 0, 1, 2 or empty, got {normal}")
    path = root / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(f"{where}: file {entry['file']!r} listed in the manifest is missing")
    volume = read_volume(
        path, grey_values, ndim=3 if normal is None else 2, require_all_phases=True
    )
    if entry.get("shape") is not None and tuple(entry["shape"]) != volume.shape:
        raise ValueError(
            f"{where}: manifest shape {tuple(entry['shape'])} does not match the file's {volume.shape}"
        )
    return Sample(entry["file"], labels, voxel_size_m, entry["split"], volume, normal)


def _read_manifest(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    json_path, csv_path = root / MANIFEST_JSON, root / MANIFEST_CSV
    if json_path.is_file():
        try:
            manifest = json.loads(json_path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{json_path}: not valid JSON ({error})") from None
        if manifest.get("format") != FORMAT_NAME or not isinstance(manifest.get("samples"), list):
            raise ValueError(
                f"{json_path}: not a jaxmicro dataset manifest (needs \"format\": "
                f"\"{FORMAT_NAME}\" and a \"samples\" list)"
            )
        if manifest.get("through_plane_axis", THROUGH_PLANE_AXIS) != THROUGH_PLANE_AXIS:
            raise ValueError(
                f"{json_path}: through_plane_axis must be {THROUGH_PLANE_AXIS}; transpose the volumes"
            )
        return manifest["samples"], manifest
    if csv_path.is_file():
        with csv_path.open(newline="") as handle:
            return list(csv.DictReader(handle)), {}
    raise FileNotFoundError(
        f"{root}: no {MANIFEST_JSON} or {MANIFEST_CSV}; a dataset is a folder of volumes plus a manifest"
    )


def load_dataset(
    root: str | os.PathLike, grey_values: Sequence[int] | None = None
) -> LabelledDataset:
    """Loads and validates a labelled dataset folder.

    Args:
        root: the dataset folder.
        grey_values: the files' grey value for (pore, AM, CBD); default: the manifest's, else
            the file type's default (``0/1/2`` for .npy, ``0/128/255`` for TIFF).

    Returns:
        The :class:`LabelledDataset`, every volume loaded.

    Raises:
        FileNotFoundError: missing folder, manifest or listed file.
        ValueError: unknown grey values, wrong dimensionality, an empty phase, a bad or
            duplicated manifest entry, or an empty dataset.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {root}")
    entries, manifest = _read_manifest(root)
    if not entries:
        raise ValueError(f"{root}: the manifest lists no samples")
    files = [entry.get("file") for entry in entries]
    duplicated = sorted({f for f in files if files.count(f) > 1})
    if duplicated:
        raise ValueError(f"{root}: manifest lists {duplicated} more than once")
    if grey_values is None and manifest.get("grey_values") is not None:
        grey_values = manifest["grey_values"]
    samples = tuple(
        _sample_from_entry(root, entry, grey_values, index) for index, entry in enumerate(entries)
    )
    resolved_grey = tuple(grey_values or default_grey_values(samples[0].file))
    return LabelledDataset(root, samples, resolved_grey, dict(manifest.get("source", {})))


def write_dataset(
    root: str | os.PathLike,
    samples: Iterable[Sample],
    *,
    source: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Writes samples and their manifest into ``root`` atomically.

    Everything is written into a temporary folder beside ``root`` and renamed into place, so a
    crash leaves either the old dataset or the complete new one, never a half-written manifest.

    Args:
        root: destination folder.
        samples: the samples; each ``file`` suffix picks its format (.npy or .tif).
        source: provenance stored in the manifest.
        force: replace an existing ``root``; otherwise an existing one raises.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    if root.exists() and not force:
        raise FileExistsError(f"{root} already exists; pass force=True (--force) to replace it")
    staging = staging_dir(root)
    try:
        entries, grey_values = [], None
        for sample in samples:
            grey_values = grey_values or default_grey_values(sample.file)
            write_volume(staging / sample.file, sample.volume, grey_values)
            entries.append(sample.manifest_entry())
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "grey_values": list(grey_values or ()),
            "through_plane_axis": THROUGH_PLANE_AXIS,
            "source": source or {},
            "samples": entries,
        }
        (staging / MANIFEST_JSON).write_text(json.dumps(manifest, indent=1) + "\n")
        replace_dir(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root
