"""Where and how a tortuosity solve runs: the one place that tells CPU from accelerator.

On CPU one volume's solve already occupies every core, so a batch is solved volume after volume
(``lax.map``), each to its own iteration count, holding one volume's temporaries at a time
(faster than one vmapped batch, which iterates until its slowest volume converges), and the
inlet clusters are labelled on the host by ``cc3d`` (20 to 40x faster there than the flood
fill; through a host callback when traced). On an accelerator the batch is solved as one vmapped
batch (it fills the device) and the clusters are labelled by the flood fill on the device (no
round trip through the host), whose line sweeps use the log-depth ``associative_scan`` instead of
CPU's sequential ``lax.scan``.

:func:`choose_strategy` makes that choice from :attr:`SolverConfig.platform
<jaxmicro.characterise.config.SolverConfig.platform>`; ``"auto"`` asks :func:`platform_of`.
Tests reach the accelerator path on a CPU by passing ``platform="accelerator"``.

Solving one volume at a time on CPU also means the solver never runs a batched LAPACK kernel
there (the coarsest grid's Cholesky factorisation is one volume's). With jaxlib 0.10.2 such
kernels were seen to deadlock XLA:CPU's shared intra-op thread pool (sharded sweeps over 4 host
devices on 2 cores; the generator's tortuosity loss), which both worked around; the workaround
is this choice now. (On 2026-12-03 neither a vmapped solve over 4 host devices nor a vmapped
loss reproduced the deadlock; a caller that vmaps the solver itself on CPU bypasses the choice.)
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from jaxmicro.characterise.config import PLATFORMS


class Strategy(NamedTuple):
    """How a batch of volumes is solved (hashable; a static argument of the jitted solve).

    Attributes:
        platform: ``"cpu"`` or ``"accelerator"``.
        one_volume_at_a_time: solve a batch volume after volume (``lax.map``), else vmapped.
        label_on_host: label the inlet clusters with ``cc3d`` on the host, else by the flood
            fill on the device.
        sequential_scan: the flood fill's line sweeps are a ``lax.scan`` over slabs (CPU: ~10x
            faster there), else the log-depth ``lax.associative_scan``.
    """

    platform: str
    one_volume_at_a_time: bool
    label_on_host: bool
    sequential_scan: bool


CPU = Strategy("cpu", one_volume_at_a_time=True, label_on_host=True, sequential_scan=True)
ACCELERATOR = Strategy("accelerator", one_volume_at_a_time=False, label_on_host=False, sequential_scan=False)


def platform_of(x=None) -> str:
    """``"cpu"`` or ``"accelerator"``: the platform a computation on ``x`` runs on.

    That of a committed JAX array; else the default device's (``jax.default_device`` context or
    config, else the default backend), also for a traced ``x``, whose computation is assumed to
    run where JAX places it by default.
    """
    if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and x.committed:
        name = next(iter(x.devices())).platform
    else:
        default = jax.config.jax_default_device
        if isinstance(default, str):
            name = jax.devices(default)[0].platform
        else:
            name = default.platform if default is not None else jax.default_backend()
    return "cpu" if name == "cpu" else "accelerator"


def choose_strategy(platform: str = "auto", x=None) -> Strategy:
    """The :class:`Strategy` for ``platform`` (``"auto"``: that of :func:`platform_of` ``(x)``).

    Raises:
        ValueError: ``platform`` is not one of ``"auto"``, ``"cpu"``, ``"accelerator"``.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {PLATFORMS}, got {platform!r}")
    if platform == "auto":
        platform = platform_of(x)
    return CPU if platform == "cpu" else ACCELERATOR
