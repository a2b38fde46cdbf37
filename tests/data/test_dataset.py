import json

import numpy as np
import pytest

from jaxmicro.data import LabelledDataset, Labels, Sample, load_dataset, write_dataset


def _volume(seed: int, shape=(6, 6, 6)) -> np.ndarray:
    volume = np.random.default_rng(seed).integers(0, 3, size=shape, dtype=np.uint8)
    volume.flat[:3] = [0, 1, 2]  # every phase present
    return volume


def _samples(suffix=".npy"):
    return [
        Sample(f"a{suffix}", Labels(0.90, 0.30, 0.0), 5e-7, "train", _volume(0)),
        Sample(f"b{suffix}", Labels(0.96, 0.40, 1.0), 5e-7, "heldout", _volume(1)),
        Sample(f"c{suffix}", Labels(0.93, 0.35, 0.5), 5e-7, "train", _volume(2, (6, 8)), 1),
    ]


@pytest.mark.parametrize("suffix", [".npy", ".tif"])
def test_write_then_load_round_trips(tmp_path, suffix):
    root = write_dataset(tmp_path / "ds", _samples(suffix), source={"note": "test"})
    dataset = load_dataset(root)
    assert isinstance(dataset, LabelledDataset)
    assert [s.file for s in dataset.train] == [f"a{suffix}", f"c{suffix}"]
    assert [s.file for s in dataset.heldout] == [f"b{suffix}"]
    for written, loaded in zip(_samples(suffix), dataset.samples, strict=True):
        assert loaded.labels == written.labels and loaded.voxel_size_m == written.voxel_size_m
        assert loaded.slice_normal_axis == written.slice_normal_axis
        np.testing.assert_array_equal(loaded.volume, written.volume)
    assert dataset.source == {"note": "test"}
    np.testing.assert_allclose(dataset.label_array("heldout"), [[0.96, 0.40, 1.0]])
    with pytest.raises(ValueError, match="3-D samples of one shape"):
        dataset.volumes("train")  # holds a 2-D section
    assert dataset.volumes("heldout").shape == (1, 6, 6, 6)


def test_refuses_to_overwrite_without_force(tmp_path):
    root = write_dataset(tmp_path / "ds", _samples()[:1])
    with pytest.raises(FileExistsError, match="force"):
        write_dataset(root, _samples())
    write_dataset(root, _samples(), force=True)
    assert len(load_dataset(root).samples) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"], "staging folders left behind"


def test_failed_write_leaves_no_dataset(tmp_path):
    def exploding():
        yield _samples()[0]
        raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        write_dataset(tmp_path / "ds", exploding())
    assert list(tmp_path.iterdir()) == []


def _edit_manifest(root, edit):
    manifest = json.loads((root / "manifest.json").read_text())
    edit(manifest)
    (root / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda m: m["samples"][0].pop("porosity"), ValueError, r"lacks \['porosity'\]"),
        (lambda m: m["samples"][0].update(porosity=0.9), ValueError, r"a.npy.*porosity=0.9"),
        (lambda m: m["samples"][0].update(split="test"), ValueError, "split 'test'"),
        (lambda m: m["samples"][0].update(voxel_size_m=0.5), ValueError, "in metres"),
        (lambda m: m["samples"][0].update(file="missing.npy"), FileNotFoundError, "missing"),
        (lambda m: m["samples"][0].update(shape=[5, 5, 5]), ValueError, "does not match"),
        (lambda m: m["samples"].append(dict(m["samples"][0])), ValueError, "more than once"),
        (lambda m: m["samples"][0].update(slice_normal_axis=0), ValueError, "2-D array"),
        (
            lambda m: m.update(grey_values=[0, 85, 170]),
            ValueError,
            r"records grey values \(0, 1, 2\) .* not the \(0, 85, 170\)",
        ),
        (lambda m: m.update(samples=[]), ValueError, "no samples"),
        (lambda m: m.pop("format"), ValueError, "not a jaxmicro dataset"),
    ],
)
def test_bad_manifests_fail_clearly(tmp_path, edit, error, match):
    root = write_dataset(tmp_path / "ds", _samples())
    _edit_manifest(root, edit)
    with pytest.raises(error, match=match):
        load_dataset(root)


def test_empty_phase_in_a_sample_is_refused(tmp_path):
    sample = Sample("a.npy", Labels(0.9, 0.3, 0.0), 5e-7, "train", np.zeros((4, 4, 4), np.uint8))
    root = write_dataset(tmp_path / "ds", [sample])
    with pytest.raises(ValueError, match="empty"):
        load_dataset(root)


def test_csv_manifest_with_explicit_grey_values(tmp_path):
    from jaxmicro.data import write_volume

    root = tmp_path / "csv"
    root.mkdir()
    write_volume(root / "x.tif", _volume(3), (0, 85, 170))
    (root / "manifest.csv").write_text(
        "file,am_wt,porosity,adhesion,voxel_size_m,split\nx.tif,0.92,0.33,0.2,3.9e-7,train\n"
    )
    dataset = load_dataset(root, grey_values=(0, 85, 170))
    np.testing.assert_array_equal(dataset.samples[0].volume, _volume(3))
    assert dataset.samples[0].labels == Labels(0.92, 0.33, 0.2)


