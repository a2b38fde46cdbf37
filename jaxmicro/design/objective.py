"""The design objective: manufacturing labels -> generated microstructures -> measured
properties -> simulated cell -> one number to maximise.

:class:`DesignObjective` evaluates a batch of labels: the generator draws
``seeds_per_label`` volumes per label (the same seeds for every label, so the objective
varies smoothly with the labels) in one jitted call, :func:`characterise_seeds` measures them
(outside jit, so that every compiled piece can be kept by the persistent compilation cache),
the seeds are averaged, and each label's cathode is discharged in a PyBaMM DFN
cell at a fixed cell-level power over an executor: porosity, electrolyte tortuosity, reactive
area, solid conductivity and (by default) the particle radius all come from the measurement.
Every intermediate quantity is kept in the returned :class:`Evaluation`, and a failed cell
simulation comes back as a failed evaluation with its reason, never an exception.

With several seeds per label, each seed's own measurement is also simulated (one more cell per
seed, the cheap part of an evaluation), and with three or more so is each leave-one-seed-out
average: the jackknife of the seed-averaged objective is its standard error over seeds (with
two, the per-seed spread ``std / sqrt(2)``, the same number). The per-seed spread alone
overstates it up to 19-fold where one volume's pores barely connect: that volume's own cell
collapses while the seed-averaged conductance barely moves (docs/design.md, "Are the error bars
right?"; measured against disjoint blocks of 8 seeds: the jackknife within 0.7-2.4x at 10
labels). The optimiser takes it as the known noise of the point.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import jax
import jax.numpy as jnp
import numpy as np

from jaxmicro.cell import (
    CellCase,
    CellDesign,
    CellModelConfig,
    CellResult,
    OperatingPoint,
    StackMaterials,
    simulate_batch,
)
from jaxmicro.characterise.measure import (
    CBD_CONDUCTIVITY_S_M,
    NMC811_CONDUCTIVITY_S_M,
    Measurement,
    MeasureSettings,
    average_over_seeds,
)
from jaxmicro.data.labels import LABEL_FIELDS
from jaxmicro.design.properties import (
    cathode_properties,
    characterise_seeds,
    measurement_row,
)
from jaxmicro.design.space import CELL_VARIABLES
from jaxmicro.generator import VolumeGenerator, check_labels

BASES: Final[tuple[str, str]] = ("loading", "thickness")
STATUSES: Final[tuple[str, str, str]] = ("ok", "failed", "not_simulated")
NOT_SIMULATED: Final[str] = "not simulated: properties only"
"""The ``reason`` of a properties-only evaluation."""
RADIUS_SOURCES: Final[dict[str, str | None]] = {
    "local_thickness": "particle_radius_m",
    "surface": "equivalent_particle_radius_m",
    "fixed": None,
}
"""``DesignSettings.particle_radius`` -> the measurement's field that gives the radius."""
CONFIRM_FIRST_SEED: Final[int] = 1_000_000
"""The first generator seed of :meth:`DesignObjective.confirm` (campaigns draw seeds from 0)."""

# objective name -> (CellResult field, description with units)
OBJECTIVES: Final[dict[str, tuple[str, str]]] = {
    "specific_energy": ("specific_energy_wh_kg", "cell-level specific energy [Wh/kg]"),
    "energy_density": ("energy_density_wh_l", "cell-level energy density [Wh/L]"),
    "electrode_specific_energy": (
        "electrode_specific_energy_wh_kg",
        "electrode-level specific energy [Wh per kg of cathode coating]",
    ),
}


