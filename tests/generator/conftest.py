"""Shared fixtures: a tiny simulated dataset and a tiny generator trained on it (once per session)."""

from pathlib import Path

import pytest

from jaxmicro.data import SimulatorConfig, load_dataset, simulate_dataset
from jaxmicro.generator import preset, train

TINY = preset("tiny")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("gen") / "data"
    simulate_dataset(root, SimulatorConfig(shape=(16, 16, 16), voxel_size_m=2e-6), seed=0, progress=False)
    return load_dataset(root)


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory) -> Path:
    """A run folder of the tiny config trained for 2 steps (checkpoints at 2)."""
    run_dir = tmp_path_factory.mktemp("gen") / "run"
    train(tiny_dataset, run_dir, TINY.replace(steps=2), progress=False)
    return run_dir
