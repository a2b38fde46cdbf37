"""The gradient of the design objective with respect to the labels, by the chain rule through
the microstructure (issue 23 items 2 and 3).

``d objective / d label = sum_i (d objective / d x_i) (d x_i / d label)`` over the cell model's
measured inputs ``x`` (:data:`CELL_INPUTS`):

* **Cell sensitivities** ``d objective / d x_i`` (:func:`cell_sensitivities`): central
  differences of the PyBaMM cell on each measured input, the others held (the CBD fraction
  follows as ``1 - eps - am``, the cell model needs the three to sum to one). Central differences
  rather than IDAKLU forward sensitivities: the objective is energy to a voltage cut-off whose
  time moves with the inputs, and it takes 2 x 6 extra cells of about a second each.
* **Property Jacobian** ``d x / d label`` (:func:`property_jacobian`): forward-mode autodiff
  (``jax.jacfwd``) of the seed-averaged :func:`~jaxmicro.characterise.soft_measure` of the
  generator's probabilities, with the objective's own seeds (common random numbers), through
  the generator and the implicit-differentiation transport solves, in one jitted computation.
  The soft measurement reads a few percent off the argmax one (``docs/characterise.md``), so
  its *relative* derivative is applied to the argmax value: ``d x = x_argmax d log x_soft``.
  In the am_wt direction the electrolyte transport is sharpened further than the rest
  (:data:`ELECTROLYTE_TEMPERATURES`): at 0.1 its am_wt derivative read 1.9x the argmax one, at
  0.01 1.2x, while every other derivative agrees best near 0.1
  (``experiments/property_jacobian_check.py``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.characterise.measure import Measurement, MeasureSettings, average_over_seeds
from jaxmicro.characterise.soft import (
    ELECTROLYTE_GRADIENT_TEMPERATURE,
    SOFT_TEMPERATURE,
    shift_to_fractions,
    soft_measure,
)
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.data.phases import AM
from jaxmicro.design.objective import DesignObjective, Evaluation
from jaxmicro.generator import (
    GeneratorConfig,
    check_fractions,
    check_labels,
    decoding_fractions,
    generate_probabilities,
    latent_shape_for,
)

CELL_INPUTS: Final[tuple[str, ...]] = (
    "electrolyte_fraction",
    "am_volume_fraction",
    "electrolyte_tau_through_plane",
    "am_electrolyte_area_per_volume_m",
    "cbd_coverage",
    "solid_conductivity_s_m",
)
"""The measured properties the cell model takes, by their :func:`measurement_row` names (the
CBD solid fraction is ``1 - electrolyte - AM``)."""

ELECTROLYTE_TEMPERATURES: Final[dict[str, float]] = {"am_wt": ELECTROLYTE_GRADIENT_TEMPERATURE}
"""Per label direction, the electrolyte transport's sharpening temperature in the property
Jacobian (directions not named use the soft measurement's ``temperature``). Each direction is its
own forward-mode pass, so this costs nothing. Chosen against common-seed differences of the argmax
measurement and checked against the whole loop at 6 labels x powers, 8 seeds (docs/design.md):
in the am_wt direction T = 0.01 brings the chain within +1..+7 % (was +0..+28 % at 0.1); in the
porosity direction 0.1 is right (-8..+1 %; 0.01 gave -15..+14 %)."""

JACOBIAN_MIN_SEEDS: Final[int] = 8
"""Seeds of the property Jacobian at least (the objective's seeds first, then the next ones):
with the electrolyte sharpened to T = 0.01 its derivative lives on few near-tied voxels, and at
the loop's 2 seeds the am_wt chain read 1.6 against 6.7 +- 0.7 Wh/kg per +0.01 from the whole
loop at (0.93, 0.36, 0.5), 500 W/kg; at 8 seeds 5.5 against 5.2 +- 0.4 (docs/design.md)."""

CELL_RELATIVE_STEP: Final[float] = 0.02
"""Relative step of the central differences of the cell [-]: 2 % of each input (the cell
objective is smooth at that scale; ``tests/design/test_gradient.py`` compares 2 % and 1 %)."""


def _cell_input_vector(measurement: Measurement) -> jax.Array:
    """``(..., 6)`` :data:`CELL_INPUTS` of a (seed-averaged) measurement."""
    return jnp.stack(
        [
            measurement.electrolyte_fraction,
            measurement.volume_fraction[..., AM],
            measurement.electrolyte_tau_through_plane,
            measurement.am_electrolyte_area_per_volume_m,
            measurement.cbd_coverage,
            measurement.solid_conductivity_s_m,
        ],
        axis=-1,
    )


@partial(
    jax.jit, static_argnames=("config", "shape", "settings", "temperature", "electrolyte_temperature")
)
def soft_cell_inputs(
    params: Any,
    config: GeneratorConfig,
    keys: jax.Array,
    label_unit: jax.Array,
    shape: tuple[int, int, int],
    settings: MeasureSettings,
    temperature: float = SOFT_TEMPERATURE,
    electrolyte_temperature: float | None = None,
    fractions: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """:data:`CELL_INPUTS` of one label from the soft measurement, seed-averaged and per seed.

    Args:
        params, config: the generator.
        keys: ``(s, 2)`` PRNG keys of the seeds (as the objective's).
        label_unit: ``(3,)`` label as the network takes it (``Generator.unit_labels``).
        shape: volume shape [voxels] (static).
        settings: how to measure (static).
        temperature: the soft measurement's sharpening temperature (static).
        electrolyte_temperature: that of its electrolyte transport (static; None:
            ``temperature``).
        fractions: ``(3,)`` the label's phase fractions, for a generator that decodes at them
            (``config.decoding == "fractions"``): the probabilities are then shifted so that
            their argmax is that decoding (:func:`~jaxmicro.characterise.soft.shift_to_fractions`;
            the shift carries no gradient, so d/d label is the network's at a fixed shift).

    Returns:
        ``(6,)`` seed-averaged (transport as a conductance, :func:`average_over_seeds`) and
        ``(s, 6)`` per-seed values, float32, differentiable in ``label_unit``.
    """
    latent = latent_shape_for(config, shape, periodic=False)
    probabilities = jax.vmap(generate_probabilities, in_axes=(None, None, 0, None, None, None))(
        params, config, keys, label_unit[None], latent, shape
    )[:, 0]
    if check_fractions(config, fractions):
        probabilities = jax.vmap(shift_to_fractions, in_axes=(0, None))(probabilities, fractions)
    measured = soft_measure(probabilities, settings, temperature, electrolyte_temperature)
    return _cell_input_vector(average_over_seeds(measured)), _cell_input_vector(measured)


@dataclasses.dataclass(frozen=True)
class LabelGradient:
    """The objective's gradient at a label, and its parts.

    Attributes:
        labels: the label ``{field: value}``.
        evaluation: the objective's evaluation there (seed-averaged cell, seed standard error).
        cell_inputs: ``(6,)`` measured :data:`CELL_INPUTS` (argmax measurement, seed-averaged).
        cell_sensitivities: ``(6,)`` d objective / d input [objective's unit per input's unit].
        property_jacobian: ``(6, 3)`` d input / d label [input's unit per label unit].
        gradient: ``(3,)`` d objective / d label [objective's unit per label unit].
        gradient_standard_error: ``(3,)`` its standard error over the property Jacobian's
            generator seeds: the chain taken with each seed's own soft derivative,
            ``sd / sqrt(s)`` [as ``gradient``]; the cell sensitivities are one deterministic
            factor (the seed-averaged row's), so their share of the error is not in it.
    """

    labels: dict[str, float]
    evaluation: Evaluation
    cell_inputs: np.ndarray
    cell_sensitivities: np.ndarray
    property_jacobian: np.ndarray
    gradient: np.ndarray
    gradient_standard_error: np.ndarray

    def per_step(self, steps: dict[str, float]) -> dict[str, float]:
        """The objective's change per ``+step`` of each label (first order)."""
        gradient = dict(zip(LABEL_FIELDS, self.gradient.tolist(), strict=True))
        return {name: gradient[name] * step for name, step in steps.items()}


def _row_with(row: dict[str, Any], name: str, value: float) -> dict[str, Any]:
    changed = {**row, name: value}
    changed["cbd_solid_fraction"] = 1.0 - changed["electrolyte_fraction"] - changed["am_volume_fraction"]
    return changed


def cell_sensitivities(
    objective: DesignObjective,
    label: np.ndarray,
    row: dict[str, Any],
    relative_step: float = CELL_RELATIVE_STEP,
) -> np.ndarray:
    """``(6,)`` d objective / d :data:`CELL_INPUTS` at a measured row, by central differences of
    the cell (12 cell simulations; an input that was not measured, NaN, gets 0).

    Raises:
        ValueError: a perturbed cell failed (the row lies at the edge of what the cell accepts).
    """
    rows, which = [], []
    for i, name in enumerate(CELL_INPUTS):
        value = float(row[name])
        if not math.isfinite(value) or value == 0:
            continue
        step = relative_step * abs(value)
        rows += [_row_with(row, name, value + step), _row_with(row, name, value - step)]
        which.append((i, 2 * step))
    labels = np.repeat(np.asarray(label, np.float64)[None], len(rows), axis=0)
    evaluations = objective.evaluate_measured(labels, rows)
    gradient = np.zeros(len(CELL_INPUTS))
    for k, (i, span) in enumerate(which):
        up, down = evaluations[2 * k], evaluations[2 * k + 1]
        if up.failed or down.failed:
            raise ValueError(
                f"the cell failed with {CELL_INPUTS[i]} changed by {100 * relative_step:g} % "
                f"({up.reason or down.reason}); no gradient at this label"
            )
        gradient[i] = (up.objective - down.objective) / span
    return gradient


def property_jacobian(
    objective: DesignObjective,
    label: np.ndarray,
    hard: np.ndarray,
    temperature: float = SOFT_TEMPERATURE,
    electrolyte_temperatures: Mapping[str, float] | None = None,
    seeds: Sequence[int] | None = None,
) -> np.ndarray:
    """``(6, 3)`` d :data:`CELL_INPUTS` / d label (physical units) by forward-mode autodiff of
    the seed-averaged soft measurement; see :func:`property_jacobians` (its first value)."""
    return property_jacobians(objective, label, hard, temperature, electrolyte_temperatures, seeds)[0]


def property_jacobians(
    objective: DesignObjective,
    label: np.ndarray,
    hard: np.ndarray,
    temperature: float = SOFT_TEMPERATURE,
    electrolyte_temperatures: Mapping[str, float] | None = None,
    seeds: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """d :data:`CELL_INPUTS` / d label (physical units) by forward-mode autodiff of
    :func:`soft_cell_inputs`, one pass per label direction, each column rescaled to the
    argmax values ``hard`` (``(6,)``) by its own pass's seed-averaged soft values.

    Args:
        objective: the design objective (generator, settings, seeds).
        label: ``(3,)`` physical label.
        hard: ``(6,)`` argmax :data:`CELL_INPUTS` at ``label``.
        temperature: the soft measurement's sharpening temperature.
        electrolyte_temperatures: ``{label field: T}`` for the electrolyte transport per
            direction (None: :data:`ELECTROLYTE_TEMPERATURES`; fields not named: ``temperature``).
        seeds: generator seeds (None: the objective's, extended to :data:`JACOBIAN_MIN_SEEDS`).

    Returns:
        ``(6, 3)`` from the seed-averaged measurement and ``(s, 6, 3)`` from each seed's own
        (rescaled by the same factor), whose spread is the Jacobian's seed noise.
    """
    generator, settings = objective.generator, objective.settings
    if not generator.traceable:
        raise ValueError(
            "this generator's volumes are drawn on the host (a stochastic-geometry model places its "
            "phases by rank), so they have no derivative with respect to the labels; take "
            "differences (sensitivity --method differences, design --refine-gradient differences) "
            "or use the traceable GAN (--checkpoint gan)"
        )
    per_direction = ELECTROLYTE_TEMPERATURES if electrolyte_temperatures is None else electrolyte_temperatures
    unit = jnp.asarray(generator.unit_labels(np.asarray(label, np.float64)))
    measure_settings = settings.measure_settings(generator.voxel_size_m)
    shape = (settings.volume_size,) * 3
    if seeds is None:  # the objective's noise first, then the lowest unused seeds
        fresh = (s for s in itertools.count() if s not in objective.seeds)
        extra = max(0, JACOBIAN_MIN_SEEDS - len(objective.seeds))
        seeds = [*objective.seeds, *itertools.islice(fresh, extra)]
    keys = jnp.stack([jax.random.PRNGKey(s) for s in seeds])
    fractions = decoding_fractions(generator, np.asarray(label, np.float64))
    fractions = None if fractions is None else jnp.asarray(fractions[0])
    low = np.array([generator.label_normalisation[name][0] for name in LABEL_FIELDS])
    high = np.array([generator.label_normalisation[name][1] for name in LABEL_FIELDS])
    jac = np.zeros((len(CELL_INPUTS), len(LABEL_FIELDS)))
    per_seed = np.zeros((len(seeds), len(CELL_INPUTS), len(LABEL_FIELDS)))
    # One forward-mode pass per label direction (jax.jacfwd's vmap over the tangents would batch
    # the solver's iteration count, which its while loop cannot take).
    for k, name in enumerate(LABEL_FIELDS):
        electrolyte = float(per_direction.get(name, temperature))

        def inputs(u: jax.Array, electrolyte: float = electrolyte) -> tuple[jax.Array, jax.Array]:
            return soft_cell_inputs(
                generator.params,
                generator.config,
                keys,
                u,
                shape,
                measure_settings,
                temperature,
                electrolyte,
                fractions,
            )

        tangent = jnp.zeros_like(unit).at[k].set(1)
        (soft, _), (column, seed_columns) = jax.tree.map(
            lambda v: np.asarray(v, np.float64), jax.jvp(inputs, (unit,), (tangent,))
        )
        usable = (soft != 0) & np.isfinite(soft) & np.isfinite(hard)
        scale = np.where(usable, hard / np.where(usable, soft, 1.0), 0.0) / (high[k] - low[k])
        jac[:, k] = scale * column
        per_seed[:, :, k] = scale * np.where(np.isfinite(seed_columns), seed_columns, 0.0)
    return jac, per_seed


def label_gradient(
    objective: DesignObjective,
    labels: dict[str, float],
    temperature: float = SOFT_TEMPERATURE,
    evaluation: Evaluation | None = None,
) -> LabelGradient:
    """The objective's gradient with respect to the three labels at ``labels`` (chain rule, see
    the module docstring), with the evaluation there.

    Args:
        objective: the design objective (generator, settings, seeds, cell model).
        labels: ``{"am_wt": ..., "porosity": ..., "adhesion": ...}`` inside the trained range.
        temperature: the soft measurement's sharpening temperature.
        evaluation: the objective's evaluation at ``labels`` with its own seeds, when known
            (``None``: evaluated here).

    Raises:
        ValueError: a label outside the trained range, or a cell that fails there.
    """
    label = check_labels(objective.generator, np.array([[labels[name] for name in LABEL_FIELDS]]))[0]
    if evaluation is None:
        evaluation = objective(label[None], adaptive=False)[0]
    if evaluation.failed:
        raise ValueError(f"the objective failed at {labels} ({evaluation.reason}); no gradient there")
    row = evaluation.properties
    hard = np.array([float(row[name]) for name in CELL_INPUTS])
    sensitivities = cell_sensitivities(objective, label, row)
    jacobian, per_seed = property_jacobians(objective, label, hard, temperature)
    seed_gradients = np.einsum("i,sik->sk", sensitivities, per_seed)
    error = np.std(seed_gradients, axis=0, ddof=1) / math.sqrt(len(per_seed))
    return LabelGradient(
        dict(zip(LABEL_FIELDS, map(float, label), strict=True)),
        evaluation,
        hard,
        sensitivities,
        jacobian,
        sensitivities @ jacobian,
        error,
    )


__all__ = [
    "CELL_INPUTS",
    "ELECTROLYTE_TEMPERATURES",
    "JACOBIAN_MIN_SEEDS",
    "LabelGradient",
    "cell_sensitivities",
    "label_gradient",
    "property_jacobian",
    "property_jacobians",
    "soft_cell_inputs",
]

