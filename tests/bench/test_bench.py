"""jaxmicro bench: timing helpers, inputs, configuration, stages on tiny sizes, the report."""

import json
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.bench import (
    BenchConfig,
    Timing,
    bench_generator,
    format_report,
    report_to_dict,
    run_bench,
    skip_reason,
    spread_labels,
    three_phase_medium,
    time_call,
    time_jitted,
)
from jaxmicro.characterise.synthetic import gaussian_random_medium
from jaxmicro.cli import main
from jaxmicro.data.labels import LEGACY_LABEL_NORMALISATION
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.generator import Generator, GeneratorConfig, init_generator


@pytest.fixture(scope="module")
def tiny() -> Generator:
    """Untrained weights: only the timings matter here."""
    config = GeneratorConfig(latent_channels=4, channels=(8, 4))
    params = init_generator(config, jax.random.PRNGKey(0))
    return Generator(config, params, dict(LEGACY_LABEL_NORMALISATION), 1e-6)


def test_time_call_reports_the_first_call_apart_from_the_steady_median():
    calls = []

    def fn():
        time.sleep(0.05 if not calls else 0.001)
        calls.append(1)
        return len(calls)

    timing, out = time_call(fn, repeats=3)
    assert out == 4 and len(calls) == 4
    assert timing.repeats == 3 and timing.min_s <= timing.median_s < 0.03
    assert timing.first_s >= 0.05 and timing.compile_s == pytest.approx(timing.first_s - timing.median_s)
    assert timing.per_second(10) == pytest.approx(10 / timing.median_s)
    with pytest.raises(ValueError, match="repeats"):
        time_call(fn, repeats=0)


def test_time_jitted_compiles_ahead_of_time_then_times_the_compiled_call():
    fn = jax.jit(lambda x: jnp.sin(x) * 2.0)
    timing, out = time_jitted(fn, jnp.ones(8), repeats=2)
    assert isinstance(timing, Timing) and timing.compile_s > 0 and timing.repeats == 2
    np.testing.assert_allclose(out, 2 * np.sin(1.0) * np.ones(8), rtol=1e-6)
    assert Timing(0.0, 0.0, 0.0, 0.0, 1).per_second() == math.inf


def test_three_phase_medium_has_the_target_fractions_and_is_seeded():
    volumes = three_phase_medium(24, batch=2, seed=3)
    assert volumes.shape == (2, 24, 24, 24) and volumes.dtype == np.uint8
    fractions = [np.mean(volumes == phase) for phase in (PORE, AM, CBD)]
    np.testing.assert_allclose(fractions, [0.35, 0.55, 0.10], atol=0.01)
    np.testing.assert_array_equal(volumes, three_phase_medium(24, batch=2, seed=3))
    assert not np.array_equal(volumes[0], volumes[1])
    # The one random-medium generator of the package makes them (issue 18 item 5).
    with pytest.raises(ValueError, match="cbd_fraction"):
        gaussian_random_medium((8, 8, 8), 0.5, cbd_fraction=0.6)


def test_spread_labels_and_skip_reasons():
    ranges = {"am_wt": (0.9, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)}
    np.testing.assert_allclose(spread_labels(ranges, 1), [[0.93, 0.36, 0.5]])
    labels = spread_labels(ranges, 4)
    assert labels.shape == (4, 3) and (labels[:, 1] > 0.28).all() and (labels[:, 1] < 0.44).all()
    assert skip_reason(64, 2, 64**3 * 2) == ""
    assert "max_voxels" in skip_reason(64, 4, 64**3 * 2)
    assert skip_reason(256, 32, None) == ""


def test_bench_config_rejects_bad_values():
    with pytest.raises(ValueError, match="unknown stages"):
        BenchConfig(stages=("generator", "gpu"))
    with pytest.raises(ValueError, match="edges"):
        BenchConfig(edges=())
    with pytest.raises(ValueError, match="bo_observations"):
        BenchConfig(bo_observations=(1,))
    with pytest.raises(ValueError, match="conv_crit"):
        BenchConfig(conv_crit=0.0)
    for value in (0, -5, 2.5, float("nan"), True):
        with pytest.raises(ValueError, match="max_voxels must be a whole number"):
            BenchConfig(max_voxels=value)
    with pytest.raises(ValueError, match="taufactor_max_voxels must be a whole number"):
        BenchConfig(taufactor_max_voxels=-1)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "-inf", "abc"])
def test_bench_max_voxels_option_refuses_what_is_not_a_finite_count(value, capsys):
    """``--max-voxels nan`` or a negative count lifted the limit; ``inf`` overflowed in int()."""
    from jaxmicro.cli import main

    for option in ("--max-voxels", "--taufactor-max-voxels"):
        with pytest.raises(SystemExit) as exit_:
            main(["bench", "--quick", f"{option}={value}"])
        assert exit_.value.code == 2
        assert "expected a" in capsys.readouterr().err


