"""Timing helpers: compile time apart from steady-state time, for jitted and plain callables.

Both helpers are pure apart from the clock: they call the function, block until its result is
ready (``jax.block_until_ready``; a no-op for non-JAX values) and return a :class:`Timing` with
the function's last output.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax


class Timing(NamedTuple):
    """Wall times of one benchmarked call [s].

    Attributes:
        compile_s: for a jitted function, the time to lower and compile it (ahead of time,
            nothing run); for any other callable, the first call's excess over the steady
            median (model builds, caches, lazy imports). Never negative.
        first_s: the first call (after compilation for a jitted function).
        median_s: median of the ``repeats`` steady-state calls after the first.
        min_s: the fastest of them.
        repeats: number of steady-state calls timed (at least 1).
    """

    compile_s: float
    first_s: float
    median_s: float
    min_s: float
    repeats: int

    def per_second(self, count: float = 1.0) -> float:
        """``count`` items per steady-state call, as items per second (inf for a zero time)."""
        return count / self.median_s if self.median_s > 0 else float("inf")


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return time.perf_counter() - start, out


def _steady(fn: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times, out = [], None
    for _ in range(repeats):
        seconds, out = _timed(fn)
        times.append(seconds)
    return times, out


def time_call(fn: Callable[[], Any], repeats: int = 3) -> tuple[Timing, Any]:
    """Times a plain callable: one first call, then ``repeats`` steady-state calls.

    Args:
        fn: called with no arguments.
        repeats: steady-state calls (>= 1).

    Returns:
        The :class:`Timing` (``compile_s`` = first minus steady median, floored at 0) and the
        last call's output.
    """
    first, _ = _timed(fn)
    times, out = _steady(fn, repeats)
    median = statistics.median(times)
    return Timing(max(first - median, 0.0), first, median, min(times), repeats), out


def time_jitted(fn: Callable[..., Any], *args: Any, repeats: int = 3) -> tuple[Timing, Any]:
    """Times a ``jax.jit``-wrapped function: ahead-of-time compile, a first call, ``repeats`` more.

    Args:
        fn: a ``jax.jit`` function taking only ``args`` (close over static options).
        args: its arguments (arrays or PyTrees of arrays).
        repeats: steady-state calls (>= 1).

    Returns:
        The :class:`Timing` (``compile_s`` = ``fn.lower(*args).compile()``) and the last output.
    """
    start = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    first, _ = _timed(lambda: compiled(*args))
    times, out = _steady(lambda: compiled(*args), repeats)
    return Timing(compile_s, first, statistics.median(times), min(times), repeats), out
