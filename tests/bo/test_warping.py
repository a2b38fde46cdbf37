"""Input warping: the Kumaraswamy map, the warped GP's gradients, and what it buys on a cliff."""

import numpy as np
import pytest
import scipy.optimize

from jaxmicro.bo import Optimizer
from jaxmicro.bo.host_gp import (
    append,
    fit_map,
    joint_predict,
    neg_log_posterior,
    posterior,
    predict,
    prior_starts,
)
from jaxmicro.bo.warping import kumaraswamy

# (log lengthscale x2, log outputscale, log noise, mean, log a x2, log b x2)
THETA = np.array([np.log(0.3), np.log(0.5), 0.1, np.log(1e-3), 0.05, -0.7, 0.4, 0.3, -0.2])


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    y = np.sin(6.0 * x[:, 0]) + x[:, 1] ** 0.3
    return x, (y - y.mean()) / y.std(), 0.05 * rng.random(n)


def _cliff(x):
    """A flat top that collapses within a few hundredths near 0 (as porosity near 0.20)."""
    return 1.0 - np.exp(-x[:, 0] / 0.04)


def test_the_kumaraswamy_map_is_monotone_the_identity_at_one_and_its_derivatives_are_right():
    x = np.linspace(0.0, 1.0, 101)[:, None]
    identity = kumaraswamy(x, np.zeros(1), np.zeros(1))
    assert identity.z == pytest.approx(x, abs=1e-6)
    bent = kumaraswamy(x, np.array([-1.5]), np.array([0.7]))
    assert np.all(np.diff(bent.z[:, 0]) > 0) and 0.0 < bent.z[0, 0] and bent.z[-1, 0] < 1.0
    assert bent.z[10, 0] > 0.5  # a < 1 stretches the low end: 0.1 maps above the middle
    inner = x[1:-1]
    for name, step in (("dz_dx", lambda h: (inner + h, -1.5, 0.7)),
                       ("dz_dlog_a", lambda h: (inner, -1.5 + h, 0.7)),
                       ("dz_dlog_b", lambda h: (inner, -1.5, 0.7 + h))):  # fmt: skip
        plus, minus = (kumaraswamy(u, np.array([a]), np.array([b])).z
                       for u, a, b in (step(1e-6), step(-1e-6)))
        analytic = getattr(kumaraswamy(inner, np.array([-1.5]), np.array([0.7])), name)
        assert analytic == pytest.approx((plus - minus) / 2e-6, rel=1e-5, abs=1e-6), name


def test_the_warped_log_posterior_gradient_matches_finite_differences():
    x, y, known = _data()
    _, grad = neg_log_posterior(THETA, x, y, known_noise=known)
    numeric = scipy.optimize.approx_fprime(
        THETA, lambda t: neg_log_posterior(t, x, y, known_noise=known)[0], 1e-6)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)
    assert grad[5:] == pytest.approx(numeric[5:], rel=1e-4, abs=1e-5)  # the warping's own part
    # The identity warping is the plain GP (up to the inputs' 1e-7 squeeze).
    identity = np.concatenate([THETA[:5], np.zeros(4)])
    assert neg_log_posterior(identity, x, y, known_noise=known)[0] == pytest.approx(
        neg_log_posterior(THETA[:5], x, y, known_noise=known)[0], abs=1e-5)


def test_warped_predictions_their_gradients_and_updates_agree():
    x, y, known = _data()
    post = posterior(THETA, x, y, known_noise=known)
    q = np.random.default_rng(1).random((5, 2))
    mean, var, dmean, dvar = predict(post, q, grad=True)
    for k in range(2):
        step = np.zeros(2)
        step[k] = 1e-6
        (mp, vp), (mm, vm) = predict(post, q + step), predict(post, q - step)
        assert dmean[:, k] == pytest.approx((mp - mm) / 2e-6, rel=1e-5, abs=1e-6)
        assert dvar[:, k] == pytest.approx((vp - vm) / 2e-6, rel=1e-5, abs=1e-6)
    joint_mean, joint_cov = joint_predict(post, q)
    assert joint_mean == pytest.approx(mean, abs=1e-10)
    assert np.diagonal(joint_cov) == pytest.approx(var, rel=1e-8)
    grown = append(post, q[0], 0.3, 0.01)
    direct = posterior(THETA, np.vstack([x, q[:1]]), np.append(y, 0.3), known_noise=np.append(known, 0.01))
    assert predict(grown, q)[0] == pytest.approx(predict(direct, q)[0], abs=1e-9)


def test_on_a_cliff_the_warped_gp_fits_better_and_predicts_the_drop():
    x = np.concatenate([[0.0, 0.02], np.linspace(0.1, 1.0, 10)])[:, None]
    y = _cliff(x)
    mu, sd = y.mean(), y.std()
    q = np.array([[0.01], [0.04], [0.06]])
    errors, values = {}, {}
    for warped in (False, True):
        fit = fit_map(x, (y - mu) / sd, prior_starts(1, 5, np.random.default_rng(0), warped))
        values[warped] = fit.value
        errors[warped] = np.abs(mu + sd * predict(posterior(fit.theta, x, (y - mu) / sd), q)[0] - _cliff(q))
    # Measured: negative log posterior 16.2 plain, -9.8 warped; largest error 0.099 vs 0.005.
    assert values[True] < values[False] - 10.0
    assert errors[True].max() < 0.02 < 0.05 < errors[False].max()


def test_an_optimizer_with_input_warping_runs_saves_and_recommends():
    def f(x):
        return _cliff(x[:, :1]) - 0.3 * (x[:, 1] - 0.4) ** 2

    opt = Optimizer([(0.0, 1.0), (0.0, 1.0)], seed=3, n_initial=6, input_warping=True)
    for _ in range(4):
        x = opt.ask(2)
        opt.tell(x, f(x), noise_std=np.full(2, 0.01))
    assert len(opt._theta) == 3 * 2 + 3  # the warping's parameters were fitted
    again = Optimizer.from_dict(opt.to_dict())
    assert again.settings.input_warping and again._theta == pytest.approx(opt._theta)
    assert again.ask(1) == pytest.approx(opt.ask(1))  # a reloaded state continues identically
    found = opt.recommend()
    assert found is not None and found.mean > 0.8  # the top of the surface (max 1.0)
    with pytest.raises(ValueError, match="input_warping must be True or False"):
        Optimizer([(0.0, 1.0)], input_warping="yes")
