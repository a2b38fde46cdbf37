"""The box-constrained quasi-Newton minimiser and the Sobol points."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.bo import minimize_box, sobol_points


def test_minimize_box_finds_interior_and_bound_optima(x64):
    target = jnp.array([0.3, 1.7, -0.4])  # 2nd and 3rd coordinates lie outside the box

    def f(x):
        return jnp.sum((x - target) ** 2 * jnp.array([1.0, 10.0, 100.0]))

    res = jax.jit(lambda x0: minimize_box(f, x0, jnp.zeros(3), jnp.ones(3), maxiter=50))(jnp.full(3, 0.5))
    np.testing.assert_allclose(res.x, [0.3, 1.0, 0.0], atol=1e-7)


def test_minimize_box_rosenbrock_and_fixed_variable(x64):
    def rosen(x):
        return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    lo, hi = jnp.full(4, -2.0), jnp.full(4, 2.0)
    res = minimize_box(rosen, jnp.array([-1.2, 1.0, -0.5, 0.3]), lo, hi, maxiter=300, init_step=0.1)
    np.testing.assert_allclose(res.x, np.ones(4), atol=1e-4)
    # Degenerate box on coordinate 0: it must not move.
    res = minimize_box(rosen, jnp.array([0.5, 1.0, -0.5, 0.3]), lo.at[0].set(0.5), hi.at[0].set(0.5),
                       maxiter=100)
    assert float(res.x[0]) == 0.5
    assert float(res.value) < float(rosen(jnp.array([0.5, 1.0, -0.5, 0.3])))


def test_minimize_box_never_increases_and_survives_nan(x64):
    def f(x):  # NaN for x > 0.8: the line search must back off
        return jnp.where(x[0] > 0.8, jnp.nan, -x[0])

    res = jax.vmap(lambda x0: minimize_box(f, x0, jnp.zeros(1), jnp.ones(1), maxiter=30))(
        jnp.array([[0.1], [0.5]]))
    assert np.all(np.isfinite(np.asarray(res.value)))
    assert np.all(np.asarray(res.x) <= 0.8) and np.all(np.asarray(res.x) > 0.5)


def test_sobol_points_prefix_and_range():
    a = sobol_points(8, 3, seed=5)
    b = np.vstack([sobol_points(3, 3, seed=5), sobol_points(5, 3, seed=5, skip=3)])
    np.testing.assert_array_equal(a, b)
    assert a.shape == (8, 3) and (a >= 0).all() and (a < 1).all()
    assert not np.array_equal(a, sobol_points(8, 3, seed=6))
    # A scrambled Sobol 2^m design has one point in each of 2^m equal strata per dimension.
    assert sorted(np.floor(a[:, 0] * 8).astype(int).tolist()) == list(range(8))
    with pytest.raises(ValueError, match="d >= 1"):
        sobol_points(4, 0, seed=0)
