"""``jaxmicro validate`` without --data: the generator's training dataset, rebuilt from the
provenance in its generator.json (here the tiny run's: 36 volumes of 16^3, data seed 0)."""

import dataclasses
import json

import numpy as np
import pytest

from jaxmicro.cli import main
from jaxmicro.data import LEGACY_GRID_LEVELS, LEGACY_HELDOUT_LABELS, SimulatorConfig, label_grid
from jaxmicro.generator import load_generator, save_generator
from jaxmicro.generator.validate import rebuild_training_dataset, training_data_recipe


def _with_data(generator, **changes):
    """``generator`` with its provenance's ``info["data"]`` updated (None removes a key)."""
    data = {**generator.info["data"], **changes}
    data = {k: v for k, v in data.items() if v is not None}
    return dataclasses.replace(generator, info={**generator.info, "data": data})


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("rebuilt")


def test_the_rebuilt_dataset_is_the_training_dataset_and_is_reused(tiny_run, tiny_dataset, cache):
    generator = load_generator(tiny_run)
    recipe = training_data_recipe(generator)
    assert recipe.recorded and recipe.seed == 0
    assert recipe.config == SimulatorConfig(shape=(16, 16, 16), voxel_size_m=2e-6)
    np.testing.assert_array_equal(recipe.labels, tiny_dataset.label_array())
    assert recipe.splits() == [s.split for s in tiny_dataset.samples]

    first = rebuild_training_dataset(generator, cache, progress=False)
    assert first.rebuilt and first.identical  # the sha256 recorded at training matches
    assert first.dataset.root.parent == cache
    rebuilt = first.dataset.samples
    assert [s.file for s in rebuilt] == [s.file for s in tiny_dataset.samples]
    assert [s.split for s in rebuilt] == [s.split for s in tiny_dataset.samples]
    for mine, theirs in zip(rebuilt, tiny_dataset.samples, strict=True):
        np.testing.assert_array_equal(mine.volume, theirs.volume)

    manifest = first.dataset.root / "manifest.json"
    written = manifest.stat().st_mtime_ns
    second = rebuild_training_dataset(generator, cache, progress=False)
    assert not second.rebuilt and second.identical and second.dataset.root == first.dataset.root
    assert manifest.stat().st_mtime_ns == written
    assert "reused" in second.describe() and "bit-identical" in second.describe()


def test_a_provenance_without_labels_means_the_legacy_grid(tiny_run):
    """Generators trained before the labels were recorded (the shipped one): the grid jaxmicro
    simulate made then (``LEGACY_GRID_LEVELS``), checked against the recorded training count
    and label range."""
    generator = load_generator(tiny_run)  # trained on the (recorded) wide grid: 30 volumes
    source = {k: v for k, v in generator.info["data"]["source"].items() if k not in ("labels", "heldout")}
    legacy_range = {"am_wt": (0.90, 0.96), "porosity": (0.28, 0.44), "adhesion": (0.0, 1.0)}
    legacy = dataclasses.replace(_with_data(generator, source=source, n_train=21), label_ranges=legacy_range)
    recipe = training_data_recipe(legacy)
    assert not recipe.recorded
    np.testing.assert_array_equal(recipe.labels, label_grid(LEGACY_GRID_LEVELS))
    np.testing.assert_array_equal(recipe.heldout, LEGACY_HELDOUT_LABELS)
    assert len(recipe.train_labels) == 21
    with pytest.raises(ValueError, match=r"does not describe .*20 training volumes.*pass --data DATASET"):
        training_data_recipe(_with_data(legacy, n_train=20))
    with pytest.raises(ValueError, match=r"does not describe .*30 training volumes.*pass --data DATASET"):
        training_data_recipe(_with_data(generator, source=source))


def test_no_provenance_is_a_one_line_error_naming_data(tiny_run):
    generator = load_generator(tiny_run)
    unreadable = {"generator": "jaxmicro.data.simulator", "simulator_config": {"shape": [4]}}
    for info in (
        {},
        {"data": {"source": {"note": "imaged"}}},
        {"data": {"n_train": 3}},
        {"data": {"source": unreadable}},
    ):
        with pytest.raises(ValueError, match="pass --data DATASET"):
            training_data_recipe(dataclasses.replace(generator, info=info))


def test_other_training_volumes_are_said_to_differ(tiny_run, cache):
    other = _with_data(load_generator(tiny_run), sha256="0" * 64)
    rebuild = rebuild_training_dataset(other, cache, progress=False)
    assert rebuild.rebuilt and rebuild.identical is False  # its own cache folder
    assert "not bit-identical" in rebuild.describe() and "--data DATASET" in rebuild.describe()
    unrecorded = rebuild_training_dataset(_with_data(other, sha256=None), cache, progress=False)
    assert unrecorded.identical is None and "no fingerprint" in unrecorded.describe()


def test_validate_cli_without_data(tiny_run, cache, tmp_path, capsys):
    out = tmp_path / "report.json"
    args = ["validate", "--checkpoint", str(tiny_run), "--seeds", "1", "--no-control", "--no-morphology"]
    code = main([*args, "--baseline", "none", "--rebuild-into", str(cache), "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "relative error" in captured.out and "bit-identical" in captured.err
    data = json.loads(out.read_text())["data"]
    assert data["rebuilt_from_provenance"] and data["identical_to_training_data"] is True
    assert data["root"].startswith(str(cache))

    bare = tmp_path / "bare"
    save_generator(dataclasses.replace(load_generator(tiny_run), info={}), bare)
    assert main(["validate", "--checkpoint", str(bare), "--rebuild-into", str(cache)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "pass --data DATASET" in err
    assert main([*args, "--data", str(cache), "--rebuild-into", str(cache)]) == 2
    assert "--rebuild-into is for validating without --data" in capsys.readouterr().err


def test_validate_help_shows_the_default(capsys):
    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the generator's own training dataset" in text and "jaxmicro/datasets" in text
