"""The conditional SliceGAN: manufacturing labels -> 3-phase electrode microstructures.

Train with :func:`train` (or ``jaxmicro train``), load with :func:`load_generator` (or
:func:`load_default_generator` for the shipped ``checkpoints/default``), make volumes with
:func:`generate` (or the jittable :func:`generate_probabilities`), and compare with held-out
simulations with :func:`validate_generator`. See ``docs/generator.md``.
"""

from jaxmicro.generator.checkpoint import (
    Generator,
    default_checkpoint_path,
    load_default_generator,
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
    "METRICS",
    "METRIC_NAMES",
    "PRESETS",
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
    "default_checkpoint_path",
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
    "make_train_step",
    "off_grid_labels",
    "preset",
    "rebuild_training_dataset",
    "save_generator",
    "train",
    "validate_generator",
    "validation_settings",
]
