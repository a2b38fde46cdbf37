"""Shared test settings: CPU JAX, no PyBaMM telemetry, and the shared electrode volume."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")

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
