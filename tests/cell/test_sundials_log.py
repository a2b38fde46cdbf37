"""SUNDIALS' per-step [ERROR] lines are not printed (the result says what failed), unless asked."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# A DAE whose algebraic root vanishes at t = 1: IDAS's corrector fails there, as it does on a
# cell at an infeasible step, and SUNDIALS logs the failure before the solver error is raised.
SCRIPT = """
from jaxmicro.cell.parameters import import_pybamm
pybamm = import_pybamm()
m = pybamm.BaseModel()
y, z = pybamm.Variable("y"), pybamm.Variable("z")
m.rhs = {y: z}
m.algebraic = {z: z**2 - (1 - pybamm.t)}
m.initial_conditions = {y: 0, z: 1}
m.variables = {"y": y}
try:
    pybamm.IDAKLUSolver().solve(m, [0, 2])
except pybamm.SolverError as error:
    print("solver error:", str(error)[:40])
"""


@pytest.mark.parametrize("log_to", [None, "/dev/stderr"])
def test_sundials_error_lines_are_silenced_unless_the_user_routes_them(log_to):
    env = {k: v for k, v in os.environ.items() if k != "SUNLOGGER_ERROR_FILENAME"}
    if log_to is not None:
        env["SUNLOGGER_ERROR_FILENAME"] = log_to
    command = [sys.executable, "-c", SCRIPT]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert "solver error: input set 0: IDA_CONV_FAIL" in done.stdout, done.stderr[-2000:]
    assert ("[ERROR]" in done.stderr) == (log_to is not None)