@dataclasses.dataclass(frozen=True)
class DesignSettings:
    """What a design evaluation simulates (everything but the labels).

    Attributes:
        objective: a key of :data:`OBJECTIVES`.
        power_w_per_kg: constant discharge power per kg of the whole cell [W/kg].
        c_rate: when given, a constant-current discharge at this multiple of the cathode's
            reversible capacity [1/h] instead of ``power_w_per_kg``. On the loading basis every
            label then draws the same areal current density, and so do a half and a full cell
            (a controlled comparison of the two; at equal W/kg their areal currents differ).
        half_cell: lithium-metal half cell instead of a graphite full cell.
        cell_format: ``"4680"`` or ``"pouch"``.
        basis: what stays fixed as the labels change. ``"loading"`` (default): the AM coat
            weight ``am_loading_mg_cm2``, calendered to the label's porosity, so the thickness
            follows (``L = loading / (eps_AM rho_AM)``): a coater deposits a set coat weight
            (it fixes the areal capacity the anode is matched to) and calendering then sets
            porosity and thickness. ``"thickness"``: ``cathode_thickness_m`` for every label,
            so porosity also changes the loading.
        am_loading_mg_cm2: AM mass per electrode area per side [mg/cm^2] (``"loading"``
            basis); 22 mg/cm^2 is about 3.9 mAh/cm^2 at the model's 175 mAh/g, a high-energy
            EV cathode.
        cathode_thickness_m: cathode coating thickness per side [m] (``"thickness"`` basis).
        particle_radius: where the cell model's particle radius comes from: ``"fixed"``
            (default; ``particle_radius_m``), ``"local_thickness"`` (the AM's mean local-thickness
            radius measured on each volume, insensitive to contacts between particles) or
            ``"surface"`` (``3 eps_AM / a_AM``, which contacts inflate). The default is fixed
            because the particle size is not a label (the simulator that made the shipped
            generators' training data draws 5 um particles at every label) and the shipped GAN's
            (``checkpoints/gan``) particles read 20-30 % smaller than its training data's (3.9-4.6 vs
            5.3-5.6 um by local thickness at 64^3): measured on its volumes, that error alone
            raised the objective at 500 W/kg by up to 16 % over the simulator's at the same labels
            (docs/design.md, "Representative volumes"). Use ``"local_thickness"`` for a generator
            trained on data whose particle size varies with the labels, once it reproduces it.
            See :mod:`jaxmicro.characterise.measure`.
        particle_radius_m: the ``"fixed"`` radius [m]; 5 um, the shipped generators' training
            particles (simulator ``mean_radius_m``).
        volume_size: edge of the generated cubic volumes [voxels].
        seeds_per_label: generated volumes per label, averaged (with ``max_seeds_per_label``:
            the first block of them).
        max_seeds_per_label: adaptive seeds: while a label's objective has a standard error
            over its seeds above ``target_relative_standard_error`` of its value, another block
            of ``seeds_per_label`` seeds is generated, measured and simulated for that label,
            up to this many seeds in all (``None``: always ``seeds_per_label``). Seeds are
            always the first ``k`` of the same sequence, so labels keep sharing their first
            seeds (common random numbers). Where the spread is large (the low-porosity,
            high-power cliff, docs/design.md "Representative volumes") this spends seeds there
            and nowhere else.
        target_relative_standard_error: the adaptive seeds' target, a fraction of the
            objective's magnitude [-] (0.01: 1 %).
        in_plane: also measure the in-plane electrolyte tortuosity (reported, not simulated).
        conv_crit: transport solver flux criterion.
        solid_conductivity: measure the solid's electronic conductivity and simulate with it
            (False: the base parameter set's value for every microstructure).
        am_conductivity_s_m, cbd_conductivity_s_m: phase conductivities of that measurement
            [S/m] (defaults and sources in :mod:`jaxmicro.characterise.measure`).
        cbd_nanoporosity: electrolyte-filled fraction of the CBD [-] (0: dense CBD).
    """

    objective: str = "specific_energy"
    power_w_per_kg: float = 200.0
    c_rate: float | None = None
    half_cell: bool = False
    cell_format: str = "4680"
    basis: str = "loading"
    am_loading_mg_cm2: float = 22.0
    cathode_thickness_m: float = 80e-6
    particle_radius: str = "fixed"
    particle_radius_m: float = 5e-6
    volume_size: int = 64
    seeds_per_label: int = 2
    max_seeds_per_label: int | None = None
    target_relative_standard_error: float = 0.01
    in_plane: bool = False
    conv_crit: float = 1e-3
    solid_conductivity: bool = True
    am_conductivity_s_m: float = NMC811_CONDUCTIVITY_S_M
    cbd_conductivity_s_m: float = CBD_CONDUCTIVITY_S_M
    cbd_nanoporosity: float = 0.0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {self.objective!r}")
        if not (math.isfinite(self.power_w_per_kg) and self.power_w_per_kg > 0):
            raise ValueError(f"power_w_per_kg must be a positive number, got {self.power_w_per_kg}")
        if self.c_rate is not None and not (math.isfinite(self.c_rate) and self.c_rate > 0):
            raise ValueError(f"c_rate must be a positive number [1/h] or None, got {self.c_rate}")
        if self.seeds_per_label < 1:
            raise ValueError(f"seeds_per_label must be at least 1, got {self.seeds_per_label}")
        if self.max_seeds_per_label is not None and (
            self.seeds_per_label < 2 or self.max_seeds_per_label < self.seeds_per_label
        ):
            raise ValueError(
                "adaptive seeds need seeds_per_label >= 2 (a standard error) and max_seeds_per_label >= "
                f"seeds_per_label, got {self.seeds_per_label} and {self.max_seeds_per_label}"
            )
        target = self.target_relative_standard_error
        if not (math.isfinite(target) and target > 0):
            raise ValueError(
                "target_relative_standard_error must be a positive fraction, "
                f"got {self.target_relative_standard_error}"
            )
        if self.cell_format not in ("4680", "pouch"):
            raise ValueError(f"cell_format must be '4680' or 'pouch', got {self.cell_format!r}")
        if self.particle_radius not in RADIUS_SOURCES:
            raise ValueError(
                f"particle_radius must be one of {tuple(RADIUS_SOURCES)}, got {self.particle_radius!r}"
            )
        if self.basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {self.basis!r}")
        if not (math.isfinite(self.am_loading_mg_cm2) and 0 < self.am_loading_mg_cm2 <= 100):
            raise ValueError(
                f"am_loading_mg_cm2 must be in (0, 100] mg/cm^2, got {self.am_loading_mg_cm2}"
            )
        # CellDesign and MeasureSettings validate the rest with clear messages.
        self.cell_design()
        self.measure_settings(1e-6)

    @property
    def objective_description(self) -> str:
        return OBJECTIVES[self.objective][1]

    def operating_point(self) -> OperatingPoint:
        """The discharge every label's cell runs: ``c_rate`` when given, else the power."""
        if self.c_rate is not None:
            return OperatingPoint(c_rate=self.c_rate)
        return OperatingPoint(power_w_per_kg=self.power_w_per_kg)

    def at(self, cell_variables: Mapping[str, float] | None) -> DesignSettings:
        """These settings at one design point's cell variable (a ``{name: value}`` of
        :data:`~jaxmicro.design.space.CELL_VARIABLES`, or ``None``: unchanged). A coat weight
        puts the point on the loading basis with that loading [mg/cm^2], a thickness on the
        thickness basis with that thickness [um]."""
        if not cell_variables:
            return self
        (name, value), *more = cell_variables.items()
        if more or name not in CELL_VARIABLES:
            raise ValueError(
                f"a point has one cell variable out of {tuple(CELL_VARIABLES)}, got {dict(cell_variables)}"
            )
        if CELL_VARIABLES[name] == "loading":
            return dataclasses.replace(self, basis="loading", am_loading_mg_cm2=float(value))
        return dataclasses.replace(self, basis="thickness", cathode_thickness_m=float(value) * 1e-6)

    def cathode_thickness_for(self, am_volume_fraction: float) -> float:
        """Cathode thickness per side [m] of a coating with this AM volume fraction [-]: the
        fixed thickness, or on the loading basis ``loading / (eps_AM rho_AM)``."""
        if self.basis == "thickness":
            return self.cathode_thickness_m
        am_density_kg_m3 = StackMaterials().am_density_kg_m3
        return self.am_loading_mg_cm2 * 1e-2 / (am_volume_fraction * am_density_kg_m3)

    def cell_design(self, row: dict[str, Any] | None = None) -> CellDesign:
        """The cell design of a measured cathode.

        Args:
            row: one :func:`~jaxmicro.design.measurement_row`; its AM fraction sets the
                thickness on the loading basis, and it gives the particle radius unless that is
                ``"fixed"``. ``None``: the fixed radius and an AM fraction of 0.6 (validation).
        """
        row = row or {}
        key = RADIUS_SOURCES[self.particle_radius]
        radius = self.particle_radius_m if key is None else row.get(key, self.particle_radius_m)
        return CellDesign(
            cathode_thickness_m=self.cathode_thickness_for(row.get("am_volume_fraction", 0.6)),
            particle_radius_m=radius,
            half_cell=self.half_cell,
            cell_format=self.cell_format,
        )

    def measure_settings(self, voxel_size_m: float) -> MeasureSettings:
        """How the generated volumes are measured, at the generator's voxel size [m]."""
        return MeasureSettings(
            voxel_size_m=float(voxel_size_m),
            conv_crit=self.conv_crit,
            in_plane=self.in_plane,
            solid_conductivity=self.solid_conductivity,
            am_conductivity_s_m=self.am_conductivity_s_m,
            cbd_conductivity_s_m=self.cbd_conductivity_s_m,
            cbd_nanoporosity=self.cbd_nanoporosity,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One evaluated label, with everything measured on the way.

    Attributes:
        labels: the manufacturing labels ``{am_wt, porosity, adhesion}``, and the point's cell
            variable (e.g. ``am_loading_mg_cm2``) when one is optimised.
        seeds: generator seeds averaged.
        objective: the objective value (see ``DesignSettings.objective``), NaN when failed.
        failed: True when there is no objective (``status`` is not ``"ok"``).
        reason: why there is none ("" when there is).
        properties: the seed-averaged measurement (:func:`~jaxmicro.design.measurement_row`
            of a :class:`~jaxmicro.characterise.measure.Measurement`; SI units in the names).
        cell: the cell simulation result (``CellResult.to_dict()``).
        timings_s: wall time of the label's share of generation + characterisation and of its
            cell simulation [s].
        status: one of :data:`STATUSES`: ``"ok"``, ``"failed"`` (the measurement or the cell
            simulation gave no trustworthy objective) or ``"not_simulated"`` (properties only,
            by request). Derived from ``failed`` when not given.
        objective_standard_error: standard error of ``objective`` over the seeds
            [objective's unit]: with three or more seeds the leave-one-seed-out jackknife of the
            seed-averaged cell, with two the per-seed objectives' ``std / sqrt(2)`` (``ddof=1``;
            the same number; logs written before stop 57 hold the per-seed spread at every count);
            NaN when unknown: one seed, a cell that failed (with two seeds a seed's, else a
            left-out average's), a properties-only evaluation, or a log written before it
            existed.
        seed_objectives: the per-seed objectives [objective's unit] (NaN for a failed seed;
            empty when not simulated).
    """

    labels: dict[str, float]
    seeds: tuple[int, ...]
    objective: float
    failed: bool
    reason: str
    properties: dict[str, Any]
    cell: dict[str, Any]
    timings_s: dict[str, float]
    status: str = ""
    objective_standard_error: float = math.nan
    seed_objectives: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        status = self.status or ("failed" if self.failed else "ok")
        if status not in STATUSES:
            raise ValueError(f"Evaluation.status must be one of {STATUSES}, got {status!r}")
        if (status == "ok") == bool(self.failed):
            raise ValueError(f"Evaluation status {status!r} contradicts failed={self.failed}")
        object.__setattr__(self, "status", status)

    @classmethod
    def not_simulated(
        cls, labels: dict[str, float], seeds: tuple[int, ...], properties: dict[str, Any], measure_s: float
    ) -> Evaluation:
        """A properties-only evaluation (no cell simulated, by request)."""
        return cls(
            labels=labels,
            seeds=seeds,
            objective=math.nan,
            failed=True,
            reason=NOT_SIMULATED,
            properties=properties,
            cell={},
            timings_s={"generate_and_characterise": measure_s, "cell": 0.0},
            status="not_simulated",
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Evaluation:
        """From :meth:`to_dict` output or a log record (extra keys ignored, null objective -> NaN)."""
        optional = {"status", "objective_standard_error", "seed_objectives"}
        values = {f.name: record[f.name] for f in dataclasses.fields(cls) if f.name not in optional}
        values["status"] = record.get("status") or (
            "not_simulated" if record.get("reason") == NOT_SIMULATED else ""
        )
        values["seeds"] = tuple(values["seeds"])
        values["objective"] = _float_or_nan(values["objective"])
        values["objective_standard_error"] = _float_or_nan(record.get("objective_standard_error"))
        values["seed_objectives"] = tuple(map(_float_or_nan, record.get("seed_objectives") or ()))
        return cls(**values)

    def above_target(self, target_relative_error: float) -> bool:
        """Whether a successful evaluation's seed standard error is above
        ``target_relative_error`` of its objective (an unknown error is not)."""
        error = self.objective_standard_error
        return (not self.failed and math.isfinite(error)
                and error > target_relative_error * abs(self.objective))

    def label_array(self) -> np.ndarray:
        return np.array([self.labels[name] for name in LABEL_FIELDS])


class DesignObjective:
    """Evaluates batches of manufacturing labels with a generator and a cell model.

    Args:
        generator: any :class:`~jaxmicro.generator.VolumeGenerator` (its trained range bounds
            the labels): a trained SliceGAN, or a fitted stochastic-geometry model (not
            traceable: no chain-rule gradient, no sharded sweep).
        settings: what to simulate.
        cell_config: PyBaMM modelling choices (``None``: defaults).
        executor: where cell simulations run (any ``concurrent.futures.Executor``, e.g.
            :func:`jaxmicro.cell.dask_executor`); ``None`` runs them in this process, which
            keeps the built PyBaMM model cached between batches.
    """

    def __init__(
        self,
        generator: VolumeGenerator,
        settings: DesignSettings = DesignSettings(),
        cell_config: CellModelConfig | None = None,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        self.generator = generator
        self.settings = settings
        self.cell_config = cell_config or CellModelConfig()
        self.executor = executor
        self._shape = (settings.volume_size,) * 3
        generator.check_shape(self._shape)

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.settings.seeds_per_label))

    def measure(self, labels: np.ndarray) -> tuple[np.ndarray, Measurement]:
        """Generates and characterises ``(n, 3)`` labels (checked against the trained range).

        Returns:
            Volumes ``(seeds, n, z, y, x)`` uint8 and seed-averaged properties with leading ``n``.
        """
        volumes, per_seed = self.measure_seeds(labels)
        return volumes, average_over_seeds(per_seed)

    def measure_seeds(
        self, labels: np.ndarray, seeds: Sequence[int] | None = None
    ) -> tuple[np.ndarray, Measurement]:
        """As :meth:`measure`, with the properties of every seed: leading ``(seeds, n)``.

        Args:
            labels: ``(n, 3)`` labels.
            seeds: generator seeds (default :attr:`seeds`).
        """
        labels = check_labels(self.generator, labels)
        generator, settings = self.generator, self.settings
        chosen = self.seeds if seeds is None else seeds
        volumes = jnp.asarray(generator.sample_batch(labels, self._shape, chosen))
        # A phase that never occurs (a batch without pore) gives tau = inf eagerly as traced.
        measured = characterise_seeds(volumes, settings.measure_settings(generator.voxel_size_m))
        return np.asarray(volumes), measured

    def __call__(
        self,
        labels: np.ndarray | Sequence[Sequence[float]],
        on_evaluation: Callable[[int, Evaluation], None] | None = None,
        cell_variables: Sequence[Mapping[str, float]] | None = None,
        adaptive: bool = True,
    ) -> list[Evaluation]:
        """Evaluates labels ``(n, 3)`` (or ``(3,)``); one :class:`Evaluation` per label.

        Args:
            labels: manufacturing labels inside the generator's trained range.
            on_evaluation: called as ``on_evaluation(index, evaluation)`` as each label's cell
                simulation completes (a campaign logs it there); with adaptive seeds, once a
                label needs no more seeds.
            cell_variables: per label, its cell variable (``{"am_loading_mg_cm2": 25.0}`` or
                ``{"cathode_thickness_um": 90.0}``, see :meth:`DesignSettings.at`); ``None``:
                the settings' coat weight or thickness for every label.
            adaptive: add seeds where the standard error is above target, when the settings
                allow it (``max_seeds_per_label``); ``False``: ``seeds_per_label`` for every
                label (finite differences between labels need the same seeds).
        """
        labels = np.atleast_2d(np.asarray(labels, dtype=np.float64))
        start = time.perf_counter()
        _, per_seed = self.measure_seeds(labels)
        jax.block_until_ready(per_seed)
        measure_s = (time.perf_counter() - start) / len(labels)
        if not (adaptive and self.settings.max_seeds_per_label):
            return self.evaluate_seeds(labels, per_seed, measure_s, on_evaluation, cell_variables)
        evaluations = self.evaluate_seeds(labels, per_seed, measure_s, None, cell_variables)
        return self._add_seeds(labels, per_seed, evaluations, measure_s, on_evaluation, cell_variables)

    def confirm(
        self,
        label: np.ndarray,
        n_seeds: int,
        cell_variable: Mapping[str, float] | None = None,
        max_seeds: int | None = None,
        on_block: Callable[[Evaluation], None] | None = None,
    ) -> Evaluation:
        """A label evaluated again on fresh seeds (from :data:`CONFIRM_FIRST_SEED`, which no
        campaign draws): an estimate of its objective independent of the seeds that every
        label of a campaign shares.

        Its ``objective_standard_error`` is, as for any label with three or more seeds, the
        leave-one-seed-out jackknife of the seed-averaged cell, over ``seeds - 1`` degrees of
        freedom (:attr:`Evaluation.objective_standard_error`). With ``max_seeds`` it is
        adaptive, as a campaign's labels are: while that error is above the settings'
        ``target_relative_standard_error`` of the objective, another ``n_seeds`` fresh seeds
        (the earlier ones kept), up to ``max_seeds``. Near a percolation cliff one poorly
        connected 64^3 volume in 8 moves the average by tens of Wh/kg (stop 57: 238.3, 95 %
        179-298 Wh/kg, where 40 seeds read 245.8 +- 1.2).

        Args:
            label: ``(3,)`` manufacturing labels.
            n_seeds: fresh seeds of the first block (and of each further one), at least 2.
            cell_variable: the label's cell variable, as in :meth:`__call__`.
            max_seeds: the most fresh seeds in all (``None``: one block).
            on_block: called with the evaluation after each block (a campaign logs it).

        Returns:
            The evaluation on all the fresh seeds drawn (its ``seeds`` name them).
        """
        if isinstance(n_seeds, bool) or not isinstance(n_seeds, int | np.integer) or n_seeds < 2:
            raise ValueError(f"a confirmation needs at least 2 fresh seeds (for its error), got {n_seeds!r}")
        block, most = int(n_seeds), int(n_seeds if max_seeds is None else max_seeds)
        if most < block:
            raise ValueError(f"max_seeds ({most}) must be at least n_seeds ({block}); raise it or pass None")
        labels = np.atleast_2d(np.asarray(label, dtype=np.float64))
        cells = None if cell_variable is None else [cell_variable]
        seeds: tuple[int, ...] = ()
        measured, measure_s = None, 0.0
        while True:
            new = tuple(range(CONFIRM_FIRST_SEED + len(seeds), CONFIRM_FIRST_SEED + len(seeds) + block))
            start = time.perf_counter()
            _, extra = self.measure_seeds(labels, new)
            extra = jax.block_until_ready(extra)
            measure_s += time.perf_counter() - start
            seeds += new
            measured = extra if measured is None else jax.tree.map(
                lambda a, b: jnp.concatenate([a, b]), measured, extra
            )
            (evaluation,) = self.evaluate_seeds(labels, measured, measure_s, None, cells)
            evaluation = dataclasses.replace(evaluation, seeds=seeds)
            if on_block is not None:
                on_block(evaluation)
            target = self.settings.target_relative_standard_error
            if not evaluation.above_target(target) or len(seeds) + block > most:
                return evaluation

    def _wants_more_seeds(self, evaluation: Evaluation) -> bool:
        settings = self.settings
        return (evaluation.above_target(settings.target_relative_standard_error)
                and len(evaluation.seeds) + settings.seeds_per_label <= (settings.max_seeds_per_label or 0))

    def _add_seeds(
        self,
        labels: np.ndarray,
        per_seed: Measurement,
        evaluations: list[Evaluation],
        measure_s: float,
        on_evaluation: Callable[[int, Evaluation], None] | None,
        cell_variables: Sequence[Mapping[str, float]] | None,
    ) -> list[Evaluation]:
        """Adaptive seeds: another block of seeds for each label above the target, until none
        is (or it has ``max_seeds_per_label``). A label is reported once it is done. Each round
        simulates all of a flagged label's cells again (its seed-averaged properties changed;
        the per-seed cells of earlier seeds could be kept: a saving left for later)."""
        todo = [i for i, e in enumerate(evaluations) if self._wants_more_seeds(e)]
        for i, evaluation in enumerate(evaluations):
            if on_evaluation is not None and i not in todo:
                on_evaluation(i, evaluation)
        seeds = self.seeds
        measured = jax.tree.map(lambda x: x[:, todo], per_seed)
        while todo:  # ends: a label wants more seeds only while it has room for another block
            block = tuple(range(len(seeds), len(seeds) + self.settings.seeds_per_label))
            seeds = seeds + block
            # The flagged labels padded to the batch's size: the compiled generation is reused.
            padded = np.concatenate([labels[todo], np.repeat(labels[todo][:1], len(labels) - len(todo), 0)])
            start = time.perf_counter()
            _, extra = self.measure_seeds(padded, block)
            n_todo = len(todo)
            extra = jax.block_until_ready(jax.tree.map(lambda x, n=n_todo: x[:, :n], extra))
            measure_s += (time.perf_counter() - start) / len(todo)
            measured = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), measured, extra)
            cells = [cell_variables[i] for i in todo] if cell_variables else None
            again = self.evaluate_seeds(labels[todo], measured, measure_s, None, cells)
            keep = []
            for j, (i, evaluation) in enumerate(zip(todo, again, strict=True)):
                evaluations[i] = evaluation
                if self._wants_more_seeds(evaluation):
                    keep.append(j)
                elif on_evaluation is not None:
                    on_evaluation(i, evaluation)
            todo = [todo[j] for j in keep]
            measured = jax.tree.map(lambda x, keep=keep: x[:, keep], measured)
        return evaluations

    def evaluate_seeds(
        self,
        labels: np.ndarray,
        per_seed: Measurement,
        measure_s: float = math.nan,
        on_evaluation: Callable[[int, Evaluation], None] | None = None,
        cell_variables: Sequence[Mapping[str, float]] | None = None,
    ) -> list[Evaluation]:
        """The cell half of :meth:`__call__` from per-seed measurements: the seed-averaged cell
        gives the objective; with more than one seed each seed's own cell is simulated too, and
        with three or more each leave-one-seed-out average's (its standard error, the jackknife:
        :attr:`Evaluation.objective_standard_error`).

        Args:
            labels: ``(n, 3)`` labels the measurements belong to.
            per_seed: the measurement with leading ``(s, n)`` (seeds, labels).
            measure_s: generation + characterisation time per label [s], for the record.
            on_evaluation: as in :meth:`__call__`.
            cell_variables: as in :meth:`__call__`.

        Returns:
            One :class:`Evaluation` per label, in order.
        """
        per_seed = jax.tree.map(jnp.asarray, per_seed)
        properties = average_over_seeds(per_seed)
        rows = [measurement_row(properties, i) for i in range(len(labels))]
        seed_rows = left_out_rows = None
        n_seeds = jax.tree.leaves(per_seed)[0].shape[0]
        if n_seeds > 1:
            seeds = [jax.tree.map(lambda x, s=s: x[s], per_seed) for s in range(n_seeds)]
            seed_rows = [[measurement_row(seed, i) for seed in seeds] for i in range(len(labels))]
        if n_seeds > 2:  # with two, leaving one out leaves the other: the seed rows themselves
            others = [average_over_seeds(jax.tree.map(lambda x, s=s: jnp.delete(x, s, 0), per_seed))
                      for s in range(n_seeds)]
            left_out_rows = [[measurement_row(other, i) for other in others] for i in range(len(labels))]
        return self.evaluate_measured(
            labels, rows, measure_s, on_evaluation, seed_rows, cell_variables, left_out_rows
        )

    def evaluate_measured(
        self,
        labels: np.ndarray,
        rows: Sequence[dict[str, Any]],
        measure_s: float = math.nan,
        on_evaluation: Callable[[int, Evaluation], None] | None = None,
        seed_rows: Sequence[Sequence[dict[str, Any]]] | None = None,
        cell_variables: Sequence[Mapping[str, float]] | None = None,
        left_out_rows: Sequence[Sequence[dict[str, Any]]] | None = None,
    ) -> list[Evaluation]:
        """The cell half of :meth:`__call__`: simulates cells from measured properties.

        Args:
            labels: ``(n, 3)`` labels the properties belong to.
            rows: one seed-averaged :func:`~jaxmicro.design.measurement_row` per label.
            measure_s: generation + characterisation time per label [s], for the record.
            on_evaluation: as in :meth:`__call__`, called once all of a label's cells are done.
            seed_rows: per label, one row per seed: their cells are each seed's objective, and
                without ``left_out_rows`` their spread the standard error (``None``: not
                estimated, NaN).
            cell_variables: as in :meth:`__call__`.
            left_out_rows: per label, one row per seed averaged over the other seeds: their
                cells give the standard error (the jackknife), with ``seed_rows``.

        Returns:
            One :class:`Evaluation` per label, in order.
        """
        operating_point = self.settings.operating_point()
        if cell_variables is not None and len(cell_variables) != len(rows):
            raise ValueError(
                f"got {len(cell_variables)} cell variables for {len(rows)} labels; give one per label"
            )
        points = [self.settings.at(cell_variables[i] if cell_variables else None) for i in range(len(rows))]
        n_seeds = len(seed_rows[0]) if seed_rows else 0
        seeds = tuple(range(n_seeds)) if n_seeds else self.seeds
        extra = [[*(seed_rows[i] if seed_rows else []), *(left_out_rows[i] if left_out_rows else [])]
                 for i in range(len(rows))]
        # Per label: the seed-averaged result (slot 0), one per seed, then one per left-out
        # seed; a ValueError from an impossible cathode (e.g. a phase missing) stands in for a
        # result.
        results: list[list[CellResult | str | None]] = [[None] * (1 + len(e)) for e in extra]
        evaluations: list[Evaluation | None] = [None] * len(rows)
        cases, slots = [], []

        def complete(i: int) -> None:
            if evaluations[i] is None and all(r is not None for r in results[i]):
                cell_variable = dict(cell_variables[i]) if cell_variables else {}
                evaluations[i] = self._evaluation(
                    labels[i], cell_variable, rows[i], results[i], measure_s, seeds, n_seeds
                )
                if on_evaluation is not None:
                    on_evaluation(i, evaluations[i])

        for i, row in enumerate(rows):
            for slot, measured in enumerate([row, *extra[i]]):
                try:
                    design = points[i].cell_design(measured)
                    cases.append(CellCase(cathode_properties(measured), design, operating_point))
                    slots.append((i, slot))
                except ValueError as error:
                    results[i][slot] = f"invalid cathode: {error}"
            complete(i)

        def finish(case_index: int, result: CellResult) -> None:
            i, slot = slots[case_index]
            results[i][slot] = result
            complete(i)

        simulate_batch(
            cases,
            self.cell_config,
            executor=self.executor,
            max_workers=None if self.executor else 1,
            on_result=finish,
        )
        return evaluations  # type: ignore[return-value]

    def _objective_of(self, result: CellResult | str) -> tuple[float, str]:
        """(objective, reason): NaN and why when there is none."""
        if isinstance(result, str):
            return math.nan, result
        value = float(getattr(result, OBJECTIVES[self.settings.objective][0]))
        if result.failed or not math.isfinite(value):
            return math.nan, result.reason or "objective is not finite"
        return value, ""

    def _evaluation(
        self,
        label: np.ndarray,
        cell_variable: dict[str, float],
        properties: dict[str, Any],
        results: Sequence[CellResult | str],
        measure_s: float,
        seeds: tuple[int, ...],
        n_seeds: int,
    ) -> Evaluation:
        """``results``: the seed-averaged cell, ``n_seeds`` per-seed cells, then none or
        ``n_seeds`` left-out cells."""
        value, reason = self._objective_of(results[0])
        seed_values = tuple(self._objective_of(r)[0] for r in results[1 : 1 + n_seeds])
        left_out = np.array([self._objective_of(r)[0] for r in results[1 + n_seeds :]])
        standard_error = math.nan
        if len(left_out) > 1 and np.isfinite(left_out).all():
            # The jackknife: sqrt((n - 1) / n x sum of squared deviations of the left-out values).
            squares = np.sum((left_out - left_out.mean()) ** 2)
            standard_error = float(np.sqrt((n_seeds - 1) / n_seeds * squares))
        elif not len(left_out) and len(seed_values) > 1 and all(math.isfinite(v) for v in seed_values):
            standard_error = float(np.std(seed_values, ddof=1) / math.sqrt(len(seed_values)))
        main = results[0]
        cell = {} if isinstance(main, str) else main.to_dict()
        cell_s = sum(r.build_time_s + r.solve_time_s for r in results if not isinstance(r, str))
        failed = not math.isfinite(value)
        return Evaluation(
            labels=dict(zip(LABEL_FIELDS, map(float, label), strict=True)) | cell_variable,
            seeds=seeds,
            objective=value,
            failed=failed,
            reason=reason,
            properties=properties,
            cell=cell,
            timings_s={"generate_and_characterise": measure_s, "cell": cell_s},
            objective_standard_error=math.nan if failed else standard_error,
            seed_objectives=seed_values,
        )


def _float_or_nan(value: Any) -> float:
    """A log value as a float; JSON null (NaN or inf when written) becomes NaN."""
    return math.nan if value is None else float(value)
