"""Bad inputs at the data, design-run and training edges, and what each gets (issue 22).

Every case feeds one malformed input to one entry point (a ``jaxmicro`` subcommand, run in this
process through :func:`jaxmicro.cli.main`, or a public function) and records the outcome:

* ``one-line error``: refused with an error of a documented type whose message is one line
  (for a subcommand: exit status 2 and one ``jaxmicro CMD: error: ...`` line after argparse's
  usage line, if any), and nothing was read or written outside where it should be;
* ``accepted``: it ran (expected only for the cases marked so: links inside a dataset, ...);
* ``TRACEBACK``: an exception of an undocumented type, or a subcommand that printed a traceback;
* ``SILENT``: accepted an input it should have refused;
* ``SILENT`` also: an accepted input that gave a wrong answer (checked where a case says so);
* ``ESCAPE``: read or wrote outside the folder it was given;
* ``HANG``: took longer than :data:`TIMEOUT_S`;
* ``LITTER``: a failed write left a temporary file behind.

Usage (CPU, about a minute on a 2-core machine)::

    JAX_PLATFORMS=cpu python experiments/bad_inputs.py            # writes docs/reliability.md

The table in ``docs/reliability.md`` is this script's output; rerun it after changing an edge.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("PYBAMM_DISABLE_TELEMETRY", "true")
os.environ["JAXMICRO_COMPILATION_CACHE"] = "0"  # no writes to the user's cache
os.environ.pop("JAXMICRO_TRACEBACK", None)

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120
NAN, INF = float("nan"), float("inf")

# Errors an entry point documents for bad input; anything else is a traceback to fix.
DOCUMENTED = (ValueError, OSError, RuntimeError)


@dataclasses.dataclass(frozen=True)
class Case:
    entry: str
    given: str
    run: Callable[[], object]
    expect: str = "one-line error"


@dataclasses.dataclass(frozen=True)
class Outcome:
    case: Case
    outcome: str
    message: str
    seconds: float


class Escaped(Exception):
    """A case found something read or written outside where it should be."""


class Litter(Exception):
    """A case left temporary files behind."""


class Wrong(Exception):
    """A case that was accepted returned a wrong answer."""


CASES: list[Case] = []


def case(entry: str, given: str, expect: str = "one-line error"):
    def register(run: Callable[[], object]) -> Callable[[], object]:
        CASES.append(Case(entry, given, run, expect))
        return run

    return register


def add(entry: str, given: str, run: Callable[[], object], expect: str = "one-line error") -> None:
    CASES.append(Case(entry, given, run, expect))


# --- fixtures (made once, in a temporary folder) -------------------------------------------


class World:
    """Small valid inputs the cases break one at a time."""

    def __init__(self, root: Path) -> None:
        import jax

        from jaxmicro.data import Labels, Sample, write_dataset
        from jaxmicro.data.labels import LEGACY_LABEL_NORMALISATION
        from jaxmicro.generator import Generator, GeneratorConfig, init_generator, save_generator

        self.root = root
        rng = np.random.default_rng(0)

        def volume(shape=(16, 16, 16)):
            v = rng.integers(0, 3, size=shape, dtype=np.uint8)
            v.flat[:3] = [0, 1, 2]
            return v

        self.samples = [
            Sample("a.npy", Labels(0.90, 0.30, 0.0), 2e-6, "train", volume()),
            Sample("b.npy", Labels(0.96, 0.40, 1.0), 2e-6, "heldout", volume()),
        ]
        self.dataset = write_dataset(root / "dataset", self.samples)
        self.outside = root / "outside"
        self.outside.mkdir()
        self.secret = self.outside / "secret.npy"
        np.save(self.secret, volume())
        config = GeneratorConfig(latent_channels=4, channels=(8, 4))
        params = init_generator(config, jax.random.PRNGKey(0))
        generator = Generator(config, params, dict(LEGACY_LABEL_NORMALISATION), 2e-6)
        self.generator = save_generator(generator, root / "generator")
        self.precious = root / "precious"
        self.precious.mkdir()
        (self.precious / "thesis.tex").write_text("years of work")
        self.a_file = root / "a_file.txt"
        self.a_file.write_text("not a folder")
        self.count = 0

    def fresh(self, name: str) -> Path:
        self.count += 1
        return self.root / f"{name}{self.count}"

    def dataset_copy(self) -> Path:
        import shutil

        copy = self.fresh("ds")
        shutil.copytree(self.dataset, copy)
        return copy

    def generator_copy(self) -> Path:
        import shutil

        copy = self.fresh("gen")
        shutil.copytree(self.generator, copy)
        return copy

    def outside_untouched(self) -> None:
        names = sorted(p.name for p in self.outside.iterdir())
        if names != ["secret.npy"]:
            raise Escaped(f"the outside folder now holds {names}")
        if sorted(p.name for p in self.precious.iterdir()) != ["thesis.tex"]:
            raise Escaped("the non-dataset folder was changed")


def cli(*argv: str) -> tuple[int, str]:
    """Runs ``jaxmicro ARGV`` in this process; returns (exit status, stderr)."""
    from jaxmicro.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse
            code = exit_.code if isinstance(exit_.code, int) else 2
    return int(code or 0), err.getvalue()


class CliResult(Exception):
    """Carries a subcommand's exit status and stderr out of a case."""

    def __init__(self, code: int, stderr: str) -> None:
        super().__init__(stderr)
        self.code, self.stderr = code, stderr


