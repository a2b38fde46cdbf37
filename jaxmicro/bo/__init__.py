"""Gaussian-process Bayesian optimisation in JAX (``docs/bo.md``).

The high-level entry point is the ask/tell :class:`Optimizer` (maximises by default; failed
evaluations are NaN; its whole state saves to JSON). It runs the GP on the host
(:mod:`jaxmicro.bo.host_gp`, :mod:`jaxmicro.bo.host_acq`: NumPy/SciPy, exact size, warm-started,
nothing to compile). The same model as pure, jittable JAX functions is exported too: kernels,
GP fit and posterior, acquisitions, acquisition optimisation and the box-constrained
quasi-Newton minimiser.
"""

from jaxmicro.bo.acqopt import Candidates, acquisition_fn, maximize_acquisition
from jaxmicro.bo.acquisition import (
    ACQUISITIONS,
    expected_improvement,
    log_expected_improvement,
    log_h,
    upper_confidence_bound,
)
from jaxmicro.bo.functions import (
    ACKLEY4,
    BRANIN,
    HARTMANN6,
    SHEKEL,
    TestFunction,
    ackley,
    branin,
    hartmann6,
    shekel,
)
from jaxmicro.bo.gp import (
    GPData,
    GPParams,
    GPPosterior,
    bucket_size,
    condition,
    fit_gp,
    gp_posterior,
    log_marginal_likelihood,
    make_data,
    predict,
    robust_cholesky,
)
from jaxmicro.bo.kernels import KERNELS, matern52, rbf
from jaxmicro.bo.optim import MinimizeResult, minimize_box
from jaxmicro.bo.optimizer import Best, Optimizer, Settings
from jaxmicro.bo.sobol import sobol_points

__all__ = [
    "ACKLEY4",
    "ACQUISITIONS",
    "BRANIN",
    "HARTMANN6",
    "KERNELS",
    "SHEKEL",
    "Best",
    "Candidates",
    "GPData",
    "GPParams",
    "GPPosterior",
    "MinimizeResult",
    "Optimizer",
    "Settings",
    "TestFunction",
    "ackley",
    "acquisition_fn",
    "branin",
    "bucket_size",
    "condition",
    "expected_improvement",
    "fit_gp",
    "gp_posterior",
    "hartmann6",
    "log_expected_improvement",
    "log_h",
    "log_marginal_likelihood",
    "make_data",
    "matern52",
    "maximize_acquisition",
    "minimize_box",
    "predict",
    "rbf",
    "robust_cholesky",
    "shekel",
    "sobol_points",
    "upper_confidence_bound",
]
