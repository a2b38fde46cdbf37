"""Reading and writing 3-phase volumes as TIFF stacks and ``.npy`` files.

Files hold grey values; jaxmicro holds phase ids (see :mod:`jaxmicro.data.phases`). The mapping
is explicit: ``grey_values[p]`` is the grey value that stores phase ``p``. For example
``../shared/data/electrode.tiff`` uses ``(0, 85, 170)`` for (pore, AM, CBD). TIFF stacks are
written one page per ``z`` slice (readable by Fiji/ImageJ, ParaView and TauFactor).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np

from jaxmicro.data.phases import N_PHASES, PHASE_NAMES

NPY_GREY_VALUES: Final[tuple[int, int, int]] = (0, 1, 2)
TIFF_GREY_VALUES: Final[tuple[int, int, int]] = (0, 128, 255)
VOLUME_SUFFIXES: Final[tuple[str, ...]] = (".tif", ".tiff", ".npy")


def default_grey_values(path: str | os.PathLike) -> tuple[int, ...]:
    """The grey values jaxmicro writes for this file type: ``0/1/2`` for .npy, ``0/128/255`` for TIFF."""
    return NPY_GREY_VALUES if Path(path).suffix.lower() == ".npy" else TIFF_GREY_VALUES


def _check_grey_values(grey_values: Sequence[int]) -> tuple[int, ...]:
    grey_values = tuple(int(g) for g in grey_values)
    if len(grey_values) != N_PHASES or len(set(grey_values)) != N_PHASES:
        raise ValueError(
            f"grey_values must give {N_PHASES} distinct grey values for (pore, AM, CBD), "
            f"got {grey_values}"
        )
    if min(grey_values) < 0 or max(grey_values) > 255:
        raise ValueError(f"grey_values must lie in 0..255 (uint8 files), got {grey_values}")
    return grey_values


def grey_to_phase(
    grey: np.ndarray, grey_values: Sequence[int], source: str = "volume"
) -> np.ndarray:
    """Maps a grey-value array to phase ids.

    Args:
        grey: integer array of any shape.
        grey_values: ``grey_values[p]`` stores phase ``p``.
        source: a name for error messages (usually the file path).

    Returns:
        uint8 array of phase ids, same shape as ``grey``.

    Raises:
        ValueError: if ``grey`` holds a value not in ``grey_values`` (the message lists them).
    """
    grey_values = _check_grey_values(grey_values)
    grey = np.asarray(grey)
    if not np.issubdtype(grey.dtype, np.integer):
        raise ValueError(f"{source}: expected an integer (uint8) array, got dtype {grey.dtype}")
    lookup = np.full(256, 255, dtype=np.uint8)
    for phase, value in enumerate(grey_values):
        lookup[value] = phase
    in_range = (grey >= 0) & (grey <= 255)
    phases = lookup[np.where(in_range, grey, 0).astype(np.intp)]
    unknown_mask = ~in_range | (phases == 255)
    if unknown_mask.any():
        unknown = np.unique(grey[unknown_mask])[:10].tolist()
        raise ValueError(
            f"{source}: grey values {unknown} are not in the phase mapping {grey_values} "
            f"(pore, AM, CBD); pass the file's grey values with grey_values=(...)"
        )
    return phases


def phase_to_grey(phases: np.ndarray, grey_values: Sequence[int]) -> np.ndarray:
    """Maps phase ids ``0..2`` to uint8 grey values; the inverse of :func:`grey_to_phase`."""
    grey_values = _check_grey_values(grey_values)
    phases = np.asarray(phases)
    if phases.size and (phases.min() < 0 or phases.max() >= N_PHASES):
        raise ValueError(f"phase ids must be 0, 1 or 2, got values in [{phases.min()}, {phases.max()}]")
    return np.asarray(grey_values, dtype=np.uint8)[phases.astype(np.intp)]


def check_phase_volume(
    volume: np.ndarray, *, ndim: int = 3, require_all_phases: bool = False, source: str = "volume"
) -> np.ndarray:
    """Validates a phase-id array and returns it as uint8.

    Raises:
        ValueError: on wrong dimensionality, values outside 0..2, or (with
            ``require_all_phases``) a phase that does not occur.
    """
    volume = np.asarray(volume)
    if volume.ndim != ndim:
        raise ValueError(
            f"{source}: expected a {ndim}-D array {'(z, y, x)' if ndim == 3 else '(y, x)'}, "
            f"got shape {volume.shape}"
        )
    if not np.issubdtype(volume.dtype, np.integer):
        raise ValueError(f"{source}: phase ids must be integers, got dtype {volume.dtype}")
    if volume.size == 0 or volume.min() < 0 or volume.max() >= N_PHASES:
        raise ValueError(f"{source}: phase ids must be 0 (pore), 1 (AM) or 2 (CBD)")
    if require_all_phases:
        counts = np.bincount(volume.ravel().astype(np.intp), minlength=N_PHASES)
        empty = [PHASE_NAMES[p] for p in range(N_PHASES) if counts[p] == 0]
        if empty:
            raise ValueError(
                f"{source}: phase(s) {empty} are empty; a 3-phase electrode needs pore, AM and CBD "
                "(check the grey-value mapping)"
            )
    return volume.astype(np.uint8, copy=False)


def read_volume(
    path: str | os.PathLike,
    grey_values: Sequence[int] | None = None,
    *,
    ndim: int = 3,
    require_all_phases: bool = False,
) -> np.ndarray:
    """Reads a 3-phase volume (or a 2-D cross-section) from a TIFF stack or ``.npy`` file.

    Args:
        path: ``.tif``/``.tiff`` (one page per ``z`` slice) or ``.npy``.
        grey_values: the file's grey value for (pore, AM, CBD); default
            :func:`default_grey_values` of the suffix.
        ndim: 3 for a volume ``(z, y, x)``, 2 for a cross-section ``(y, x)``.
        require_all_phases: raise if a phase does not occur.

    Returns:
        uint8 array of phase ids with ``ndim`` dimensions.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"volume file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        grey = np.load(path, allow_pickle=False)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        grey = tifffile.imread(path)
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {VOLUME_SUFFIXES}")
    if grey_values is None:
        grey_values = default_grey_values(path)
    grey = np.squeeze(grey) if grey.ndim > ndim else grey
    phases = grey_to_phase(grey, grey_values, source=str(path))
    return check_phase_volume(
        phases, ndim=ndim, require_all_phases=require_all_phases, source=str(path)
    )


def write_volume(
    path: str | os.PathLike,
    volume: np.ndarray,
    grey_values: Sequence[int] | None = None,
) -> Path:
    """Writes a phase-id volume ``(z, y, x)`` (or a 2-D slice) as a TIFF stack or ``.npy``.

    The file is written to a temporary name and renamed, so a crash leaves no partial file.

    Args:
        path: destination; the suffix picks the format.
        volume: integer phase ids 0..2.
        grey_values: grey value per phase; default :func:`default_grey_values` of the suffix.

    Returns:
        The path written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VOLUME_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {VOLUME_SUFFIXES}")
    volume = np.asarray(volume)
    check_phase_volume(volume, ndim=volume.ndim if volume.ndim in (2, 3) else 3, source=str(path))
    grey = phase_to_grey(volume, grey_values or default_grey_values(path))
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    if suffix == ".npy":
        np.save(tmp, grey, allow_pickle=False)
    else:
        import tifffile

        tifffile.imwrite(tmp, grey, photometric="minisblack")
    os.replace(tmp, path)
    return path