def test_missing_folder_and_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        load_dataset(tmp_path)


def _manifest_pointing_at(root, name):
    _edit_manifest(root, lambda m: m["samples"][0].update(file=name))


def test_a_manifest_cannot_reach_outside_its_folder(tmp_path):
    outside = tmp_path / "secret.npy"
    np.save(outside, _volume(9))
    root = write_dataset(tmp_path / "ds", _samples())
    messages = []
    for name in [
        "../secret.npy",
        "../nothing.npy",
        str(outside),
        str(tmp_path / "nothing.npy"),
        "a/../../x.npy",
    ]:
        _manifest_pointing_at(root, name)
        with pytest.raises(ValueError, match="inside the dataset folder") as caught:
            load_dataset(root)
        messages.append(str(caught.value).replace(name, "NAME"))
    # The same words whether or not the outside file exists: nothing is learnt about it.
    assert messages[0] == messages[1] and messages[2] == messages[3]


def test_links_out_of_the_dataset_are_refused_and_links_inside_are_followed(tmp_path):
    outside = tmp_path / "secret.npy"
    np.save(outside, _volume(9))
    root = write_dataset(tmp_path / "ds", _samples())
    (root / "out.npy").symlink_to(outside)
    (root / "dangling.npy").symlink_to(tmp_path / "nothing.npy")
    for name in ("out.npy", "dangling.npy"):
        _manifest_pointing_at(root, name)
        with pytest.raises(ValueError, match="link that leads out of the dataset folder"):
            load_dataset(root)
    (root / "inside.npy").symlink_to(root / "a.npy")
    _manifest_pointing_at(root, "inside.npy")
    np.testing.assert_array_equal(load_dataset(root).samples[0].volume, _volume(0))


def test_a_csv_manifest_is_confined_too(tmp_path):
    np.save(tmp_path / "secret.npy", _volume(9))
    root = tmp_path / "csv"
    root.mkdir()
    (root / "manifest.csv").write_text(
        "file,am_wt,porosity,adhesion,voxel_size_m,split\n../secret.npy,0.92,0.33,0.2,3.9e-7,train\n"
    )
    with pytest.raises(
        ValueError, match=r"manifest.csv: sample 0: file '../secret.npy' must be a path inside"
    ):
        load_dataset(root)
    (root / "manifest.csv").write_text(
        "file,am_wt,porosity,adhesion,voxel_size_m,split\nx.npy,abc,0.33,0.2,3.9e-7,train\n"
    )
    with pytest.raises(ValueError, match="am_wt must be a number, got 'abc'"):
        load_dataset(root)


def test_write_dataset_writes_plain_names_inside_its_folder_only(tmp_path):
    for name in ["../escape.npy", "/tmp/escape.npy", "sub/x.npy", ""]:
        bad = Sample(name, Labels(0.90, 0.30, 0.0), 5e-7, "train", _volume(0))
        with pytest.raises(ValueError, match="file"):
            write_dataset(tmp_path / "ds", [bad])
    assert list(tmp_path.iterdir()) == []
    twice = [_samples()[0], _samples()[0]]
    with pytest.raises(ValueError, match="used by an earlier sample"):
        write_dataset(tmp_path / "ds", twice)


def test_force_replaces_only_a_dataset(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a jaxmicro dataset"):
        write_dataset(precious, _samples(), force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(FileExistsError, match="not a dataset folder"):
        write_dataset(a_file, _samples(), force=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    write_dataset(empty, _samples(), force=True)
    assert len(load_dataset(empty).samples) == 3
    write_dataset(empty, _samples()[:1], force=True)  # a dataset is replaced
    assert len(load_dataset(empty).samples) == 1


def test_cli_simulate_force_refuses_a_folder_that_is_not_a_dataset_before_simulating(tmp_path, capsys):
    from jaxmicro.cli import main as cli_main

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert (
        cli_main(["simulate", "--out", str(precious), "--size", "16", "--voxel-size-m", "2e-6", "--force"])
        == 2
    )
    err = capsys.readouterr().err
    assert "not a jaxmicro dataset" in err and err.count("\n") == 1
    assert sorted(p.name for p in precious.iterdir()) == ["thesis.tex"]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m["samples"].__setitem__(0, "a.npy"), "must be an object"),
        (lambda m: m["samples"][0].update(voxel_size_m="abc"), "voxel_size_m must be a number, got 'abc'"),
        (lambda m: m["samples"][0].update(am_wt=[0.9]), r"am_wt must be a number, got \[0.9\]"),
        (lambda m: m["samples"][0].update(slice_normal_axis="x"), "slice_normal_axis must be 0, 1, 2"),
        (lambda m: m["samples"][0].update(shape=7), "does not match"),
        (lambda m: m["samples"][0].update(file=3), "file must be a non-empty file name"),
        (lambda m: m.update(source=[1]), "source must be an object"),
    ],
)
def test_wrongly_typed_manifest_fields_fail_in_one_line_naming_the_field(tmp_path, edit, match):
    root = write_dataset(tmp_path / "ds", _samples())
    _edit_manifest(root, edit)
    with pytest.raises(ValueError, match=match):
        load_dataset(root)
