"""Known per-point noise (heteroscedastic GP) and the recommendation with its error bars."""

import numpy as np
import pytest
import scipy.optimize

from jaxmicro.bo import Optimizer
from jaxmicro.bo.host_gp import append, fit_map, neg_log_posterior, posterior, predict, prior_starts


def _truth(x):
    return np.sin(6.0 * x[:, 0])


def _hetero_data(n=60, seed=0):
    """1-D data: noise sd 0.02 on the left half, 0.6 on the right (told per point)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 1))
    sd = np.where(x[:, 0] < 0.5, 0.02, 0.6)
    return x, _truth(x) + sd * rng.standard_normal(n), sd


def _fit(x, y, known):
    starts = prior_starts(1, 3, np.random.default_rng(0))
    theta = fit_map(x, y, starts, known_noise=known).theta
    return posterior(theta, x, y, known_noise=known)


def test_the_log_posterior_gradient_with_known_noise_matches_finite_differences():
    x, y, sd = _hetero_data(20)
    theta = np.array([-1.0, 0.2, -3.0, 0.1])
    value, grad = neg_log_posterior(theta, x, y, known_noise=sd**2)
    numeric = scipy.optimize.approx_fprime(theta, lambda t: neg_log_posterior(t, x, y, known_noise=sd**2)[0],
                                           1e-6)  # fmt: skip
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)
    # Known noise enters the likelihood: a different value than without it.
    assert abs(value - neg_log_posterior(theta, x, y)[0]) > 0.1


def test_appending_a_noisy_point_equals_conditioning_on_it():
    x, y, sd = _hetero_data(12)
    theta = np.array([-1.5, 0.0, -6.0, 0.0])
    grown = append(posterior(theta, x[:-1], y[:-1], known_noise=sd[:-1] ** 2), x[-1], y[-1], sd[-1] ** 2)
    full = posterior(theta, x, y, known_noise=sd**2)
    grid = np.linspace(0, 1, 9)[:, None]
    for a, b in zip(predict(grown, grid), predict(full, grid), strict=True):
        assert a == pytest.approx(b, rel=1e-8, abs=1e-10)


def test_told_noise_makes_the_gp_closer_to_the_truth_and_honest_about_where_it_is_unsure():
    x, y, sd = _hetero_data()
    hetero = _fit(x, y, sd**2)
    homo = _fit(x, y, None)
    grid = np.linspace(0.0, 1.0, 201)[:, None]
    quiet = grid[:, 0] < 0.45
    truth = _truth(grid[quiet])
    err = {name: np.sqrt(np.mean((predict(post, grid[quiet])[0] - truth) ** 2)) for name, post in
           (("hetero", hetero), ("homo", homo))}  # fmt: skip
    # Where the data are precise the told noise lets the GP follow them; one learned noise
    # (set by the noisy half) smooths them away. Measured on seeds 0-2: 0.012 vs 0.031-0.059.
    assert err["hetero"] < 0.5 * err["homo"]
    var = predict(hetero, grid)[1]
    assert np.mean(var[grid[:, 0] > 0.55]) > 5.0 * np.mean(var[grid[:, 0] < 0.45])


@pytest.mark.parametrize("bad", [[-0.1, 0.1], [np.inf, 0.1], [0.1]])
def test_bad_standard_errors_are_refused_in_one_line(bad):
    opt = Optimizer([(0.0, 1.0)], seed=0)
    with pytest.raises(ValueError, match="noise_std"):
        opt.tell([[0.2], [0.4]], [1.0, 2.0], bad)


def test_noise_is_kept_in_the_state_and_old_states_still_load():
    opt = Optimizer([(0.0, 1.0), (0.0, 1.0)], seed=1, n_initial=4)
    x = opt.ask(4)
    opt.tell(x, x.sum(axis=1), [0.1, None, np.nan, 0.3])
    assert opt.noise_std == pytest.approx([0.1, 0.0, 0.0, 0.3])
    state = opt.to_dict()
    again = Optimizer.from_dict(state)
    assert again.noise_std == pytest.approx(opt.noise_std)
    assert again.ask(1) == pytest.approx(opt.ask(1))
    del state["noise_std"]  # a state written before noisy observations
    assert Optimizer.from_dict(state).noise_std == pytest.approx(np.zeros(4))
    with pytest.raises(ValueError, match="noise_model"):
        Optimizer([(0.0, 1.0)], noise_model="robust")


def test_the_recommendation_is_the_best_posterior_mean_not_the_luckiest_sample():
    # A smooth bowl peaking at 0.5; the point at 0.9 drew a huge lucky value with a large told
    # standard error. The best sample is 0.9; the recommendation is the evaluated point nearest 0.5.
    x = np.linspace(0.0, 1.0, 11)[:, None]
    y = 1.0 - 4.0 * (x[:, 0] - 0.5) ** 2
    sd = np.full(11, 0.01)
    y[9], sd[9] = 3.0, 2.0
    opt = Optimizer([(0.0, 1.0)], seed=0)
    opt.tell(x, y, sd)
    assert opt.best.index == 9
    rec = opt.recommend()
    assert rec.index == 5 and rec.x == pytest.approx([0.5])
    assert rec.lower < 1.0 < rec.upper and rec.observed == pytest.approx(1.0)
    assert rec.on_edge == ()
    # The GP sees through the lucky draw (its precise neighbours pin the bowl there), and the
    # bowl's far ends are clearly worse too.
    assert rec.prob_better[9] < 1e-3 and rec.prob_better[0] < 1e-3 and rec.prob_other_better < 0.5
    assert np.isnan(rec.prob_better[5])
    # The region around the optimum is a neighbourhood of 0.5 (and the uncertain 0.9), not 0 or 1.
    assert rec.region[:, 0].min() > 0.2 and np.any(np.abs(rec.region[:, 0] - 0.5) < 0.05)


def test_an_optimum_on_a_bound_is_flagged_and_a_free_interior_one_is_not():
    opt = Optimizer([(0.0, 1.0), (0.0, 1.0)], seed=0, n_initial=6)
    rng = np.random.default_rng(0)
    for _ in range(7):
        x = opt.ask(2)
        # Increasing in x0 (optimum on its upper bound), peaked at 0.5 in x1.
        opt.tell(x, x[:, 0] - 4.0 * (x[:, 1] - 0.5) ** 2 + 0.01 * rng.standard_normal(2), [0.01, 0.01])
    rec = opt.recommend()
    assert (0, "upper") in rec.on_edge
    assert all(k != 1 for k, _ in rec.on_edge)
    fixed = Optimizer([(0.0, 1.0), (0.0, 1.0)], seed=0, fixed={0: 1.0})
    fixed.tell(opt.x[:4] * [0, 1] + [1, 0], [0.0, 0.1, 0.2, 0.3])
    assert all(k != 0 for k, _ in fixed.recommend().on_edge)  # a fixed label is never "on the edge"


def test_the_interval_covers_the_true_objective_in_most_seeded_campaigns():
    """20 campaigns on a 2-D bowl with noise sd 0.02-0.3 (told): the 95 % interval of the
    recommendation's noise-free value covers it in at least 16 (measured: 18)."""
    covered = 0
    for seed in range(20):
        opt = Optimizer([(0.0, 1.0), (0.0, 1.0)], seed=seed, n_initial=6, n_raw=128, maxiter=30)
        rng = np.random.default_rng(seed)
        for _ in range(5):
            x = opt.ask(2)
            sd = 0.02 + 0.28 * x[:, 0]
            f = -((x[:, 0] - 0.3) ** 2 + (x[:, 1] - 0.6) ** 2)
            opt.tell(x, f + sd * rng.standard_normal(2), sd)
        rec = opt.recommend()
        truth = -((rec.x[0] - 0.3) ** 2 + (rec.x[1] - 0.6) ** 2)
        covered += rec.lower <= truth <= rec.upper
    assert covered >= 16


