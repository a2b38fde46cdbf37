"""``jaxmicro characterise`` on a small .npy volume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxmicro.cli import main
from jaxmicro.data.phases import AM, PORE


def _refuse(constant: str):
    raise ValueError(f"not strict JSON: {constant}")


def test_characterise_command_writes_tau_for_all_axes_and_metrics(tmp_path, capsys):
    volume = np.full((12, 12, 12), AM, np.uint8)
    volume[:, 3:6, :] = PORE  # a pore slab: open along axes 0 and 2, closed along axis 1
    path = tmp_path / "slab.npy"
    np.save(path, volume)
    out = tmp_path / "out.json"
    assert main(["characterise", str(path), "--voxel-size-m", "1e-6", "--json", str(out)]) == 0
    result = json.loads(out.read_text(), parse_constant=_refuse)  # strict JSON: no Infinity/NaN
    tau = result["tortuosity"]
    assert tau["0"]["tau"] == pytest.approx(1.0, rel=1e-4)
    assert tau["2"]["tau"] == pytest.approx(1.0, rel=1e-4)
    assert not tau["1"]["percolates"] and tau["1"]["tau"] is None
    assert result["metrics"]["volume_fraction"][PORE] == pytest.approx(0.25)
    assert "axis 1: tau inf" in capsys.readouterr().out


def test_characterise_command_reports_bad_input_in_one_line(tmp_path, capsys):
    path = tmp_path / "grey.npy"
    np.save(path, np.full((4, 4, 4), 7, np.uint8))  # 7 is no phase of the 0/1/2 mapping
    assert main(["characterise", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxmicro characterise: error:") and "not in the phase mapping" in err
    assert len(err.strip().splitlines()) == 1


def test_a_missing_conducting_phase_is_tau_null_not_an_error(tmp_path, capsys):
    path = tmp_path / "solid.npy"
    np.save(path, np.full((4, 4, 4), AM, np.uint8))
    assert main(["characterise", str(path), "--axis", "0", "--json"]) == 0
    row = json.loads(capsys.readouterr().out, parse_constant=_refuse)["tortuosity"]["0"]
    assert row["tau"] is None and row["percolates"] is False
