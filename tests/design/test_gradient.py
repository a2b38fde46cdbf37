"""The objective's gradient by the chain rule (issue 23 items 2 and 3): each factor against
finite differences of what it differentiates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design import DesignObjective, DesignSettings, design_space
from jaxmicro.design.gradient import (
    CELL_INPUTS,
    cell_sensitivities,
    label_gradient,
    property_jacobian,
    soft_cell_inputs,
)

SIZE = 16
LABEL = np.array([0.93, 0.40, 0.5])


@pytest.fixture(scope="module")
def objective(toy):
    return DesignObjective(toy, DesignSettings(volume_size=SIZE, power_w_per_kg=100.0))


def test_property_jacobian_is_the_derivative_of_the_soft_measurement(objective):
    """Forward-mode autodiff through the generator and the implicit-differentiation solves
    equals central differences of the same soft measurement (unsharpened, T = 1, where it is
    smooth; the argmax rescaling is the identity when the 'hard' values are the soft ones)."""
    generator, settings = objective.generator, objective.settings
    measure_settings = settings.measure_settings(generator.voxel_size_m)

    def soft(label: np.ndarray) -> np.ndarray:
        unit = jnp.asarray(generator.unit_labels(label))
        keys = jnp.stack([jax.random.PRNGKey(s) for s in objective.seeds])
        inputs, _ = soft_cell_inputs(
            generator.params, generator.config, keys, unit, (SIZE,) * 3, measure_settings, 1.0, 1.0
        )
        return np.asarray(inputs, np.float64)

    values = soft(LABEL)
    jacobian = property_jacobian(
        objective, LABEL, values, temperature=1.0, electrolyte_temperatures={}, seeds=objective.seeds
    )
    steps = np.array([0.003, 0.01, 0.05])  # about 5 % of each label's range
    for k, step in enumerate(steps):
        shift = np.eye(3)[k] * step
        finite = (soft(LABEL + shift) - soft(LABEL - shift)) / (2 * step)
        for i, name in enumerate(CELL_INPUTS):
            scale = max(abs(finite[i]), 1e-3 * abs(values[i]) / step)  # entries that matter
            assert abs(jacobian[i, k] - finite[i]) < 0.1 * scale, (name, k, jacobian[i, k], finite[i])
    # The labels do move the inputs: porosity raises the electrolyte fraction, am_wt the AM.
    assert jacobian[CELL_INPUTS.index("electrolyte_fraction"), 1] > 0.5
    assert jacobian[CELL_INPUTS.index("am_volume_fraction"), 0] > 0


def test_electrolyte_temperature_per_direction_changes_only_its_column(objective):
    """A per-direction electrolyte temperature is that direction's column of a uniform run."""
    hard = np.ones(len(CELL_INPUTS))
    seeds = objective.seeds
    mixed = property_jacobian(
        objective, LABEL, hard, 0.5, electrolyte_temperatures={"am_wt": 0.2}, seeds=seeds
    )
    plain = property_jacobian(objective, LABEL, hard, 0.5, electrolyte_temperatures={}, seeds=seeds)
    uniform = dict.fromkeys(LABEL_FIELDS, 0.2)
    sharp = property_jacobian(objective, LABEL, hard, 0.5, electrolyte_temperatures=uniform, seeds=seeds)
    np.testing.assert_allclose(mixed[:, 0], sharp[:, 0], rtol=1e-6)
    np.testing.assert_allclose(mixed[:, 1:], plain[:, 1:], rtol=1e-6)
    tau = CELL_INPUTS.index("electrolyte_tau_through_plane")
    assert not np.isclose(sharp[tau, 0], plain[tau, 0], rtol=1e-3)


def test_cell_sensitivities_are_converged_in_the_step_and_physical(toy):
    """2 % and 1 % central steps agree: on the objective's change per 2 % of each input within
    5 % or 0.01 Wh/kg (the cell solve's own noise: at 100 W/kg the tortuosity moves the
    objective by 0.02 Wh/kg per 2 % and its derivative read -0.19 to -0.23 across steps)."""
    objective = DesignObjective(toy, DesignSettings(volume_size=SIZE, power_w_per_kg=300.0))
    evaluation = objective(LABEL[None], adaptive=False)[0]
    assert not evaluation.failed
    coarse = cell_sensitivities(objective, LABEL, evaluation.properties, relative_step=0.02)
    fine = cell_sensitivities(objective, LABEL, evaluation.properties, relative_step=0.01)
    inputs = np.array([evaluation.properties[name] for name in CELL_INPUTS])
    for i, name in enumerate(CELL_INPUTS):
        change_coarse, change_fine = 0.02 * inputs[i] * coarse[i], 0.02 * inputs[i] * fine[i]
        assert abs(change_coarse - change_fine) <= 0.05 * abs(change_fine) + 0.01, (name, coarse[i], fine[i])
    tau = CELL_INPUTS.index("electrolyte_tau_through_plane")
    assert coarse[tau] < 0  # a more tortuous electrolyte never helps at a fixed power
    # More reactive area lowers the kinetic overpotential (it scales the exchange current).
    assert coarse[CELL_INPUTS.index("am_electrolyte_area_per_volume_m")] > 0