def test_on_a_flat_top_another_label_is_likely_better_but_only_by_a_little():
    """Twelve near-tied labels (objective 200 +- 0.5 noise, told): some other label may well beat
    the recommendation (measured: P 0.29), yet by at most a fraction of the interval's width
    (measured: 0.54 against 1.54), and the bound scales with the objective's unit."""
    x = np.linspace(0.0, 1.0, 12)[:, None]
    noise = 0.5 * np.random.default_rng(3).standard_normal(12)
    recs = []
    for scale in (1.0, 100.0):
        opt = Optimizer([(0.0, 1.0)], seed=0)
        opt.tell(x, scale * (200.0 + noise), np.full(12, 0.5 * scale))
        recs.append(opt.recommend())
    rec, scaled = recs
    assert rec.prob_other_better > 0.15
    assert 0.0 < rec.max_shortfall < 0.5 * (rec.upper - rec.lower)
    assert scaled.max_shortfall == pytest.approx(100.0 * rec.max_shortfall, rel=1e-3)


def test_the_recommendation_prefers_the_label_the_data_pin_down_over_a_noisy_near_tie():
    """A plateau of precise labels and, at its end, one label read higher but with a large told
    standard error (a poorly connected electrode's scattered volumes): its posterior mean edges
    the plateau's, so the best-mean rule picks it; the default lower-bound rule picks a plateau
    label, whose 95 % lower bound is higher."""
    x = np.linspace(0.0, 1.0, 11)[:, None]
    y = np.full(11, 1.0)
    sd = np.full(11, 0.01)
    y[10], sd[10] = 1.3, 0.5
    opt = Optimizer([(0.0, 1.0)], seed=0)
    opt.tell(x, y, sd)
    by_mean = opt.recommend(rule="mean")
    by_bound = opt.recommend()
    assert by_mean.index == 10
    assert by_bound.index != 10 and by_bound.lower > by_mean.lower
    assert by_bound.mean > by_mean.mean - (by_mean.upper - by_mean.lower)  # a near tie, not a worse label
    with pytest.raises(ValueError, match="rule must be one of"):
        opt.recommend(rule="median")



