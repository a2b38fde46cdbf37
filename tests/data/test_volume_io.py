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