def test_bench_max_voxels_zero_means_no_limit():
    import argparse

    from jaxmicro.bench._cli import add_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert config_from_args(parser.parse_args(["--max-voxels", "0"])).max_voxels is None
    assert config_from_args(parser.parse_args(["--max-voxels", "2e7"])).max_voxels == 20_000_000


def test_bench_generator_times_volumes_and_voxels(tiny):
    row = bench_generator(tiny, 16, 2, repeats=1)
    assert (row.edge, row.batch) == (16, 2)
    assert row.voxels_per_s == pytest.approx(row.volumes_per_s * 16**3)
    assert row.timing.compile_s > 0


def test_run_bench_characterisation_beside_taufactor_and_the_report(tiny):
    config = BenchConfig(
        stages=("tortuosity", "metrics"),
        edges=(16,),
        characterise_batches=(1, 2),
        max_voxels=16**3,
        repeats=1,
        torch_threads=1,
    )
    seen = []
    report = run_bench(tiny, config, on_row=lambda stage, row: seen.append(stage), meta={"note": "test"})
    assert [r.batch for r in report.stage("tortuosity")] == [1]
    assert [r.batch for r in report.stage("metrics")] == [1]
    assert any("16^3 x 2" in s for s in report.skipped) and "skipped" in seen
    row = report.stage("tortuosity")[0]
    assert row.iterations >= 1 and row.voxels_per_s == pytest.approx(row.solves_per_s * 16**3)
    if row.taufactor is not None:  # TauFactor is in the test extra
        assert row.taufactor.threads == 1 and row.speedup > 0
        assert row.tau[0] == pytest.approx(row.taufactor.tau[0], rel=0.02)
    else:
        assert row.taufactor_note
    data = json.loads(json.dumps(report_to_dict(report), allow_nan=False))
    assert data["meta"]["note"] == "test" and data["meta"]["jax"] == jax.__version__
    assert data["meta"]["config"]["edges"] == [16] and data["generator"] == []
    assert data["tortuosity"][0]["timing"]["median_s"] > 0
    text = format_report(report)
    assert "tortuosity" in text and "metrics" in text and "skipped" in text


def test_bench_bo_times_the_optimizers_host_gp_not_the_jitted_one(monkeypatch):
    """The Optimizer proposes with the NumPy GP (bo/host_gp.py); the bench timed the jitted GP
    of bo/gp.py, which no campaign runs any more."""
    import jaxmicro.bo as bo
    from jaxmicro.bench import bench_bo
    from jaxmicro.bo import host_gp

    def not_run_by_the_optimizer(*args, **kwargs):
        raise AssertionError("the Optimizer does not run the jitted GP")

    for name in ("fit_gp", "gp_posterior", "maximize_acquisition"):
        monkeypatch.setattr(bo, name, not_run_by_the_optimizer)
    fits = []
    fit_map = host_gp.fit_map
    monkeypatch.setattr(host_gp, "fit_map", lambda *a, **k: fits.append(len(a[0])) or fit_map(*a, **k))
    row = bench_bo(12, dim=2, repeats=1)
    assert row.observations == 12 and row.dim == 2
    assert min(row.fit.median_s, row.acquisition.median_s, row.ask.median_s) > 0
    assert fits and set(fits) == {12}  # the timed fit and the Optimizer's own, on the 12 points


@pytest.mark.slow
def test_run_bench_cells_bo_and_a_design_iteration(tiny):
    config = BenchConfig(
        stages=("cells", "bo", "design"),
        cell_batches=(2,),
        bo_observations=(20,),
        design_edge=16,
        design_batch=1,
        design_seeds=1,
        repeats=1,
    )
    report = run_bench(tiny, config)
    cells, bo = report.stage("cells")[0], report.stage("bo")[0]
    assert cells.simulations_per_s > 0 and cells.failed == 0
    assert bo.fit.median_s > 0 and bo.ask.median_s > 0
    design = report.stage("design")[0]
    assert design.total_s >= design.measure_s > 0 and design.first_s > design.total_s
    assert "design-loop iteration" in format_report(report)


@pytest.mark.slow
def test_bench_quick_command_writes_every_stage(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--out", str(out), "--torch-threads", "1"]) == 0
    data = json.loads(out.read_text())
    for stage in ("generator", "tortuosity", "metrics", "cells", "bo", "design"):
        assert data[stage], stage
    assert "wrote" in capsys.readouterr().out


def test_report_to_dict_is_strict_json_through_the_one_sanitiser():
    from jaxmicro.bench import BenchReport, BORow

    row = BORow(20, 2, Timing(0.1, 0.2, float("nan"), 0.1, 3), Timing(0, 0, 0, 0, 1), Timing(0, 0, 0, 0, 1))
    data = report_to_dict(BenchReport(meta={"load": np.array([1.0, float("inf")])}, rows={"bo": (row,)}))
    assert data["meta"]["load"] == [1.0, None]  # arrays -> lists, inf -> None
    assert data["bo"][0]["fit"]["median_s"] is None and data["bo"][0]["observations"] == 20
    json.dumps(data, allow_nan=False)
