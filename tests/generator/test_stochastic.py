"""The fitted stochastic-geometry generator: drawing, fitting, regression, files, validation."""

import json

import jax
import numpy as np
import pytest

from jaxmicro.cli import main
from jaxmicro.data import SimulatorConfig, simulate
from jaxmicro.data.phases import AM, CBD, PORE
from jaxmicro.data.simulator import (
    GeometryParams,
    pack_spheroids,
    simulator_geometry,
    target_volume_fractions,
)
from jaxmicro.generator.stochastic import (
    FIT_VERSION,
    FitSettings,
    cbd_groups,
    fit_cbd,
    fit_dataset,
    fit_particles,
    fit_volume,
    load_geometry_model,
    neutral_geometry,
    particle_budget,
    particles,
    regress,
    save_geometry_model,
    simulator_model,
)
from jaxmicro.generator.stochastic import draw as draw_volume
from jaxmicro.generator.validate import validate_generator

VOXEL_M = 0.75e-6
LABEL = np.array([0.92, 0.35, 0.5])


def test_a_drawn_volume_has_its_labels_fractions_and_is_fixed_by_its_key():
    geometry = neutral_geometry(VOXEL_M)
    volume = draw_volume(jax.random.PRNGKey(0), LABEL, geometry, (24, 28, 32))
    assert volume.shape == (24, 28, 32) and volume.dtype == np.uint8
    expected = np.asarray(target_volume_fractions(LABEL.astype(np.float32)))
    measured = np.array([np.mean(volume == p) for p in (PORE, AM, CBD)])
    np.testing.assert_allclose(measured, expected, atol=2 / volume.size)
    np.testing.assert_array_equal(volume, draw_volume(jax.random.PRNGKey(0), LABEL, geometry, (24, 28, 32)))
    assert not np.array_equal(volume, draw_volume(jax.random.PRNGKey(1), LABEL, geometry, (24, 28, 32)))


def test_a_packing_computed_once_draws_the_same_volumes_for_any_cbd_placement():
    """The CBD stage's cache: the particle half reused gives the volume a fresh draw gives."""
    key, shape = jax.random.PRNGKey(4), (20, 24, 28)
    geometry = neutral_geometry(VOXEL_M)
    cached = particles(key, LABEL, geometry, shape)
    for cbd in ({}, {"film_share": 0.9, "neck_weight": 0.2}, {"agglomerate_length": 5.0, "film_share": 0.1}):
        other = geometry._replace(**cbd)
        np.testing.assert_array_equal(
            draw_volume(key, LABEL, other, shape, cached), draw_volume(key, LABEL, other, shape)
        )


@pytest.mark.parametrize("radius_voxels, precalender", [(2.7, 0.45), (6.0, 0.2), (13.0, 0.3)])
def test_the_particle_budget_holds_every_particle_the_loose_packing_needs(radius_voxels, precalender):
    """Unused slots are inactive; a budget too small would leave the packing short of AM."""
    geometry = neutral_geometry(VOXEL_M)._replace(
        log_median_radius=np.log(radius_voxels), radius_log_std=0.5, precalender_am_fraction=precalender
    )
    am = float(target_volume_fractions(np.float32([0.98, 0.2, 0.5]))[AM])
    shape = (32, 32, 32)
    budget = particle_budget(geometry, am, shape)
    geometry32 = GeometryParams(*(np.float32(v) for v in geometry))
    packing = pack_spheroids(jax.random.PRNGKey(3), np.float32(am), geometry32, shape, budget, 2)
    assert int(packing.active.sum()) < budget
    assert budget & (budget - 1) == 0  # a power of two


