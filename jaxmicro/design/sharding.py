"""Generation and characterisation of label batches sharded over devices along the batch axis.

A 1-D :class:`jax.sharding.Mesh` over the devices (:func:`batch_mesh`) splits the labels of a
chunk into equal blocks, one per device (``NamedSharding(mesh, P("batch"))``); each device runs
:func:`~jaxmicro.design.properties.generate_and_characterise` on its own block inside
``jax.shard_map``, so there is no communication during the computation and every device's
tortuosity solver stops when its own volumes converge. Generator weights and noise keys are
replicated. A chunk is padded (by repeating its last label) to a multiple of the device count,
and the padding is dropped from the results. A label's result does not depend on which device
or block it lands in (tested on 4 host CPU devices against one device: volumes identical,
properties equal to float32 rounding).

Multi-host: after ``jax.distributed.initialize()`` the default mesh spans every process's
devices; every process must call with the same labels, and the results are gathered to every
process (see ``docs/bench.md``).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jaxmicro.characterise.measure import Measurement, MeasureSettings, average_over_seeds
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.design.properties import generate_and_characterise, measurement_row
from jaxmicro.generator import GeneratorConfig, check_fractions, check_labels, decoding_fractions

BATCH_AXIS: Final[str] = "batch"

COORDINATOR_TIMEOUT_S: Final[float] = 120.0
"""How long a process waits for the coordinator (process 0) to answer before giving up [s]."""


def _coordinator_host_port(address: str) -> tuple[str, int]:
    host, sep, port = str(address).rpartition(":")
    host = host.strip("[]")  # [::1]:1234
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--coordinator must be HOST:PORT (e.g. node0:12355), got {address!r}")
    return host, int(port)


def wait_for_coordinator(address: str, timeout_s: float = COORDINATOR_TIMEOUT_S) -> None:
    """Returns once a TCP connection to ``address`` (``HOST:PORT``) succeeds; refuses after
    ``timeout_s`` seconds of failed attempts (one every 0.5 s).

    JAX's ``jax.distributed.initialize`` otherwise waits for an unreachable coordinator and then
    aborts the process from C++ (SIGABRT, no Python error).

    Raises:
        ValueError: an address that is not ``HOST:PORT`` or a host name that does not resolve.
        TimeoutError: nothing answered at ``address`` within ``timeout_s``.
    """
    import socket

    host, port = _coordinator_host_port(address)
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"the coordinator timeout must be a positive number of seconds, got {timeout_s!r}")
    try:
        socket.getaddrinfo(host, port)
    except socket.gaierror as error:
        raise ValueError(
            f"--coordinator {address}: the host {host!r} does not resolve ({error.strerror})"
        ) from None
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host, port), timeout=max(min(left, 5.0), 0.01)):
                return
        except OSError as error:
            reason = error.strerror or type(error).__name__
        if time.monotonic() + 0.5 >= deadline:
            raise TimeoutError(
                f"no coordinator answered at {address} within {timeout_s:g} s ({reason}); start "
                "process 0 first, check the address and port, or that no firewall is in the way"
            )
        time.sleep(0.5)


def _check_coordinator_is_here(address: str) -> None:
    """Process 0 runs the coordinator: its address must be one of this machine's (else JAX's own
    client waits for a service that is not there, then aborts the process)."""
    import socket

    host, port = _coordinator_host_port(address)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValueError(
            f"--coordinator {address}: the host {host!r} does not resolve ({error.strerror})"
        ) from None
    for family, kind, proto, _, sockaddr in infos:
        with contextlib.suppress(OSError), socket.socket(family, kind, proto) as probe:
            probe.bind((sockaddr[0], 0))
            return
    raise ValueError(
        f"--coordinator {address}: process 0 runs the coordinator, so the address must be this "
        f"machine's, but {host} ({', '.join(sorted({i[4][0] for i in infos}))}) is not; give this "
        "machine's host name or address"
    )


def initialize_distributed(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    timeout_s: float = COORDINATOR_TIMEOUT_S,
) -> None:
    """``jax.distributed.initialize`` that fails in one line instead of hanging or aborting.

    With a ``coordinator``, every process but process 0 first waits (at most ``timeout_s``)
    until the coordinator's port answers (:func:`wait_for_coordinator`); JAX's own
    initialisation then gets the same timeout. CPU processes exchange data over gloo. Without a
    coordinator JAX detects the cluster (Slurm, Open MPI, TPU pods).

    Args:
        coordinator: ``HOST:PORT`` of process 0, or ``None`` to auto-detect.
        num_processes: number of processes (``None``: auto-detect).
        process_id: this process's id, ``0 .. num_processes - 1`` (``None``: auto-detect).
        timeout_s: seconds to wait for the coordinator [s].

    Raises:
        ValueError: a bad address, process count or id.
        TimeoutError: the coordinator did not answer in time.
    """
    if num_processes is not None and (isinstance(num_processes, bool) or num_processes < 1):
        raise ValueError(f"--num-processes must be at least 1, got {num_processes}")
    if process_id is not None and not (
        0 <= process_id and (num_processes is None or process_id < num_processes)
    ):
        raise ValueError(f"--process-id must be in 0 .. --num-processes - 1, got {process_id}")
    if coordinator is not None:
        _coordinator_host_port(coordinator)
        if process_id == 0:
            _check_coordinator_is_here(coordinator)
        else:
            wait_for_coordinator(coordinator, timeout_s)
    if jax.config.jax_cpu_collectives_implementation is None:  # CPU processes gather over gloo
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=max(math.ceil(timeout_s), 1),
    )


def batch_mesh(devices: Sequence[jax.Device] | int | None = None) -> Mesh:
    """A 1-D mesh with axis ``"batch"`` over devices.

    Args:
        devices: the devices, or how many of ``jax.devices()`` to use (the first ones), or
            ``None`` for all of them (every process's, after ``jax.distributed.initialize``).

    Raises:
        ValueError: no devices, or more requested than there are.
    """
    available = jax.devices()
    if devices is None:
        chosen = list(available)
    elif isinstance(devices, int):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"asked for {devices} devices; there are {len(available)} ({available[0].platform})"
            )
        chosen = list(available[:devices])
    else:
        chosen = list(devices)
    if not chosen:
        raise ValueError("a mesh needs at least one device")
    return Mesh(np.array(chosen), (BATCH_AXIS,))


def padded_size(n: int, multiple: int) -> int:
    """The smallest multiple of ``multiple`` that is at least ``n`` (and at least ``multiple``)."""
    return max(1, math.ceil(n / multiple)) * multiple


def pad_rows(x: np.ndarray, size: int) -> np.ndarray:
    """Pads ``x`` ``(n, ...)`` to ``(size, ...)`` by repeating its last row (``size >= n >= 1``)."""
    if not 1 <= len(x) <= size:
        raise ValueError(f"cannot pad {len(x)} rows to {size}")
    return np.concatenate([x, np.repeat(x[-1:], size - len(x), axis=0)])


@functools.lru_cache(maxsize=16)
def _sharded_function(
    mesh: Mesh,
    config: GeneratorConfig,
    shape: tuple[int, int, int],
    settings: MeasureSettings,
    with_volumes: bool,
) -> Callable[..., Any]:
    """The jitted ``shard_map`` of :func:`generate_and_characterise` (cached per mesh and options).

    Several CPU devices in one process share one intra-op thread pool; the tortuosity solver
    never runs a batched LAPACK kernel on CPU (it solves one volume at a time there,
    :mod:`jaxmicro.characterise.dispatch`), which is what deadlocked that pool before.
    """

    def local(params: Any, keys: jax.Array, labels_unit: jax.Array, fractions: jax.Array) -> Any:
        volumes, properties = generate_and_characterise(
            params, config, keys, labels_unit, shape, settings, fractions
        )
        return (volumes, properties) if with_volumes else properties

    spec = P(None, BATCH_AXIS)  # outputs lead with (seeds, labels): labels are sharded
    sharded = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(), P(), P(BATCH_AXIS), P(BATCH_AXIS)),
        out_specs=(spec, spec) if with_volumes else spec,
        check_vma=False,  # the solver's while loops carry device-local values only
    )
    return jax.jit(sharded)


def _to_host(tree: Any) -> Any:
    """Device arrays -> numpy, gathering across processes when some shards live elsewhere."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.tree.map(np.asarray, tree)


def generate_and_characterise_sharded(
    params: Any,
    config: GeneratorConfig,
    keys: jax.Array,
    labels_unit: np.ndarray,
    shape: tuple[int, int, int],
    settings: MeasureSettings,
    mesh: Mesh | None = None,
    pad_to: int | None = None,
    with_volumes: bool = True,
    fractions: np.ndarray | None = None,
) -> tuple[np.ndarray | None, Measurement]:
    """:func:`~jaxmicro.design.generate_and_characterise` with the labels sharded over ``mesh``.

    Args:
        params, config, keys, shape, settings: as
            :func:`~jaxmicro.design.generate_and_characterise` (``keys`` ``(s, 2)``).
        labels_unit: ``(n, 3)`` labels normalised to the unit cube (host array).
        fractions: ``(n, 3)`` phase fractions to decode at, sharded with the labels (host
            array; needed when ``config.decoding`` is ``"fractions"``).
        mesh: a 1-D ``"batch"`` mesh (``None``: :func:`batch_mesh` over all devices).
        pad_to: pad the batch to this many labels first (rounded up to a multiple of the
            device count), so that chunks of different sizes share one compilation.
        with_volumes: also return the volumes (else only properties leave the devices).

    Returns:
        ``volumes`` uint8 ``(s, n, z, y, x)`` (``None`` without ``with_volumes``) and the
        properties with leading ``(s, n)``, as numpy arrays, padding removed.
    """
    mesh = mesh or batch_mesh()
    labels_unit = np.asarray(labels_unit, np.float32).reshape(-1, 3)
    n = len(labels_unit)
    size = padded_size(max(n, pad_to or 0), mesh.size)
    sharding = NamedSharding(mesh, P(BATCH_AXIS))

    def global_rows(rows: np.ndarray) -> jax.Array:
        padded = pad_rows(rows, size)
        return jax.make_array_from_callback(padded.shape, sharding, lambda index: padded[index])

    labels_global = global_rows(labels_unit)
    if not check_fractions(config, fractions):  # the argmax ignores them
        fractions = np.full((n, 3), np.nan, np.float32)
    fractions_global = global_rows(np.asarray(fractions, np.float32).reshape(n, 3))
    replicated = NamedSharding(mesh, P())
    if jax.process_count() > 1:  # pragma: no cover - a global array is built from the same host data
        params, keys = jax.tree.map(np.asarray, (params, keys))
    params = jax.device_put(params, replicated)
    keys = jax.device_put(keys, replicated)
    run = _sharded_function(mesh, config, tuple(shape), settings, bool(with_volumes))
    out = _to_host(run(params, keys, labels_global, fractions_global))
    volumes, properties = out if with_volumes else (None, out)
    properties = jax.tree.map(lambda x: x[:, :n], properties)
    return (None if volumes is None else volumes[:, :n]), properties


def measure_sharded(
    objective: DesignObjective,
    labels: np.ndarray,
    mesh: Mesh | None = None,
    pad_to: int | None = None,
) -> Measurement:
    """:meth:`DesignObjective.measure` sharded over ``mesh``: seed-averaged properties, leading ``n``.

    Args:
        objective: gives the generator, the seeds and the measurement settings.
        labels: ``(n, 3)`` physical labels inside the generator's trained range.
        mesh: a 1-D ``"batch"`` mesh (``None``: all devices).
        pad_to: see :func:`generate_and_characterise_sharded`.
    """
    per_seed = _measure_seeds_sharded(objective, labels, mesh, pad_to)
    return jax.tree.map(np.asarray, average_over_seeds(jax.tree.map(jnp.asarray, per_seed)))


def _measure_seeds_sharded(
    objective: DesignObjective, labels: np.ndarray, mesh: Mesh | None, pad_to: int | None
) -> Measurement:
    """Per-seed measurements (leading ``(s, n)``, numpy) with the labels sharded over ``mesh``."""
    if not objective.generator.traceable:
        raise ValueError(
            "this generator's volumes are drawn on the host, one at a time (a stochastic-geometry "
            "model); measure them with DesignObjective.measure instead of a sharded sweep"
        )
    labels = check_labels(objective.generator, labels)
    settings = objective.settings
    keys = jnp.stack([jax.random.PRNGKey(s) for s in objective.seeds])
    _, properties = generate_and_characterise_sharded(
        objective.generator.params,
        objective.generator.config,
        keys,
        objective.generator.unit_labels(labels),
        (settings.volume_size,) * 3,
        settings.measure_settings(objective.generator.voxel_size_m),
        mesh=mesh,
        pad_to=pad_to,
        with_volumes=False,
        fractions=decoding_fractions(objective.generator, labels),
    )
    return properties


def evaluate_sharded(
    objective: DesignObjective,
    labels: np.ndarray,
    mesh: Mesh | None = None,
    properties_only: bool = False,
    on_evaluation: Callable[[int, Evaluation], None] | None = None,
    pad_to: int | None = None,
) -> list[Evaluation]:
    """:meth:`DesignObjective.__call__` with generation and characterisation sharded over ``mesh``.

    Args:
        objective: the design objective (its executor runs the cell simulations).
        labels: ``(n, 3)`` physical labels.
        mesh: a 1-D ``"batch"`` mesh (``None``: unsharded, :meth:`DesignObjective.measure`;
            a generator drawn on the host, not traceable, is measured unsharded too).
        properties_only: skip the cell simulations; each evaluation then holds the measured
            properties, ``failed=True`` and ``reason`` :data:`NOT_SIMULATED`.
        on_evaluation: called as ``on_evaluation(index, evaluation)`` as each label completes.
        pad_to: see :func:`generate_and_characterise_sharded`.

    Returns:
        One :class:`~jaxmicro.design.Evaluation` per label, in input order.
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
    start = time.perf_counter()
    if mesh is None or not objective.generator.traceable:
        per_seed = jax.block_until_ready(objective.measure_seeds(labels)[1])
    else:
        per_seed = _measure_seeds_sharded(objective, labels, mesh, pad_to)
    measure_s = (time.perf_counter() - start) / len(labels)
    if not properties_only:
        return objective.evaluate_seeds(labels, per_seed, measure_s, on_evaluation)
    properties = average_over_seeds(jax.tree.map(jnp.asarray, per_seed))
    rows = [measurement_row(properties, i) for i in range(len(labels))]
    evaluations = []
    for i, row in enumerate(rows):
        labels_i = dict(zip(LABEL_FIELDS, map(float, labels[i]), strict=True))
        evaluation = Evaluation.not_simulated(labels_i, objective.seeds, row, measure_s)
        evaluations.append(evaluation)
        if on_evaluation is not None:
            on_evaluation(i, evaluation)
    return evaluations
