"""``jaxmicro cell --parameter-set/--thermal``: the model options reach the simulation."""

from __future__ import annotations

import json

import pytest

from jaxmicro.cli import main


def _run(capsys, *extra):
    assert main(["cell", "--c-rate", "2", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_parameter_set_and_lumped_thermal_model_reach_the_cell(capsys):
    isothermal = _run(capsys)
    lumped = _run(capsys, "--parameter-set", "OKane2022", "--thermal", "lumped")
    assert isothermal["max_temperature_k"] is None  # NaN (isothermal) is written as null
    assert 300.0 < lumped["max_temperature_k"] < 400.0  # a 2C discharge heats the cell
    # The same NMC811 cathode in both sets; the warmer cell delivers more (faster transport and
    # kinetics; +11 % here), not a different cell.
    assert isothermal["energy_wh"] < lumped["energy_wh"] < 1.25 * isothermal["energy_wh"]


def test_a_parameter_set_whose_cathode_the_model_does_not_describe_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["cell", "--parameter-set", "Mohtat2020"])
    assert "invalid choice: 'Mohtat2020'" in capsys.readouterr().err