def test_the_regression_recovers_affine_laws_and_keeps_noisy_constants_constant():
    rng = np.random.default_rng(0)
    levels = ([0.85, 0.915, 0.98], [0.2, 0.3, 0.4, 0.5], [0.0, 0.5, 1.0])
    grid = np.stack(np.meshgrid(*levels), -1).reshape(-1, 3)
    truth = neutral_geometry(VOXEL_M)
    fits = [
        truth._replace(
            film_share=float(label[2]),
            neck_weight=0.5 + 0.02 * rng.standard_normal(),
            precalender_am_fraction=0.1 + 0.5 * float(label[1]),
        )
        for label in grid
    ]
    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}
    model = regress(grid, fits, ranges, VOXEL_M)
    assert model.kinds["neck_weight"] == "constant"
    assert model.kinds["film_share"] != "constant" and model.kinds["precalender_am_fraction"] != "constant"
    at = model.geometry(np.array([0.9, 0.45, 0.3]))
    assert at.film_share == pytest.approx(0.3, abs=1e-9)
    assert at.precalender_am_fraction == pytest.approx(0.325, abs=1e-9)
    assert at.neck_weight == pytest.approx(0.5, abs=0.02)
    # Outside the search bounds the law is clipped to them.
    assert model.geometry(np.array([0.9, 1.5, 0.3])).precalender_am_fraction == 0.45


def test_fits_shared_by_a_level_leave_the_regression_together():
    """One fit per adhesion level, each shared by the level's 12 volumes (as
    experiments/fit_cbd_moments.py writes them): left out one volume at a time, a quadratic
    through the three levels would predict every volume from its level's copies and win at
    zero error; left out a level at a time, two levels cannot fix a quadratic in the adhesion,
    and the affine law is chosen."""
    levels = ([0.85, 0.915, 0.98], [0.2, 0.3, 0.4, 0.5], [0.0, 0.5, 1.0])
    grid = np.stack(np.meshgrid(*levels), -1).reshape(-1, 3)
    share = {0.0: 0.01, 0.5: 0.53, 1.0: 0.97}  # affine in the adhesion within 0.03
    fits = [neutral_geometry(VOXEL_M)._replace(film_share=share[float(a)]) for a in grid[:, 2]]
    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}
    model = regress(grid, fits, ranges, VOXEL_M)
    assert model.kinds["film_share"] == "affine" and model.kinds["neck_weight"] == "constant"
    assert model.geometry(np.array([0.9, 0.3, 0.25])).film_share == pytest.approx(0.26, abs=0.01)


def test_a_parameter_a_volume_leaves_free_does_not_pull_the_regression():
    """The agglomerate length is pinned where the CBD is agglomerate (film share 0) and scattered
    where it is all film; the weighted regression keeps the pinned value."""
    rng = np.random.default_rng(1)
    levels = ([0.85, 0.915, 0.98], [0.2, 0.3, 0.4, 0.5], [0.0, 0.5, 1.0])
    grid = np.stack(np.meshgrid(*levels), -1).reshape(-1, 3)
    free = rng.uniform(0.5, 8.0, len(grid))
    fits = [
        neutral_geometry(VOXEL_M)._replace(film_share=float(a), agglomerate_length=2.0 + a**4 * (f - 2.0))
        for (_, _, a), f in zip(grid, free, strict=True)
    ]
    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}
    model = regress(grid, fits, ranges, VOXEL_M)
    assert abs(np.mean([f.agglomerate_length for f in fits]) - 2.0) > 0.5  # unweighted would miss
    for label in ([0.9, 0.3, 0.0], [0.95, 0.45, 0.0]):
        assert model.geometry(np.array(label)).agglomerate_length == pytest.approx(2.0, abs=0.05)


def test_the_fit_tells_small_particles_from_large_ones():
    """Two simulator volumes whose particles differ by 2x in radius: the fitted radii order."""
    radii = []
    for mean_radius_m in (2.5e-6, 5.0e-6):
        config = SimulatorConfig(shape=(32, 32, 32), voxel_size_m=VOXEL_M, mean_radius_m=mean_radius_m)
        volume = simulate(LABEL, config, seed=1)
        settings = FitSettings(particle_evaluations=12, population=0)
        geometry, losses = fit_volume(volume, LABEL, VOXEL_M, jax.random.PRNGKey(0), settings)
        assert np.isfinite(losses["particle"]) and np.isfinite(losses["cbd"])
        radii.append(np.exp(geometry.log_median_radius))
    truth = [np.exp(simulator_geometry(LABEL, SimulatorConfig(voxel_size_m=VOXEL_M, mean_radius_m=r))
                    .log_median_radius) for r in (2.5e-6, 5.0e-6)]  # fmt: skip
    assert radii[1] > 1.4 * radii[0], (radii, truth)


