import dataclasses
import json

import jax
import numpy as np
import pytest

from jaxmicro.data import LABEL_RANGES, Sample, load_dataset
from jaxmicro.generator import TrainConfig, load_generator, preset, save_generator, train
from jaxmicro.generator.checkpoint import checkpoint_manager, read_run_json, restore_train_state
from jaxmicro.generator.train import StepMetrics, _initial_state_from, export_run, init_train_state

TINY = preset("tiny")


def _leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    return len(la) == len(lb) and all(
        np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb, strict=True)
    )


def test_tiny_training_has_finite_losses_and_writes_a_run(tiny_run):
    lines = (tiny_run / "losses.csv").read_text().splitlines()
    assert lines[0].startswith("step,critic_loss")
    rows = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert rows[:, 0].tolist() == [1, 2]
    assert np.all(np.isfinite(rows))
    saved = json.loads((tiny_run / "run.json").read_text())
    assert TrainConfig.from_json(saved["train_config"]) == TINY.replace(steps=2)
    assert saved["data"]["voxel_size_m"] == 2e-6
    assert (tiny_run / "generator" / "generator.json").is_file()


def test_checkpoint_restore_is_bit_exact_and_resume_matches_an_uninterrupted_run(
    tiny_dataset, tiny_run, tmp_path
):
    # The fixture's run stopped at step 2; its checkpoint restores bit for bit...
    manager = checkpoint_manager(tiny_run, TINY.keep_checkpoints)
    step, state, meta = restore_train_state(manager, init_train_state(TINY))
    assert step == 2 and int(state.step) == 2 and meta["step"] == 2
    # ...and resuming to step 4 equals training 4 steps in one go.
    resumed_dir = tmp_path / "resumed"
    import shutil

    shutil.copytree(tiny_run, resumed_dir)
    resumed = train(tiny_dataset, resumed_dir, TINY.replace(steps=4), resume=True, progress=False)
    straight = train(tiny_dataset, tmp_path / "straight", TINY.replace(steps=4), progress=False)
    assert int(resumed.state.step) == 4
    assert _leaves_equal(resumed.state, straight.state)
    losses = (resumed_dir / "losses.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in losses[1:]] == ["1", "2", "3", "4"]
    # The newest checkpoint restores exactly the final state.
    _, restored, _ = restore_train_state(checkpoint_manager(resumed_dir, 3), init_train_state(TINY))
    assert _leaves_equal(restored, resumed.state)


def test_resume_gives_an_older_losses_file_the_new_columns(tmp_path):
    from jaxmicro.generator.train import _truncate_losses

    path = tmp_path / "losses.csv"
    old_fields = StepMetrics._fields[:-2]  # a file from before the last two losses
    row = ",".join(["0.5"] * len(old_fields))
    path.write_text(f"step,{','.join(old_fields)}\n1,{row}\n2,{row}\n")
    _truncate_losses(path, 1)
    assert path.read_text().splitlines() == [f"step,{','.join(StepMetrics._fields)}", f"1,{row},0,0"]
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a losses file"):
        _truncate_losses(path, 1)


def test_run_folder_errors(tiny_dataset, tiny_run, tmp_path):
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_dataset, tiny_run, TINY.replace(steps=2), progress=False)
    with pytest.raises(ValueError, match="another config"):
        train(tiny_dataset, tiny_run, TINY.replace(steps=3, lr_critic=1e-3), resume=True, progress=False)
    with pytest.raises(FileNotFoundError):
        train(tiny_dataset, tmp_path / "empty", TINY, resume=True, progress=False)


def test_partial_checkpoint_gives_a_clear_error(tiny_run, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_run, broken)
    shutil.rmtree(broken / "checkpoints" / "2" / "state")
    with pytest.raises((ValueError, FileNotFoundError), match="checkpoint"):
        restore_train_state(checkpoint_manager(broken, 3), init_train_state(TINY))


