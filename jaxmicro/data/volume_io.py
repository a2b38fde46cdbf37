"""Reading and writing 3-phase volumes as TIFF stacks and ``.npy`` files.

Files hold grey values; jaxmicro holds phase ids (see :mod:`jaxmicro.data.phases`). The mapping
is explicit: ``grey_values[p]`` is the grey value that stores phase ``p``. For example
``../shared/data/electrode.tiff`` uses ``(0, 85, 170)`` for (pore, AM, CBD). TIFF stacks are
written one page per ``z`` slice (readable by Fiji/ImageJ, ParaView and TauFactor).

With a voxel size, a TIFF carries it as ImageJ calibration in micrometres (x/y resolution and
the z ``spacing``, unit ``um``), so Fiji and ParaView show real lengths;
:func:`read_voxel_size_m` reads it back. Every written volume gets a JSON sidecar
``<file>.json`` (:func:`sidecar_path`) with the phase map (grey value and name per phase id),
the voxel size and, when given, the manufacturing labels.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from jaxmicro.data.phases import N_PHASES, PHASE_NAMES

NPY_GREY_VALUES: Final[tuple[int, int, int]] = (0, 1, 2)
TIFF_GREY_VALUES: Final[tuple[int, int, int]] = (0, 128, 255)
VOLUME_SUFFIXES: Final[tuple[str, ...]] = (".tif", ".tiff", ".npy")
SIDECAR_FORMAT: Final[str] = "jaxmicro-volume"
"""The ``format`` field of a volume's JSON sidecar."""
TIFF_GREY_KEY: Final[str] = "phase_grey_values"
"""The ImageJ metadata key under which a written TIFF records its grey values for (pore, AM,
CBD), e.g. ``phase_grey_values=0,128,255``: the mapping travels with the file, sidecar or not."""
READ_BYTES_PER_VOXEL: Final[int] = 12
"""Host memory per voxel of reading a volume, besides the file's own array [bytes]: the
grey-to-phase lookup's index array (8), masks (2) and the phase ids (1), rounded up."""
_UM_PER_M: Final[float] = 1e6


def default_grey_values(path: str | os.PathLike) -> tuple[int, ...]:
    """The grey values jaxmicro writes for this file type: ``0/1/2`` for .npy, ``0/128/255`` for TIFF."""
    return NPY_GREY_VALUES if Path(path).suffix.lower() == ".npy" else TIFF_GREY_VALUES


def _check_grey_values(grey_values: Sequence[int]) -> tuple[int, ...]:
    grey_values = tuple(int(g) for g in grey_values)
    if len(grey_values) != N_PHASES or len(set(grey_values)) != N_PHASES:
        raise ValueError(
            f"grey_values must give {N_PHASES} distinct grey values for (pore, AM, CBD), got {grey_values}"
        )
    if min(grey_values) < 0 or max(grey_values) > 255:
        raise ValueError(f"grey_values must lie in 0..255 (uint8 files), got {grey_values}")
    return grey_values


