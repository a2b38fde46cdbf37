import json

import numpy as np

from jaxmicro.cli import main
from jaxmicro.data import AM, CBD, PORE
from jaxmicro.generator import compute_metrics, load_generator, validate_generator
from jaxmicro.generator.validate import METRIC_NAMES


def test_metrics_of_a_known_volume():
    volume = np.full((8, 8, 8), PORE, np.uint8)
    volume[2:4, 2:4, 2:4] = AM  # a 2x2x2 cube: 24 faces
    volume[2:4, 2:4, 4] = CBD  # covers its 4 faces on the +x side
    volume[:, 6, :] = CBD
    m = compute_metrics(volume, voxel_size_m=1e-6)
    assert m.am_vf[0] == 8 / 512 and m.cbd_vf[0] == (4 + 64) / 512
    np.testing.assert_allclose(m.am_ssa[0], 24 / (512 * 1e-6))
    np.testing.assert_allclose(m.cbd_coverage[0], 4 / 24)
    assert m.tau_through[0] > 1.0
    # Pores blocked along y by the CBD layer at y = 6: the y tortuosity is infinite.
    assert np.isinf(m.tau_in_plane[0])


def test_heldout_validation_end_to_end_on_a_tiny_model(tiny_run, tiny_dataset, tmp_path, capsys):
    report = validate_generator(load_generator(tiny_run), tiny_dataset, seeds=1, progress=False)
    assert report.labels.shape == (6, 3)
    assert report.reference.shape == (6, len(METRIC_NAMES))
    assert report.generated.shape == (6, 1, len(METRIC_NAMES))
    assert np.all(np.isfinite(report.reference))  # the simulated volumes percolate
    assert "mean relative error" in report.table()
    # The CLI prints the same table and writes JSON.
    out = tmp_path / "report.json"
    code = main(
        [
            "validate",
            "--checkpoint",
            str(tiny_run),
            "--data",
            str(tiny_dataset.root),
            "--seeds",
            "1",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    assert "relative error" in capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["metrics"] == list(METRIC_NAMES) and len(saved["relative_error"]) == 6


def test_generate_cli_writes_volumes(tiny_run, tmp_path):
    out = tmp_path / "vol.tif"
    code = main(
        [
            "generate",
            "--checkpoint",
            str(tiny_run),
            "--labels",
            "0.93,0.36,0.5",
            "--size",
            "16",
            "--n",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    from jaxmicro.data import read_volume

    a, b = (read_volume(tmp_path / f"vol_seed{s}.tif") for s in (0, 1))
    assert a.shape == (16, 16, 16) and not np.array_equal(a, b)
    assert main(["generate", "--checkpoint", str(tiny_run), "--labels", "0.93,0.36", "--out", str(out)]) == 2