def run_cli(*argv: str) -> None:
    raise CliResult(*cli(*argv))


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path, lock_name: str = ".jaxmicro.lock"):
    code = (
        "import sys\nfrom jaxmicro._files import run_lock\n"
        "with run_lock(sys.argv[1], sys.argv[2]):\n    print('locked', flush=True)\n    sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(folder), lock_name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait()


# --- the cases ------------------------------------------------------------------------------


def build_cases(w: World) -> None:
    from jaxmicro.data import SimulatorConfig, load_dataset, simulate, simulate_dataset, write_dataset
    from jaxmicro.data.dataset import Sample
    from jaxmicro.data.labels import Labels

    # SimulatorConfig: every field, non-finite, wrong type, out of range.
    good = {"shape": (32, 32, 32), "voxel_size_m": 1e-6}
    for field, values in {
        "shape": [
            (4, 32, 32),
            (32, 32),
            (16.5, 32, 32),
            ("a", 32, 32),
            (2048, 2048, 2048),
            None,
            (-8, 32, 32),
        ],
        "voxel_size_m": [-1.0, 0.0, NAN, INF, "1e-6", True, 5e-6],
        "mean_radius_m": [NAN, INF, 0.0, -5e-6],
        "radius_log_std": [NAN, -1.0, INF],
        "precalender_am_fraction": [NAN, 0.6, 0.0],
        "particle_flattening": [NAN, -1.0],
        "relaxation_sweeps": [-1, 2.5, NAN],
        "agglomerate_length_m": [NAN, INF, 0.0],
        "neck_weight": [NAN, -1.0],
        "film_roughness": [INF, -0.5],
        "am_density_g_cm3": [NAN, 0.0],
        "cbd_density_g_cm3": [INF, -1.0],
    }.items():
        for value in values:
            add(
                "SimulatorConfig",
                f"{field}={value!r}",
                lambda f=field, v=value: SimulatorConfig(**(good | {f: v})),
            )

    small = SimulatorConfig(**good)
    label = np.array([0.93, 0.36, 0.5])
    for seed in (-1, 2**32, 2**40, 1.5, True, "3", None):
        add("simulate", f"seed={seed!r}", lambda s=seed: simulate(label, small, seed=s))
    for labels in (
        [0.93, NAN, 0.5],
        [0.93, 0.36, INF],
        [0.93, 0.9, 0.5],
        [1.5, 0.36, 0.5],
        [0.93, 0.36],
        [[0.93, 0.36, 0.5, 1.0]],
        "abc",
    ):
        add(
            "simulate",
            f"labels={labels!r}",
            lambda lab=labels: simulate(
                np.asarray(lab, dtype=object) if isinstance(lab, str) else np.asarray(lab), small
            ),
        )

    def simulate_into(root, **kwargs):
        simulate_dataset(
            root, SimulatorConfig(shape=(16, 16, 16), voxel_size_m=2e-6), progress=False, **kwargs
        )
        w.outside_untouched()

    add("simulate_dataset", "root exists, no force", lambda: simulate_into(w.dataset))
    add(
        "simulate_dataset",
        "force on a folder that is not a dataset",
        lambda: simulate_into(w.precious, force=True),
    )
    add("simulate_dataset", "force on a file", lambda: simulate_into(w.a_file, force=True))
    add("simulate_dataset", "file_format='png'", lambda: simulate_into(w.fresh("x"), file_format="png"))
    add("simulate_dataset", "seed=-1", lambda: simulate_into(w.fresh("x"), seed=-1))
    add("simulate_dataset", "seed=2**32", lambda: simulate_into(w.fresh("x"), seed=2**32))

    # load_dataset: manifests edited in every way, including ones that point outside.
    def edited(edit: Callable[[dict], None], grey_values=None) -> Callable[[], object]:
        def run():
            root = w.dataset_copy()
            manifest = json.loads((root / "manifest.json").read_text())
            edit(manifest)
            (root / "manifest.json").write_text(json.dumps(manifest))
            load_dataset(root, grey_values)
            w.outside_untouched()

        return run

    def sample0(**changes):
        return lambda m: m["samples"][0].update(changes)

    manifest_edits = {
        "file='../outside/secret.npy' (exists)": sample0(file="../outside/secret.npy"),
        "file='../outside/none.npy' (does not exist)": sample0(file="../outside/none.npy"),
        "file=<absolute path of an outside file>": sample0(file=str(w.secret)),
        "file='a/../../outside/secret.npy'": sample0(file="a/../../outside/secret.npy"),
        "file='C:\\\\x.npy'": sample0(file="C:\\x.npy"),
        "file=3": sample0(file=3),
        "file=''": sample0(file=""),
        "file=['a.npy']": sample0(file=["a.npy"]),
        "file='missing.npy'": sample0(file="missing.npy"),
        "am_wt='abc'": sample0(am_wt="abc"),
        "am_wt=NaN": sample0(am_wt=NAN),
        "am_wt=[0.9]": sample0(am_wt=[0.9]),
        "am_wt=true": sample0(am_wt=True),
        "porosity=0.9": sample0(porosity=0.9),
        "adhesion=-1": sample0(adhesion=-1),
        "porosity missing": lambda m: m["samples"][0].pop("porosity"),
        "voxel_size_m='abc'": sample0(voxel_size_m="abc"),
        "voxel_size_m=0.5 (not metres)": sample0(voxel_size_m=0.5),
        "voxel_size_m=NaN": sample0(voxel_size_m=NAN),
        "voxel_size_m=-1e-6": sample0(voxel_size_m=-1e-6),
        "split='test'": sample0(split="test"),
        "slice_normal_axis='x'": sample0(slice_normal_axis="x"),
        "slice_normal_axis=5": sample0(slice_normal_axis=5),
        "slice_normal_axis=0 on a 3-D file": sample0(slice_normal_axis=0),
        "shape=[5, 5, 5] (mismatch)": sample0(shape=[5, 5, 5]),
        "shape=7": sample0(shape=7),
        "a sample that is a string": lambda m: m["samples"].__setitem__(0, "a.npy"),
        "a sample listed twice": lambda m: m["samples"].append(dict(m["samples"][0])),
        "samples=[]": lambda m: m.update(samples=[]),
        "samples={}": lambda m: m.update(samples={}),
        "format missing": lambda m: m.pop("format"),
        "through_plane_axis=2": lambda m: m.update(through_plane_axis=2),
        "grey_values=[0, 85, 170] (not the files')": lambda m: m.update(grey_values=[0, 85, 170]),
        "source=[1]": lambda m: m.update(source=[1]),
    }
    for given, edit in manifest_edits.items():
        add("load_dataset", f"manifest.json {given}", edited(edit))

    def linked(target: Path) -> Callable[[], object]:
        def run():
            root = w.dataset_copy()
            (root / "link.npy").symlink_to(target)
            manifest = json.loads((root / "manifest.json").read_text())
            manifest["samples"][0]["file"] = "link.npy"
            (root / "manifest.json").write_text(json.dumps(manifest))
            load_dataset(root)
            w.outside_untouched()

        return run

    add("load_dataset", "a link to an outside file", linked(w.secret))
    add("load_dataset", "a dangling link to an outside path", linked(w.outside / "none.npy"))
    add("load_dataset", "a link to a file inside the dataset", linked(w.dataset / "a.npy"), "accepted")

    def raw_manifest(name: str, text: str | bytes) -> Callable[[], object]:
        def run():
            root = w.fresh("raw")
            root.mkdir()
            for sample in w.samples:
                np.save(root / sample.file, sample.volume)
            path = root / name
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
            load_dataset(root)
            w.outside_untouched()

        return run

    header = "file,am_wt,porosity,adhesion,voxel_size_m,split\n"
    for given, name, text in [
        ("manifest.json not JSON", "manifest.json", "{not json"),
        ("manifest.json a list", "manifest.json", "[1, 2]"),
        ("manifest.json binary", "manifest.json", b"\xff\xfe\x00garbage"),
        (
            "manifest.csv file='../outside/secret.npy'",
            "manifest.csv",
            header + "../outside/secret.npy,0.92,0.33,0.2,2e-6,train\n",
        ),
        ("manifest.csv absolute file", "manifest.csv", header + f"{w.secret},0.92,0.33,0.2,2e-6,train\n"),
        ("manifest.csv am_wt='abc'", "manifest.csv", header + "a.npy,abc,0.33,0.2,2e-6,train\n"),
        ("manifest.csv a short row", "manifest.csv", header + "a.npy,0.92\n"),
        ("manifest.csv binary", "manifest.csv", b"\xff\xfe\x00garbage"),
        ("manifest.csv header only", "manifest.csv", header),
    ]:
        add("load_dataset", given, raw_manifest(name, text))
    add("load_dataset", "a folder that does not exist", lambda: load_dataset(w.fresh("none")))
    add("load_dataset", "a folder without a manifest", lambda: load_dataset(w.outside))
    add("load_dataset", "a file instead of a folder", lambda: load_dataset(w.a_file))

    # write_dataset: names and destinations.
    def write(root: Path, samples, **kwargs):
        write_dataset(root, samples, **kwargs)
        w.outside_untouched()

    for name in ["../outside/escape.npy", str(w.outside / "escape.npy"), "sub/x.npy", "", ".."]:
        bad = [Sample(name, Labels(0.90, 0.30, 0.0), 2e-6, "train", w.samples[0].volume)]
        add("write_dataset", f"sample file {name!r}", lambda b=bad: write(w.fresh("wd"), b))
    add("write_dataset", "two samples with one file name", lambda: write(w.fresh("wd"), [w.samples[0]] * 2))
    add(
        "write_dataset",
        "force=True on a folder that is not a dataset",
        lambda: write(w.precious, w.samples, force=True),
    )
    add("write_dataset", "force=True on a file", lambda: write(w.a_file, w.samples, force=True))
    add("write_dataset", "an existing dataset without force", lambda: write(w.dataset, w.samples))
    add(
        "write_dataset",
        "force=True on a dataset",
        lambda: write(w.dataset_copy(), w.samples, force=True),
        "accepted",
    )

    # jaxmicro simulate.
    sim = ["simulate", "--voxel-size-m", "2e-6"]
    for given, extra in {
        "--size abc": ["--size", "abc"],
        "--size 4": ["--size", "4"],
        "--size -16": ["--size", "-16"],
        "--size 4096": ["--size", "4096"],
        "--size 1100 (1.3e9 voxels, 133 GB)": ["--size", "1100"],
        "--voxel-size-m nan": ["--size", "16", "--voxel-size-m", "nan"],
        "--voxel-size-m inf": ["--size", "16", "--voxel-size-m", "inf"],
        "--voxel-size-m -1": ["--size", "16", "--voxel-size-m", "-1"],
        "--mean-radius-m nan": ["--size", "16", "--mean-radius-m", "nan"],
        "--mean-radius-m 1 (1 m)": ["--size", "16", "--mean-radius-m", "1"],
        "--seed -1": ["--size", "16", "--seed", "-1"],
        "--seed 4294967296": ["--size", "16", "--seed", "4294967296"],
        "--seed 1.5": ["--size", "16", "--seed", "1.5"],
        "--format png": ["--size", "16", "--format", "png"],
    }.items():
        add("jaxmicro simulate", given, lambda e=extra: run_cli(*sim, "--out", str(w.fresh("sim")), *e))
    add(
        "jaxmicro simulate",
        "--out an existing dataset",
        lambda: run_cli(*sim, "--size", "16", "--out", str(w.dataset)),
    )
    add(
        "jaxmicro simulate",
        "--force --out a folder that is not a dataset",
        lambda: run_cli(*sim, "--size", "16", "--force", "--out", str(w.precious)),
    )
    add(
        "jaxmicro simulate",
        "--force --out a file",
        lambda: run_cli(*sim, "--size", "16", "--force", "--out", str(w.a_file)),
    )

    build_design_cases(w)
    build_generator_cases(w)
    build_record_cases(w)
    build_full_disk_cases(w)
    build_volume_cases(w)
    build_tortuosity_cases(w)
    build_generation_cases(w)
    build_misc_cases(w)


def build_volume_cases(w: World) -> None:
    """Volume files: headers declaring more than the file or the memory holds, grey values."""
    from unittest import mock

    import tifffile

    from jaxmicro import host_memory
    from jaxmicro.data import read_volume, write_volume

    volume = w.samples[0].volume

    def npy_header(shape, data: bytes) -> Path:
        path = w.fresh("h").with_suffix(".npy")
        with path.open("wb") as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": "|u1", "fortran_order": False, "shape": shape}
            )
            handle.write(data)
        return path

    add(
        "read_volume",
        ".npy header declaring 1e15 bytes, 64 stored",
        lambda: read_volume(npy_header((100_000,) * 3, bytes(64))),
    )
    add(
        "read_volume",
        ".npy header declaring a 4-D shape (8, 8, 8, 8) with its data",
        lambda: read_volume(npy_header((8, 8, 8, 8), bytes(8**4))),
    )
    add(
        "read_volume",
        ".npy header garbage",
        lambda: read_volume(_bytes_as(w, b"\x93NUMPY\x01\x00garbage", ".npy")),
    )

    def beyond_memory(suffix: str) -> Callable[[], object]:
        def run():
            path = w.fresh("big").with_suffix(suffix)
            if suffix == ".npy":
                np.save(path, np.zeros((64, 64, 64), np.uint8))
            else:  # 12 kB on disk, 262 kB in memory
                tifffile.imwrite(path, np.zeros((64, 64, 64), np.uint8), compression="zlib")
            with mock.patch.object(host_memory, "available_host_memory_bytes", lambda: 100_000):
                read_volume(path)

        return run

    add("read_volume", "a .npy larger than the memory available (patched to 100 kB)", beyond_memory(".npy"))
    add(
        "read_volume",
        "a compressed TIFF expanding beyond the memory available (patched to 100 kB)",
        beyond_memory(".tif"),
    )

    def grey_round_trip(sidecar: bool) -> Callable[[], object]:
        def run():
            path = write_volume(w.fresh("grey").with_suffix(".tif"), volume, (255, 128, 0), sidecar=sidecar)
            back = read_volume(path)
            if not np.array_equal(back, volume):
                raise Wrong(f"phases swapped: {np.mean(back != volume):.0%} of voxels differ")

        return run

    add(
        "read_volume",
        "a TIFF written with grey values (255, 128, 0), no sidecar",
        grey_round_trip(False),
        "accepted",
    )
    add(
        "read_volume",
        "a TIFF written with grey values (255, 128, 0), with sidecar",
        grey_round_trip(True),
        "accepted",
    )

    def contradicting():
        path = write_volume(w.fresh("grey").with_suffix(".tif"), volume, (255, 128, 0), sidecar=False)
        read_volume(path, (0, 128, 255))

    add("read_volume", "grey_values=(0, 128, 255) for a TIFF recording (255, 128, 0)", contradicting)


