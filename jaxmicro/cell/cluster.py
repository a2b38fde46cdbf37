"""A Dask distributed executor for cell-simulation batches.

:func:`jaxmicro.cell.simulate_batch` takes any ``concurrent.futures.Executor``; this module
provides one backed by Dask distributed, for one machine (a ``LocalCluster`` of worker
processes on loopback) or a cluster (a running scheduler at ``tcp://host:port``)::

    with dask_executor() as executor:                       # LocalCluster, 2 workers
        results = simulate_batch(cases, executor=executor)
    with dask_executor("tcp://10.0.0.5:8786") as executor:  # an existing cluster
        ...

A task that fails on a worker (an exception, or a worker that dies) comes back from
``simulate_batch`` as failed results with the reason, not as an exception.
Dask is an optional dependency: ``pip install "jaxmicro[cluster]"``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Iterator


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "the Dask executor needs dask.distributed: pip install 'jaxmicro[cluster]'"
        ) from None
    return distributed


@contextlib.contextmanager
def dask_executor(
    scheduler: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
) -> Iterator[concurrent.futures.Executor]:
    """Yields a ``concurrent.futures.Executor`` that runs tasks on Dask workers.

    Args:
        scheduler: address of a running Dask scheduler (``tcp://host:8786``); ``None`` starts
            a ``LocalCluster`` on 127.0.0.1 for the duration of the context.
        n_workers: workers of the local cluster (ignored with ``scheduler``).
        threads_per_worker: threads per local worker; 1 suits PyBaMM's serial solves.
        processes: local workers as processes (True) or threads in this process.

    Yields:
        The executor; the client (and a local cluster) close when the context exits.
    """
    distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            if n_workers < 1 or threads_per_worker < 1:
                raise ValueError("n_workers and threads_per_worker must be at least 1")
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    processes=processes,
                    dashboard_address=None,
                    # worker processes talk over TCP on loopback only; threads use inproc://
                    **({"host": "127.0.0.1"} if processes else {}),
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        else:
            if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
                raise ValueError(
                    f"scheduler must be an address like tcp://host:8786, got {scheduler!r}"
                )
            try:
                client = stack.enter_context(distributed.Client(scheduler, timeout="10s"))
            except OSError as error:
                raise ConnectionError(
                    f"could not reach the Dask scheduler at {scheduler} ({error}); "
                    "start one with `dask scheduler` or omit the address for a local cluster"
                ) from None
        yield client.get_executor()
