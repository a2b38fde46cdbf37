"""The ask/tell Optimizer: convergence, bounds, fixed dimensions, failures, state, errors."""

import json

import numpy as np
import pytest

from jaxmicro.bo import BRANIN, Optimizer, fit_gp, maximize_acquisition


def _quadratic(x):
    """Maximum 1.0 at (0.3, 0.7) in the box [0, 1] x [0, 2]."""
    x = np.atleast_2d(x)
    return 1.0 - (x[:, 0] - 0.3) ** 2 - 0.5 * (x[:, 1] - 0.7) ** 2


BOX = [(0.0, 1.0), (0.0, 2.0)]


def _run(opt, fn, n, q=1):
    for _ in range(n):
        x = opt.ask(q)
        opt.tell(x, fn(x))
    return opt


def test_finds_branin_optimum_within_budget():
    regrets = []
    for seed in range(3):
        opt = Optimizer(bounds=BRANIN.bounds, seed=seed, n_initial=6)
        _run(opt, BRANIN.fn, 26)  # 6 Sobol + 20 BO evaluations
        regrets.append(BRANIN.f_max - opt.best.y)
        assert opt.best.y == pytest.approx(BRANIN.fn(opt.best.x)[0])
        assert opt.y[opt.best.index] == opt.best.y
    # Sobol search with the same 26 evaluations typically leaves a regret of 0.3 to 1.
    assert np.median(regrets) < 0.03 and max(regrets) < 0.3, regrets


def test_minimisation_mode():
    opt = Optimizer(bounds=BOX, seed=1, n_initial=5, maximize=False)
    _run(opt, lambda x: -_quadratic(x), 12)
    np.testing.assert_allclose(opt.best.x, [0.3, 0.7], atol=0.05)
    assert opt.best.y == pytest.approx(-1.0, abs=2e-3)


@pytest.mark.parametrize("acquisition", ["logei", "ucb"])
def test_proposals_respect_bounds_and_are_new(acquisition):
    # Optimum outside the box: the acquisition presses proposals onto the boundary.
    def fn(x):
        return x[:, 0] * 3 - x[:, 1]

    opt = Optimizer(bounds=[(-1.0, 1.0), (2.0, 3.0)], seed=2, n_initial=4, acquisition=acquisition)
    for _ in range(6):
        x = opt.ask(2)
        assert x.shape == (2, 2)
        assert np.all(x >= [-1.0, 2.0]) and np.all(x <= [1.0, 3.0])
        opt.tell(x, fn(x))
    xs = opt.x
    gaps = np.max(np.abs(xs[:, None] - xs[None]), -1) + np.eye(len(xs))
    assert gaps.min() > 1e-7  # never re-proposes an evaluated point
    assert np.isclose(opt.best.x[0], 1.0, atol=1e-3) and np.isclose(opt.best.x[1], 2.0, atol=1e-3)


def test_constant_objective_does_not_repeat_points():
    opt = Optimizer(bounds=BOX, seed=3, n_initial=3)
    _run(opt, lambda x: np.ones(len(x)), 8)
    xs = opt.x
    gaps = np.max(np.abs(xs[:, None] - xs[None]), -1) + np.eye(len(xs))
    assert gaps.min() > 1e-7


def test_fixed_dimensions_are_held_exactly():
    opt = Optimizer(bounds=[(0.90, 0.96), (0.28, 0.44), (1.0, 5.0)], seed=0, n_initial=4, fixed={2: 3.3})

    def fn(x):
        return -((x[:, 0] - 0.93) ** 2) - (x[:, 1] - 0.3) ** 2 - (x[:, 2] - 1.0) ** 2

    for _ in range(5):
        x = opt.ask(2)
        assert np.all(x[:, 2] == 3.3)
        assert np.all((x[:, :2] >= [0.90, 0.28]) & (x[:, :2] <= [0.96, 0.44]))
        opt.tell(x, fn(x))
    assert len(np.unique(opt.x[:, :2], axis=0)) == len(opt.x)  # the free dimensions do move


