"""The command line's persistent compilation cache: a second process loads what the first compiled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jaxmicro.compilation_cache import ENV_VAR, default_cache_dir, enable_compilation_cache

# A jitted function slow enough to compile (> MIN_COMPILE_TIME_S) to be stored: a tortuosity
# solve called on its own (no host callback inside the computation).
_SOLVE = textwrap.dedent(
    """
    import logging, sys
    from jaxmicro.compilation_cache import enable_compilation_cache
    print("cache", enable_compilation_cache())
    logging.basicConfig(level=logging.DEBUG, format="%(message)s", stream=sys.stdout)
    logging.getLogger("jax._src.compiler").setLevel(logging.DEBUG)
    import numpy as np
    from jaxmicro.characterise import tortuosity
    volume = (np.random.default_rng(0).random((24, 24, 24)) < 0.7).astype(np.uint8)
    print("tau", float(tortuosity(volume, 1, 0, conv_crit=1e-3).tau))
    """
)


def _run(env_value: str) -> str:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", ENV_VAR: env_value}
    done = subprocess.run([sys.executable, "-c", _SOLVE], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _tau(output: str) -> str:
    return next(line for line in output.splitlines() if line.startswith("tau "))


def test_a_second_process_loads_the_solve_from_the_cache_with_the_same_answer(tmp_path):
    first = _run(str(tmp_path))
    assert f"cache {tmp_path}" in first
    assert "Persistent compilation cache hit for 'jit__solve_batch'" not in first
    assert any(tmp_path.iterdir()), "nothing was written to the cache"
    second = _run(str(tmp_path))
    assert "Persistent compilation cache hit for 'jit__solve_batch'" in second
    assert _tau(second) == _tau(first)


def test_the_cache_is_off_when_the_variable_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "off")
    assert enable_compilation_cache() is None
    output = _run("0")
    assert "cache None" in output and "Persistent compilation cache hit" not in output


def test_default_directory_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == Path(tmp_path) / "jaxmicro" / "xla"


def test_an_unwritable_directory_warns_and_disables_the_cache(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(UserWarning, match="compilation cache disabled"):
        assert enable_compilation_cache(blocker / "xla") is None


def test_bad_size_is_a_clear_error():
    with pytest.raises(ValueError, match="max_bytes"):
        enable_compilation_cache(max_bytes=0)