def test_training_from_2d_sections_only(tiny_dataset, tmp_path):
    """Dimensionality expansion: one 2-D section per axis per label is enough to train."""
    sections = []
    for sample in tiny_dataset.train[:3]:
        for axis in range(3):
            image = np.take(sample.volume, 5, axis=axis)
            sections.append(
                Sample(
                    f"{sample.file[:-4]}_{axis}.npy", sample.labels, sample.voxel_size_m, "train", image, axis
                )
            )
    from jaxmicro.data import write_dataset

    load = load_dataset(write_dataset(tmp_path / "sections", sections))
    assert all(s.volume.ndim == 2 for s in load.train)
    result = train(
        load,
        tmp_path / "run2d",
        TINY.replace(steps=1, checkpoint_every=1, erosion_weight=0.0, euler_weight=0.0),
        progress=False,
    )
    assert result.history.shape == (1, len(StepMetrics._fields))
    assert np.all(np.isfinite(result.history))
    assert result.generator.label_ranges["am_wt"] == (0.85, 0.85)
    # One am_wt only: the network sees it normalised with the physical range, inside [0, 1].
    assert result.generator.label_normalisation["am_wt"] == LABEL_RANGES["am_wt"]
    for weight in ("tau_weight", "erosion_weight", "euler_weight"):
        only = {"erosion_weight": 0.0, "euler_weight": 0.0, weight: 1.0}
        with pytest.raises(ValueError, match=f"{weight} needs 3-D training volumes"):
            train(load, tmp_path / weight, TINY.replace(steps=1, **only), progress=False)


def test_auxiliary_losses_train_with_finite_values(tiny_dataset, tmp_path):
    result = train(
        tiny_dataset,
        tmp_path / "tau",
        TINY.replace(steps=1, tau_weight=1.0, lattice_weight=1.0),
        progress=False,
    )
    assert result.loss("tau_loss")[0] > 0 and np.all(np.isfinite(result.history))
    assert result.loss("lattice_loss")[0] > 0
    assert result.loss("lineal_loss")[0] > 0 and result.loss("erosion_loss")[0] > 0
    assert result.loss("euler_loss")[0] > 0
    off = {"lineal_weight": 0.0, "erosion_weight": 0.0, "euler_weight": 0.0}
    plain = train(tiny_dataset, tmp_path / "plain", TINY.replace(steps=1, **off), progress=False)
    assert plain.loss("tau_loss")[0] == 0.0 and plain.loss("lineal_loss")[0] == 0.0
    assert plain.loss("erosion_loss")[0] == 0.0 and plain.loss("euler_loss")[0] == 0.0
    assert plain.loss("lattice_loss")[0] == 0.0
    assert not _leaves_equal(result.state.g_params, plain.state.g_params)


def test_straight_through_losses_see_the_decoded_volumes(tiny_dataset, tmp_path):
    """With a straight-through temperature the auxiliary losses but the Euler loss are measured
    on the argmax decoding (other values than on the soft volumes from the same first draw), and
    training stays finite."""
    losses = ("vf_loss", "stats_loss", "lineal_loss", "erosion_loss")
    soft = train(tiny_dataset, tmp_path / "soft", TINY.replace(steps=2), progress=False)
    decoded = train(
        tiny_dataset, tmp_path / "st", TINY.replace(steps=2, straight_through_temperature=3.0), progress=False
    )
    assert np.all(np.isfinite(decoded.history))
    assert all(decoded.loss(name)[0] > 0 for name in losses)
    assert any(abs(decoded.loss(n)[0] - soft.loss(n)[0]) > 1e-3 * soft.loss(n)[0] for n in losses)
    np.testing.assert_allclose(decoded.loss("euler_loss")[0], soft.loss("euler_loss")[0], rtol=1e-4)
    assert not _leaves_equal(decoded.state.g_params, soft.state.g_params)

    # Decoded at the fractions, the decoded fractions are exact: the fraction loss then sees the
    # sharpened volumes (the soft run's value at the same first draw), the others the decoded.
    through = TINY.replace(steps=2, straight_through_temperature=3.0)
    at_fractions = through.replace(generator=dataclasses.replace(TINY.generator, decoding="fractions"))
    matched = train(tiny_dataset, tmp_path / "fractions", at_fractions, progress=False)
    assert np.all(np.isfinite(matched.history)) and matched.generator.config.decoding == "fractions"
    np.testing.assert_allclose(matched.loss("vf_loss")[0], soft.loss("vf_loss")[0], rtol=1e-4)
    assert abs(matched.loss("stats_loss")[0] - decoded.loss("stats_loss")[0]) > 0