def test_one_particle_law_fitted_to_several_volumes_finds_the_simulators_radius():
    """Three simulator volumes at different labels share one powder: the shared fit's median
    radius is the simulator's within 15 % (the search range spans 5x; 6.1 against 6.5 voxels
    when written). At 32^3, 2.5 particle diameters across, the fit read 4.9."""
    config = SimulatorConfig(shape=(48, 48, 48), voxel_size_m=VOXEL_M)
    labels = [np.array(x) for x in ([0.9, 0.3, 0.0], [0.95, 0.45, 0.5], [0.88, 0.25, 1.0])]
    volumes = [simulate(label, config, seed=i) for i, label in enumerate(labels)]
    keys = [jax.random.PRNGKey(10 + i) for i in range(3)]
    law, loss = fit_particles(volumes, labels, VOXEL_M, keys, FitSettings(particle_evaluations=40), workers=2)
    truth = simulator_geometry(labels[0], config)
    assert np.isfinite(loss)
    pooled = FitSettings(particle_objective="pooled")
    with pytest.raises(ValueError, match="share one shape"):
        fit_particles([volumes[0], volumes[1][:40]], labels[:2], VOXEL_M, keys[:2], pooled)
    with pytest.raises(ValueError, match="particle_objective must be one of"):
        fit_particles(volumes, labels, VOXEL_M, keys, FitSettings(particle_objective="median"))
    assert np.exp(law.log_median_radius) == pytest.approx(np.exp(truth.log_median_radius), rel=0.15)


def test_the_cbd_fit_tells_films_from_agglomerates():
    """Adhesion 0 (all agglomerates) and 1 (all film) volumes of the simulator, the particle law
    given: the fitted film share is low for the first and high for the second."""
    config = SimulatorConfig(shape=(32, 32, 32), voxel_size_m=VOXEL_M)
    shares = []
    for adhesion in (0.0, 1.0):
        label = np.array([0.9, 0.35, adhesion])
        volume = simulate(label, config, seed=2)
        law = GeometryParams(*(float(v) for v in simulator_geometry(label, config)))
        settings = FitSettings(max_evaluations=10, population=2, generations=3)
        geometry, loss = fit_cbd([volume], [label], VOXEL_M, law, [jax.random.PRNGKey(5)], settings)
        assert np.isfinite(loss) and geometry.log_median_radius == law.log_median_radius
        shares.append(geometry.film_share)
    assert shares[0] < 0.35 and shares[1] > 0.65, shares


def test_a_model_file_round_trips_and_a_bad_one_is_one_line(tmp_path):
    grid = np.array([[0.85, 0.2, 0.0], [0.98, 0.5, 1.0], [0.9, 0.3, 0.5]])
    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.0, 1.0)}
    fits = [neutral_geometry(VOXEL_M)._replace(film_share=float(a)) for a in grid[:, 2]]
    model = regress(grid, fits, ranges, VOXEL_M, {"dataset": "x"}, kinds=("constant", "affine"))
    save_geometry_model(model, tmp_path / "m")
    assert load_geometry_model(tmp_path / "m") == model
    assert model.central_geometry().film_share == pytest.approx(0.5, abs=1e-6)  # the middle of adhesion 0-1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "geometry.json").write_text("{}")
    with pytest.raises(ValueError, match="not a readable stochastic-geometry generator"):
        load_geometry_model(tmp_path / "bad")


