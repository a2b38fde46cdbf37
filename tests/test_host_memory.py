"""retain_freed_memory: repeat solves stop taking fresh pages from the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from jaxmicro.host_memory import retain_freed_memory

# A 96^3 solve has ~47 MB of XLA temporaries: above glibc's largest mmap threshold (32 MiB),
# so by default each call maps them afresh.
_STEADY_SOLVE_PAGE_FAULTS = textwrap.dedent(
    """
    import resource, sys
    if sys.argv[1] == "retain":
        from jaxmicro.host_memory import retain_freed_memory
        assert retain_freed_memory()
    import numpy as np
    from jaxmicro.characterise import tortuosity
    volume = (np.random.default_rng(0).random((96, 96, 96)) < 0.6).astype(np.uint8)
    faults = []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        float(tortuosity(volume, 1, 0, conv_crit=1e-2).tau)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    # The heap reaches its size over the first calls (under load, sometimes the third too):
    # the fewest faults of calls 3 to 5 is the steady state.
    print(min(faults[2:]))
    """
)


def _steady_solve_page_faults(mode: str) -> int:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _STEADY_SOLVE_PAGE_FAULTS, mode], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


@pytest.mark.slow  # measures the machine's malloc and page faults (two subprocesses, 10 solves)
def test_repeat_solves_reuse_freed_memory_instead_of_faulting_in_fresh_pages():
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc malloc settings: Linux only")
    default = _steady_solve_page_faults("default")
    if default < 2000:
        pytest.skip(f"this malloc already reuses the temporaries ({default} page faults per solve)")
    retained = _steady_solve_page_faults("retain")
    assert retained < 0.1 * default, (retained, default)


def test_bad_keep_bytes_is_a_clear_error():
    with pytest.raises(ValueError, match="keep_bytes"):
        retain_freed_memory(-1)
    with pytest.raises(ValueError, match="keep_bytes"):
        retain_freed_memory(2**40)