def test_config_validation():
    with pytest.raises(ValueError, match="smaller than slice_size"):
        TINY.replace(slice_size=32)
    with pytest.raises(ValueError, match="n_critic"):
        TINY.replace(n_critic=0)
    with pytest.raises(ValueError, match="unknown config"):
        preset("huge")
    with pytest.raises(ValueError, match="stats_lags"):
        TINY.replace(stats_lags=(1, 16))
    with pytest.raises(ValueError, match="lineal_lengths must be lengths in"):
        TINY.replace(lineal_lengths=(2, 17))
    with pytest.raises(ValueError, match="erosion_radii must be radii"):
        TINY.replace(erosion_radii=(1, 8))
    with pytest.raises(ValueError, match="aux_temperature"):
        TINY.replace(aux_temperature=0.0)
    with pytest.raises(ValueError, match="ema_decay"):
        TINY.replace(ema_decay=1.0)
    assert TrainConfig.from_json(TINY.to_json()) == TINY


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("steps", float("nan"), "steps must be a whole number"),
        ("steps", 2.5, "steps must be a whole number"),
        ("batch_volumes", True, "batch_volumes must be a whole number"),
        ("checkpoint_every", 0, "checkpoint_every must be at least 1"),
        ("gp_weight", float("nan"), "gp_weight must be a finite number"),
        ("vf_weight", float("nan"), "vf_weight must be a finite number"),
        ("tau_weight", float("inf"), "tau_weight must be a finite number"),
        ("gp_weight", -1.0, "gp_weight must be >= 0"),
        ("lr_critic", -1e-4, "lr_critic must be positive"),
        ("aux_temperature", float("nan"), "aux_temperature must be a finite number"),
        ("straight_through_temperature", -1.0, "straight_through_temperature must be >= 0"),
        ("critic_channels", (8, 0), "critic_channels must be positive whole numbers"),
        ("stats_lags", (1.5,), "stats_lags must be positive whole numbers"),
        ("seed", 2**32, r"seed \(--seed\) must be in \[0, 2\*\*32\)"),
    ],
)
def test_train_config_refuses_nan_negative_zero_and_fractional_values_when_made(field, value, match):
    """NaN weights and steps passed the old ``min(...) < 0`` / ``< 1`` checks (NaN compares
    False), and the rest was checked only when training started."""
    with pytest.raises(ValueError, match=match):
        TINY.replace(**{field: value})


def test_exported_generator_is_the_moving_average_of_the_weights(tiny_dataset, tiny_run, tmp_path):
    from jaxmicro.generator import load_generator

    manager = checkpoint_manager(tiny_run, TINY.keep_checkpoints)
    _, state, _ = restore_train_state(manager, init_train_state(TINY))
    assert not _leaves_equal(state.g_ema, state.g_params)  # ema_decay 0.5 in the tiny preset
    assert _leaves_equal(load_generator(tiny_run / "generator").params, state.g_ema)
    raw = train(tiny_dataset, tmp_path / "raw", TINY.replace(steps=1, ema_decay=0.0), progress=False)
    assert _leaves_equal(raw.state.g_ema, raw.state.g_params)
    # export_run re-exports the newest checkpoint: its EMA by default, or its raw weights.
    for flag, expected in ((False, state.g_ema), (True, state.g_params)):
        exported = export_run(tiny_run, tmp_path / f"export_{flag}", raw=flag)
        assert exported.info["steps"] == 2 and _leaves_equal(exported.params, expected)
        assert _leaves_equal(load_generator(tmp_path / f"export_{flag}" / "generator").params, expected)
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    (untrained / "run.json").write_text((tiny_run / "run.json").read_text())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        export_run(untrained, tmp_path / "nothing")


def test_two_point_loss_is_reported_and_steers_training(tiny_dataset, tmp_path):
    with_stats = train(tiny_dataset, tmp_path / "a", TINY.replace(steps=2), progress=False)
    without = train(tiny_dataset, tmp_path / "b", TINY.replace(steps=2, stats_weight=0.0), progress=False)
    assert np.all(with_stats.loss("stats_loss") > 0) and np.all(np.isfinite(with_stats.history))
    # Same first draw, so the same statistics loss; the two runs are different XLA programs (the
    # loss weight differs), so compare above float32 round-off rather than bit for bit.
    np.testing.assert_allclose(with_stats.loss("stats_loss")[0], without.loss("stats_loss")[0], rtol=1e-4)
    assert not _leaves_equal(with_stats.state.g_params, without.state.g_params)


