"""The shipped checkpoint against the simulator's held-out volumes (the issue's accuracy goal).

The default dataset (data seed 0, 64^3, 0.75 um voxels) is re-simulated here, bit-identical to
the one the checkpoint was trained and validated on.
"""

import numpy as np
import pytest

from jaxmicro.data import (
    LEGACY_GRID_LEVELS,
    LEGACY_HELDOUT_LABELS,
    SimulatorConfig,
    label_grid,
    load_dataset,
    simulate_dataset,
)
from jaxmicro.generator import load_default_generator, validate_generator


@pytest.fixture(scope="module")
def default_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("default") / "simulated64"
    config = SimulatorConfig(shape=(64, 64, 64), voxel_size_m=0.75e-6)
    # The legacy grid (jaxmicro simulate --grid narrow) the shipped checkpoint was trained on.
    labels = label_grid(LEGACY_GRID_LEVELS)
    return load_dataset(simulate_dataset(root, config, 0, labels, LEGACY_HELDOUT_LABELS, progress=False))


def test_quick_check_of_the_shipped_generator(default_dataset):
    """The quick 64^3 check (one reference per label) read 5.4 % for the shipped step-9000
    generator and 8.9 % for the step-4500 one it replaced; its sampling floor is 3.6 %."""
    report = validate_generator(
        load_default_generator(),
        default_dataset,
        seeds=3,
        control=False,
        baseline=None,
        morphology_check=False,
        progress=False,
    )
    assert report.mean_error < 0.07, report.table()


@pytest.mark.slow
def test_shipped_generator_meets_the_accuracy_goal_at_128(default_dataset):
    """The release check at 128^3 with 3 references, the control, the interpolation baseline and
    the morphology distances (about 15 min on an idle 2-core CPU; the table in
    docs/generator.md): mean relative error < 5 %, every metric's mean < 10 %."""
    report = validate_generator(
        load_default_generator(),
        default_dataset,
        seeds=3,
        size=128,
        reference_seeds=3,
        progress=False,
    )
    assert report.mean_error < 0.05, report.table()
    assert report.metric_mean_error.max() < 0.10, report.table()
    # The floor of the check is low enough to resolve those goals (it read 1.4 % before).
    assert report.control_error.mean() < 0.03, report.table()
    # The baseline is scored on every metric, and the morphology floor resolves shape errors:
    # other simulator volumes are within 15 % of the references' pooled distributions.
    assert np.all(np.isfinite(report.baseline_error)), report.table()
    assert np.nanmax(np.nanmean(report.morphology.control, axis=0)) < 0.15, report.table()
