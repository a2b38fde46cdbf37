"""Host-side GP and acquisition (NumPy/SciPy, what the Optimizer runs): equal to the jitted model,
analytic gradients, warm-start fit, incremental Cholesky, acquisition maximisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from jaxmicro.bo import acquisition as jacq
from jaxmicro.bo import gp as jgp
from jaxmicro.bo import host_acq, host_gp


def _data(n=15, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, d))
    y = np.sin(5 * x[:, 0]) + np.cos(3 * x[:, 1:]).sum(1) + 0.05 * rng.standard_normal(n)
    return x, (y - y.mean()) / y.std()


def _theta(d=3, seed=1):
    rng = np.random.default_rng(seed)
    return np.concatenate([np.log(rng.uniform(0.1, 0.8, d)), [0.3, np.log(1e-3), 0.2]])


@pytest.mark.parametrize("kernel", ["matern52", "rbf"])
def test_neg_log_posterior_and_gradient_equal_the_jitted_model(x64, kernel):
    x, y = _data()
    theta = _theta()
    value, grad = host_gp.neg_log_posterior(theta, x, y, kernel)
    data = jgp.make_data(x, y, n_pad=32)  # padding must not matter either
    f = jax.value_and_grad(lambda t: jgp._neg_log_posterior(t, data, kernel))
    jvalue, jgrad = f(jnp.asarray(theta))
    np.testing.assert_allclose(value, float(jvalue), rtol=1e-10)
    np.testing.assert_allclose(grad, np.asarray(jgrad), rtol=1e-6, atol=1e-8)


def test_fit_map_reaches_the_jitted_fits_optimum(x64):
    x, y = _data(n=20)
    starts = host_gp.prior_starts(3, 3, np.random.default_rng(0))
    fit = host_gp.fit_map(x, y, starts)
    jparams = jgp.fit_gp(jgp.make_data(x, y), jax.random.PRNGKey(0), n_starts=8)
    jtheta = np.concatenate([np.log(np.asarray(jparams.lengthscale)),
                             np.log([float(jparams.outputscale), float(jparams.noise)]),
                             [float(jparams.mean)]])
    jvalue, _ = host_gp.neg_log_posterior(jtheta, x, y)
    assert fit.value <= jvalue + 1e-4
    # A warm start at the optimum stops almost at once and stays there.
    warm = host_gp.fit_map(x, y, fit.theta[None])
    assert warm.n_evaluations <= 5 and warm.value <= fit.value + 1e-9


def test_fit_map_rejects_bad_shapes():
    x, y = _data()
    with pytest.raises(ValueError, match="starts"):
        host_gp.fit_map(x, y, np.zeros((1, 2)))


def test_predict_equals_the_jitted_posterior_and_gradients_match_finite_differences(x64):
    x, y = _data()
    theta = _theta()
    post = host_gp.posterior(theta, x, y)
    d = x.shape[1]
    params = jgp.GPParams(jnp.exp(theta[:d]), jnp.exp(theta[d]), jnp.exp(theta[d + 1]),
                          jnp.asarray(theta[d + 2]))
    jpost = jgp.gp_posterior(params, jgp.make_data(x, y, n_pad=32))
    xq = np.random.default_rng(3).uniform(size=(7, d))
    xq[0] = x[4]  # at a training point
    mean, var, dmean, dvar = host_gp.predict(post, xq, grad=True)
    jmean, jvar = jgp.predict(jpost, jnp.asarray(xq))
    np.testing.assert_allclose(mean, np.asarray(jmean), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(var, np.asarray(jvar), rtol=1e-7, atol=1e-10)
    h = 1e-6
    for k in range(d):
        step = np.zeros(d)
        step[k] = h
        mp, vp = host_gp.predict(post, xq[1:] + step)
        mm, vm = host_gp.predict(post, xq[1:] - step)
        np.testing.assert_allclose(dmean[1:, k], (mp - mm) / (2 * h), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dvar[1:, k], (vp - vm) / (2 * h), rtol=1e-5, atol=1e-7)


def test_append_equals_refactorising_the_extended_data():
    x, y = _data()
    theta = _theta()
    post = host_gp.posterior(theta, x[:-2], y[:-2])
    post = host_gp.append(host_gp.append(post, x[-2], y[-2]), x[-1], y[-1])
    full = host_gp.posterior(theta, x, y)
    np.testing.assert_allclose(post.chol, full.chol, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(post.chol_inv, full.chol_inv, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(post.alpha, full.alpha, rtol=1e-8, atol=1e-10)


def test_log_h_and_slope_equal_jax_across_regimes(x64):
    z = np.array([3.0, 0.5, -0.99, -1.0, -1.01, -5.0, -40.0, -1e3, -1e6, -1e9])
    value, slope = host_acq.log_h(z)
    np.testing.assert_allclose(value, np.asarray(jacq.log_h(jnp.asarray(z))), rtol=1e-12)
    jslope = np.asarray(jax.vmap(jax.grad(jacq.log_h))(jnp.asarray(z)))
    ok = z > -1e3  # jax's own gradient loses accuracy further down; compare with the asymptote
    np.testing.assert_allclose(slope[ok], jslope[ok], rtol=1e-7)
    np.testing.assert_allclose(slope[~ok], -z[~ok], rtol=1e-5)
    assert np.isfinite(slope).all() and (slope > 0).all()


@pytest.mark.parametrize("kind", ["logei", "ucb", "mean"])
def test_acquisition_equals_jax_and_gradient_matches_finite_differences(x64, kind):
    x, y = _data()
    post = host_gp.posterior(_theta(), x, y)
    xq = np.random.default_rng(4).uniform(size=(6, 3))
    best_f = float(y.max())
    value, grad = host_acq.acquisition(kind, post, xq, best_f, 2.0, grad=True)
    mean, var = host_gp.predict(post, xq)
    jvalue = jacq.acquisition_value(kind, jnp.asarray(mean), jnp.asarray(var), best_f, 2.0)
    np.testing.assert_allclose(value, np.asarray(jvalue), rtol=1e-10)
    h = 1e-6
    for k in range(3):
        step = np.zeros(3)
        step[k] = h
        fd = (host_acq.acquisition(kind, post, xq + step, best_f)
              - host_acq.acquisition(kind, post, xq - step, best_f)) / (2 * h)
        np.testing.assert_allclose(grad[:, k], fd, rtol=1e-5, atol=1e-6)


def test_maximize_improves_on_raw_points_and_holds_fixed_dimensions():
    x, y = _data()
    post = host_gp.posterior(_theta(), x, y)
    raw = np.random.default_rng(5).uniform(size=(128, 3))
    lower, upper = np.zeros(3), np.ones(3)
    lower[2] = upper[2] = 0.25
    cands = host_acq.maximize("ucb", post, float(y.max()), raw, lower, upper, n_refine=4)
    assert cands.x.shape == (4, 3) and np.all(np.diff(cands.value) <= 0)
    assert np.all(cands.x[:, 2] == 0.25) and np.all((cands.x >= 0) & (cands.x <= 1))
    raw_best = host_acq.acquisition("ucb", post, np.clip(raw, lower, upper), float(y.max())).max()
    assert cands.value[0] > raw_best + 1e-6
    # The refined best is a local maximum: the projected gradient vanishes.
    def neg(v):
        return -host_acq.acquisition("ucb", post, np.r_[v, 0.25][None], float(y.max()))[0]

    res = scipy.optimize.minimize(neg, cands.x[0, :2], bounds=[(0, 1)] * 2, method="L-BFGS-B")
    assert -res.fun <= cands.value[0] + 1e-5
    with pytest.raises(ValueError, match="n_refine"):
        host_acq.maximize("ucb", post, 0.0, raw[:2], lower, upper, n_refine=4)
