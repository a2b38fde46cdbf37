"""What a release promises: declared dependencies, the licence, ``python -m jaxmicro``."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import jaxmicro
from jaxmicro.compilation_cache import enable_compilation_cache

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> dict[str, Requirement]:
    """The core dependencies of the installed jaxmicro (its metadata, not the checkout's file)."""
    requirements = [Requirement(r) for r in importlib.metadata.requires("jaxmicro") or []]
    return {r.name.lower(): r for r in requirements if r.marker is None}


def test_the_installed_metadata_declares_filelock_for_the_compilation_cache():
    # torch pulls filelock into the test environment, which would hide its absence from a
    # plain `pip install jaxmicro`; the declaration is what a fresh install gets.
    assert "filelock" in _declared()


def test_a_missing_filelock_disables_the_cache_with_one_clear_warning(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "filelock", None)  # `import filelock` raises ImportError
    with pytest.warns(UserWarning, match="filelock package is missing"):
        assert enable_compilation_cache(tmp_path / "xla") is None
    assert not (tmp_path / "xla").exists()


def test_jaxopt_is_neither_declared_nor_imported():
    assert "jaxopt" not in _declared()
    sources = [p for p in (ROOT / "jaxmicro").rglob("*.py")]
    importing = [p for p in sources if re.search(r"^\s*(import|from)\s+jaxopt\b", p.read_text(), re.M)]
    assert not importing, importing


def test_jax_floor_is_the_tested_version_and_has_top_level_shard_map():
    import jax

    floor = _declared()["jax"].specifier
    assert jax.__version__ in floor, f"the installed (tested) jax {jax.__version__} is outside {floor}"
    assert callable(jax.shard_map)


def test_licence_file_matches_the_project_metadata():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_python_dash_m_jaxmicro_runs_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "jaxmicro", "--help"], capture_output=True, text=True, check=True
    )
    assert "design" in done.stdout and "characterise" in done.stdout
    version = subprocess.run(
        [sys.executable, "-m", "jaxmicro", "--version"], capture_output=True, text=True, check=True
    )
    assert jaxmicro.__version__ in version.stdout


def _build_package(build_lib: Path) -> Path:
    """Runs the build hook (setup.py's build_py, as a wheel build does) into ``build_lib``."""
    pytest.importorskip("setuptools", minversion="77", reason="the build needs setuptools>=77")
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(build_lib)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return build_lib / "jaxmicro"


@pytest.mark.parametrize("name", ["stochastic", "gan"])
def test_the_build_hook_copies_each_shipped_generator_into_the_package(tmp_path, name):
    package = _build_package(tmp_path / "lib")
    source = ROOT / "checkpoints" / name
    shipped = package / "checkpoints" / name
    files = sorted(p.relative_to(source) for p in source.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file())
    for file in source.glob("*.json"):
        assert (shipped / file.name).read_bytes() == file.read_bytes()


def test_an_installed_package_finds_its_own_shipped_generators(tmp_path):
    package = _build_package(tmp_path / "lib")
    code = (
        "from jaxmicro.generator.shipped import shipped_checkpoint_path as p, load_default_generator as d; "
        "print(p()); print(p('gan')); print(type(d()).__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    default, gan, kind = done.stdout.split()
    assert Path(default) == package / "checkpoints" / "stochastic"
    assert Path(gan) == package / "checkpoints" / "gan"
    assert kind == "GeometryModel"