def grey_to_phase(grey: np.ndarray, grey_values: Sequence[int], source: str = "volume") -> np.ndarray:
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
        grey_values: the file's grey value for (pore, AM, CBD); default: those the TIFF
            records (:data:`TIFF_GREY_KEY`) or the file's JSON sidecar (:func:`write_volume`),
            else :func:`default_grey_values` of the suffix.
        ndim: 3 for a volume ``(z, y, x)``, 2 for a cross-section ``(y, x)``.
        require_all_phases: raise if a phase does not occur.

    Returns:
        uint8 array of phase ids with ``ndim`` dimensions; :func:`read_voxel_size_m` gives its
        voxel size.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a grey value outside the mapping, grey values that contradict those the
            TIFF or its sidecar records, a header declaring more data than the file holds, or
            more than the host's available memory (checked before anything is read), a wrong
            dimensionality or a missing phase (``require_all_phases``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"volume file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        _check_declared_size(path, *_npy_declared(path))
        grey = np.load(path, allow_pickle=False)
        recorded = None
    elif suffix in (".tif", ".tiff"):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            _check_declared_size(path, tuple(series.shape), series.dtype, None)
            recorded = _tiff_grey_values(path, tif.imagej_metadata)
            grey = series.asarray()
    else:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {VOLUME_SUFFIXES}")
    grey_values = _grey_values_for(path, grey_values, recorded)
    grey = np.squeeze(grey) if grey.ndim > ndim else grey
    phases = grey_to_phase(grey, grey_values, source=str(path))
    return check_phase_volume(phases, ndim=ndim, require_all_phases=require_all_phases, source=str(path))


def _npy_declared(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data bytes in the file, from a ``.npy`` header (nothing else read)."""
    try:
        with path.open("rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = read_header(handle)
            offset = handle.tell()
    except (ValueError, OSError, SyntaxError) as error:
        raise ValueError(f"{path}: not a readable .npy file ({error})") from None
    return tuple(int(n) for n in shape), np.dtype(dtype), path.stat().st_size - offset


def _check_declared_size(path: Path, shape: tuple[int, ...], dtype: np.dtype, stored: int | None) -> None:
    """Refuses a file whose header declares more data than it holds or than memory allows."""
    voxels = math.prod(shape)
    declared = voxels * np.dtype(dtype).itemsize
    if stored is not None and declared > stored:
        raise ValueError(
            f"{path}: the header declares an array of shape {shape} ({declared:,} bytes) but the "
            f"file holds {stored:,}; the file is damaged or truncated"
        )
    from jaxmicro import host_memory

    need = declared + voxels * READ_BYTES_PER_VOXEL
    have = host_memory.available_host_memory_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"{path}: reading its volume of shape {shape} needs about {need / 1e9:.3g} GB "
            f"but {have / 1e9:.3g} GB is available; crop the file or read it on a larger machine"
        )


def _tiff_grey_values(path: Path, metadata: Mapping[str, Any] | None) -> tuple[int, ...] | None:
    """The grey values a TIFF records under :data:`TIFF_GREY_KEY`, or ``None``."""
    text = (metadata or {}).get(TIFF_GREY_KEY)
    if text is None:
        return None
    try:
        return _check_grey_values(int(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"{path}: unreadable {TIFF_GREY_KEY}={text!r} in its ImageJ metadata") from None


def _grey_values_for(
    path: Path, given: Sequence[int] | None, recorded: tuple[int, ...] | None
) -> tuple[int, ...]:
    """The grey values to read ``path`` with: the caller's, the file's, its sidecar's, the
    suffix's default; refuses a contradiction (it would swap phases without a word)."""
    sidecar = read_sidecar(path)
    noted = (
        None
        if sidecar is None
        else tuple(int(p["grey_value"]) for p in sorted(sidecar["phases"], key=lambda p: p["id"]))
    )
    if recorded is not None and noted is not None and recorded != noted:
        raise ValueError(
            f"{path} records grey values {recorded} for (pore, AM, CBD) but its sidecar "
            f"{sidecar_path(path).name} says {noted}; remove the stale sidecar"
        )
    known = recorded if recorded is not None else noted
    if given is not None:
        given = _check_grey_values(given)
        if known is not None and given != known:
            raise ValueError(
                f"{path} records grey values {known} for (pore, AM, CBD), not the {given} passed; "
                "pass grey_values=None to use the file's"
            )
        return given
    return known if known is not None else default_grey_values(path)


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON sidecar of a volume file: ``electrode.tif`` -> ``electrode.tif.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _voxel_size_zyx_m(voxel_size_m: float | Sequence[float], ndim: int) -> tuple[float, ...]:
    sizes = (voxel_size_m,) * ndim if isinstance(voxel_size_m, int | float) else tuple(voxel_size_m)
    sizes = tuple(float(v) for v in sizes)
    if len(sizes) != ndim or not all(math.isfinite(v) and v > 0 for v in sizes):
        raise ValueError(
            f"voxel_size_m must be one positive edge length [m] or {ndim} of them "
            f"({'z, y, x' if ndim == 3 else 'y, x'}), got {voxel_size_m!r}"
        )
    return sizes


def write_volume(
    path: str | os.PathLike,
    volume: np.ndarray,
    grey_values: Sequence[int] | None = None,
    *,
    voxel_size_m: float | Sequence[float] | None = None,
    labels: Mapping[str, float] | None = None,
    sidecar: bool = True,
) -> Path:
    """Writes a phase-id volume ``(z, y, x)`` (or a 2-D slice) as a TIFF stack or ``.npy``.

    The file is written to a temporary name and renamed, so a crash leaves no partial file, and
    an error leaves no temporary file. A JSON sidecar (:func:`sidecar_path`) records the phase
    map, the voxel size and the labels.

    Args:
        path: destination; the suffix picks the format.
        volume: integer phase ids 0..2.
        grey_values: grey value per phase; default :func:`default_grey_values` of the suffix.
        voxel_size_m: voxel edge [m], one value or one per axis (z, y, x); a TIFF stores it as
            ImageJ calibration in micrometres. ``None``: no calibration (1 unit per voxel).
        labels: manufacturing labels of the volume (e.g. ``{"am_wt": 0.93, ...}``), for the
            sidecar.
        sidecar: write the JSON sidecar (False: e.g. inside a dataset, whose manifest holds
            the same facts).

    Returns:
        The path written.
    """
    from jaxmicro._files import atomic_path, write_json_atomic

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VOLUME_SUFFIXES:
        raise ValueError(f"{path}: unsupported file type {suffix!r}; use one of {VOLUME_SUFFIXES}")
    volume = np.asarray(volume)
    check_phase_volume(volume, ndim=volume.ndim if volume.ndim in (2, 3) else 3, source=str(path))
    grey_values = _check_grey_values(grey_values or default_grey_values(path))
    sizes = None if voxel_size_m is None else _voxel_size_zyx_m(voxel_size_m, volume.ndim)
    grey = phase_to_grey(volume, grey_values)
    hint = "free space and write the volume again"
    with atomic_path(path, hint) as tmp:
        if suffix == ".npy":
            np.save(tmp, grey, allow_pickle=False)
        else:
            import tifffile

            # ImageJ hyperstack: axis 0 as slices (Z), not channels.
            metadata: dict[str, Any] = {
                "axes": "ZYX"[3 - volume.ndim :],
                TIFF_GREY_KEY: ",".join(str(g) for g in grey_values),
            }
            resolution = None
            if sizes is not None:
                um = [v * _UM_PER_M for v in sizes]
                resolution = (1.0 / um[-1], 1.0 / um[-2])  # pixels per um along x, y
                metadata["unit"] = "um"
                if volume.ndim == 3:
                    metadata["spacing"] = um[0]  # z step [um]
            tifffile.imwrite(
                tmp, grey, imagej=True, photometric="minisblack", resolution=resolution, metadata=metadata
            )
    if not sidecar:
        return path
    write_json_atomic(
        sidecar_path(path),
        {
            "format": SIDECAR_FORMAT,
            "file": path.name,
            "shape": list(volume.shape),
            "axes": "zyx"[3 - volume.ndim :],
            "through_plane_axis": 0 if volume.ndim == 3 else None,
            "phases": [
                {"id": p, "name": PHASE_NAMES[p], "grey_value": grey_values[p]} for p in range(N_PHASES)
            ],
            "voxel_size_m": None if sizes is None else list(sizes),
            "labels": None if labels is None else {k: float(v) for k, v in labels.items()},
        },
        hint,
    )
    return path


def read_sidecar(path: str | os.PathLike) -> dict[str, Any] | None:
    """The JSON sidecar written beside a volume file by :func:`write_volume`, or ``None``."""
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        return None
    data = json.loads(sidecar.read_text())
    if data.get("format") != SIDECAR_FORMAT:
        raise ValueError(f"{sidecar}: not a jaxmicro volume sidecar (format {data.get('format')!r})")
    return data


def _unit(unit: Any) -> str:
    """ImageJ's length unit, normalised: ``micron``, ``\\u00B5m`` and ``\u00b5m`` -> ``um``."""
    text = str(unit or "").strip().lower().replace("\\u00b5", "u").replace("\u00b5", "u")
    return "um" if text in ("um", "micron", "microns") else text


def _tiff_voxel_size_m(path: Path) -> tuple[float, ...] | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        meta = tif.imagej_metadata or {}
        if _unit(meta.get("unit")) != "um":
            return None
        x_per_um, y_per_um = page.get_resolution()
        if not (x_per_um > 0 and y_per_um > 0):
            return None
        yx = (1.0 / y_per_um / _UM_PER_M, 1.0 / x_per_um / _UM_PER_M)
        n_pages = len(tif.pages) if meta.get("images") is None else int(meta["images"])
        if n_pages <= 1:
            return yx
        spacing = float(meta.get("spacing", 1.0 / x_per_um))
        return (spacing / _UM_PER_M, *yx)


def read_voxel_size_m(path: str | os.PathLike) -> tuple[float, ...] | None:
    """The voxel edge lengths [m] of a volume file, one per axis (z, y, x), or ``None``.

    A TIFF's ImageJ calibration in micrometres comes first (as written by :func:`write_volume`
    and by Fiji); else the JSON sidecar's ``voxel_size_m``; else ``None`` (unknown).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"volume file not found: {path}")
    if path.suffix.lower() in (".tif", ".tiff"):
        sizes = _tiff_voxel_size_m(path)
        if sizes is not None:
            return sizes
    sidecar = read_sidecar(path)
    if sidecar is None or sidecar.get("voxel_size_m") is None:
        return None
    return tuple(float(v) for v in sidecar["voxel_size_m"])
