import json
import shutil

import jax
import numpy as np
import pytest

from jaxmicro.generator import load_generator, save_generator
from jaxmicro.generator.checkpoint import default_checkpoint_path, load_default_generator


def test_export_round_trip_is_bit_exact(tiny_run, tmp_path, monkeypatch):
    generator = load_generator(tiny_run)  # a run folder resolves to its generator/ export
    monkeypatch.chdir(tmp_path)
    save_generator(generator, "g")  # relative paths work
    copy = load_generator("g")
    assert copy.config == generator.config
    assert copy.label_ranges == generator.label_ranges
    assert copy.voxel_size_m == generator.voxel_size_m == 2e-6
    assert copy.info["steps"] == 2
    for a, b in zip(
        jax.tree_util.tree_leaves(generator.params), jax.tree_util.tree_leaves(copy.params), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_missing_partial_and_incompatible_checkpoints(tiny_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator(tmp_path / "nothing")
    good = tiny_run / "generator"

    partial = tmp_path / "partial"
    shutil.copytree(good, partial)
    shutil.rmtree(partial / "params")
    with pytest.raises(ValueError, match="partial"):
        load_generator(partial)

    other = tmp_path / "other"
    shutil.copytree(good, other)
    meta = json.loads((other / "generator.json").read_text())
    meta["generator_config"]["channels"] = [16, 8]
    (other / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="cannot restore"):
        load_generator(other)

    meta["version"] = 99
    (other / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="incompatible"):
        load_generator(other)

    (other / "generator.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_generator(other)


def test_shipped_default_checkpoint_loads():
    if not (default_checkpoint_path() / "generator.json").is_file():
        pytest.skip("checkpoints/default is not in this checkout")
    generator = load_default_generator()
    assert generator.config.upsample_factor == 16
    assert generator.label_ranges["porosity"] == (0.28, 0.44)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m["label_ranges"].update(porosity=[float("nan"), float("nan")]), "must be finite"),
        (lambda m: m["label_ranges"].update(porosity=[0.44, 0.28]), "low <= high"),
        (lambda m: m["label_ranges"].pop("porosity"), "label_ranges must have"),
        (lambda m: m.update(voxel_size_m=float("nan")), "voxel_size_m=nan must be in metres"),
        (lambda m: m.update(voxel_size_m="abc"), "not numbers"),
    ],
)
def test_a_checkpoint_with_a_broken_range_is_refused_not_unchecked(tiny_run, tmp_path, edit, match):
    """A NaN trained range used to switch the label range check off silently."""
    broken = tmp_path / "broken"
    shutil.copytree(tiny_run / "generator", broken)
    meta = json.loads((broken / "generator.json").read_text())
    edit(meta)
    (broken / "generator.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=match):
        load_generator(broken)
