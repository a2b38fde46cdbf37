"""Importing PyBaMM through jaxmicro leaves JAX's precision as it was."""

import subprocess
import sys


def test_import_pybamm_restores_jax_x64_flag():
    code = (
        "import jax\n"
        "from jaxmicro.cell.parameters import import_pybamm\n"
        "import_pybamm()\n"
        "assert not jax.config.jax_enable_x64, 'PyBaMM switched JAX to float64'\n"
        "import jax.numpy as jnp\n"
        "assert jax.random.normal(jax.random.PRNGKey(0), (2,)).dtype == jnp.float32\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
