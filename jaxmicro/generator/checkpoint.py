"""Orbax checkpoints: resumable training state, and the exported generator.

A training run folder::

    run/
      run.json                  # TrainConfig + training-data description (written once)
      losses.csv                # one row of losses per step
      checkpoints/<step>/       # orbax: "state" (TrainState) and "meta" (JSON), last few kept
      generator/                # exported generator (rewritten at every checkpoint)

An exported generator folder (what :func:`load_generator` reads, e.g. ``checkpoints/gan``)::

    generator/
      generator.json            # GeneratorConfig, trained label ranges, voxel size, provenance
      params/                   # orbax StandardCheckpointer of the generator parameters

No pickle anywhere: parameters are orbax array checkpoints, metadata is JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from jaxmicro._files import (
    no_space_guard,
    remove_stale_temporaries,
    replace_dir,
    staging_dir,
    write_text_atomic,
)
from jaxmicro.data.labels import LABEL_FIELDS, LABEL_RANGES, LEGACY_LABEL_NORMALISATION, normalise_labels
from jaxmicro.generator.config import GeneratorConfig, TrainConfig, latent_shape_for
from jaxmicro.generator.model import Params, init_generator

GENERATOR_FORMAT: Final[str] = "jaxmicro-generator"
GENERATOR_VERSION: Final[int] = 1
GENERATOR_JSON: Final[str] = "generator.json"
RUN_JSON: Final[str] = "run.json"


@dataclasses.dataclass(frozen=True)
class Generator:
    """A trained generator: network config, weights and the range it was trained on (a
    :class:`~jaxmicro.generator.protocol.VolumeGenerator`, traceable).

    Attributes:
        config: the network.
        params: the Flax parameters (a PyTree of arrays).
        label_ranges: the trained range, ``{field: (low, high)}`` of the training labels.
        voxel_size_m: voxel edge of the training data, so of generated volumes [m].
        info: provenance (training steps, data, command), free-form JSON.
        label_normalisation: ``{field: (low, high)}`` mapped onto [0, 1] before the labels enter
            the network (what it was trained with; :meth:`unit_labels`). Generators exported
            before it was recorded used ``LEGACY_LABEL_NORMALISATION``.
    """

    config: GeneratorConfig
    params: Params = dataclasses.field(repr=False)
    label_ranges: Mapping[str, tuple[float, float]]
    voxel_size_m: float
    info: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    label_normalisation: Mapping[str, tuple[float, float]] = dataclasses.field(
        default_factory=lambda: dict(LEGACY_LABEL_NORMALISATION)
    )

    traceable: ClassVar[bool] = True

    @property
    def grid_period(self) -> int:
        """Edge of one latent cell [voxels]: the network's upsampling factor."""
        return self.config.upsample_factor

    def check_shape(self, shape: Sequence[int]) -> None:
        """Raises ValueError for a ``(z, y, x)`` that is not 3 multiples of the upsampling factor."""
        latent_shape_for(self.config, shape, periodic=False)

    def sample_batch(self, labels: np.ndarray, shape: Sequence[int], seeds: Sequence[int]) -> jax.Array:
        """Volumes at ``(n, 3)`` physical labels (not range-checked) for every seed, decoded as
        the generator decodes (:func:`~jaxmicro.generator.generate.generate_volumes`, jitted).

        Returns:
            ``(len(seeds), n, *shape)`` uint8 phase ids; every label shares the seed's noise.
        """
        from jaxmicro.generator.generate import decoding_fractions, generate_volumes

        labels = np.atleast_2d(np.asarray(labels, np.float64))
        keys = jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])
        unit = jnp.asarray(self.unit_labels(labels))
        shape = tuple(int(n) for n in shape)
        return generate_volumes(self.params, self.config, keys, unit, shape, decoding_fractions(self, labels))

    def unit_labels(self, labels: np.ndarray) -> np.ndarray:
        """Physical labels ``(..., 3)`` as this network takes them: float32, normalised with
        :attr:`label_normalisation`."""
        return normalise_labels(labels, self.label_normalisation).astype(np.float32)

    def metadata(self) -> dict[str, Any]:
        return {
            "format": GENERATOR_FORMAT,
            "version": GENERATOR_VERSION,
            "generator_config": dataclasses.asdict(self.config),
            "label_fields": list(LABEL_FIELDS),
            "label_ranges": {k: list(v) for k, v in self.label_ranges.items()},
            "label_normalisation": {k: list(v) for k, v in self.label_normalisation.items()},
            "voxel_size_m": self.voxel_size_m,
            "info": dict(self.info),
        }


def _abstract(tree: Any) -> Any:
    return jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, tree)


