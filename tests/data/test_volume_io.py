from pathlib import Path

import numpy as np
import pytest

from jaxmicro.data import read_volume, write_volume
from jaxmicro.data.volume_io import grey_to_phase


@pytest.fixture
def volume():
    rng = np.random.default_rng(1)
    return rng.integers(0, 3, size=(7, 9, 11), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".tiff"])
@pytest.mark.parametrize("grey_values", [None, (0, 85, 170), (255, 0, 128)])
def test_round_trip_is_bit_exact(tmp_path, volume, suffix, grey_values):
    path = write_volume(tmp_path / f"v{suffix}", volume, grey_values)
    back = read_volume(path, grey_values)
    assert back.dtype == np.uint8 and back.shape == volume.shape
    np.testing.assert_array_equal(back, volume)
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_tiff_is_a_page_per_z_slice_with_the_grey_values(tmp_path, volume):
    import tifffile

    write_volume(tmp_path / "v.tif", volume, (0, 85, 170))
    with tifffile.TiffFile(tmp_path / "v.tif") as tif:
        raw = tif.asarray()
    assert raw.shape == volume.shape and raw.dtype == np.uint8
    assert set(np.unique(raw)) <= {0, 85, 170}


def test_2d_section_round_trip(tmp_path, volume):
    write_volume(tmp_path / "s.tif", volume[0])
    np.testing.assert_array_equal(read_volume(tmp_path / "s.tif", ndim=2), volume[0])


def test_unknown_grey_value_is_named(tmp_path):
    np.save(tmp_path / "v.npy", np.array([[[0, 1], [2, 7]]], dtype=np.uint8))
    with pytest.raises(ValueError, match=r"grey values \[7\] are not in the phase mapping"):
        read_volume(tmp_path / "v.npy")


def test_wrong_dimensionality_and_empty_phase(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="expected a 3-D array"):
        read_volume(tmp_path / "flat.npy")
    np.save(tmp_path / "two.npy", (np.arange(64, dtype=np.uint8) % 2).reshape(4, 4, 4))
    with pytest.raises(ValueError, match=r"\['CBD'\] are empty"):
        read_volume(tmp_path / "two.npy", require_all_phases=True)


def test_missing_file_unsupported_suffix_and_bad_mapping(tmp_path, volume):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_volume(tmp_path / "nope.npy")
    with pytest.raises(ValueError, match="unsupported file type"):
        write_volume(tmp_path / "v.png", volume)
    with pytest.raises(ValueError, match="distinct"):
        grey_to_phase(volume, (0, 0, 1))
    with pytest.raises(ValueError, match="phase ids"):
        write_volume(tmp_path / "v.npy", volume + 3)


def test_shared_electrode_grey_mapping_gives_reference_fractions(shared_electrode_path):
    volume = read_volume(shared_electrode_path, (0, 85, 170), require_all_phases=True)
    assert volume.shape == (256, 256, 256)
    fractions = np.bincount(volume.ravel(), minlength=3) / volume.size
    np.testing.assert_allclose(fractions, [0.44992, 0.40047, 0.14962], atol=5e-5)
    with pytest.raises(ValueError, match="not in the phase mapping"):
        read_volume(shared_electrode_path)  # TIFF default 0/128/255 does not fit this file


def test_tiff_voxel_size_is_imagej_calibration_in_micrometres(tmp_path, volume):
    import tifffile

    from jaxmicro.data.volume_io import read_voxel_size_m

    path = write_volume(tmp_path / "v.tif", volume, voxel_size_m=(2e-6, 0.5e-6, 0.25e-6))
    with tifffile.TiffFile(path) as tif:  # what Fiji reads
        meta = tif.imagej_metadata
        x_per_um, y_per_um = tif.pages.first.get_resolution()
        assert tif.series[0].axes == "ZYX"
    assert meta["unit"] == "um" and meta["slices"] == volume.shape[0]
    assert meta["spacing"] == pytest.approx(2.0) and (x_per_um, y_per_um) == pytest.approx((4.0, 2.0))
    (tmp_path / "v.tif.json").unlink()  # the TIFF alone carries the size
    assert read_voxel_size_m(path) == pytest.approx((2e-6, 0.5e-6, 0.25e-6), rel=1e-6)
    np.testing.assert_array_equal(read_volume(path), volume)


def test_sidecar_holds_phase_map_labels_and_voxel_size(tmp_path, volume):
    import json

    from jaxmicro.data.volume_io import read_voxel_size_m, sidecar_path

    labels = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}
    for name in ("v.npy", "v.tif"):
        path = write_volume(tmp_path / name, volume, (10, 20, 30), voxel_size_m=1e-6, labels=labels)
        data = json.loads(sidecar_path(path).read_text())
        assert data["format"] == "jaxmicro-volume" and data["shape"] == list(volume.shape)
        assert [(p["id"], p["name"], p["grey_value"]) for p in data["phases"]] == [
            (0, "pore", 10),
            (1, "AM", 20),
            (2, "CBD", 30),
        ]
        assert data["labels"] == labels and data["voxel_size_m"] == [1e-6] * 3
        assert read_voxel_size_m(path) == pytest.approx((1e-6,) * 3)
        # read_volume takes the grey values from the sidecar when none are given.
        np.testing.assert_array_equal(read_volume(path), volume)


