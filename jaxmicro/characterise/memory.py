"""Memory budget of a tortuosity solve: estimated before anything is allocated.

About 50 to 53 bytes per voxel in float32 (twice in float64), measured with XLA's memory
analysis, budgeted as :data:`BYTES_PER_VOXEL` = 120; the solver refuses volumes whose estimate
exceeds the memory available on the device.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import numpy as np

from jaxmicro.host_memory import available_host_memory_bytes

BYTES_PER_VOXEL: int = 120
"""Memory per voxel of one float32 solve, as used for the pre-allocation check [bytes]. XLA's
memory analysis of the compiled solve gives 53 / 51 / 50 B/voxel at 64^3 / 96^3 / 128^3
(operator fields, the multigrid hierarchy, the CG vectors); the margin covers the label
volume, the conductivity field and the host-side labelling. ``jax.grad`` needs about twice as
much."""

BATCH_BYTES_PER_VOXEL: int = 8
"""Memory per voxel of every volume of a batch solved one volume at a time (on CPU), besides
one volume's :data:`BYTES_PER_VOXEL` [bytes]: the batch's float32 diffusivity field and its
labels and clusters (XLA's memory analysis: 6 B/voxel for 4 x 64^3)."""


def available_memory_bytes(device: jax.Device | None = None) -> int | None:
    """Free memory on ``device`` (default: JAX's first device) in bytes, or None if unknown."""
    device = device or jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
        return None
    return available_host_memory_bytes()


def memory_estimate_bytes(shape: Sequence[int], dtype="float32", one_at_a_time: bool = False) -> int:
    """Estimated peak memory of solving volumes of ``shape`` (``(z, y, x)`` or a batch) [bytes].

    Args:
        shape: ``(z, y, x)`` or ``(n, z, y, x)``.
        dtype: float32 or float64.
        one_at_a_time: the batch is solved volume after volume (as on CPU): the solver's
            temporaries are one volume's, plus :data:`BATCH_BYTES_PER_VOXEL` for every voxel of
            the batch.

    Returns:
        The estimate [bytes].
    """
    scale = np.dtype(dtype).itemsize / 4
    if one_at_a_time and len(shape) == 4:
        volume = math.prod(shape[1:])
        return int((volume * BYTES_PER_VOXEL + shape[0] * volume * BATCH_BYTES_PER_VOXEL) * scale)
    return int(math.prod(shape) * BYTES_PER_VOXEL * scale)


def check_memory(shape: Sequence[int], dtype, one_at_a_time: bool) -> None:
    """Raises if :func:`memory_estimate_bytes` exceeds :func:`available_memory_bytes`.

    Raises:
        ValueError: stating the estimate, the memory available, and what to do.
    """
    need = memory_estimate_bytes(shape, dtype, one_at_a_time)
    have = available_memory_bytes()
    if have is not None and need > have:
        raise ValueError(
            f"a tortuosity solve of shape {tuple(shape)} needs about {need / 1e9:.2f} GB "
            f"({BYTES_PER_VOXEL} B/voxel in float32) but only {have / 1e9:.2f} GB is available; "
            f"solve a smaller crop or fewer volumes at once"
        )
