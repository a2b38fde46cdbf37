"""Shared settings for the BO tests: float64 for the pure-function tests, one BLAS thread."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import jax
import pytest


@pytest.fixture
def x64():
    """Runs a test body with float64 JAX arrays (the precision the Optimizer uses)."""
    with jax.enable_x64(True):
        yield