def test_a_fit_of_a_dataset_resumes_and_validates_like_a_generator(tiny_dataset, tmp_path, capsys):
    folder = tmp_path / "sg"
    with pytest.raises(ValueError, match="0 <= index < count"):
        fit_dataset(tiny_dataset, folder, shard=(2, 2), progress=False)
    settings = FitSettings(particle_evaluations=3, max_evaluations=3, population=1, generations=1,
                           cbd_pooling="adhesion")  # fmt: skip
    assert fit_dataset(tiny_dataset, folder, settings=settings, shard=(0, 2), progress=False) is None
    law = json.loads((folder / "particles.json").read_text())["geometry"]
    rows = (folder / "fits.jsonl").read_text().splitlines()
    # One CBD fit per adhesion level (3 here), groups 0 and 2 in this shard, a row per volume.
    labels = [s.labels.to_array() for s in tiny_dataset.train]
    groups = cbd_groups(labels, "adhesion")
    assert len(groups) == 3 and sorted(i for g in groups for i in g) == list(range(len(labels)))
    assert all(len({labels[i][2] for i in g}) == 1 for g in groups)
    assert [json.loads(r)["index"] for r in rows] == groups[0] + groups[2]
    assert len({json.dumps(json.loads(r)["geometry"]) for r in rows}) == 2  # one fit per group
    assert cbd_groups(labels, "volume") == [[i] for i in range(len(labels))]
    with pytest.raises(ValueError, match="cbd_pooling must be one of"):
        cbd_groups(labels, "label")
    assert json.loads(rows[0])["fit"]["version"] == FIT_VERSION  # another version's folder is refused
    with pytest.raises(ValueError, match="fit into a new folder"):
        fit_dataset(tiny_dataset, folder, settings=settings._replace(max_evaluations=4), progress=False)
    model = fit_dataset(tiny_dataset, folder, settings=settings, progress=False)
    assert model is not None and (folder / "geometry.json").is_file()
    lines = (folder / "fits.jsonl").read_text().splitlines()
    assert lines[: len(rows)] == rows and len(lines) == len(tiny_dataset.train)  # nothing refitted
    assert load_geometry_model(folder) == model
    # One particle law for every volume: the model's particle fields are that constant.
    assert model.kinds["log_median_radius"] == "constant"
    assert model.coefficients["log_median_radius"][0] == pytest.approx(law["log_median_radius"])
    # A given particle law (an earlier model's): only the CBD is fitted, the law kept exactly.
    given = GeometryParams(**law)._replace(particle_flattening=0.9)
    kept = fit_dataset(tiny_dataset, tmp_path / "given", settings=settings, progress=False,
                       particle_law=given)  # fmt: skip
    assert kept.coefficients["particle_flattening"][0] == pytest.approx(0.9)
    assert json.loads((tmp_path / "given" / "particles.json").read_text())["loss"] is None
    with pytest.raises(ValueError, match="fit into a new folder"):
        fit_dataset(tiny_dataset, tmp_path / "given", settings=settings, progress=False)

    report = validate_generator(model, tiny_dataset, seeds=1, progress=False)
    assert report.generated.shape[:2] == (len(tiny_dataset.heldout), 1)
    # Phases by rank: the generated fractions are the labels' (the first three metrics).
    assert np.all(report.relative_error[:, :3] < 1.0)
    assert report.morphology is not None and not any(n.startswith("grid") for n in report.morphology.names)
    with pytest.raises(ValueError, match="drop --decoding"):
        validate_generator(model, tiny_dataset, seeds=1, progress=False, decoding="argmax")
    assert main(["validate", "--checkpoint", str(folder), "--data", str(tiny_dataset.root), "--seeds", "1",
                 "--no-morphology"]) == 0  # fmt: skip
    assert "porosity" in capsys.readouterr().out

    out = tmp_path / "vol.npy"
    assert main(["generate", "--checkpoint", str(folder), "--labels", "0.93,0.36,0.5", "--size", "16",
                 "--n", "2", "--out", str(out)]) == 0  # fmt: skip
    a, b = (np.load(tmp_path / f"vol_seed{s}.npy") for s in (0, 1))
    assert a.shape == (16, 16, 16) and not np.array_equal(a, b)
    outside = ["generate", "--checkpoint", str(folder), "--labels", "0.93,0.55,0.5", "--out", str(out)]
    assert main(outside) != 0
    assert "outside the generator's trained range" in capsys.readouterr().err


def test_the_shipped_stochastic_generator_draws_distinct_particles_at_its_labels_fractions():
    from pathlib import Path

    from jaxmicro.characterise.morphology import morphology

    model = load_geometry_model(Path(__file__).parents[2] / "checkpoints" / "stochastic")
    label = np.array([0.915, 0.4, 0.5])
    volumes = model.sample(label, (32, 32, 32), [0, 1])
    expected = np.asarray(target_volume_fractions(label.astype(np.float32)))
    for volume in volumes:
        np.testing.assert_allclose([np.mean(volume == p) for p in (PORE, AM, CBD)], expected, atol=1e-4)
    # Particles of about the fitted radius: the mean AM chord is of the order of a diameter
    # (4/3 r for spheres), far above the 1-2 voxels of noise and below the box.
    counts = morphology(volumes, (AM,), ()).chord_counts[0].sum(axis=0)
    mean_chord = np.sum(np.arange(len(counts)) * counts) / counts.sum()
    radius = np.exp(model.geometry(label).log_median_radius)
    assert 0.6 * radius < mean_chord < 3 * radius


