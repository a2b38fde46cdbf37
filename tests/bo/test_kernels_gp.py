"""GP surrogate: kernels, padding, fit, posterior."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

from jaxmicro.bo import (
    GPParams,
    bucket_size,
    condition,
    fit_gp,
    gp_posterior,
    log_marginal_likelihood,
    make_data,
    matern52,
    predict,
    rbf,
    robust_cholesky,
)
from jaxmicro.bo.gp import _neg_log_posterior, _param_bounds, _prior
from jaxmicro.bo.kernels import covariance


def _data(n=12, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, d))
    y = np.sin(5 * x[:, 0]) + np.cos(3 * x[:, 1:]).sum(1)
    return x, (y - y.mean()) / y.std()


def _params(d=2, noise=1e-4):
    return GPParams(jnp.full(d, 0.3), jnp.asarray(1.5), jnp.asarray(noise), jnp.asarray(0.1))


def test_kernels_match_closed_forms(x64):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(size=(5, 3)), rng.uniform(size=(4, 3))
    ls, s = np.array([0.2, 0.5, 1.0]), 1.7
    r = np.sqrt((((a[:, None] - b[None]) / ls) ** 2).sum(-1))
    m52 = s * (1 + np.sqrt(5) * r + 5 / 3 * r**2) * np.exp(-np.sqrt(5) * r)
    np.testing.assert_allclose(matern52(a, b, ls, s), m52, rtol=1e-12)
    np.testing.assert_allclose(rbf(a, b, ls, s), s * np.exp(-0.5 * r**2), rtol=1e-12)
    np.testing.assert_allclose(np.diag(matern52(a, a, ls, s)), s, rtol=1e-12)
    with pytest.raises(ValueError, match="unknown kernel"):
        covariance("cubic", a, b, ls, s)


def test_bucket_size_and_make_data_errors():
    assert [bucket_size(n) for n in (0, 1, 16, 17, 33, 100)] == [16, 16, 16, 32, 64, 128]
    with pytest.raises(ValueError, match="at least one observation"):
        make_data(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="shape"):
        make_data(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        make_data(np.zeros((2, 2)), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="n_pad"):
        make_data(np.zeros((5, 2)), np.zeros(5), n_pad=4)


def test_padding_changes_nothing(x64):
    x, y = _data()
    p = _params()
    small, big = make_data(x, y, n_pad=16), make_data(x, y, n_pad=64)
    assert float(log_marginal_likelihood(p, small)) == pytest.approx(float(log_marginal_likelihood(p, big)),
                                                                     rel=1e-10)
    q = np.random.default_rng(2).uniform(size=(7, 2))
    m1, v1 = predict(gp_posterior(p, small), q)
    m2, v2 = predict(gp_posterior(p, big), q)
    np.testing.assert_allclose(m1, m2, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(v1, v2, rtol=1e-9, atol=1e-12)


def test_posterior_matches_dense_formula(x64):
    x, y = _data()
    p = _params(noise=1e-3)
    q = np.vstack([x[:3], np.random.default_rng(3).uniform(size=(4, 2))])
    mean, var = predict(gp_posterior(p, make_data(x, y)), q)
    k = np.asarray(matern52(x, x, p.lengthscale, p.outputscale)) + 1e-3 * np.eye(len(x))
    ks = np.asarray(matern52(q, x, p.lengthscale, p.outputscale))
    ref_mean = 0.1 + ks @ np.linalg.solve(k, y - 0.1)
    ref_var = 1.5 - np.einsum("ij,ji->i", ks, np.linalg.solve(k, ks.T))
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(var, ref_var, rtol=1e-6, atol=1e-10)


def test_fit_interpolates_noiseless_data(x64):
    x, y = _data(n=15)
    data = make_data(x, y)
    params = fit_gp(data, jax.random.PRNGKey(0), 1e-6)
    mean, var = predict(gp_posterior(params, data), x)
    # Noiseless data: the MAP noise is small (the prior keeps it near 1e-3 with 15 points), the
    # mean nearly interpolates and the latent variance at training points is below the noise.
    assert float(params.noise) < 1e-2
    np.testing.assert_allclose(mean, y, atol=0.05)
    assert np.all(np.asarray(var) <= float(params.noise))
    # With the noise at its floor the GP interpolates exactly and the variance there vanishes.
    tiny = params._replace(noise=jnp.asarray(1e-8))
    mean, var = predict(gp_posterior(tiny, data), x)
    np.testing.assert_allclose(mean, y, atol=1e-5)
    assert np.all(np.asarray(var) <= 1e-8)
    far = predict(gp_posterior(params, data), np.array([[5.0, 5.0]]))[1]
    assert float(far[0]) == pytest.approx(float(params.outputscale), rel=1e-6)


def test_fit_reaches_the_scipy_lbfgsb_optimum(x64):
    x, y = _data(n=20, d=3, seed=4)
    y = y + 0.1 * np.random.default_rng(5).standard_normal(len(y))
    data = make_data(x, y)
    p = fit_gp(data, jax.random.PRNGKey(1), 1e-6, n_starts=4)
    theta = jnp.concatenate([jnp.log(p.lengthscale), jnp.log(jnp.stack([p.outputscale, p.noise])),
                             p.mean[None]])
    vg = jax.jit(jax.value_and_grad(lambda t: _neg_log_posterior(t, data, "matern52")))
    lo, hi = (np.asarray(b) for b in _param_bounds(3, jnp.asarray(1e-6)))
    loc, scale = _prior(3)

    def scipy_fit(start):
        fun = lambda t: tuple(np.asarray(v) for v in vg(jnp.asarray(t)))  # noqa: E731
        return scipy.optimize.minimize(fun, np.clip(start, lo, hi), jac=True, method="L-BFGS-B",
                                       bounds=list(zip(lo, hi, strict=True))).fun

    rng = np.random.default_rng(0)
    best = min(scipy_fit(loc + (s > 0) * scale * rng.normal(size=loc.shape)) for s in range(6))
    ours = float(_neg_log_posterior(theta, data, "matern52"))
    assert ours <= best + 1e-4 * max(1.0, abs(best))


def test_robust_cholesky_survives_duplicates(x64):
    x = np.repeat(np.random.default_rng(0).uniform(size=(4, 2)), 3, axis=0)
    # Repeated rows make the matrix singular; a tiny negative shift makes it indefinite.
    k = matern52(x, x, jnp.full(2, 0.3), jnp.asarray(1.0)) - 1e-10 * jnp.eye(12)
    assert not np.isfinite(np.asarray(jnp.linalg.cholesky(k))).all()
    chol = robust_cholesky(k)
    assert np.isfinite(np.asarray(chol)).all()
    np.testing.assert_allclose(chol @ chol.T, k, atol=1e-4)


def test_condition_equals_refit_posterior(x64):
    x, y = _data(n=10)
    p = _params()
    post = condition(gp_posterior(p, make_data(x, y, n_pad=16)), jnp.asarray([0.5, 0.5]), jnp.asarray(0.3))
    ref = gp_posterior(p, make_data(np.vstack([x, [[0.5, 0.5]]]), np.append(y, 0.3), n_pad=16))
    q = np.random.default_rng(6).uniform(size=(5, 2))
    np.testing.assert_allclose(predict(post, q)[0], predict(ref, q)[0], rtol=1e-9, atol=1e-12)