def _common_seed_campaign(trial: int, n_seeds: int) -> tuple[Optimizer, np.ndarray]:
    """Labels on a smooth top measured with the same ``n_seeds`` seeds each (common random
    numbers): each seed's error is one offset for every label, plus a little independent noise.
    Returns the optimiser told the seed means and their standard errors, and the true values."""
    rng = np.random.default_rng(trial)
    x = np.linspace(0.0, 1.0, 12)[:, None]
    truth = 1.0 - (x[:, 0] - 0.5) ** 2
    seeds = truth + rng.normal(0.0, 0.1, size=(n_seeds, 1)) + rng.normal(0.0, 0.005, size=(n_seeds, 12))
    opt = Optimizer([(0.0, 1.0)], seed=0)
    opt.tell(x, seeds.mean(axis=0), seeds.std(axis=0, ddof=1) / np.sqrt(n_seeds))
    return opt, truth


def _missed(n_seeds: int, trials: int = 30) -> dict[bool, int]:
    missed = {False: 0, True: 0}
    for trial in range(trials):
        opt, truth = _common_seed_campaign(trial, n_seeds)
        for shared in (False, True):
            rec = opt.recommend(shared_noise=shared)
            missed[shared] += not rec.lower <= truth[rec.index] <= rec.upper
    return missed


def test_the_interval_keeps_the_seeds_error_that_neighbours_sharing_the_seeds_cannot_average_away():
    """Pooling 12 labels that share their seeds narrows the posterior below the seeds' error,
    which every label carries alike: the posterior-only interval misses the true value far more
    often than 5 %; with ``shared_noise`` it keeps the recommended label's own seed error. With 2
    seeds that error is itself a one-degree-of-freedom estimate, so the interval still misses
    often (why a campaign confirms its optimum on fresh seeds); with 8 it covers."""
    two, eight = _missed(2), _missed(8)
    # Measured (30 trials): 2 seeds 17 vs 9 misses, 8 seeds 5 vs 1.
    assert two[False] >= 12 and two[True] <= two[False] - 5
    assert eight[True] <= 3 and eight[False] > eight[True]