def test_the_simulator_as_a_model_has_the_simulators_geometry_at_every_label(tmp_path):
    config = SimulatorConfig(shape=(32, 32, 32), voxel_size_m=VOXEL_M)
    ranges = {"am_wt": (0.85, 0.98), "porosity": (0.2, 0.5), "adhesion": (0.2, 0.9)}
    model = simulator_model(config, ranges)
    for label in ([0.9, 0.3, 0.2], [0.97, 0.45, 0.55], [0.86, 0.22, 0.9]):
        expected = simulator_geometry(np.array(label), config)
        fitted = model.geometry(np.array(label))
        np.testing.assert_allclose(list(fitted), list(expected), rtol=1e-9, atol=1e-12)
    save_geometry_model(model, tmp_path)
    assert load_geometry_model(tmp_path) == model


def test_a_simulated_dataset_stands_for_its_simulator_as_a_generator(tiny_dataset, tmp_path, capsys):
    """``--checkpoint DATASET``: the simulator that made it draws at any label; an imaged
    dataset is refused in one line."""
    from jaxmicro.data import write_dataset
    from jaxmicro.data.simulated_dataset import dataset_simulator
    from jaxmicro.generator.stochastic import load_simulator_model

    model = load_simulator_model(tiny_dataset.root)
    config, _ = dataset_simulator(tiny_dataset)
    label = np.array([0.93, 0.36, 0.5])
    truth = simulator_geometry(label, config)
    np.testing.assert_allclose(list(model.geometry(label)), list(truth), atol=1e-12)
    out = tmp_path / "sim.npy"
    at_label = ["--labels", "0.93,0.36,0.5", "--out", str(out)]
    assert main(["generate", "--checkpoint", str(tiny_dataset.root), "--size", "16", *at_label]) == 0
    expected = np.asarray(target_volume_fractions(label.astype(np.float32)))
    np.testing.assert_allclose([np.mean(np.load(out) == p) for p in (PORE, AM, CBD)], expected, atol=1e-3)

    imaged = write_dataset(tmp_path / "imaged", tiny_dataset.samples[:2])
    assert main(["generate", "--checkpoint", str(imaged), *at_label]) != 0
    assert "not made by jaxmicro's simulator" in capsys.readouterr().err


def test_the_two_particle_objectives_agree_on_one_volume_and_pool_several():
    """The mean objective of one volume is the pooled objective of it (the same distances); for
    several volumes the two differ, and each is lowest near the simulator's own law, not at a
    radius 1.5x off."""
    import concurrent.futures

    from jaxmicro.generator.stochastic import _mean_objective, _pooled_objective

    config = SimulatorConfig(shape=(32, 32, 32), voxel_size_m=VOXEL_M)
    labels = [np.array(x) for x in ([0.9, 0.3, 0.0], [0.95, 0.45, 0.5])]
    volumes = [simulate(label, config, seed=i) for i, label in enumerate(labels)]
    keys = [jax.random.PRNGKey(20 + i) for i in range(2)]
    truth = GeometryParams(*(float(v) for v in simulator_geometry(labels[0], config)))
    large = truth._replace(log_median_radius=truth.log_median_radius + np.log(1.5))
    kinds = (_mean_objective, _pooled_objective)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        one = [f(volumes[:1], labels[:1], keys[:1], (AM,), 0, pool) for f in kinds]
        assert one[0](truth) == pytest.approx(one[1](truth), rel=1e-12)
        both = [f(volumes, labels, keys, (AM,), 0, pool) for f in kinds]
        values = [(objective(truth), objective(large)) for objective in both]
    assert values[0][0] != pytest.approx(values[1][0], rel=1e-6)
    assert all(at_truth < 0.5 * off for at_truth, off in values), values
