"""Conditional generators: manufacturing labels -> 3-phase electrode microstructures.

Two kinds (:class:`VolumeGenerator`): the conditional SliceGAN (train with :func:`train` or
``jaxmicro train``, load with :func:`load_generator`) and the fitted stochastic-geometry model
(:mod:`jaxmicro.generator.stochastic`). :func:`load_default_generator` loads the shipped default
(``checkpoints/stochastic``), :func:`load_shipped_generator` either shipped one by name. Make volumes with
:func:`generate` (or the jittable :func:`generate_probabilities`), and compare with held-out
simulations with :func:`validate_generator`. See ``docs/generator.md``.
"""

from jaxmicro.generator.checkpoint import (
    Generator,
    load_generator,
    save_generator,
)
from jaxmicro.generator.config import PRESETS, GeneratorConfig, TrainConfig, preset
from jaxmicro.generator.generate import (
    GenerationResult,
    check_fractions,
    check_labels,
    decoding_fractions,
    generate,
    generate_probabilities,
    generate_volumes,
    latent_shape_for,
)
from jaxmicro.generator.model import (
    critic_apply,
    generator_apply,
    generator_logits,
    init_critics,
    init_generator,
)
from jaxmicro.generator.protocol import VolumeGenerator
from jaxmicro.generator.shipped import (
    DEFAULT_GENERATOR,
    SHIPPED_GENERATORS,
    load_default_generator,
    load_shipped_generator,
    shipped_checkpoint_path,
)
from jaxmicro.generator.slices import SliceBank, build_slice_bank
from jaxmicro.generator.train import (
    StepMetrics,
    TrainResult,
    TrainState,
    export_run,
    init_train_state,
    make_train_step,
    train,
)
from jaxmicro.generator.validate import (
    METRIC_NAMES,
    METRICS,
    GoalCheck,
    ValidationReport,
    compute_metrics,
    dataset_baseline,
    off_grid_labels,
    rebuild_training_dataset,
    validate_generator,
    validation_settings,
)

__all__ = [
    "DEFAULT_GENERATOR",
    "METRICS",
    "METRIC_NAMES",
    "PRESETS",
    "SHIPPED_GENERATORS",
    "GenerationResult",
    "Generator",
    "GeneratorConfig",
    "GoalCheck",
    "SliceBank",
    "StepMetrics",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "ValidationReport",
    "VolumeGenerator",
    "build_slice_bank",
    "check_fractions",
    "check_labels",
    "compute_metrics",
    "critic_apply",
    "dataset_baseline",
    "decoding_fractions",
    "export_run",
    "generate",
    "generate_probabilities",
    "generate_volumes",
    "generator_apply",
    "generator_logits",
    "init_critics",
    "init_generator",
    "init_train_state",
    "latent_shape_for",
    "load_default_generator",
    "load_generator",
    "load_shipped_generator",
    "make_train_step",
    "off_grid_labels",
    "preset",
    "rebuild_training_dataset",
    "save_generator",
    "shipped_checkpoint_path",
    "train",
    "validate_generator",
    "validation_settings",
]