def build_tortuosity_cases(w: World) -> None:
    import jax.numpy as jnp

    from jaxmicro.characterise import tortuosity, tortuosity_from_field
    from jaxmicro.characterise.synthetic import gaussian_random_medium

    medium = gaussian_random_medium((16, 16, 16), 0.45, seed=5)
    mask = medium == 0

    def boolean_mask():
        result = tortuosity(mask)
        if abs(float(result.eps) - float(mask.mean())) > 1e-6:
            raise Wrong(f"eps {float(result.eps):.3f}, but the mask's True fraction is {mask.mean():.3f}")

    add("tortuosity", "a boolean pore mask (True conducts, as in TauFactor)", boolean_mask, "accepted")
    add("tortuosity", "a boolean mask with phase=0", lambda: tortuosity(mask, phase=0))
    add(
        "tortuosity",
        "a boolean mask with diffusivities={1: 1.0}",
        lambda: tortuosity(mask, diffusivities={1: 1.0}),
    )
    for contrast in (1e-9, 1e-12):
        add(
            "tortuosity",
            f"diffusivities={{PORE: 1, CBD: {contrast:g}}} (float32)",
            lambda c=contrast: tortuosity(medium, diffusivities={0: 1.0, 1: c}),
        )
    field = np.where(mask, 1.0, 1e-9).astype(np.float32)
    add(
        "tortuosity_from_field",
        "a field spanning 1 to 1e-9",
        lambda: tortuosity_from_field(jnp.asarray(field)),
    )

    def bench(*argv: str) -> Callable[[], object]:
        return lambda: run_cli(
            "bench", "--quick", "--stages", "tortuosity", "--out", str(w.fresh("b")), *argv
        )

    for value in ("nan", "-1", "inf", "-inf", "abc"):
        add("jaxmicro bench", f"--max-voxels {value}", bench(f"--max-voxels={value}"))
    add("jaxmicro bench", "--taufactor-max-voxels nan", bench("--taufactor-max-voxels=nan"))