def test_batch_is_distinct_and_pending_is_tracked():
    opt = Optimizer(bounds=BOX, seed=4, n_initial=4)
    _run(opt, _quadratic, 1, q=4)
    x = opt.ask(3)
    assert len(opt.pending) == 3
    assert np.min(np.max(np.abs(x[:, None] - x[None]), -1) + np.eye(3)) > 1e-3
    x2 = opt.ask(2)  # pending points are not proposed again
    assert np.min(np.max(np.abs(x2[:, None] - x[None]), -1)) > 1e-3
    opt.tell(x[:2], _quadratic(x[:2]))
    assert len(opt.pending) == 3
    np.testing.assert_array_equal(opt.pending, np.vstack([x[2:], x2]))


def test_initial_design_spans_asks_and_is_deterministic():
    a = Optimizer(bounds=BOX, seed=5, n_initial=6)
    b = Optimizer(bounds=BOX, seed=5, n_initial=6)
    xa = np.vstack([a.ask(2), a.ask(4)])
    xb = b.ask(6)
    np.testing.assert_array_equal(xa, xb)
    a.tell(xa, _quadratic(xa))
    b.tell(xb, _quadratic(xb))
    np.testing.assert_array_equal(a.ask(2), b.ask(2))
    assert not np.array_equal(xa, Optimizer(bounds=BOX, seed=6).ask(6))


def test_save_load_gives_identical_next_proposals(tmp_path):
    opt = Optimizer(bounds=BOX, seed=7, n_initial=4, fixed={})
    _run(opt, _quadratic, 3, q=2)
    x = opt.ask(2)
    opt.tell(x[:1], [np.nan])  # a failure, and one point left pending
    path = tmp_path / "sub" / "bo.json"
    opt.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["bo.json"]  # no temporary file left
    state = json.loads(path.read_text())
    assert state["y"][-1] is None and len(state["pending"]) == 1
    loaded = Optimizer.load(path)
    assert repr(loaded) == repr(opt)
    np.testing.assert_array_equal(loaded.pending, opt.pending)
    for _ in range(2):
        a, b = opt.ask(2), loaded.ask(2)
        np.testing.assert_array_equal(a, b)
        opt.tell(a, _quadratic(a))
        loaded.tell(b, _quadratic(b))
    assert loaded.to_dict() == opt.to_dict()


def test_failures_are_kept_and_avoided():
    # Evaluations with x0 > 0.5 fail; the optimum of the feasible part is at x0 = 0.5.
    def fn(x):
        y = x[:, 0] + 0.2 * x[:, 1]
        return np.where(x[:, 0] > 0.5, np.nan, y)

    opt = Optimizer(bounds=BOX, seed=8, n_initial=6)
    _run(opt, fn, 20)
    failed = np.isnan(opt.y)
    assert len(opt.y) == 20 and failed.any()
    late = opt.x[12:, 0]
    assert np.mean(late > 0.5) <= 0.5  # mostly feasible once the failures are learnt
    assert opt.best.x[0] > 0.4 and np.isfinite(opt.best.y)