def test_label_gradient_is_the_product_of_its_factors_and_refuses_outside_the_range(objective):
    result = label_gradient(objective, dict(zip(("am_wt", "porosity", "adhesion"), LABEL, strict=True)))
    np.testing.assert_allclose(result.gradient, result.cell_sensitivities @ result.property_jacobian)
    assert np.all(np.isfinite(result.gradient))
    assert result.per_step({"porosity": 0.01})["porosity"] == pytest.approx(0.01 * result.gradient[1])
    with pytest.raises(ValueError, match="trained range"):
        label_gradient(objective, {"am_wt": 0.99, "porosity": 0.36, "adhesion": 0.5})


@pytest.mark.slow
def test_chain_gradient_matches_whole_loop_differences_on_the_shipped_gan():
    """At three labels, 500 W/kg, 64^3 x 2 seeds: the chain-rule change per step vs common-seed
    central differences of the whole loop (generation, argmax measurement, cell), within two of
    the differences' seed standard errors plus 25 %."""
    from jaxmicro.design.sensitivity import point_and_sensitivities
    from jaxmicro.generator import load_shipped_generator

    generator = load_shipped_generator("gan")  # traceable: gradients, probabilities
    shipped = DesignObjective(generator, DesignSettings(power_w_per_kg=500.0))
    space = design_space(generator.label_ranges)
    labels = (
        {"am_wt": 0.93, "porosity": 0.36, "adhesion": 0.5},
        {"am_wt": 0.92, "porosity": 0.40, "adhesion": 0.5},
    )
    for label in labels:
        chain = label_gradient(shipped, label)
        _, differences = point_and_sensitivities(shipped, space, label)
        for difference in differences:
            predicted = chain.per_step({difference.name: difference.step})[difference.name]
            fd = difference.objective_per_step
            allowed = 2 * difference.objective_per_step_standard_error + 0.25 * abs(fd)
            assert abs(predicted - fd) <= allowed, (label, difference, predicted)


def test_the_soft_measurement_follows_a_generator_that_decodes_at_the_fractions(objective):
    """For ``decoding == "fractions"`` the soft inputs are measured on probabilities shifted to
    the label's fractions, so their electrolyte and AM fractions are the label's (the argmax
    toy's are not), and the Jacobian stays finite."""
    import dataclasses

    from jaxmicro.data.simulator import target_volume_fractions

    toy = objective.generator
    at_fractions = dataclasses.replace(toy, config=dataclasses.replace(toy.config, decoding="fractions"))
    settings = objective.settings.measure_settings(toy.voxel_size_m)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in objective.seeds])
    unit = jnp.asarray(toy.unit_labels(LABEL))
    target = np.asarray(target_volume_fractions(jnp.asarray(LABEL)))
    columns = [CELL_INPUTS.index("electrolyte_fraction"), CELL_INPUTS.index("am_volume_fraction")]
    plain, _ = soft_cell_inputs(toy.params, toy.config, keys, unit, (SIZE,) * 3, settings)
    shifted, _ = soft_cell_inputs(
        toy.params, at_fractions.config, keys, unit, (SIZE,) * 3, settings, fractions=jnp.asarray(target)
    )
    np.testing.assert_allclose(np.asarray(shifted)[columns], target[:2], atol=0.01)
    assert np.abs(np.asarray(plain)[columns] - target[:2]).max() > 0.03
    with pytest.raises(ValueError, match="phase fractions"):
        soft_cell_inputs(toy.params, at_fractions.config, keys, unit, (SIZE,) * 3, settings)
    shipped = DesignObjective(at_fractions, objective.settings)
    jacobian = property_jacobian(shipped, LABEL, np.asarray(shifted, np.float64), seeds=objective.seeds)
    assert np.all(np.isfinite(jacobian)) and jacobian[columns[0], 1] > 0.5