def build_generation_cases(w: World) -> None:
    import dataclasses as dc

    from jaxmicro.data import load_dataset
    from jaxmicro.generator import generate, load_generator, validate_generator

    generator = load_generator(w.generator)
    label = [0.93, 0.36, 0.5]
    for seed in (2**32, -1, [0, 2**32 + 1], 1.5):
        add("generate", f"seed={seed!r}", lambda s=seed: generate(generator, label, (16, 16, 16), s))
    add("generate", "shape=(2048, 2048, 2048)", lambda: generate(generator, label, (2048,) * 3))
    gen = ["generate", "--checkpoint", str(w.generator), "--labels", "0.93,0.36,0.5"]
    for given, extra in {
        "--size 2048 (was SIGABRT inside XLA)": ["--size", "2048"],
        "--volume-size 4096": ["--volume-size", "4096"],
        "--seed 4294967296": ["--seed", "4294967296"],
        "--seed -1": ["--seed", "-1"],
        "--n 3 --seed 4294967294 (runs past 2**32)": [
            "--n",
            "3",
            "--seed",
            "4294967294",
            "--volume-size",
            "16",
        ],
    }.items():
        add(
            "jaxmicro generate",
            given,
            lambda e=extra: run_cli(*gen, *e, "--out", str(w.fresh("g").with_suffix(".tif"))),
        )

    def validate_other_voxel_size():
        other = dc.replace(generator, voxel_size_m=1.5e-6)
        validate_generator(other, load_dataset(w.dataset), seeds=1, progress=False)

    add("validate_generator", "a 1.5 um generator against a 2 um dataset", validate_other_voxel_size)


def build_misc_cases(w: World) -> None:
    import socket

    from jaxmicro.data import read_labels_csv
    from jaxmicro.design.sharding import initialize_distributed

    fixed = {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5}

    def labels_csv(text: str | bytes) -> Callable[[], object]:
        def run():
            path = w.fresh("labels").with_suffix(".csv")
            path.write_bytes(text if isinstance(text, bytes) else text.encode())
            read_labels_csv(path, fixed)

        return run

    for given, text in {
        "a value 'abc' on line 3": "am_wt,porosity\n0.93,0.3\n0.93,abc\n",
        "a short row": "am_wt,porosity\n0.93\n",
        "NaN": "am_wt,porosity\nnan,0.3\n",
        "inf": "am_wt,porosity\n0.93,inf\n",
        "a label out of range": "am_wt,porosity\n0.93,0.9\n",
        "an unknown column": "am_wt,wings\n0.93,1\n",
        "a column named twice": "am_wt,am_wt\n0.93,0.93\n",
        "header only": "am_wt,porosity\n",
        "binary": b"\xff\xfe\x00garbage\n\x00",
    }.items():
        add("read_labels_csv", given, labels_csv(text))

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    add(
        "initialize_distributed",
        "coordinator 127.0.0.1:<a closed port>, process 1 (was a wait, then SIGABRT)",
        lambda: initialize_distributed(f"127.0.0.1:{port}", 2, 1, timeout_s=2.0),
    )
    add(
        "initialize_distributed",
        "coordinator 'node0' (no port)",
        lambda: initialize_distributed("node0", 2, 1),
    )
    add(
        "initialize_distributed",
        "coordinator host that does not resolve",
        lambda: initialize_distributed("no-such-host.invalid:1234", 2, 1, timeout_s=2.0),
    )
    add(
        "initialize_distributed",
        "process 0 with the coordinator at another machine's address (192.0.2.1:1234)",
        lambda: initialize_distributed("192.0.2.1:1234", 2, 0, timeout_s=2.0),
    )
    add(
        "initialize_distributed",
        "process_id 2 of 2",
        lambda: initialize_distributed(f"127.0.0.1:{port}", 2, 2, timeout_s=2.0),
    )