def test_a_checkpoint_of_another_state_layout_is_refused_in_one_line(tiny_dataset, tmp_path):
    """Training states written before the moving average (no ``g_ema``; no run in the
    repository has one) are no longer converted: resuming one says what is wrong."""
    from typing import NamedTuple

    from jaxmicro.generator.checkpoint import save_train_state, write_run_json
    from jaxmicro.generator.train import data_description

    class WithoutMovingAverage(NamedTuple):
        step: object
        g_params: object
        d_params: object
        g_opt: object
        d_opt: object
        key: object

    config = TINY.replace(steps=3, ema_decay=0.0)
    run_dir = tmp_path / "legacy"
    write_run_json(run_dir, config, data_description(tiny_dataset))
    old = WithoutMovingAverage(*init_train_state(config)[:6])
    save_train_state(checkpoint_manager(run_dir, 3), 0, old, {"step": 0})
    with pytest.raises(ValueError, match="cannot restore the training state") as error:
        train(tiny_dataset, run_dir, config, resume=True, progress=False)
    assert "\n" not in str(error.value)


def test_init_from_starts_a_new_run_at_another_runs_state(tiny_dataset, tiny_run, tmp_path):
    tuned = TINY.replace(steps=3, stats_weight=5.0)
    result = train(tiny_dataset, tmp_path / "tuned", tuned, init_from=tiny_run, progress=False)
    assert int(result.state.step) == 3 and result.history.shape == (1, len(StepMetrics._fields))
    saved = json.loads((tmp_path / "tuned" / "run.json").read_text())
    assert saved["data"]["init_from"]["step"] == 2
    with pytest.raises(ValueError, match="critic_channels"):
        train(tiny_dataset, tmp_path / "c", TINY.replace(critic_channels=(8, 4)), init_from=tiny_run)
    # Another decoding is the same network; noise inputs are not (a run's state has none).
    fractions = TINY.replace(generator=dataclasses.replace(TINY.generator, decoding="fractions"))
    state = _initial_state_from(tiny_run, fractions, init_train_state(fractions))[0]
    assert int(state.step) == 2
    noisy = TINY.replace(generator=dataclasses.replace(TINY.generator, noise_injection=True))
    with pytest.raises(ValueError, match="the same networks"):
        _initial_state_from(tiny_run, noisy, init_train_state(noisy))
    with pytest.raises(ValueError, match="not both"):
        train(tiny_dataset, tmp_path / "tuned", tuned, resume=True, init_from=tiny_run)


def test_init_from_an_exported_generator_takes_its_weights_with_fresh_critics(
    tiny_dataset, tiny_run, tmp_path
):
    """Fine-tuning on other data starts from a shipped generator (no run folder): its weights
    as the generator and its EMA, new critics, step 0; the labels keep its normalisation when
    that covers the new data's range, else take the new range."""
    exported = load_generator(tiny_run)
    start = init_train_state(TINY)

    state, provenance, normalisation = _initial_state_from(tiny_run / "generator", TINY, start)
    assert int(state.step) == 0 and provenance["step"] == 2
    assert _leaves_equal(state.g_params, exported.params) and _leaves_equal(state.g_ema, exported.params)
    assert _leaves_equal(state.d_params, start.d_params)
    assert normalisation == exported.label_normalisation

    narrow = {name: (lo + 0.25 * (hi - lo), hi) for name, (lo, hi) in exported.label_ranges.items()}
    wider = tmp_path / "wider"
    save_generator(dataclasses.replace(exported, label_normalisation=narrow), wider)
    result = train(tiny_dataset, tmp_path / "tuned", TINY.replace(steps=1), init_from=wider, progress=False)
    assert result.generator.label_normalisation == exported.label_ranges  # narrow did not cover
    saved = json.loads((tmp_path / "tuned" / "run.json").read_text())
    assert saved["data"]["init_from"]["generator"] == str(wider.resolve())
    # Gaining noise inputs keeps the weights (the new scales start at 0: the same network).
    noisy = TINY.replace(generator=dataclasses.replace(TINY.generator, noise_injection=True))
    noisy_start = init_train_state(noisy)
    state = _initial_state_from(tiny_run / "generator", noisy, noisy_start)[0]
    assert set(state.g_params["params"]) - set(exported.params["params"]) == {"noise0", "noise1"}
    assert not any(np.any(state.g_params["params"][k]) for k in ("noise0", "noise1"))
    assert _leaves_equal(
        {k: v for k, v in state.g_params["params"].items() if not k.startswith("noise")},
        exported.params["params"],
    )
    other = dataclasses.replace(TINY.generator, latent_channels=TINY.generator.latent_channels + 1)
    with pytest.raises(ValueError, match="the same networks"):
        _initial_state_from(wider, TINY.replace(generator=other), start)
    with pytest.raises(ValueError, match="neither a training run"):
        _initial_state_from(tmp_path / "nothing", TINY, start)