def test_all_failed_or_no_data_still_proposes():
    opt = Optimizer(bounds=BOX, seed=9, n_initial=2)
    assert opt.best is None
    x = opt.ask(3)
    opt.tell(x, [np.nan, np.inf, None])
    assert opt.best is None and np.isnan(opt.y).all()
    x2 = opt.ask(2)  # no successful data: continues the Sobol design
    assert x2.shape == (2, 2) and np.min(np.max(np.abs(x2[:, None] - x[None]), -1)) > 1e-6
    opt.tell(x2, [1.0, np.nan])
    assert opt.best.y == 1.0
    assert opt.ask(1).shape == (1, 2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bounds": [(1.0, 0.0)]}, "lower < upper"),
        ({"bounds": [(0.0, np.nan)]}, "lower < upper"),
        ({"bounds": [0.0, 1.0]}, "pairs"),
        ({"bounds": []}, "pairs"),
        ({"bounds": BOX, "fixed": {5: 0.1}}, "fixed dimension 5"),
        ({"bounds": BOX, "fixed": {0: 3.0}}, "outside its bounds"),
        ({"bounds": BOX, "fixed": {0: 0.1, 1: 0.2}}, "every dimension is fixed"),
        ({"bounds": BOX, "acquisition": "pi"}, "unknown acquisition"),
        ({"bounds": BOX, "kernel": "cubic"}, "unknown kernel"),
        ({"bounds": BOX, "n_initial": 0}, "n_initial"),
        ({"bounds": BOX, "n_restarts": 3}, "unknown option"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Optimizer(**kwargs)


def test_bad_ask_and_tell_raise(tmp_path):
    opt = Optimizer(bounds=BOX)
    for q in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="q must be an integer >= 1"):
            opt.ask(q)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        opt.tell(np.zeros((2, 3)), [0.0, 0.0])
    with pytest.raises(ValueError, match="y must have shape"):
        opt.tell(np.zeros((2, 2)), [0.0])
    with pytest.raises(ValueError, match="no observations"):
        opt.tell(np.zeros((0, 2)), [])
    with pytest.raises(ValueError, match="outside the bounds"):
        opt.tell([[0.5, 2.5]], [1.0])
    with pytest.raises(ValueError, match="finite"):
        opt.tell([[np.nan, 0.5]], [1.0])
    assert len(opt.y) == 0  # nothing half-recorded
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a jaxmicro-bo-optimizer state"):
        Optimizer.load(bad)


def test_asks_compile_nothing():
    # The Optimizer's GP and acquisition run on the host (NumPy/SciPy): no jitted program is
    # traced or compiled by asks, whatever the data size.
    import jax

    compiled = []

    def listener(event, _secs, **_):
        if "compile" in event:
            compiled.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    opt = Optimizer(bounds=BOX, seed=10, n_initial=3)
    before = (fit_gp._cache_size(), maximize_acquisition._cache_size())
    try:
        _run(opt, _quadratic, 13)
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert (fit_gp._cache_size(), maximize_acquisition._cache_size()) == before
    assert compiled == [] and len(opt.y) == 13


def test_tell_accepts_a_single_point():
    opt = Optimizer(bounds=BOX, seed=11)
    x = opt.ask(1)[0]
    opt.tell(x, 0.5)
    assert opt.best.y == 0.5 and opt.best.index == 0 and len(opt.pending) == 0


def test_state_round_trip_keeps_every_setting():
    opt = Optimizer(bounds=BOX, seed=3, n_initial=2, acquisition="ucb", kernel="rbf", fixed={1: 0.5},
                    maximize=False, beta=3.0, n_raw=64, n_refine=4, fit_starts=2, maxiter=20)
    opt.tell([[0.1, 0.5], [0.2, 0.5]], [1.0, np.nan])
    loaded = Optimizer.from_dict(json.loads(json.dumps(opt.to_dict())))
    assert loaded.settings == opt.settings
    assert loaded.settings.fixed == ((1, 0.5),) and loaded.settings.kernel == "rbf"
    np.testing.assert_array_equal(loaded.y, opt.y)


def test_warm_started_fits_resume_bit_identically(tmp_path):
    # Small thresholds so that both fit tracks (warm and exploring, with a restart) are used.
    opt = Optimizer(bounds=BOX, seed=12, n_initial=4, multistart_below=6, explore_restart_every=3,
                    explore_maxiter=4)
    _run(opt, _quadratic, 9)
    state = opt.to_dict()
    assert len(state["gp_theta"]) == 5 and len(state["gp_explore"]) == 5
    opt.save(tmp_path / "bo.json")
    loaded = Optimizer.load(tmp_path / "bo.json")
    for _ in range(4):
        a, b = opt.ask(1), loaded.ask(1)
        np.testing.assert_array_equal(a, b)
        opt.tell(a, _quadratic(a))
        loaded.tell(b, _quadratic(b))
    assert loaded.to_dict() == opt.to_dict()
    # A state written before the warm start (no gp_theta) still loads and proposes.
    old = {k: v for k, v in state.items() if k not in ("gp_theta", "gp_explore")}
    old["settings"] = {k: v for k, v in old["settings"].items()
                       if k not in ("multistart_below", "explore_maxiter", "explore_restart_every")}
    x = Optimizer.from_dict(old).ask(1)
    assert x.shape == (1, 2) and np.all((x >= 0) & (x <= [1, 2]))
