"""One vocabulary across the subcommands: option names, units, defaults in ``--help``, old
spellings kept as hidden aliases, and the outputs the options lead to."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from jaxmicro import _cli_common as common
from jaxmicro.cli import build_parser, main

MINE = ("design", "sweep", "cell", "characterise", "generate")


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: action.choices[name] for name in MINE}


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def test_the_vocabulary_mirrors_the_library_constants():
    from jaxmicro.cell.inputs import CellDesign
    from jaxmicro.design.objective import BASES, OBJECTIVES, DesignSettings

    assert common.OBJECTIVE_NAMES == tuple(OBJECTIVES)
    assert common.BASES == tuple(BASES) and DesignSettings().basis == common.BASES[0]
    assert common.DEFAULT_LOADING_MG_CM2 == DesignSettings().am_loading_mg_cm2
    assert common.DEFAULT_THICKNESS_UM * 1e-6 == pytest.approx(DesignSettings().cathode_thickness_m)
    radius = {f.name: f.default for f in dataclasses.fields(CellDesign)}["particle_radius_m"]
    assert common.DEFAULT_RADIUS_UM * 1e-6 == pytest.approx(radius)
    from jaxmicro.cell.parameters import NMC811_PARAMETER_SETS, THERMAL_MODELS
    from jaxmicro.design.space import CELL_VARIABLES

    assert common.CELL_VARIABLE_NAMES == tuple(CELL_VARIABLES)

    from jaxmicro.design.refine import RefineSettings
    from jaxmicro.design.sensitivity import METHODS

    assert common.GRADIENT_METHODS == METHODS and RefineSettings().method == METHODS[0]
    assert common.PARAMETER_SETS == NMC811_PARAMETER_SETS and common.THERMAL_MODELS == tuple(THERMAL_MODELS)
    for name in common.CELL_FORMATS:
        DesignSettings(cell_format=name)  # accepted by the library
    with pytest.raises(ValueError):
        DesignSettings(cell_format="coin")


@pytest.mark.parametrize(
    ("option", "commands"),
    [
        ("--power-w-per-kg", ("design", "sweep", "cell")),
        ("--thickness-um", ("design", "sweep", "cell")),
        ("--basis", ("design", "sweep")),
        ("--cell-format", ("design", "sweep", "cell")),
        ("--volume-size", ("design", "sweep", "generate")),
        ("--json", ("cell", "characterise")),
    ],
)
def test_one_name_per_quantity(subparsers, option, commands):
    for command in commands:
        assert option in _options(subparsers[command]), f"jaxmicro {command} lacks {option}"
    thickness = {c: _options(subparsers[c])[option].default for c in commands}
    if option == "--thickness-um":
        assert set(thickness.values()) == {common.DEFAULT_THICKNESS_UM}


def test_every_help_shows_the_defaults(subparsers):
    for command, parser in subparsers.items():
        formatter = parser.formatter_class(prog=parser.prog)
        assert isinstance(formatter, common.HelpFormatter), command
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or not action.option_strings:
                continue
            if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
                continue
            assert "default" in formatter._get_help_string(action), f"{command} {action.option_strings}"
    text = " ".join(subparsers["design"].format_help().split())  # without the line wrapping
    assert "(default: 200)" in text and "(default: runs/design)" in text


@pytest.mark.parametrize(
    ("argv", "dest", "value"),
    [
        (["design", "--powers", "100,200"], "power_w_per_kg", [100.0, 200.0]),
        (["design", "--power-w-per-kg", "300"], "power_w_per_kg", [300.0]),
        (["design"], "power_w_per_kg", [200.0]),
        (["sweep", "--power", "300"], "power_w_per_kg", 300.0),
        (["sweep", "--labels", "l.csv"], "labels_csv", "l.csv"),
        (["cell", "--format", "pouch"], "cell_format", "pouch"),
        (["cell"], "thickness_um", common.DEFAULT_THICKNESS_UM),
        (["generate", "--labels", "0.9,0.4,0.5", "--out", "v.tif", "--size", "32"], "volume_size", 32),
    ],
)
def test_old_spellings_still_parse_and_are_hidden(argv, dest, value):
    args = build_parser().parse_args(argv)
    assert getattr(args, dest) == value
    old = next((a for a in argv if a in ("--powers", "--power", "--labels", "--format", "--size")), None)
    if old is not None and not (argv[0] == "generate" and old == "--labels"):
        shown = build_parser()._subparsers._group_actions[0].choices[argv[0]].format_help()
        assert f"{old} " not in shown.replace(f"{old}-", "")


def test_cell_json_is_strict_and_uses_the_shared_thickness(tmp_path, capsys):
    assert main(["cell", "--json"]) == 0
    printed = _strict(capsys.readouterr().out)
    assert printed["specific_energy_wh_kg"] > 0
    assert main(["cell", "--json", str(tmp_path / "cell.json"), "--thickness-um", "60"]) == 0
    written = _strict((tmp_path / "cell.json").read_text())
    assert written["areal_capacity_mah_cm2"] < printed["areal_capacity_mah_cm2"]  # thinner cathode
    assert "wrote" in capsys.readouterr().out


def test_characterise_reads_the_voxel_size_of_the_tiff_and_prints_strict_json(tmp_path, capsys):
    from jaxmicro.data import write_volume
    from jaxmicro.data.phases import AM, PORE

    volume = np.full((12, 12, 12), AM, np.uint8)
    volume[:, 3:6, :] = PORE
    path = write_volume(tmp_path / "slab.tif", volume, voxel_size_m=2e-6)
    assert main(["characterise", str(path), "--axis", "0", "--json"]) == 0
    captured = capsys.readouterr()
    result = _strict(captured.out)  # the JSON alone on stdout
    assert "axis 0" in captured.err
    assert result["voxel_size_m"] == pytest.approx([2e-6] * 3)
    # Pore-AM faces: 2 walls of 12 x 12 voxel faces per 12^3 voxels, in 1/m with 2 um voxels.
    area = result["metrics"]["specific_surface_area"][PORE]
    assert area == pytest.approx(2 * 12 * 12 / 12**3 / 2e-6, rel=1e-6)


def test_generate_writes_the_generators_voxel_size_and_labels(tmp_path):
    from jaxmicro.data.volume_io import read_sidecar, read_voxel_size_m
    from jaxmicro.generator import save_generator

    spec = importlib.util.spec_from_file_location(
        "_design_conftest", Path(__file__).parent / "design" / "conftest.py"
    )
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    checkpoint = save_generator(toy.toy_generator(), tmp_path / "generator")
    out = tmp_path / "vol.tif"
    argv = ["generate", "--checkpoint", str(checkpoint), "--labels", "0.93,0.36,0.5"]
    assert main([*argv, "--volume-size", "16", "--out", str(out)]) == 0
    assert read_voxel_size_m(out) == pytest.approx((toy.TOY_VOXEL_SIZE_M,) * 3)
    assert read_sidecar(out)["labels"] == pytest.approx({"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5})


def test_adaptive_seed_options_reach_the_design_settings(subparsers):
    args = subparsers["design"].parse_args(["--max-seeds-per-label", "8", "--target-relative-error", "0.02"])
    settings = common.design_settings(args, power_w_per_kg=500.0, volume_size=64)
    assert (settings.seeds_per_label, settings.max_seeds_per_label) == (2, 8)
    assert settings.target_relative_standard_error == 0.02
    plain = subparsers["design"].parse_args([])
    default = common.design_settings(plain, power_w_per_kg=500.0, volume_size=64)
    assert default.max_seeds_per_label == common.DEFAULT_MAX_SEEDS_PER_LABEL == 8  # adaptive by default
    # Where --seeds-per-label leaves no room (1: no standard error; 8 or more), the default is
    # fixed seeds, not an error; asked for explicitly, equal to it: fixed seeds too.
    for seeds in ("1", "8", "12"):
        args = subparsers["design"].parse_args(["--seeds-per-label", seeds])
        assert common.design_settings(args, power_w_per_kg=500.0, volume_size=64).max_seeds_per_label is None
    args = subparsers["design"].parse_args(["--seeds-per-label", "3", "--max-seeds-per-label", "3"])
    assert common.design_settings(args, power_w_per_kg=500.0, volume_size=64).max_seeds_per_label == 3
    # Commands without the option (sweep, sensitivity) keep fixed seeds.
    sweep = subparsers["sweep"].parse_args([])
    assert common.design_settings(sweep, power_w_per_kg=500.0, volume_size=64).max_seeds_per_label is None