def test_train_cli_adds_noise_inputs_and_decoding_to_an_exported_generator(
    tiny_dataset, tiny_run, tmp_path, capsys
):
    from jaxmicro.cli import main

    out = tmp_path / "noisy"
    args = ["train", "--data", str(tiny_dataset.root), "--out", str(out), "--config", "tiny"]
    start = ["--init-from", str(tiny_run / "generator"), "--noise-injection", "--decoding", "fractions"]
    assert main([*args, "--steps", "1", *start]) == 0
    tuned = load_generator(out / "generator")
    assert tuned.config.noise_injection and tuned.info["steps"] == 1 and tuned.config.decoding == "fractions"
    assert set(tuned.params["params"]) >= {"noise0", "noise1"}
    assert main([*args, "--steps", "2", "--resume"]) == 0  # the saved config keeps them
    assert load_generator(out / "generator").config.noise_injection
    assert "warning" not in capsys.readouterr().err
    # Recipe flags on a resume are ignored, and it says so instead of silently.
    assert main([*args, "--steps", "3", "--resume", "--tau-weight", "5", "--decoding", "argmax"]) == 0
    err = capsys.readouterr().err
    assert "ignored: --tau-weight, --decoding" in err and "run.json" in err
    resumed = load_generator(out / "generator")
    assert resumed.info["steps"] == 3 and resumed.config.decoding == "fractions"
    assert resumed.info["train_config"]["tau_weight"] != 5


def test_residual_blocks_join_an_exported_generator_keeping_its_output(
    tiny_dataset, tiny_run, tmp_path, capsys
):
    from jaxmicro.cli import main
    from jaxmicro.generator import generator_apply

    exported = load_generator(tiny_run / "generator")
    deep = TINY.replace(generator=dataclasses.replace(TINY.generator, residual_blocks=(1,)))
    state = _initial_state_from(tiny_run / "generator", deep, init_train_state(deep))[0]
    assert set(state.g_params["params"]) - set(exported.params["params"]) == {"res0_0a", "res0_0b"}
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 1, 1, 1, TINY.generator.latent_channels))
    labels = np.array([[0.4, 0.4, 0.4], [0.9, 0.1, 0.5]], np.float32)
    np.testing.assert_allclose(
        generator_apply(state.g_params, deep.generator, z, labels),
        generator_apply(exported.params, exported.config, z, labels),
        atol=1e-6,
    )
    out = tmp_path / "deep"
    args = ["train", "--data", str(tiny_dataset.root), "--out", str(out), "--config", "tiny", "--steps", "1"]
    deepen = ["--init-from", str(tiny_run / "generator"), "--residual-blocks", "1", "--stats-lags", "1,3"]
    assert main([*args, *deepen]) == 0
    assert load_generator(out / "generator").config.residual_blocks == (1,)
    assert read_run_json(out)[0].stats_lags == (1, 3)
    for flag in ("--residual-blocks", "--stats-lags"):
        capsys.readouterr()
        assert main([*args[:4], str(tmp_path / "bad"), flag, "one"]) != 0
        err = capsys.readouterr().err
        assert f"{flag} takes comma-separated whole numbers" in err and "Traceback" not in err


def test_wider_stages_grow_from_an_exported_generator_keeping_its_output(
    tiny_dataset, tiny_run, tmp_path, capsys
):
    from jaxmicro.cli import main
    from jaxmicro.generator import generator_apply

    exported = load_generator(tiny_run / "generator")
    wide = TINY.replace(generator=dataclasses.replace(TINY.generator, channels=(10, 6)))
    state = _initial_state_from(tiny_run / "generator", wide, init_train_state(wide))[0]
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 1, 1, 1, TINY.generator.latent_channels))
    labels = np.array([[0.4, 0.4, 0.4], [0.9, 0.1, 0.5]], np.float32)
    np.testing.assert_allclose(
        generator_apply(state.g_params, wide.generator, z, labels),
        generator_apply(exported.params, exported.config, z, labels),
        atol=1e-5,
    )
    narrower = TINY.replace(generator=dataclasses.replace(TINY.generator, channels=(10, 2)))
    with pytest.raises(ValueError, match="the same networks"):
        _initial_state_from(tiny_run / "generator", narrower, init_train_state(narrower))
    out = tmp_path / "wide"
    args = ["train", "--data", str(tiny_dataset.root), "--out", str(out), "--config", "tiny", "--steps", "1"]
    assert main([*args, "--init-from", str(tiny_run / "generator"), "--channels", "10,6"]) == 0
    assert load_generator(out / "generator").config.channels == (10, 6)
    capsys.readouterr()
    assert main([*args[:4], str(tmp_path / "bad"), "--channels", "wide"]) != 0
    err = capsys.readouterr().err
    assert "--channels takes comma-separated whole numbers" in err and "Traceback" not in err