def build_design_cases(w: World) -> None:
    from jaxmicro.design import Campaign, CampaignSettings, DesignObjective, DesignSettings, design_space
    from jaxmicro.generator import load_generator

    for given, kwargs in {
        "budget=0": {"budget": 0},
        "budget=-1": {"budget": -1},
        "budget=2.5": {"budget": 2.5},
        "budget=True": {"budget": True},
        "batch_size=0": {"batch_size": 0},
        "n_initial=0": {"n_initial": 0},
        "n_initial > budget": {"n_initial": 20, "budget": 4},
        "seed=-1": {"seed": -1},
        "seed=2**32": {"seed": 2**32},
        "seed=1.5": {"seed": 1.5},
        "acquisition='best'": {"acquisition": "best"},
    }.items():
        add("CampaignSettings", given, lambda k=kwargs: CampaignSettings(**k))

    generator = load_generator(w.generator)
    space = design_space(generator.label_ranges)
    objective = DesignObjective(generator, DesignSettings(volume_size=16, seeds_per_label=1))
    settings = CampaignSettings(budget=2, batch_size=2, n_initial=2)

    def campaign_with(state: str | None = None, log: str | None = None, resume: bool = True):
        def run():
            folder = w.fresh("campaign")
            folder.mkdir()
            header = {
                "type": "campaign",
                "space": space.to_dict(),
                "campaign": dataclasses.asdict(settings),
                "design": objective.settings.to_dict(),
            }
            (folder / "log.jsonl").write_text(json.dumps(header) + "\n" if log is None else log)
            if state is not None:
                (folder / "state.json").write_text(state)
            Campaign(objective, space, folder, settings, resume=resume, progress=False).run()

        return run

    add("Campaign.run", "state.json not JSON", campaign_with(state="{oops"))
    add("Campaign.run", "state.json a list", campaign_with(state="[1]"))
    add(
        "Campaign.run",
        "state.json without the optimiser",
        campaign_with(state=json.dumps({"format": "jaxmicro-campaign-state", "pending": None})),
    )
    add("Campaign.run", "state.json of another format", campaign_with(state=json.dumps({"format": "x"})))
    add(
        "Campaign.run",
        "log.jsonl with a corrupt middle line",
        campaign_with(log='{"type": "campaign"}\nnot json\n{}\n'),
    )
    add(
        "Campaign.run",
        "log.jsonl of another campaign",
        campaign_with(log='{"type": "campaign", "space": {}}\n'),
    )
    add("Campaign", "resume=False on an existing campaign", campaign_with(resume=False))
    add(
        "Campaign",
        "resume=True on an empty folder",
        lambda: Campaign(objective, space, w.fresh("none"), settings, resume=True, progress=False),
    )
    add(
        "Campaign",
        "out_dir is a file",
        lambda: Campaign(objective, space, w.a_file, settings, progress=False),
    )

    def second_writer():
        folder = w.fresh("campaign")
        with lock_held_elsewhere(folder):
            Campaign(objective, space, folder, settings, progress=False).run()

    add("Campaign.run", "a second writer on a running campaign", second_writer)

    design = [
        "design",
        "--checkpoint",
        str(w.generator),
        "--volume-size",
        "16",
        "--seeds-per-label",
        "1",
        "--no-progress",
    ]
    for given, extra in {
        "--budget 0": ["--budget", "0"],
        "--budget abc": ["--budget", "abc"],
        "--batch-size 0": ["--batch-size", "0"],
        "--n-initial 0": ["--n-initial", "0"],
        "--powers -5": ["--powers", "-5"],
        "--powers 0": ["--powers", "0"],
        "--powers 100,100": ["--powers", "100,100"],
        "--powers abc": ["--powers", "abc"],
        "--powers ''": ["--powers", ""],
        "--seed -1": ["--seed", "-1"],
        "--seed 4294967296": ["--seed", "4294967296"],
        "--optimise foo": ["--optimise", "foo"],
        "--volume-size 0 (ran at 64)": ["--volume-size", "0"],
        "--optimise two cell variables": ["--optimise", "porosity,am_loading_mg_cm2,cathode_thickness_um"],
        "--bounds am_loading_mg_cm2=30,10": ["--optimise", "porosity,am_loading_mg_cm2",
                                             "--bounds", "am_loading_mg_cm2=30,10"],
        "--bounds porosity": ["--bounds", "porosity"],
        "--max-seeds-per-label 1": ["--max-seeds-per-label", "1"],
        "--target-relative-error 0": ["--seeds-per-label", "2", "--max-seeds-per-label", "4",
                                      "--target-relative-error", "0"],
    }.items():
        add("jaxmicro design", given, lambda e=extra: run_cli(*design, "--out", str(w.fresh("design")), *e))
    add("jaxmicro design", "--out a file", lambda: run_cli(*design, "--out", str(w.a_file)))
    sensitivity = ["sensitivity", "--checkpoint", str(w.generator), "--volume-size", "16", "--quiet"]
    for given, extra in {
        "--labels 0.93,0.36": ["--labels", "0.93,0.36"],
        "--labels 0.99,0.36,0.5 (outside the trained range)": ["--labels", "0.99,0.36,0.5"],
        "--labels nan,0.36,0.5": ["--labels", "nan,0.36,0.5"],
        "--vary thickness": ["--vary", "thickness"],
        "--steps porosity=0": ["--steps", "porosity=0"],
        "--steps porosity=-0.01": ["--steps", "porosity=-0.01"],
        "--steps porosity": ["--steps", "porosity"],
        "--steps porosity=0.5 (both ways out)": ["--vary", "porosity", "--steps", "porosity=0.5"],
    }.items():
        add("jaxmicro sensitivity", given, lambda e=extra: run_cli(*sensitivity, *e))
    add(
        "jaxmicro design",
        "--resume with nothing to resume (documented: missing campaigns start)",
        lambda: run_cli(
            *design, "--budget", "2", "--n-initial", "2", "--out", str(w.fresh("design")), "--resume"
        ),
        "accepted",
    )
    add(
        "jaxmicro design",
        "--checkpoint a folder without a generator",
        lambda: run_cli("design", "--checkpoint", str(w.outside), "--out", str(w.fresh("design"))),
    )

    def damaged_checkpoint(edit: Callable[[dict], None]) -> Callable[[], object]:
        def run():
            copy = w.generator_copy()
            meta = json.loads((copy / "generator.json").read_text())
            edit(meta)
            (copy / "generator.json").write_text(json.dumps(meta))
            run_cli("design", "--checkpoint", str(copy), "--out", str(w.fresh("design")), "--no-progress")

        return run

    for given, edit in {
        "generator.json label range [NaN, NaN]": lambda m: m["label_ranges"].update(porosity=[NAN, NAN]),
        "generator.json label range reversed": lambda m: m["label_ranges"].update(porosity=[0.44, 0.28]),
        "generator.json label ranges missing": lambda m: m.pop("label_ranges"),
        "generator.json voxel_size_m NaN": lambda m: m.update(voxel_size_m=NAN),
        "generator.json voxel_size_m 'abc'": lambda m: m.update(voxel_size_m="abc"),
        "generator.json version 99": lambda m: m.update(version=99),
        "generator.json channels changed": lambda m: m["generator_config"].update(channels=[16, 8]),
        "generator.json unknown config field": lambda m: m["generator_config"].update(wings=2),
    }.items():
        add("jaxmicro design", f"--checkpoint with {given}", damaged_checkpoint(edit))

    def device_gpu():
        import jax

        if jax.default_backend() == "gpu":
            raise CliResult(0, "")  # a GPU is there: nothing to refuse
        env = os.environ | {"JAXMICRO_COMPILATION_CACHE": "0"}
        env.pop("JAX_PLATFORMS", None)
        command = [
            sys.executable,
            "-m",
            "jaxmicro.cli",
            *design,
            "--device",
            "gpu",
            "--out",
            str(w.fresh("design")),
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
        raise CliResult(done.returncode, done.stderr)

    add("jaxmicro design", "--device gpu on a machine without a GPU", device_gpu)

    def design_while_locked():
        out = w.fresh("design")
        with lock_held_elsewhere(out):
            run_cli(*design, "--out", str(out))

    add("jaxmicro design", "--out a study another process is running", design_while_locked)

    sweep = [
        "sweep",
        "--checkpoint",
        str(w.generator),
        "--volume-size",
        "16",
        "--seeds-per-label",
        "1",
        "--properties-only",
        "--no-progress",
    ]

    def labels_file(text: str) -> str:
        path = w.fresh("labels")
        path.write_text(text)
        return str(path)

    for given, extra in {
        "--labels a missing file": lambda: ["--labels", str(w.fresh("none"))],
        "--labels with a value 'abc'": lambda: ["--labels", labels_file("am_wt,porosity\nabc,0.3\n")],
        "--labels with an unknown column": lambda: ["--labels", labels_file("am_wt,wings\n0.9,1\n")],
        "--labels with a label out of range": lambda: ["--labels", labels_file("am_wt,porosity\n0.9,0.9\n")],
        "--labels with NaN": lambda: ["--labels", labels_file("am_wt,porosity\nnan,0.3\n")],
        "--labels header only": lambda: ["--labels", labels_file("am_wt,porosity\n")],
        "--grid 0": lambda: ["--grid", "0"],
        "--grid abc": lambda: ["--grid", "abc"],
        "--chunk-size 0": lambda: ["--chunk-size", "0"],
    }.items():
        add(
            "jaxmicro sweep",
            given,
            lambda e=extra: run_cli(*sweep, "--out", str(w.fresh("sweep") / "s.jsonl"), *e()),
        )
    add("jaxmicro sweep", "--out a folder", lambda: run_cli(*sweep, "--grid", "2", "--out", str(w.outside)))

    def sweep_while_locked():
        out = w.fresh("sweep")
        with lock_held_elsewhere(out, ".s.jsonl.lock"):
            run_cli(*sweep, "--grid", "2", "--out", str(out / "s.jsonl"))

    add("jaxmicro sweep", "--out a results file another process is writing", sweep_while_locked)


def build_generator_cases(w: World) -> None:
    from jaxmicro.generator import load_generator, preset

    tiny = preset("tiny")
    for field, value in [
        ("seed", -1),
        ("seed", 2**32),
        ("lr_critic", NAN),
        ("lr_generator", 0.0),
        ("lr_generator", -1e-4),
        ("stats_weight", NAN),
        ("gp_weight", -1.0),
        ("gp_weight", NAN),
        ("vf_weight", NAN),
        ("tau_weight", INF),
        ("aux_temperature", NAN),
        ("adam_b1", 1.0),
        ("adam_b2", -0.1),
        ("png_every", -1),
        ("steps", NAN),
        ("steps", 2.5),
        ("steps", 0),
        ("batch_volumes", True),
        ("checkpoint_every", 0),
        ("critic_channels", (8, 0)),
        ("stats_lags", (1.5,)),
    ]:
        add("TrainConfig", f"{field}={value!r}", lambda f=field, v=value: tiny.replace(**{f: v}))

    train = ["train", "--config", "tiny"]

    def on_data(*extra: str) -> Callable[[], list[str]]:
        return lambda: ["--data", str(w.dataset), "--out", str(w.fresh("run")), *extra]

    def from_data(data: Path) -> Callable[[], list[str]]:
        return lambda: ["--data", str(data), "--out", str(w.fresh("run"))]

    for given, extra in {
        "--data a missing folder": from_data(w.root / "none"),
        "--data a file": from_data(w.a_file),
        "--data a folder without a manifest": from_data(w.outside),
        "--config huge": on_data("--config", "huge"),
        "--steps abc": on_data("--steps", "abc"),
        "--steps 0": on_data("--steps", "0"),
        "--seed -1": on_data("--seed", "-1"),
        "--ema-decay 1": on_data("--ema-decay", "1"),
        "--stats-weight nan": on_data("--stats-weight", "nan"),
        "--out a file": lambda: ["--data", str(w.dataset), "--out", str(w.a_file)],
        "--resume with nothing to resume": on_data("--resume"),
        "--init-from a missing run": on_data("--init-from", str(w.root / "none")),
    }.items():
        add("jaxmicro train", given, lambda e=extra: run_cli(*train, *e()))

    def damaged_run_json(text: str) -> Callable[[], object]:
        def run():
            out = w.fresh("run")
            out.mkdir()
            (out / "run.json").write_text(text)
            run_cli(*train, "--data", str(w.dataset), "--out", str(out), "--resume")

        return run

    add("jaxmicro train", "--resume with run.json not JSON", damaged_run_json("{oops"))
    add("jaxmicro train", "--resume with run.json a list", damaged_run_json("[1]"))
    add("jaxmicro train", "--resume with run.json without train_config", damaged_run_json('{"format": "x"}'))

    def train_while_locked():
        out = w.fresh("run")
        with lock_held_elsewhere(out):
            run_cli(*train, "--data", str(w.dataset), "--out", str(out))

    add("jaxmicro train", "--out a run another process is training", train_while_locked)

    def load_damaged(edit: Callable[[Path], None]) -> Callable[[], object]:
        def run():
            copy = w.generator_copy()
            edit(copy)
            load_generator(copy)

        return run

    import shutil

    add("load_generator", "a missing folder", lambda: load_generator(w.fresh("none")))
    add(
        "load_generator",
        "generator.json not JSON",
        load_damaged(lambda p: (p / "generator.json").write_text("{")),
    )
    add(
        "load_generator",
        "generator.json a list",
        load_damaged(lambda p: (p / "generator.json").write_text("[]")),
    )
    add("load_generator", "params/ missing", load_damaged(lambda p: shutil.rmtree(p / "params")))


def build_record_cases(w: World) -> None:
    from jaxmicro._files import write_json_atomic
    from jaxmicro.design.records import append_record, read_records

    add("read_records", "a corrupt middle line", lambda: read_records(_text(w, '{"a": 1}\nnot json\n{}\n')))
    add("read_records", "a binary file", lambda: read_records(_bytes(w, b"\xff\xfe\n\x00\n")))
    add("append_record", "a path that is a folder", lambda: append_record(w.outside, {"a": 1}))
    add(
        "append_record",
        "an object that is not JSON",
        lambda: append_record(w.fresh("r.jsonl"), {"a": object()}),
    )
    add(
        "write_json_atomic",
        "into a file's place as folder",
        lambda: write_json_atomic(w.a_file / "x.json", {}),
    )


def build_full_disk_cases(w: World) -> None:
    """A full disk (ENOSPC from the writer) at each kind of write; nothing may be left behind."""
    import errno
    from unittest import mock

    from jaxmicro._files import write_json_atomic
    from jaxmicro.data import dataset as dataset_module
    from jaxmicro.data import write_dataset
    from jaxmicro.design.records import append_record

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    def short_write(*args, **kwargs):
        raise OSError("262144 requested and 32512 written")  # numpy's tofile on a full disk

    def clean_after(folder: Path, run: Callable[[], object]) -> Callable[[], object]:
        def checked():
            folder.mkdir(parents=True, exist_ok=True)
            before = sorted(p.name for p in folder.iterdir())
            try:
                run()
            finally:
                after = sorted(p.name for p in folder.iterdir())
                if after != before:
                    raise Litter(f"left {sorted(set(after) - set(before))}")

        return checked

    folder = w.fresh("disk")
    add(
        "write_json_atomic",
        "a full disk (fsync fails)",
        clean_after(
            folder, lambda: _patched(mock.patch("os.fsync", full), write_json_atomic, folder / "s.json", {})
        ),
    )
    log = folder / "l.jsonl"
    append_record(
        log, {"i": 0}
    )  # an existing log: the failed append may leave a part line (repaired on resume)
    add(
        "append_record",
        "a full disk (fsync fails)",
        clean_after(folder, lambda: _patched(mock.patch("os.fsync", full), append_record, log, {"i": 1})),
    )
    add(
        "write_dataset",
        "a full disk (the volume writer fails)",
        clean_after(
            folder,
            lambda: _patched(
                mock.patch.object(dataset_module, "write_volume", full),
                write_dataset,
                folder / "ds",
                w.samples,
            ),
        ),
    )
    add(
        "write_dataset",
        "a short write (numpy: '262144 requested and 32512 written')",
        clean_after(
            folder,
            lambda: _patched(
                mock.patch.object(dataset_module, "write_volume", short_write),
                write_dataset,
                folder / "ds",
                w.samples,
            ),
        ),
    )

    def figure():
        from jaxmicro.design import plots

        fig = plots._pyplot().figure()
        with mock.patch("matplotlib.figure.Figure.savefig", full):
            plots._save(fig, folder / "campaign.png")

    add("design figures", "a full disk (savefig fails)", clean_after(folder, figure))


def _patched(patch, function, *args):
    with patch:
        return function(*args)


def _text(w: World, text: str) -> Path:
    path = w.fresh("records")
    path.write_text(text)
    return path


def _bytes_as(w: World, data: bytes, suffix: str) -> Path:
    path = w.fresh("raw").with_suffix(suffix)
    path.write_bytes(data)
    return path


def _bytes(w: World, data: bytes) -> Path:
    path = w.fresh("records")
    path.write_bytes(data)
    return path


# --- running and judging --------------------------------------------------------------------


class Hung(BaseException):
    """Raised by the alarm: a case ran past TIMEOUT_S (not an Exception, so no case catches it,
    and not TimeoutError, which an entry point may raise itself as a documented error)."""


def _alarm(signum, frame):
    raise Hung


def judge(case: Case) -> Outcome:
    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        case.run()
        outcome, message = "accepted", ""
    except CliResult as result:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        errors = [line for line in lines if ": error: " in line]
        if "Traceback" in result.stderr or (result.code not in (0, 1) and not errors):
            outcome, message = "TRACEBACK", (lines[-1] if lines else f"exit {result.code}")
        elif result.code in (0, 1) and not errors:  # 1: ran, but no evaluation succeeded
            outcome, message = "accepted", f"exit {result.code}"
        elif len(errors) == 1 and lines[-1] == errors[0]:  # after argparse's usage or progress lines
            outcome, message = "one-line error", errors[0].split(": error: ", 1)[1]
        else:
            outcome, message = "TRACEBACK", " / ".join(lines)[-200:]
    except Hung:
        outcome, message = "HANG", f"over {TIMEOUT_S} s"
    except Escaped as error:
        outcome, message = "ESCAPE", str(error)
    except Litter as error:
        outcome, message = "LITTER", str(error)
    except Wrong as error:
        outcome, message = "SILENT", f"wrong answer: {error}"
    except DOCUMENTED as error:
        text = str(error)
        outcome = "one-line error" if text and "\n" not in text else "TRACEBACK"
        message = text
    except Exception as error:
        outcome, message = "TRACEBACK", f"{type(error).__name__}: {error}"
    finally:
        signal.alarm(0)
    if outcome == "accepted" and case.expect != "accepted":
        outcome = "SILENT"
    return Outcome(case, outcome, " ".join(message.split()), time.perf_counter() - start)


def table(outcomes: list[Outcome]) -> str:
    def cell(text: str, limit: int = 150) -> str:
        text = text if len(text) <= limit else text[: limit - 3] + "..."
        return text.replace("|", "\\|")

    rows = ["| # | entry point | input | outcome | message |", "|---|---|---|---|---|"]
    for number, o in enumerate(outcomes, start=1):
        rows.append(
            f"| {number} | `{o.case.entry}` | {cell(o.case.given, 80)} | {o.outcome} | {cell(o.message)} |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "reliability.md"), help="markdown file to write")
    parser.add_argument(
        "--only",
        default=None,
        help="run the cases whose entry point contains one of these comma-separated texts",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="jaxmicro-bad-inputs-") as folder:
        world = World(Path(folder))
        build_cases(world)
        only = None if args.only is None else [text for text in args.only.split(",") if text]
        cases = [c for c in CASES if only is None or any(text in c.entry for text in only)]
        outcomes = []
        for number, c in enumerate(cases, start=1):
            outcome = judge(c)
            outcome = dataclasses.replace(outcome, message=outcome.message.replace(folder, "<tmp>"))
            outcomes.append(outcome)
            print(
                f"{number:4d} {outcome.outcome:15s} {c.entry}: {c.given} -> {outcome.message[:120]}",
                flush=True,
            )
    counts = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    print(f"\n{len(outcomes)} cases in {time.perf_counter() - started:.0f} s: {summary}")
    if args.only is None:
        write_doc(Path(args.out), outcomes, summary)
    return 0 if all(o.outcome in ("one-line error", "accepted") for o in outcomes) else 1


INTRO = """# Reliability at the edges

What a run does when the machine or the user does something unexpected (issue 22). Measured by
the tests named below and by `experiments/bad_inputs.py`, which writes this file.

## Runs

* **One writer per run.** `jaxmicro design` (the study folder and each campaign folder),
  `jaxmicro sweep` (each results file: `.<name>.lock` beside it) and `jaxmicro train` (the run
  folder) hold an exclusive `fcntl.flock` on a lock file (`.jaxmicro.lock`, holding the writer's
  process id) for the whole run. A second writer is refused in one line naming the holder's pid:
  `runs/design is in use by another jaxmicro process (pid 4242); wait for it to finish, or stop
  it, or use another output folder`. The kernel releases the lock on any exit, SIGKILL included
  (`tests/test_reliability.py`, `tests/design/test_campaign.py`, `tests/design/test_sweep.py`,
  `tests/generator/test_train.py`, each with a second real process).
* **A full disk.** ENOSPC or a quota (or numpy's short write, `262144 requested and 32512
  written`) anywhere a run writes (log records, `state.json`, `summary.json`, figures,
  `optimum.tif`, `run.json`, `losses.csv`, checkpoints, the generator export, datasets) ends the
  command with one line, `no space left on device while writing PATH; free space and run again
  with --resume`, and no temporary file is left; what was logged stays resumable.
* **File modes.** Everything a run writes gets `0666 & ~umask` (files) or `0777 & ~umask`
  (folders), as `open` and `mkdir` give; the temporary files and staging folders behind atomic
  writes no longer leave `state.json`, `summary.json` or `generator/` at 0600/0700.
* **Stale temporaries.** Temporary files and staging folders are named `.<name>.<pid>.<random>`;
  `train`, `design` and every generator export remove those of dead processes (and the unnamed
  ones of older versions, `.generator.<random>/`, `.<name>.old`) when they start.
* **Atomic folder swaps.** A dataset or generator folder is replaced by one `renameat2`
  exchange where the file system supports it (Linux), so a kill leaves the old or the new folder,
  never neither. Figures, `run.json` and `losses.csv` are written to a temporary file and renamed.
* **Command-line errors.** `jaxmicro` reports errors caused by its inputs (bad options, bad or
  damaged files, a busy run, a full disk, a missing device) in one line, exit status 2;
  `JAXMICRO_TRACEBACK=1` shows the traceback.
* **Sizes before allocating.** `generate` (`jaxmicro generate --size 2048` aborted inside XLA;
  now "needs about 773 GB"), `read_volume` (a `.npy` header or TIFF series declaring more than
  the file holds or than the host's available memory, compressed TIFFs included), the
  tortuosity solver and the simulator estimate their memory and refuse with the estimate.
* **Inputs that gave a wrong answer without a word.** A boolean mask given to `tortuosity` now
  conducts where it is `True` (it solved its `False` voxels); a diffusivity contrast below what
  the dtype resolves is refused (it gave tau NaN); a TIFF records its grey values, so one
  written with non-default values no longer reads back with phases swapped, and grey values
  contradicting the file are refused; seeds outside `[0, 2**32)` are refused everywhere (they
  wrapped onto other seeds); `validate_generator` refuses a generator and a dataset of other
  voxel sizes; `TrainConfig` refuses NaN, negative and zero values when made.
* **No hang on an unreachable coordinator.** `design.sharding.initialize_distributed` waits for
  the coordinator's port at most `timeout_s` and says so in one line (JAX waited, then aborted
  the process).
* **Compiled code in long-lived processes.** XLA:CPU maps each compiled kernel's code, constants
  and data separately: 3 memory mappings per kernel, about 530 for one jitted `measure` of a
  16^3 batch, freed only when JAX drops the executable. A process that compiles thousands of
  distinct programs reaches Linux's `vm.max_map_count` (65530) and the next `mmap` fails inside
  XLA as a segmentation fault (the test suite's xdist workers did, intermittently, in stops
  45-47: the core dump held 65520 mappings). jaxmicro's own runs compile a bounded set (the GP
  pads to power-of-two sizes, one solve per volume shape); `tests/conftest.py` calls
  `jax.clear_caches()` once a worker holds half the limit. A script that sweeps many distinct
  shapes in one process should do the same between shapes.

"""


def write_doc(path: Path, outcomes: list[Outcome], summary: str) -> None:
    from jaxmicro._files import write_text_atomic

    body = (
        f"{INTRO}"
        "## Bad inputs at the data, design-run and training edges\n\n"
        "Generated by `experiments/bad_inputs.py` (do not edit by hand; rerun it). Each row feeds one "
        "malformed input to one entry point; outcomes: `one-line error` (refused with one line naming "
        "the input; subcommands exit with status 2), `accepted` (only where marked expected), and the "
        "failures the script looks for: `TRACEBACK`, `SILENT` (a wrong input accepted), `ESCAPE` "
        "(read or wrote outside the folder given), `HANG`, `LITTER` (a failed write left a temporary "
        "file).\n\n"
        f"**{len(outcomes)} cases: {summary}.**\n\n"
        f"{table(outcomes)}\n"
    )
    write_text_atomic(path, body)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
