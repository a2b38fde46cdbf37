"""The shipped generators against the simulator's held-out volumes: regression guards at their
measured fidelity (docs/generator.md): the default (``checkpoints/stochastic``) and the GAN
(``checkpoints/gan``), which meets none of issue 26's goals.

The default dataset (wide grid, data seed 0, 64^3, 0.75 um voxels) is re-simulated here, the
one the checkpoint was trained and validated on.
"""

import numpy as np
import pytest

from jaxmicro.data import (
    GRID_LEVELS,
    HELDOUT_LABELS,
    SimulatorConfig,
    label_grid,
    load_dataset,
    simulate_dataset,
)
from jaxmicro.generator import load_default_generator, load_shipped_generator, validate_generator


@pytest.fixture(scope="module")
def default_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("default") / "simulated64"
    config = SimulatorConfig(shape=(64, 64, 64), voxel_size_m=0.75e-6)
    # The wide grid (jaxmicro simulate's default) the shipped checkpoint was trained on.
    labels = label_grid(GRID_LEVELS)
    return load_dataset(simulate_dataset(root, config, 0, labels, HELDOUT_LABELS, progress=False))


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        # read 6.9 % (2026-12-05; the narrow GAN it replaced, on its own grid: 5.4 %)
        ("gan", 0.08),
        # the stochastic default read 3.2 % (2026-12-07; its worst metric tau through-plane, 12.5 %,
        # one 64^3 reference's noise); the GAN's 6.9 % would fail this bound
        ("stochastic", 0.05),
    ],
)
def test_quick_check_of_a_shipped_generator(default_dataset, name, bound):
    """The quick 64^3 check (one reference per label, 3 generated volumes)."""
    report = validate_generator(
        load_shipped_generator(name),
        default_dataset,
        seeds=3,
        control=False,
        baseline=None,
        morphology_check=False,
        progress=False,
    )
    assert report.mean_error < bound, report.table()


@pytest.mark.slow
def test_default_generator_at_128_meets_what_the_simulator_meets(default_dataset):
    """Issue 26's check of the default generator (128^3, 3 references, about 9 min on a 2-core
    CPU; docs/generator.md "Stop 54"): it read mean 1.7 % (control 3.0 %, quadratic baseline
    5.4 %), 4 of the 5 goals, all morphology distances within 2x the control's; the goal it
    misses, "mean < 3 %" (tortuosity), the control misses too."""
    report = validate_generator(
        load_default_generator(), default_dataset, seeds=3, size=128, reference_seeds=3, progress=False
    )
    assert report.mean_error < 0.025, report.table()
    goals = {goal.name: goal for goal in report.goals()}
    for name in ("beats baseline", "entries", "no bias", "morphology"):
        assert goals[name].passed, (name, goals[name].failures)
    assert not goals["mean < 3 %"].control_passed


@pytest.mark.slow
def test_shipped_gan_at_128_with_control_and_baseline(default_dataset):
    """The release check at 128^3 with 3 references, the control, the interpolation baseline and
    the morphology distances (about 10 min on a 2-core CPU; docs/generator.md): it read mean
    7.0 % (worst metric 12.2 %, tau in-plane), control 3.0 %, quadratic baseline 5.4 %."""
    report = validate_generator(
        load_shipped_generator("gan"),
        default_dataset,
        seeds=3,
        size=128,
        reference_seeds=3,
        progress=False,
    )
    assert report.mean_error < 0.08, report.table()
    assert report.metric_mean_error.max() < 0.15, report.table()
    # The floor of the check resolves errors of that size (it read 3.0 %).
    assert report.control_error.mean() < 0.04, report.table()
    # The baseline is scored on every metric, and the morphology floor resolves shape errors:
    # other simulator volumes are within 16 % of the references' pooled distributions.
    assert np.all(np.isfinite(report.baseline_error)), report.table()
    assert np.nanmax(np.nanmean(report.morphology.control, axis=0)) < 0.20, report.table()