def save_generator(generator: Generator, path: str | os.PathLike) -> Path:
    """Writes ``generator`` to the folder ``path`` atomically (replacing an existing one).

    Staging folders that killed exports left beside ``path`` are removed first (those of live
    processes are kept).

    Raises:
        NoSpaceError: the disk filled up (the previous export, if any, is untouched).
    """
    path = Path(path).absolute()
    remove_stale_temporaries(path.parent, path.name)
    with no_space_guard(path):
        staging = staging_dir(path)
        try:
            with ocp.StandardCheckpointer() as checkpointer:
                checkpointer.save(staging / "params", jax.device_get(generator.params))
                checkpointer.wait_until_finished()
            (staging / GENERATOR_JSON).write_text(json.dumps(generator.metadata(), indent=1) + "\n")
            replace_dir(staging, path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return path


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {what}")
    try:
        body = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); the checkpoint is damaged") from None
    if not isinstance(body, dict):
        raise ValueError(f"{path}: not a JSON object; the checkpoint is damaged")
    return body


def ranges_from_json(mapping: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """``{field: [low, high]}`` as read from JSON -> ``{field: (low, high)}`` of floats."""
    return {str(k): (float(v[0]), float(v[1])) for k, v in mapping.items()}


def _checked_ranges(
    path: Path, meta: dict[str, Any], key: str, strict: bool
) -> dict[str, tuple[float, float]]:
    """``meta[key]``: finite, ordered ranges of every label field (``strict``: low < high)."""
    try:
        ranges = ranges_from_json(meta[key])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise ValueError(f"{path / GENERATOR_JSON}: {key} missing or not numbers ({error})") from None
    if sorted(ranges) != sorted(LABEL_FIELDS):
        raise ValueError(
            f"{path / GENERATOR_JSON}: {key} must have {list(LABEL_FIELDS)}, got {sorted(ranges)}"
        )
    for name, (low, high) in ranges.items():
        if not (np.isfinite(low) and np.isfinite(high) and (low < high if strict else low <= high)):
            raise ValueError(
                f"{path / GENERATOR_JSON}: {key} of {name} ({low}, {high}) must be finite, "
                f"low {'<' if strict else '<='} high"
            )
    return ranges


def _checked_metadata(
    path: Path, meta: dict[str, Any]
) -> tuple[dict[str, tuple[float, float]], float, dict[str, tuple[float, float]]]:
    """The trained label ranges, voxel size and label normalisation of ``generator.json``,
    checked (finite, ordered, positive), so that a damaged file cannot switch off the range
    check of the labels or feed the network NaN."""
    ranges = _checked_ranges(path, meta, "label_ranges", strict=False)
    normalisation = (
        _checked_ranges(path, meta, "label_normalisation", strict=True)
        if "label_normalisation" in meta
        else dict(LEGACY_LABEL_NORMALISATION)
    )
    try:
        voxel_size_m = float(meta["voxel_size_m"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path / GENERATOR_JSON}: voxel_size_m missing or not a number ({error})") from None
    if not (np.isfinite(voxel_size_m) and 0 < voxel_size_m < 1e-3):
        raise ValueError(
            f"{path / GENERATOR_JSON}: voxel_size_m={voxel_size_m} must be in metres, in (0, 1e-3)"
        )
    return ranges, voxel_size_m, normalisation


def _generator_from_metadata(meta: dict[str, Any], params: Params, path: Path = Path(".")) -> Generator:
    ranges, voxel_size_m, normalisation = _checked_metadata(path, meta)
    return Generator(
        GeneratorConfig(**meta["generator_config"]),
        params,
        ranges,
        voxel_size_m,
        meta.get("info", {}),
        normalisation,
    )


def load_generator(path: str | os.PathLike) -> Generator:
    """Loads a generator exported by :func:`save_generator`, or the newest one of a run folder.

    Args:
        path: an exported generator folder (with ``generator.json``) or a training run folder
            (its ``generator/`` export is used).

    Returns:
        The :class:`Generator`.

    Raises:
        FileNotFoundError: no generator at ``path``.
        ValueError: a partial, damaged or incompatible checkpoint (wrong format or version,
            or weights that do not fit the saved config).
    """
    path = Path(path).absolute()  # orbax needs absolute paths
    if not (path / GENERATOR_JSON).is_file() and (path / "generator" / GENERATOR_JSON).is_file():
        path = path / "generator"
    if not path.is_dir():
        raise FileNotFoundError(f"generator checkpoint folder not found: {path}")
    meta = _read_json(path / GENERATOR_JSON, "not a generator checkpoint (export one with jaxmicro train)")
    if meta.get("format") != GENERATOR_FORMAT or meta.get("version") != GENERATOR_VERSION:
        raise ValueError(
            f"{path}: incompatible checkpoint (format {meta.get('format')!r} version "
            f"{meta.get('version')!r}; this jaxmicro reads {GENERATOR_FORMAT!r} version {GENERATOR_VERSION})"
        )
    if meta.get("label_fields") != list(LABEL_FIELDS):
        raise ValueError(f"{path}: checkpoint labels {meta.get('label_fields')} differ from {LABEL_FIELDS}")
    try:
        config = GeneratorConfig(**meta["generator_config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: incompatible generator config ({error})") from None
    _checked_metadata(path, meta)
    if not (path / "params").is_dir():
        raise ValueError(f"{path}: partial checkpoint, the params/ folder is missing")
    target = _abstract(jax.eval_shape(lambda key: init_generator(config, key), jax.random.PRNGKey(0)))
    try:
        with ocp.StandardCheckpointer() as checkpointer:
            params = checkpointer.restore(path / "params", target)
        _check_like(params, target)
    except Exception as error:  # orbax raises many types for damaged or mismatched files
        raise ValueError(
            f"{path}: cannot restore the generator weights ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}); the checkpoint is partial or does not match "
            "its generator.json"
        ) from None
    return _generator_from_metadata(meta, params, path)


def _check_like(tree: Any, target: Any) -> None:
    """Raises ValueError unless ``tree`` has the structure, shapes and dtypes of ``target``
    (orbax restores saved shapes silently when they differ from the target's)."""
    if jax.tree_util.tree_structure(tree) != jax.tree_util.tree_structure(target):
        raise ValueError("the saved parameter tree differs from the config's")
    for a, b in zip(jax.tree_util.tree_leaves(tree), jax.tree_util.tree_leaves(target), strict=True):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(f"saved array {a.shape} {a.dtype} where the config needs {b.shape} {b.dtype}")


def trained_label_ranges(labels: np.ndarray) -> dict[str, tuple[float, float]]:
    """The trained range: per-field min and max of the training labels ``(n, 3)``."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1, 3)
    return {
        name: (float(labels[:, i].min()), float(labels[:, i].max())) for i, name in enumerate(LABEL_FIELDS)
    }


def label_normalisation_for(trained: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """The normalisation a new training run uses: its trained range mapped onto [0, 1], so the
    network sees the whole unit cube; a field that does not vary in the data (one adhesion only)
    takes its physical range (``LABEL_RANGES``), so its label still maps inside [0, 1]."""
    return {
        name: (low, high) if high > low else LABEL_RANGES[name]
        for name, (low, high) in trained.items()
    }


# --- training checkpoints -------------------------------------------------------------------


def checkpoint_manager(
    run_dir: str | os.PathLike, keep: int, *, cleanup: bool = False
) -> ocp.CheckpointManager:
    """An orbax manager of ``run_dir/checkpoints`` keeping the last ``keep`` steps (synchronous).

    Args:
        run_dir: the training run folder.
        keep: checkpoints kept.
        cleanup: remove the temporary folders of checkpoints that a killed or failed save left
            (only for the run's own writer, holding its lock: they may be another writer's).
    """
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=False, cleanup_tmp_directories=cleanup
    )
    return ocp.CheckpointManager(Path(run_dir).absolute() / "checkpoints", options=options)


def save_train_state(manager: ocp.CheckpointManager, step: int, state: Any, meta: dict[str, Any]) -> None:
    """Saves the training state (a PyTree of arrays) and JSON ``meta`` as ``step``."""
    args = ocp.args.Composite(
        state=ocp.args.StandardSave(jax.device_get(state)), meta=ocp.args.JsonSave(meta)
    )
    manager.save(step, args=args, force=True)
    manager.wait_until_finished()


def restore_train_state(manager: ocp.CheckpointManager, like: Any) -> tuple[int, Any, dict[str, Any]]:
    """Restores the newest training checkpoint into the structure of ``like``.

    Returns:
        ``(step, state, meta)``.

    Raises:
        FileNotFoundError: the run has no checkpoint.
        ValueError: the newest checkpoint is partial, damaged or of a different configuration.
    """
    step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"no checkpoint to resume in {manager.directory}")
    args = ocp.args.Composite(state=ocp.args.StandardRestore(_abstract(like)), meta=ocp.args.JsonRestore())
    try:
        restored = manager.restore(step, args=args)
        _check_like(restored.state, _abstract(like))
    except Exception as error:  # orbax raises many types for damaged or mismatched files
        raise ValueError(
            f"{manager.directory}/{step}: cannot restore the training state ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200]}); the checkpoint is partial or from another config"
        ) from None
    return step, restored.state, dict(restored.meta)


def write_run_json(run_dir: Path, config: TrainConfig, data: dict[str, Any]) -> None:
    """Writes ``run.json`` (config and training-data description) atomically."""
    body = {"format": "jaxmicro-train-run", "version": 1, "train_config": config.to_json(), "data": data}
    write_text_atomic(Path(run_dir) / RUN_JSON, json.dumps(body, indent=1) + "\n")


def read_run_json(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    body = _read_json(run_dir / RUN_JSON, "not a jaxmicro training run folder")
    try:
        return TrainConfig.from_json(body["train_config"]), dict(body.get("data", {}))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(
            f"{run_dir / RUN_JSON}: damaged or from another version ({type(error).__name__}: {error}); "
            "restore it or start a new run"
        ) from None
