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

A manifest names files inside its folder only: absolute paths, ``..`` and links that lead out
of the folder are refused (before anything outside is looked at, so an error never tells
whether an outside path exists). :func:`write_dataset` writes plain file names only, and with
``force`` replaces only a folder that is recognisably a dataset (it has a manifest) or is empty.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Final

import numpy as np

from jaxmicro._files import (
    NoSpaceError,
    is_no_space,
    remove_stale_temporaries,
    replace_dir,
    staging_dir,
    write_text_atomic,
)
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


def _plain_relative(name: Any, where: str) -> str:
    """``name`` if it is a relative path with no ``..`` (POSIX or Windows spelling), else ValueError."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"{where}: file must be a non-empty file name, got {name!r}")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or ".." in posix.parts + windows.parts:
        raise ValueError(
            f"{where}: file {name!r} must be a path inside the dataset folder (no absolute path, no '..')"
        )
    return name


def dataset_file(root: str | os.PathLike, name: Any, where: str = "") -> Path:
    """The path of a manifest's file ``name`` inside the dataset folder ``root``.

    Raises:
        ValueError: ``name`` is absolute, has ``..``, or leads out of ``root`` through a link;
            checked before the file is opened, so the error says nothing about outside paths.
    """
    root = Path(root)
    where = where or str(root)
    path = root / _plain_relative(name, where)
    inside = root.resolve()
    if not path.resolve().is_relative_to(inside):
        raise ValueError(
            f"{where}: file {name!r} is a link that leads out of the dataset folder; copy the file in"
        )
    return path


def _number(entry: dict[str, Any], key: str, where: str) -> float:
    value = entry[key]
    if isinstance(value, bool):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a number, got {value!r}") from None


def _sample_from_entry(root: Path, entry: dict[str, Any], grey_values, index: int, manifest: str) -> Sample:
    where = f"{root / manifest}: sample {index}"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with the sample's fields, got {type(entry).__name__}")
    required = ("file", *LABEL_FIELDS, "voxel_size_m", "split")
    missing = [key for key in required if entry.get(key) in (None, "")]
    if missing:
        raise ValueError(f"{where} lacks {missing}; each sample needs {list(required)}")
    path = dataset_file(root, entry["file"], where)
    values = {name: _number(entry, name, f"{where} ({entry['file']})") for name in LABEL_FIELDS}
    try:
        labels = Labels.from_dict(values)
    except ValueError as error:
        raise ValueError(f"{where} ({entry['file']}): {error}") from None
    voxel_size_m = _number(entry, "voxel_size_m", where)
    if not (np.isfinite(voxel_size_m) and 0 < voxel_size_m < 1e-3):
        raise ValueError(f"{where}: voxel_size_m={voxel_size_m} must be in metres, in (0, 1e-3)")
    if entry["split"] not in SPLITS:
        raise ValueError(f"{where}: split {entry['split']!r} must be one of {SPLITS}")
    normal = entry.get("slice_normal_axis")
    if normal not in (None, "", 0, 1, 2, "0", "1", "2"):
        raise ValueError(f"{where}: slice_normal_axis must be 0, 1, 2 or empty, got {normal!r}")
    normal = None if normal in (None, "") else int(normal)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: file {entry['file']!r} listed in the manifest is missing")
    volume = read_volume(path, grey_values, ndim=3 if normal is None else 2, require_all_phases=True)
    shape = entry.get("shape")
    if shape is not None and (not isinstance(shape, list | tuple) or tuple(shape) != volume.shape):
        raise ValueError(f"{where}: manifest shape {shape} does not match the file's {volume.shape}")
    return Sample(entry["file"], labels, voxel_size_m, entry["split"], volume, normal)


def _read_manifest(root: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    json_path, csv_path = root / MANIFEST_JSON, root / MANIFEST_CSV
    if json_path.is_file():
        try:
            manifest = json.loads(json_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{json_path}: not valid JSON ({error})") from None
        if (
            not isinstance(manifest, dict)
            or manifest.get("format") != FORMAT_NAME
            or not isinstance(manifest.get("samples"), list)
        ):
            raise ValueError(
                f'{json_path}: not a jaxmicro dataset manifest (needs "format": '
                f'"{FORMAT_NAME}" and a "samples" list)'
            )
        if manifest.get("through_plane_axis", THROUGH_PLANE_AXIS) != THROUGH_PLANE_AXIS:
            raise ValueError(
                f"{json_path}: through_plane_axis must be {THROUGH_PLANE_AXIS}; transpose the volumes"
            )
        return manifest["samples"], manifest
    if csv_path.is_file():
        try:
            with csv_path.open(newline="", encoding="utf-8") as handle:
                return list(csv.DictReader(handle)), {}
        except (UnicodeDecodeError, csv.Error) as error:
            raise ValueError(f"{csv_path}: not a readable CSV manifest ({error})") from None
    raise FileNotFoundError(
        f"{root}: no {MANIFEST_JSON} or {MANIFEST_CSV}; a dataset is a folder of volumes plus a manifest"
    )


def load_dataset(root: str | os.PathLike, grey_values: Sequence[int] | None = None) -> LabelledDataset:
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
    manifest_name = MANIFEST_JSON if manifest else MANIFEST_CSV
    if not entries:
        raise ValueError(f"{root}: the manifest lists no samples")
    files = [entry.get("file") if isinstance(entry, dict) else None for entry in entries]
    duplicated = sorted({str(f) for f in files if f is not None and files.count(f) > 1})
    if duplicated:
        raise ValueError(f"{root}: manifest lists {duplicated} more than once")
    if grey_values is None and manifest.get("grey_values") is not None:
        grey_values = manifest["grey_values"]
    samples = tuple(
        _sample_from_entry(root, entry, grey_values, index, manifest_name)
        for index, entry in enumerate(entries)
    )
    source = manifest.get("source", {})
    if not isinstance(source, dict):
        raise ValueError(f"{root / MANIFEST_JSON}: source must be an object, got {type(source).__name__}")
    resolved_grey = tuple(grey_values or default_grey_values(samples[0].file))
    return LabelledDataset(root, samples, resolved_grey, dict(source))


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

    Raises:
        FileExistsError: ``root`` exists and ``force`` is False, or ``force`` and ``root`` is not
            a dataset (no manifest) and not empty: only a dataset is ever replaced.
        ValueError: a sample's file is not a plain file name, or two samples share one.
        NoSpaceError: the disk filled up (the old dataset, if any, is untouched).
    """
    root = Path(root)
    check_dataset_destination(root, force)
    remove_stale_temporaries(root.parent, root.name)
    staging = staging_dir(root)
    try:
        entries, grey_values, names = [], None, set()
        for sample in samples:
            name = _plain_relative(sample.file, f"sample {len(entries)}")
            if len(Path(name).parts) != 1:
                raise ValueError(
                    f"sample {len(entries)}: file {name!r} must be a plain file name (no folders)"
                )
            if name in names:
                raise ValueError(f"sample {len(entries)}: file {name!r} is used by an earlier sample")
            names.add(name)
            grey_values = grey_values or default_grey_values(sample.file)
            write_volume(staging / name, sample.volume, grey_values)
            entries.append(sample.manifest_entry())
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "grey_values": list(grey_values or ()),
            "through_plane_axis": THROUGH_PLANE_AXIS,
            "source": source or {},
            "samples": entries,
        }
        write_text_atomic(staging / MANIFEST_JSON, json.dumps(manifest, indent=1) + "\n")
        check_dataset_destination(root, force)  # again: something may have appeared meanwhile
        replace_dir(staging, root)
    except NoSpaceError:
        raise NoSpaceError(root, "run again") from None
    except Exception as error:
        if is_no_space(error):
            raise NoSpaceError(root, "run again") from error
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def check_dataset_destination(root: str | os.PathLike, force: bool) -> None:
    """Refuses a destination that :func:`write_dataset` must not replace (call it before the work).

    Raises:
        FileExistsError: ``root`` exists and not ``force``; or ``force`` and ``root`` is a file, a
            link, or a non-empty folder without a dataset manifest.
    """
    root = Path(root)
    if not (root.exists() or root.is_symlink()):
        return
    if not force:
        raise FileExistsError(f"{root} already exists; pass force=True (--force) to replace it")
    if root.is_symlink() or not root.is_dir():
        raise FileExistsError(
            f"{root} is not a dataset folder; --force replaces only a dataset, choose another --out"
        )
    recognisable = (root / MANIFEST_JSON).is_file() or (root / MANIFEST_CSV).is_file()
    if not recognisable and any(root.iterdir()):
        raise FileExistsError(
            f"{root} is not a jaxmicro dataset (no {MANIFEST_JSON} or {MANIFEST_CSV}); --force replaces "
            "only a dataset: remove it yourself or choose another --out"
        )
