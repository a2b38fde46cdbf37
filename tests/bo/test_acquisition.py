"""Acquisition functions: LogEI accuracy and stability, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from jaxmicro.bo import (
    GPParams,
    acquisition_fn,
    expected_improvement,
    gp_posterior,
    log_expected_improvement,
    log_h,
    make_data,
    upper_confidence_bound,
)


def test_logei_matches_log_of_closed_form_ei(x64):
    z = np.linspace(-30.0, 6.0, 721)
    mean, std, best = 0.3 + 0.7 * z, 0.7, 0.3
    ei = np.asarray(expected_improvement(mean, std, best))
    ref = std * (norm.pdf(z) + z * norm.cdf(z))  # scipy closed form
    np.testing.assert_allclose(ei, ref, rtol=1e-6, atol=1e-300)
    finite = ei > 1e-250
    assert finite.sum() > 600
    np.testing.assert_allclose(np.asarray(log_expected_improvement(mean, std, best))[finite],
                               np.log(ei[finite]), rtol=1e-7, atol=1e-9)


def test_logei_finite_where_ei_underflows(x64):
    z = np.array([-40.0, -100.0, -1e3, -1e6, -1e9])
    ei = np.asarray(expected_improvement(z, 1.0, 0.0))
    assert np.all(ei == 0.0)  # EI itself underflows
    lh = np.asarray(log_h(z))
    assert np.all(np.isfinite(lh))
    assert np.all(np.diff(lh) < 0)  # still ranks points: smaller z, smaller LogEI
    # Asymptote log h(z) ~ -z^2/2 - log(sqrt(2 pi)) - 2 log|z|
    np.testing.assert_allclose(lh[1:], -0.5 * z[1:] ** 2 - 0.5 * np.log(2 * np.pi) - 2 * np.log(-z[1:]),
                               rtol=1e-3)
    grads = np.asarray(jax.vmap(jax.grad(log_h))(jnp.asarray(np.concatenate([z, [-5.0, -1.0, 0.0, 3.0]]))))
    assert np.all(np.isfinite(grads)) and np.all(grads > 0)


def test_log_h_continuous_across_regimes(x64):
    for z0 in (-1.0, -1.0 / np.sqrt(np.finfo(np.float64).eps)):
        lo, hi = log_h(jnp.asarray(z0 * (1 + 1e-9))), log_h(jnp.asarray(z0 * (1 - 1e-9)))
        assert float(hi) == pytest.approx(float(lo), rel=1e-6)


def test_ucb():
    np.testing.assert_allclose(upper_confidence_bound(jnp.array([1.0]), jnp.array([2.0]), 4.0), [5.0])


@pytest.mark.parametrize("kind", ["logei", "ucb"])
def test_acquisition_gradient_matches_finite_differences(x64, kind):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(10, 3))
    y = np.sin(4 * x).sum(1)
    y = (y - y.mean()) / y.std()
    post = gp_posterior(GPParams(jnp.full(3, 0.4), jnp.asarray(1.0), jnp.asarray(1e-3), jnp.asarray(0.0)),
                        make_data(x, y))
    best = jnp.asarray(y.max())

    def f(p):
        return acquisition_fn(post, p[None], best, kind)[0]

    grad = jax.jit(jax.grad(f))
    h = 1e-6
    for p in rng.uniform(0.05, 0.95, size=(5, 3)):
        g = np.asarray(grad(jnp.asarray(p)))
        fd = np.array([(f(jnp.asarray(p + h * e)) - f(jnp.asarray(p - h * e))) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(g, fd, rtol=1e-4, atol=1e-6)
