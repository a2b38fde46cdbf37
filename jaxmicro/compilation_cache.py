"""A persistent XLA compilation cache for the command line: later runs skip most compilation.

Compilation takes most of a short run on a CPU: in ``jaxmicro design`` the generation and
characterisation of the volumes compile for several seconds per shape (the Bayesian optimiser
compiles nothing: it runs a NumPy GP; measured times are in ``docs/bench.md``). JAX can keep
compiled executables on disk, keyed by the computation, the compile options, the jax/jaxlib
versions and the device, and load them in a later process instead of compiling again.
:func:`enable_compilation_cache` turns that on. The ``jaxmicro`` command calls it for every
subcommand but ``bench`` (which measures compilation); a library import does not.

JAX skips computations that call back into Python (it cannot serialise the callback): the
tortuosity solve traced inside a larger jitted function on CPU labels its clusters through such
a callback, so that function compiles in every process; the solve called on its own does not.

JAX's size-limited (LRU) cache locks its directory with the ``filelock`` package, a core
dependency of jaxmicro; without it JAX would warn on every cache read and store nothing, so
:func:`enable_compilation_cache` then warns once and leaves the cache off.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

ENV_VAR = "JAXMICRO_COMPILATION_CACHE"
"""Environment variable: a cache directory, or ``0`` / ``off`` to disable the cache."""

DEFAULT_MAX_BYTES: int = 1 << 30
"""Size of the cache directory above which JAX evicts the least recently used entries [bytes]."""

MIN_COMPILE_TIME_S: float = 1.0
"""Only computations that took at least this long to compile are stored [s] (JAX's default)."""

_OFF = ("0", "off", "false", "no")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/jaxmicro/xla``, or ``~/.cache/jaxmicro/xla``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxmicro" / "xla"


def enable_compilation_cache(
    path: str | Path | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Path | None:
    """Stores compiled XLA executables in ``path`` and reuses them in later processes.

    Args:
        path: the cache directory (created if missing). ``None``: the directory named by
            ``$JAXMICRO_COMPILATION_CACHE`` (which disables the cache when it is ``0`` or
            ``off``), else the one already configured for JAX (e.g. by
            ``$JAX_COMPILATION_CACHE_DIR``), else :func:`default_cache_dir`.
        max_bytes: size above which the least recently used entries are evicted [bytes]
            (``> 0``).

    Returns:
        The cache directory, or ``None`` if the cache is disabled, the directory cannot be
        created or ``filelock`` is missing (then with a warning, and everything still works,
        compiling as usual).

    Raises:
        ValueError: if ``max_bytes`` is not a positive integer.
    """
    if not (isinstance(max_bytes, int) and max_bytes > 0):
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    import jax

    if path is None:
        setting = os.environ.get(ENV_VAR, "").strip()
        if setting.lower() in _OFF:
            return None
        path = setting or jax.config.jax_compilation_cache_dir or default_cache_dir()
    try:
        import filelock  # noqa: F401  (JAX needs it for jax_compilation_cache_max_size)
    except ImportError:
        warnings.warn(
            "compilation cache disabled: the filelock package is missing (a jaxmicro dependency); "
            f"pip install filelock, or set {ENV_VAR}=0 to silence this",
            stacklevel=2,
        )
        return None
    path = Path(path).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        warnings.warn(
            f"compilation cache disabled: cannot create {path} ({error}); set {ENV_VAR} to a "
            f"writable directory, or to 0 to silence this",
            stacklevel=2,
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_compilation_cache_max_size", max_bytes)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    return path