def test_no_voxel_size_reads_back_as_unknown(tmp_path, volume):
    from jaxmicro.data.volume_io import read_voxel_size_m

    assert read_voxel_size_m(write_volume(tmp_path / "v.tif", volume)) is None
    assert read_voxel_size_m(write_volume(tmp_path / "v.npy", volume, sidecar=False)) is None
    assert not (tmp_path / "v.npy.json").exists()


def test_fiji_micron_unit_is_read(tmp_path, volume):
    import tifffile

    from jaxmicro.data.volume_io import read_voxel_size_m

    path = tmp_path / "fiji.tif"
    tifffile.imwrite(
        path,
        volume * 100,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"axes": "ZYX", "unit": "micron", "spacing": 0.5},
    )
    assert read_voxel_size_m(path) == pytest.approx((0.5e-6, 0.5e-6, 0.5e-6))


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path, volume, monkeypatch):
    import tifffile

    def broken(file, *args, **kwargs):
        Path(file).write_bytes(b"partial")
        raise OSError("disk went away")

    monkeypatch.setattr(tifffile, "imwrite", broken)
    with pytest.raises(OSError, match="disk went away"):
        write_volume(tmp_path / "v.tif", volume, voxel_size_m=1e-6)
    assert list(tmp_path.iterdir()) == []


def test_bad_voxel_size_is_a_clear_error(tmp_path, volume):
    with pytest.raises(ValueError, match="voxel_size_m must be one positive edge length"):
        write_volume(tmp_path / "v.tif", volume, voxel_size_m=(1e-6, 1e-6))
    with pytest.raises(ValueError, match="voxel_size_m"):
        write_volume(tmp_path / "v.tif", volume, voxel_size_m=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_a_tiff_with_other_grey_values_reads_back_unswapped_without_its_sidecar(tmp_path, volume):
    # (255, 128, 0) are the default TIFF grey values reversed: read with the defaults, pore and
    # CBD swapped without a word; the TIFF now records its mapping in its ImageJ metadata.
    path = write_volume(tmp_path / "v.tif", volume, (255, 128, 0), sidecar=False)
    np.testing.assert_array_equal(read_volume(path), volume)
    write_volume(tmp_path / "w.tif", volume, (255, 128, 0))
    (tmp_path / "w.tif.json").unlink()  # sidecar lost on the way to a colleague
    np.testing.assert_array_equal(read_volume(tmp_path / "w.tif"), volume)


def test_grey_values_that_contradict_the_file_are_refused(tmp_path, volume):
    import json

    path = write_volume(tmp_path / "v.tif", volume, (255, 128, 0))
    with pytest.raises(ValueError, match=r"records grey values \(255, 128, 0\) .* not the \(0, 128, 255\)"):
        read_volume(path, (0, 128, 255))
    sidecar = json.loads((tmp_path / "v.tif.json").read_text())
    for phase in sidecar["phases"]:
        phase["grey_value"] = (0, 128, 255)[phase["id"]]
    (tmp_path / "v.tif.json").write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="but its sidecar v.tif.json says"):
        read_volume(path)


def _npy_with_header(path: Path, shape: tuple[int, ...], data: bytes) -> None:
    with path.open("wb") as handle:
        np.lib.format.write_array_header_1_0(handle, {"descr": "|u1", "fortran_order": False, "shape": shape})
        handle.write(data)


def test_a_npy_header_declaring_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.npy"
    _npy_with_header(path, (100_000, 100_000, 100_000), bytes(64))  # 1e15 bytes declared
    with pytest.raises(
        ValueError, match=r"declares an array of shape \(100000, 100000, 100000\) .* holds 64"
    ):
        read_volume(path)


def test_a_volume_larger_than_the_available_memory_is_refused_with_the_estimate(
    tmp_path, volume, monkeypatch
):
    import tifffile

    from jaxmicro import host_memory

    np.save(tmp_path / "v.npy", volume)
    compressed = tmp_path / "c.tif"  # a small file that expands to 262 kB
    tifffile.imwrite(compressed, np.zeros((64, 64, 64), np.uint8), compression="zlib")
    assert compressed.stat().st_size < 20_000
    monkeypatch.setattr(host_memory, "available_host_memory_bytes", lambda: 100_000)
    with pytest.raises(ValueError, match=r"shape \(64, 64, 64\) needs about 0.00341 GB but 0.0001 GB"):
        read_volume(compressed)
    monkeypatch.setattr(host_memory, "available_host_memory_bytes", lambda: 1_000)
    with pytest.raises(ValueError, match=r"shape \(7, 9, 11\) needs about"):
        read_volume(tmp_path / "v.npy")
