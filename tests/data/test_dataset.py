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
        (lambda m: m.update(grey_values=[0, 85, 170]), ValueError, "not in the phase mapping"),
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
