"""Generated microstructures and their measurement.

:func:`~jaxmicro.generator.generate.generate_volumes` draws volumes from the generator at a
batch of labels and several seeds; :func:`characterise_seeds` measures each
(:func:`jaxmicro.characterise.measure.measure`: electrolyte tortuosity, solid conductivity,
fractions, areas, coverage, equivalent radius); :func:`generate_and_characterise` is the two in
one jitted computation. The seed reduction
(:func:`~jaxmicro.characterise.measure.average_over_seeds`) and the conversion of a label's
measurement into the cell model's inputs (:func:`cathode_properties`) complete the path from
volumes to a :class:`~jaxmicro.cell.CathodeProperties`.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import numpy as np

from jaxmicro.cell import CathodeProperties
from jaxmicro.characterise.measure import Measurement, MeasureSettings, measure
from jaxmicro.generator import GeneratorConfig, generate_volumes


def characterise_seeds(volumes: jax.Array, settings: MeasureSettings) -> Measurement:
    """:func:`~jaxmicro.characterise.measure.measure` of ``(s, n, z, y, x)`` volumes; fields
    with leading ``(s, n)``. Jittable; called outside jit (on concrete volumes), every
    computation in it can be kept by the persistent compilation cache, because on CPU the
    transport solves' clusters are then labelled on the host between jitted calls, not through
    a callback inside one."""
    flat = volumes.reshape(-1, *volumes.shape[2:])
    measured = measure(flat, settings)
    return jax.tree.map(lambda x: x.reshape(*volumes.shape[:2], *x.shape[1:]), measured)


@partial(jax.jit, static_argnames=("config", "shape", "settings"))
def generate_and_characterise(
    params,
    config: GeneratorConfig,
    keys: jax.Array,
    labels_unit: jax.Array,
    shape: tuple[int, int, int],
    settings: MeasureSettings,
    fractions: jax.Array | None = None,
) -> tuple[jax.Array, Measurement]:
    """:func:`generate_volumes` then :func:`characterise_seeds`, as one XLA computation (what
    each device runs in a sharded sweep).

    Args:
        params, config, keys, labels_unit, shape, fractions: as :func:`generate_volumes`.
        settings: how to measure (static).

    Returns:
        ``volumes`` uint8 ``(s, n, z, y, x)`` and their measurement with leading ``(s, n)``.
    """
    volumes = generate_volumes(params, config, keys, labels_unit, shape, fractions)
    return volumes, characterise_seeds(volumes, settings)


def measurement_row(measurement: Measurement, index: int) -> dict[str, Any]:
    """Row ``index`` of a batched (seed-averaged) measurement as plain JSON-ready values, one
    unit-bearing name per quantity (the names of :class:`Measurement`; fractions split)."""
    row = jax.tree.map(lambda x: np.asarray(x)[index], measurement)
    values: dict[str, Any] = {}
    for name, value in row._asdict().items():
        if name == "volume_fraction":
            values["porosity"], values["am_volume_fraction"], values["cbd_volume_fraction"] = (
                float(v) for v in value
            )
        elif name == "percolates":
            values[name] = bool(value)
        else:
            values[name] = float(value)
    return values


def cathode_properties(row: dict[str, Any]) -> CathodeProperties:
    """The cell model's inputs from one :func:`measurement_row`: the electrolyte fraction (pore
    plus CBD nano-pores) as porosity, the CBD solid as the inactive fraction, the electrolyte
    tortuosity, the pore-AM area as the reactive area (coverage counted once), the solid
    conductivity when it was measured (0, a solid that does not percolate, is refused).

    Raises:
        ValueError: the row is not physically possible (e.g. a phase missing).
    """
    sigma = row["solid_conductivity_s_m"]
    return CathodeProperties(
        porosity=row["electrolyte_fraction"],
        am_volume_fraction=row["am_volume_fraction"],
        cbd_volume_fraction=row["cbd_solid_fraction"],
        tortuosity_through_plane=row["electrolyte_tau_through_plane"],
        am_electrolyte_area_per_volume_m=row["am_electrolyte_area_per_volume_m"],
        cbd_coverage=row["cbd_coverage"],
        solid_conductivity_s_m=None if math.isnan(sigma) else sigma,
    )


__all__ = [
    "MeasureSettings",
    "Measurement",
    "cathode_properties",
    "characterise_seeds",
    "generate_and_characterise",
    "generate_volumes",
    "measurement_row",
]
