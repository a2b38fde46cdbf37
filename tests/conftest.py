"""Shared test settings: CPU JAX, no PyBaMM telemetry, and the shared electrode volume."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
# Commands run in-process must not write the user's compilation cache (nor read a stale one);
# tests/test_compilation_cache.py turns it on in subprocesses with their own directories.
os.environ["JAXMICRO_COMPILATION_CACHE"] = "0"

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_ELECTRODE = REPO_ROOT.parent / "shared" / "data" / "electrode.tiff"


@pytest.fixture(scope="session")
def shared_electrode_path() -> Path:
    """``../shared/data/electrode.tiff``: a real 256^3 NMC cathode (0 pore, 85 NMC, 170 CBD)."""
    if not SHARED_ELECTRODE.is_file():
        pytest.skip(f"shared electrode volume not found at {SHARED_ELECTRODE} (../shared is absent)")
    return SHARED_ELECTRODE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skips tests marked ``slow`` unless a ``-m`` expression was given (e.g. ``pytest -m slow``)."""
    if config.getoption("markexpr"):
        return
    skip_slow = pytest.mark.skip(reason="marked slow (> ~30 s on 2 CPU cores); run with `pytest -m slow`")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def _memory_map_count() -> int:
    """Memory mappings of this process (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/maps", "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def _memory_map_limit() -> int:
    try:
        return int(Path("/proc/sys/vm/max_map_count").read_text())
    except (OSError, ValueError):
        return 65530  # Linux's default


_MAP_BUDGET = _memory_map_limit() // 2


@pytest.fixture(autouse=True)
def _release_compiled_code():
    """Drops JAX's compiled executables once they hold half the process's memory mappings.

    Why: XLA:CPU maps every compiled kernel's code, constants and data separately (3 mappings
    each; one jitted ``measure`` of a 16^3 batch holds ~530). An xdist worker that runs a few
    hundred tests keeps thousands of executables in JAX's caches and reaches Linux's
    ``vm.max_map_count`` (65530); the next ``mmap`` fails and XLA segfaults in whatever it is
    compiling or running (seen in stops 45-47: the core dump held 65520 mappings). Clearing the
    caches only costs recompiling what a later test calls again.
    """
    yield
    if _memory_map_count() > _MAP_BUDGET:
        import jax

        jax.clear_caches()