def test_seed_inputs_train_from_scratch_or_join_an_exported_generator_keeping_its_output(
    tiny_dataset, tiny_run, tmp_path, capsys
):
    from jaxmicro.cli import main
    from jaxmicro.generator import generate, generator_apply

    out = tmp_path / "seeded"
    args = ["train", "--data", str(tiny_dataset.root), "--out", str(out), "--config", "tiny", "--steps", "1"]
    assert main([*args, "--seeds-per-cell", "1"]) == 0
    seeded = load_generator(out / "generator")
    assert seeded.config.seeds_per_cell == 1
    labels = np.array([[0.93, 0.35, 0.5]])
    first, again = (generate(seeded, labels, shape=(16, 16, 16), seed=3).volume for _ in range(2))
    assert first.shape == (1, 16, 16, 16) and np.array_equal(first, again)
    # Joined to a network without them, the seed inputs start silent: the same output at step 0.
    exported = load_generator(tiny_run / "generator")
    config = TINY.replace(generator=dataclasses.replace(TINY.generator, seeds_per_cell=2))
    state = _initial_state_from(tiny_run / "generator", config, init_train_state(config))[0]
    z = jax.random.normal(jax.random.PRNGKey(0), (2, 1, 1, 1, config.generator.latent_input_channels))
    unit = np.array([[0.4, 0.4, 0.4], [0.9, 0.1, 0.5]], np.float32)
    np.testing.assert_allclose(
        generator_apply(state.g_params, config.generator, z, unit),
        generator_apply(exported.params, exported.config, z[..., : TINY.generator.latent_channels], unit),
        atol=1e-6,
    )
    joined = [*args[:4], str(tmp_path / "joined"), *args[5:], "--seeds-per-cell", "2"]
    assert main([*joined, "--init-from", str(tiny_run / "generator")]) == 0
    # Another count of seeds than the exported network's cannot: one line, no traceback.
    capsys.readouterr()
    bad = [*args[:4], str(tmp_path / "bad"), *args[5:], "--seeds-per-cell", "2"]
    assert main([*bad, "--init-from", str(out / "generator")]) != 0
    err = capsys.readouterr().err
    assert "init_from needs the same networks" in err and "Traceback" not in err


def test_drawn_particles_train_from_scratch_export_and_generate(tiny_dataset, tiny_run, tmp_path, capsys):
    from jaxmicro.cli import main
    from jaxmicro.generator import generate

    out = tmp_path / "drawn"
    args = ["train", "--data", str(tiny_dataset.root), "--out", str(out), "--config", "tiny", "--steps", "1"]
    assert main([*args, "--particles-per-cell", "1"]) == 0
    drawn = load_generator(out / "generator")
    assert drawn.config.particles_per_cell == 1 and "particle_law" in drawn.params["params"]
    labels = np.array([[0.93, 0.35, 0.5]])
    first, again = (generate(drawn, labels, shape=(16, 16, 16), seed=3).volume for _ in range(2))
    assert first.shape == (1, 16, 16, 16) and np.array_equal(first, again)
    # law_lr_scale 0 freezes the law (a fine-tune of the rest); the default moves it.
    frozen, moved = tmp_path / "frozen", tmp_path / "moved"
    start_from = ["--init-from", str(out / "generator"), "--steps", "2", "--particles-per-cell", "1"]
    assert main([*args[:4], str(frozen), *args[5:], *start_from, "--law-lr-scale", "0"]) == 0
    assert main([*args[:4], str(moved), *args[5:], *start_from, "--cbd-films"]) == 0
    start = drawn.params["params"]
    films = load_generator(moved / "generator")
    assert films.config.cbd_films and np.any(films.params["params"]["cbd_film_law"]["bias"] != 0)
    for run, changes in ((frozen, False), (moved, True)):
        params = load_generator(run / "generator").params["params"]
        assert not np.allclose(params["conv0"]["kernel"], start["conv0"]["kernel"])
        same = np.array_equal(params["particle_law"]["bias"], start["particle_law"]["bias"])
        assert same != changes, run
    # An exported network that draws its own AM cannot start one that draws particles.
    capsys.readouterr()
    bad = [*args[:4], str(tmp_path / "bad"), *args[5:], "--particles-per-cell", "1"]
    assert main([*bad, "--init-from", str(tiny_run / "generator")]) != 0
    err = capsys.readouterr().err
    assert "init_from needs the same networks" in err and "Traceback" not in err
    assert main([*args[:4], str(tmp_path / "films"), *args[5:], "--cbd-films"]) != 0  # needs particles
    err = capsys.readouterr().err
    assert "cbd_films needs drawn particles" in err and "Traceback" not in err


