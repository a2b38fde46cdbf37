"""The shipped generators by name, and the default one the main job runs on."""

import argparse

import numpy as np
import pytest

from jaxmicro._cli_common import load_generator_of
from jaxmicro.cli import main
from jaxmicro.data import GRID_LEVELS
from jaxmicro.data.phases import PORE
from jaxmicro.generator import Generator, shipped
from jaxmicro.generator.stochastic import GeometryModel


def _shipped(name: str) -> None:
    if not (shipped.shipped_checkpoint_path(name) / shipped.SHIPPED_GENERATORS[name]).is_file():
        pytest.skip(f"checkpoints/{name} is not in this checkout")


def test_the_default_is_the_stochastic_generator_fitted_on_the_wide_range():
    """checkpoints/stochastic: fitted on the wide grid at 0.75 um voxels; its volumes have three
    phases and the porosity they are asked for."""
    _shipped("stochastic")
    generator = shipped.load_default_generator()
    assert isinstance(generator, GeometryModel) and not generator.traceable
    assert generator.voxel_size_m == pytest.approx(0.75e-6)
    for field, levels in GRID_LEVELS.items():
        assert generator.label_ranges[field] == pytest.approx((min(levels), max(levels)))
    volume = np.asarray(generator.sample_batch(np.array([[0.95, 0.30, 0.5]]), (32, 32, 32), [0]))[0, 0]
    assert set(np.unique(volume)) == {0, 1, 2}
    assert abs(np.mean(volume == PORE) - 0.30) < 0.02


def test_shipped_generators_by_name_and_their_errors(tmp_path, monkeypatch):
    _shipped("gan")
    assert isinstance(shipped.load_shipped_generator("gan"), Generator)
    with pytest.raises(ValueError, match=r"named 'default'; choose one of \['gan', 'stochastic'\]"):
        shipped.load_shipped_generator("default")
    monkeypatch.setattr(shipped, "shipped_checkpoint_path", lambda name="stochastic": tmp_path / name)
    with pytest.raises(FileNotFoundError, match="shipped 'stochastic' generator is missing"):
        shipped.load_default_generator()


def test_the_command_line_takes_a_shipped_name_unless_a_folder_has_it(tmp_path, monkeypatch):
    _shipped("gan")
    _shipped("stochastic")
    monkeypatch.chdir(tmp_path)
    assert isinstance(load_generator_of(argparse.Namespace(checkpoint=None)), GeometryModel)
    assert isinstance(load_generator_of(argparse.Namespace(checkpoint="gan")), Generator)
    (tmp_path / "gan").mkdir()  # a folder of that name is read as a path (and is no checkpoint)
    with pytest.raises(FileNotFoundError, match="not a generator checkpoint"):
        load_generator_of(argparse.Namespace(checkpoint="gan"))


def test_validating_the_default_without_data_says_which_dataset_to_pass(capsys):
    _shipped("stochastic")
    assert main(["validate"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "checkpoints/stochastic" in err and "pass --data DATASET" in err


def test_generate_takes_the_default_generator_label_major(tmp_path, capsys):
    """generate() on the stochastic default: its volumes, label-major as for the GAN, the same
    as drawing each label alone; what only a traceable generator has is refused in one line."""
    from jaxmicro.generator import generate

    _shipped("stochastic")
    generator = shipped.load_default_generator()
    labels = np.array([[0.95, 0.30, 0.5], [0.90, 0.45, 0.0]])
    result = generate(generator, labels, shape=(24, 24, 24), seed=[3, 4])
    assert result.probabilities is None and result.volume.shape == (4, 24, 24, 24)
    np.testing.assert_array_equal(result.seeds, [3, 4, 3, 4])
    np.testing.assert_array_equal(result.volume[2:], generator.sample(labels[1], (24, 24, 24), [3, 4]))
    with pytest.raises(ValueError, match="places phases by rank"):
        generate(generator, labels[0], shape=(24, 24, 24), decoding="fractions")
    out = tmp_path / "v.tif"
    argv = ["generate", "--labels", "0.95,0.3,0.5", "--size", "24", "--out", str(out), "--probabilities"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "drop --probabilities" in err


def test_a_sweep_of_the_host_drawn_default_is_not_split_across_processes(tmp_path, monkeypatch, capsys):
    import jax

    _shipped("stochastic")
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    assert main(["sweep", "--grid", "2", "--properties-only", "--out", str(tmp_path / "s.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run one process or pass --checkpoint gan" in err
    assert not (tmp_path / "s.jsonl").exists()
