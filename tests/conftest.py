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