HOLD_LOCK = (
    "import sys\nfrom jaxmicro._files import run_lock\n"
    "with run_lock(sys.argv[1], '.jaxmicro.lock'):\n    print('locked', flush=True)\n    sys.stdin.read()\n"
)


def test_a_second_trainer_is_refused_and_a_resume_removes_stale_exports(tiny_dataset, tiny_run, tmp_path):
    import os
    import shutil
    import stat
    import subprocess
    import sys

    from jaxmicro._files import RunInUseError

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run, run_dir)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunInUseError, match=f"pid {holder.pid}"):
            train(tiny_dataset, run_dir, TINY.replace(steps=2), resume=True, progress=False)
    finally:
        holder.kill()
        holder.wait()
    # A SIGKILL during an export leaves its staging folder (named before and after staging
    # folders carried their writer's pid); the next run removes them.
    litter = [run_dir / ".generator.ab12cd34", run_dir / ".generator.999999999.ab12cd34"]
    for folder in litter:
        shutil.copytree(run_dir / "generator", folder)
    os.umask(old := os.umask(0o022))
    train(tiny_dataset, run_dir, TINY.replace(steps=2), resume=True, progress=False)
    assert not any(folder.exists() for folder in litter)
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [".jaxmicro.lock"]
    generator = run_dir / "generator"
    assert stat.S_IMODE(generator.stat().st_mode) == 0o777 & ~old  # not mkdtemp's 0700
    assert stat.S_IMODE((generator / "generator.json").stat().st_mode) == 0o666 & ~old
    assert stat.S_IMODE((run_dir / "run.json").stat().st_mode) == 0o666 & ~old


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("seed", -1, r"seed \(--seed\) must be in \[0, 2\*\*32\)"),
        ("seed", 2**32, r"\[0, 2\*\*32\)"),
        ("lr_critic", float("nan"), "lr_critic must be a finite number"),
        ("stats_weight", float("nan"), "stats_weight must be a finite number"),
        ("lr_generator", 0.0, "lr_generator must be positive"),
        ("adam_b2", 1.0, r"adam_b2 must be in \[0, 1\)"),
        ("png_every", -1, "png_every"),
    ],
)
def test_train_refuses_non_finite_or_out_of_range_numbers_before_any_work(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=match):  # refused as the config is made
        train(None, tmp_path / "run", TINY.replace(**{field: value}), progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


def test_training_losses_are_read_by_name():
    from jaxmicro.generator.train import TrainResult

    history = np.arange(2 * len(StepMetrics._fields), dtype=float).reshape(2, -1)
    result = TrainResult(None, None, history, 0.0)  # type: ignore[arg-type]
    for column, name in enumerate(StepMetrics._fields):
        np.testing.assert_array_equal(result.loss(name), history[:, column])
    with pytest.raises(ValueError, match="unknown training metric 'tau'; choose from critic_loss"):
        result.loss("tau")


def test_anchored_training_fits_a_latent_per_training_cube_and_resumes_bit_for_bit(tiny_dataset, tmp_path):
    """With ``anchor_weight`` every training cube has its own latent in the state, kept on the
    sphere of typical Gaussian draws; the reconstruction loss is reported, a resumed run equals
    an uninterrupted one, and the export is the generator alone."""
    config = TINY.replace(steps=2, anchor_weight=1.0)
    first = train(tiny_dataset, tmp_path / "a", config, progress=False)
    n_cubes = len(tiny_dataset.train)  # 16^3 volumes, the fake volumes' edge
    latent = TINY.train_latent_size + 1
    assert first.state.anchors.shape == (
        n_cubes,
        latent,
        latent,
        latent,
        TINY.generator.latent_input_channels,
    )
    anchors = np.asarray(first.state.anchors).reshape(n_cubes, -1)
    np.testing.assert_allclose(anchors.mean(1), 0.0, atol=1e-5)
    np.testing.assert_allclose(anchors.var(1), 1.0, rtol=1e-4)
    assert not _leaves_equal(first.state.anchors, init_train_state(config, n_cubes).anchors)
    assert np.all(first.loss("anchor_loss") > 0.1)  # nats per voxel of an untrained network
    without = train(tiny_dataset, tmp_path / "b", TINY.replace(steps=1), progress=False)
    assert without.state.anchors is None and np.all(without.loss("anchor_loss") == 0.0)

    resumed = train(tiny_dataset, tmp_path / "a", config.replace(steps=4), resume=True, progress=False)
    straight = train(tiny_dataset, tmp_path / "s", config.replace(steps=4), progress=False)
    assert _leaves_equal(resumed.state, straight.state)
    exported = export_run(tmp_path / "a", tmp_path / "out", raw=True)
    assert _leaves_equal(exported.params, resumed.state.g_params)

    # From a run without anchors: fresh ones; from one with them into one without: none.
    state = _initial_state_from(tmp_path / "b", config, init_train_state(config, n_cubes))[0]
    assert _leaves_equal(state.anchors, init_train_state(config, n_cubes).anchors)
    plain = TINY.replace(steps=2)
    assert _initial_state_from(tmp_path / "a", plain, init_train_state(plain))[0].anchors is None


def test_the_anchor_step_draws_its_training_cube_back():
    """The reconstruction term alone, repeated on one network: its cross-entropy falls, so its
    gradients reach the weights and the latents the right way."""
    import jax.numpy as jnp
    import optax

    from jaxmicro.data.simulator import SimulatorConfig, simulate
    from jaxmicro.generator.slices import SliceBank
    from jaxmicro.generator.train import _anchor_step

    config = TINY.replace(anchor_weight=1.0)
    volume = simulate(np.array([0.93, 0.36, 0.5]), SimulatorConfig(shape=(16, 16, 16), voxel_size_m=2e-6))
    empty = jnp.zeros((1, 0))
    bank = SliceBank(
        (empty,) * 3,
        jnp.full((1, 3), 0.5),
        empty,
        empty,
        empty,
        empty,
        empty,
        empty,
        jnp.asarray(volume[None], jnp.uint8),
        jnp.zeros(1, jnp.int32),
    )
    state = init_train_state(config, 1)
    tx = optax.adam(1e-2)
    opt = tx.init(state.g_params)
    losses = []
    for i in range(40):
        loss, grads, anchors, anchor_opt = _anchor_step(state, config, bank, jax.random.PRNGKey(i))
        updates, opt = tx.update(grads, opt, state.g_params)
        state = state._replace(
            g_params=optax.apply_updates(state.g_params, updates), anchors=anchors, anchor_opt=anchor_opt
        )
        losses.append(float(loss))
    assert losses[-1] < 0.6 * losses[0], losses


def test_a_reconstruction_phase_leaves_the_critics_and_hands_its_anchors_on(tiny_dataset, tmp_path):
    """``adversarial_weight=0`` with anchors is generative latent optimisation: the critics are
    neither trained nor heard, every drawn anchor's latent moves and their cross-entropy falls;
    an adversarial run started from it keeps those latents."""
    n_cubes = len(tiny_dataset.train)
    phase = TINY.replace(
        steps=6, anchor_weight=1.0, anchor_batch=n_cubes, adversarial_weight=0.0, lr_generator=1e-3
    )
    fitted = train(tiny_dataset, tmp_path / "r", phase, progress=False)
    start = init_train_state(phase, n_cubes)
    assert _leaves_equal(fitted.state.d_params, start.d_params)
    for name in ("critic_loss", "wasserstein", "gradient_penalty", "generator_loss"):
        assert np.all(fitted.loss(name) == 0.0), name
    moved = np.abs(np.asarray(fitted.state.anchors) - np.asarray(start.anchors)).reshape(n_cubes, -1)
    assert np.all(moved.max(1) > 1e-3)  # all drawn each step
    anchor = fitted.loss("anchor_loss")
    assert anchor[-1] < 0.97 * anchor[0], anchor  # 1.150 -> 1.079 when written

    adversarial = phase.replace(steps=1, anchor_batch=1, adversarial_weight=1.0, lr_generator=1e-4)
    state = _initial_state_from(tmp_path / "r", adversarial, init_train_state(adversarial, n_cubes))[0]
    assert _leaves_equal(state.anchors, fitted.state.anchors)
    with pytest.raises(ValueError, match=f"pass --anchor-batch {n_cubes} or less"):
        train(tiny_dataset, tmp_path / "x", phase.replace(anchor_batch=n_cubes + 1), progress=False)
