"""WGAN-GP training of the conditional SliceGAN (optax, one jitted step).

One step (:func:`make_train_step`):

1. Draw ``batch_volumes`` training labels and latent volumes; generate the fake volumes once,
   keeping the generator's VJP (``jax.vjp``) for step 3.
2. ``n_critic`` critic updates: each draws fresh random real slices of the drawn
   labels and fresh random slices of the fake volumes along every axis; each axis has its own
   critic; loss ``E[D(fake)] - E[D(real)] + gp_weight * GP`` (gradient penalty on random
   interpolates of real and fake slices with the same labels).
3. One generator update: ``-sum_axes E[D_axis(fake slices)]`` with the updated critics, plus
   ``vf_weight`` times the squared error between each fake volume's mean phase probabilities
   and the phase fractions of the training sample whose labels it was given, plus
   ``stats_weight`` times the mean squared relative error of its two-point phase-pair
   probabilities (interfaces and correlation lengths along each axis). The gradient with
   respect to the fake volumes is pulled back through the saved VJP, so the generator runs
   forward and backward once per step. With ``anchor_weight``, ``anchor_batch`` training cubes
   are also drawn back from their own fitted latents (a reconstruction term; the latents are
   part of the state); with ``adversarial_weight`` 0 step 2 and the critics' term are skipped,
   which makes a run a reconstruction phase.
   The exponential moving average of the generator weights (``ema_decay``) is updated after the
   step; it is what gets exported.

All randomness comes from the key in :class:`TrainState`, so a run resumed from a checkpoint
continues bit for bit.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from jaxmicro._files import no_space_guard, remove_stale_temporaries, run_lock, write_text_atomic
from jaxmicro.characterise.soft import sharpen, straight_through
from jaxmicro.data.dataset import LabelledDataset
from jaxmicro.data.labels import LEGACY_LABEL_NORMALISATION
from jaxmicro.generator.checkpoint import (
    RUN_JSON,
    Generator,
    checkpoint_manager,
    label_normalisation_for,
    load_generator,
    ranges_from_json,
    read_run_json,
    restore_train_state,
    save_generator,
    save_train_state,
    trained_label_ranges,
    write_run_json,
)
from jaxmicro.generator.config import TrainConfig
from jaxmicro.generator.losses import (
    erosion_loss,
    euler_loss,
    lattice_loss,
    lineal_path_loss,
    tortuosity_loss,
    two_point_loss,
    volume_fraction_loss,
)
from jaxmicro.generator.model import (
    Params,
    add_seed_inputs,
    critic_apply,
    generator_apply,
    generator_logits,
    init_critics,
    init_generator,
    widen_generator,
)
from jaxmicro.generator.slices import SliceBank, build_slice_bank, cube_count, real_slices, volume_slices


class TrainState(NamedTuple):
    """Everything that changes during training (a JAX PyTree of arrays).

    Attributes:
        step: int32 scalar array, generator updates done.
        g_params, d_params: generator and per-axis critic parameters.
        g_opt, d_opt: their optax states.
        key: the PRNG key of the next step.
        g_ema: exponential moving average of ``g_params`` (equal to them if ``ema_decay`` is 0).
        anchors: ``(n_anchors, L + 1, L + 1, L + 1, c)`` the training cubes' fitted latents
            (``L = train_latent_size``; each a crop source like a generated volume's), or None
            without ``anchor_weight``.
        anchor_opt: their optax state (None without them).
    """

    step: jax.Array
    g_params: Params
    d_params: tuple[Params, Params, Params]
    g_opt: Any
    d_opt: Any
    key: jax.Array
    g_ema: Params
    anchors: jax.Array | None = None
    anchor_opt: Any = None


ANCHOR_LR = 1e-2
"""Adam step of the anchors' latents: the reconstruction probe fitted them at this rate
(docs/generator.md, stop 46); the weights keep ``lr_generator``."""

_ANCHOR_TX = optax.adam(ANCHOR_LR)


class StepMetrics(NamedTuple):
    """Losses of one step (scalars; critic ones averaged over the critic updates).

    Attributes:
        critic_loss: critic loss summed over the three axes.
        wasserstein: ``E[D(real)] - E[D(fake)]`` summed over the axes (Wasserstein estimate).
        gradient_penalty: gradient penalty summed over the axes (unweighted).
        generator_loss: adversarial generator loss ``-sum_axes E[D(fake)]``.
        vf_loss: mean squared phase-fraction error of the fake volumes.
        stats_loss: mean squared relative error of their two-point statistics (unweighted).
        lineal_loss: mean squared error of their log lineal-path functions (unweighted; 0 if
            not used).
        erosion_loss: mean squared error of their log ball erosion (unweighted; 0 if not used).
        euler_loss: mean squared error of their Euler characteristics per voxel, in units of
            ``EULER_SCALE`` (unweighted; 0 if not used).
        tau_loss: mean squared error of their soft ``log tau`` (unweighted; 0 if not used).
        lattice_loss: relative covariance of their latent cells at the same position in the
            cell (unweighted; 0 if not used).
        anchor_loss: cross-entropy [nats per voxel] of the anchor drawn back this step
            (unweighted; 0 if not used).
    """

    critic_loss: jax.Array
    wasserstein: jax.Array
    gradient_penalty: jax.Array
    generator_loss: jax.Array
    vf_loss: jax.Array
    stats_loss: jax.Array
    tau_loss: jax.Array
    lineal_loss: jax.Array
    erosion_loss: jax.Array
    euler_loss: jax.Array
    lattice_loss: jax.Array
    anchor_loss: jax.Array


def _optimisers(config: TrainConfig) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    g_tx = optax.adam(config.lr_generator, b1=config.adam_b1, b2=config.adam_b2)
    if config.law_lr_scale != 1.0:  # only then: other runs keep their optimiser state's layout
        law = optax.adam(config.lr_generator * config.law_lr_scale, b1=config.adam_b1, b2=config.adam_b2)
        g_tx = optax.multi_transform(
            {"law": law, "rest": g_tx},
            lambda params: jax.tree_util.tree_map_with_path(
                lambda path, _: "law" if "particle_law" in jax.tree_util.keystr(path) else "rest", params
            ),
        )
    d_tx = optax.adam(config.lr_critic, b1=config.adam_b1, b2=config.adam_b2)
    return g_tx, d_tx


def init_train_state(config: TrainConfig, n_anchors: int = 0) -> TrainState:
    """The initial training state from ``config.seed``, with ``n_anchors`` fitted latents
    (standard normal; :attr:`TrainState.anchors`) where ``config.anchor_weight`` is on."""
    key = jax.random.PRNGKey(config.seed)
    k_g, k_d, key = jax.random.split(key, 3)
    g_params = init_generator(config.generator, k_g)
    d_params = init_critics(config.critic_channels, config.slice_size, k_d)
    g_tx, d_tx = _optimisers(config)
    state = TrainState(
        jnp.zeros((), jnp.int32), g_params, d_params, g_tx.init(g_params), d_tx.init(d_params), key, g_params
    )
    return _with_fresh_anchors(state, config, n_anchors) if config.anchor_weight else state


def _with_fresh_anchors(state: TrainState, config: TrainConfig, n_anchors: int) -> TrainState:
    """``state`` with ``n_anchors`` standard-normal latents on the sphere and their fresh Adam
    state (drawn from ``config.seed`` by ``fold_in``, so the other draws stay as they were)."""
    edge = config.train_latent_size + 1
    shape = (n_anchors, edge, edge, edge, config.generator.latent_input_channels)
    anchors = _on_sphere(jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(config.seed), 1), shape))
    return state._replace(anchors=anchors, anchor_opt=_ANCHOR_TX.init(anchors))


def _on_sphere(latents: jax.Array) -> jax.Array:
    """Each latent volume centred and scaled to unit variance over its entries: a typical
    Gaussian draw, as generative latent optimisation keeps its codes on a sphere (Bojanowski et
    al. 2018), so what the generator learns from the anchors holds for the random latents."""
    axes = tuple(range(1, latents.ndim))
    centred = latents - jnp.mean(latents, axis=axes, keepdims=True)
    return centred * jax.lax.rsqrt(jnp.mean(centred**2, axis=axes, keepdims=True) + 1e-12)


def _anchor_step(state: TrainState, config: TrainConfig, bank: SliceBank, key: jax.Array):
    """``config.anchor_batch`` anchors' reconstruction: ``(mean cross-entropy, weight
    gradients, new anchors, new anchor optimiser state)``; the latents take their own Adam step
    and return to the sphere."""
    gcfg = config.generator
    j = jax.random.choice(key, state.anchors.shape[0], (config.anchor_batch,), replace=False)
    target = bank.anchor_volumes[j].astype(jnp.int32)
    labels = bank.labels_unit[bank.anchor_labels[j]]

    def cross_entropy(params, latents):
        logits = generator_logits(params, gcfg, latents, labels, target.shape[1:])
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, target))

    loss, (g_grads, latent_grads) = jax.value_and_grad(cross_entropy, argnums=(0, 1))(
        state.g_params, state.anchors[j]
    )
    grads = jnp.zeros_like(state.anchors).at[j].set(latent_grads)
    updates, anchor_opt = _ANCHOR_TX.update(grads, state.anchor_opt, state.anchors)
    return loss, g_grads, _on_sphere(optax.apply_updates(state.anchors, updates)), anchor_opt


def _critic_loss(d_params, config: TrainConfig, reals, fakes, labels, key):
    total, wasserstein, penalty = 0.0, 0.0, 0.0
    for axis, k in enumerate(jax.random.split(key, 3)):
        params = d_params[axis]

        def score(x, params=params):
            return critic_apply(params, config.critic_channels, x, labels)

        d_real, d_fake = score(reals[axis]), score(fakes[axis])
        eps = jax.random.uniform(k, (labels.shape[0], 1, 1, 1))
        mixed = eps * reals[axis] + (1.0 - eps) * fakes[axis]
        grads = jax.grad(lambda x, score=score: jnp.sum(score(x)))(mixed)
        norms = jnp.sqrt(jnp.sum(grads**2, axis=(1, 2, 3)) + 1e-12)
        gp = jnp.mean((norms - 1.0) ** 2)
        w = jnp.mean(d_real) - jnp.mean(d_fake)
        total = total - w + config.gp_weight * gp
        wasserstein, penalty = wasserstein + w, penalty + gp
    return total, (wasserstein, penalty)


@functools.lru_cache(maxsize=8)
def make_train_step(config: TrainConfig) -> Callable[[TrainState, SliceBank], tuple[TrainState, StepMetrics]]:
    """The jitted training step ``(state, bank) -> (state, metrics)`` for ``config`` (cached per
    config, so repeated runs reuse the compilation)."""
    g_tx, d_tx = _optimisers(config)
    gcfg, size, per = config.generator, config.slice_size, config.slices_per_volume
    latent = (config.batch_volumes, *(config.train_latent_size,) * 3, gcfg.latent_input_channels)

    def step(state: TrainState, bank: SliceBank) -> tuple[TrainState, StepMetrics]:
        key, k_index, k_z, k_critic, k_gen = jax.random.split(state.key, 5)
        index = jax.random.randint(k_index, (config.batch_volumes,), 0, bank.labels_unit.shape[0])
        labels = bank.labels_unit[index]
        slice_labels = jnp.repeat(labels, per, axis=0)
        z = jax.random.normal(k_z, latent)
        fake, pullback = jax.vjp(lambda p: generator_apply(p, gcfg, z, labels), state.g_params)

        def critic_update(carry, k):
            d_params, d_opt = carry
            ks = jax.random.split(k, 7)
            reals = [real_slices(bank, a, ks[a], index, per, size) for a in range(3)]
            fakes = [volume_slices(fake, a, ks[3 + a], per, size) for a in range(3)]
            (loss, (w, gp)), grads = jax.value_and_grad(_critic_loss, has_aux=True)(
                d_params, config, reals, fakes, slice_labels, ks[6]
            )
            updates, d_opt = d_tx.update(grads, d_opt, d_params)
            return (optax.apply_updates(d_params, updates), d_opt), (loss, w, gp)

        # A Python loop, not lax.scan: XLA:CPU ran the convolutions inside scan ~5x slower.
        # Without the adversarial term (a reconstruction phase) the critics are not trained.
        carry, aux = (state.d_params, state.d_opt), []
        for k in jax.random.split(k_critic, config.n_critic) if config.adversarial_weight else []:
            carry, out = critic_update(carry, k)
            aux.append(out)
        (d_params, d_opt), (d_loss, w, gp) = carry, jnp.array(aux or [(0.0, 0.0, 0.0)]).T

        def generator_loss(volumes):
            adversarial = jnp.zeros(())
            for axis, k in enumerate(jax.random.split(k_gen, 3) if config.adversarial_weight else []):
                slices = volume_slices(volumes, axis, k, per, size)
                adversarial -= jnp.mean(
                    critic_apply(d_params[axis], config.critic_channels, slices, slice_labels)
                )
            # What the auxiliary losses see. Sharpened (T < 1) for the fractions, statistics,
            # tortuosity and topology, which should target the argmax decoding; unsharpened for
            # the run and depth losses: sharpening squashes a voxel where a phase is
            # confidently absent to ~1e-13, and with it the gradient that would grow the phase
            # there (longer runs, deeper cores need exactly those voxels). With a
            # straight-through temperature all but the topology see the decoded volumes
            # exactly; the Euler count's straight-through gradient diverged within 30 steps.
            # Decoded at the fractions, the decoded fractions are exact and the fraction term
            # would be 0 (runs/fm read 1e-8): it anchors the sharpened ones instead (too weakly
            # at weight 10 to stop that run's drift, docs/generator.md).
            fractions = bank.phase_fractions[index]
            at_fractions = bool(config.straight_through_temperature) and gcfg.decoding == "fractions"
            sharp = sharpen(volumes, config.aux_temperature)
            decoded, shaped = sharp, volumes
            if config.straight_through_temperature:
                targets = fractions if at_fractions else None
                decoded = shaped = straight_through(volumes, config.straight_through_temperature, targets)
            vf = volume_fraction_loss(sharp if at_fractions else decoded, fractions)
            stats = two_point_loss(decoded, bank.two_point[index], config.stats_lags)
            total = config.adversarial_weight * adversarial + config.vf_weight * vf
            total = total + config.stats_weight * stats
            tau, lineal, erosion, euler = jnp.zeros(()), jnp.zeros(()), jnp.zeros(()), jnp.zeros(())
            if config.tau_weight:  # static: the solves cost about as much as the rest of the step
                tau = tortuosity_loss(decoded, bank.log_tau[index])
                total = total + config.tau_weight * tau
            if config.lineal_weight:
                lineal = lineal_path_loss(shaped, bank.lineal_path[index], config.lineal_lengths)
                total = total + config.lineal_weight * lineal
            if config.erosion_weight:
                erosion = erosion_loss(shaped, bank.erosion[index], config.erosion_radii)
                total = total + config.erosion_weight * erosion
            if config.euler_weight:
                euler = euler_loss(sharp, bank.euler[index])
                total = total + config.euler_weight * euler
            lattice = jnp.zeros(())
            if config.lattice_weight:
                lattice = lattice_loss(decoded, gcfg.upsample_factor)
                total = total + config.lattice_weight * lattice
            return total, (adversarial, vf, stats, tau, lineal, erosion, euler, lattice)

        (_, (g_adv, vf, stats, tau, lineal, erosion, euler, lattice)), d_fake = jax.value_and_grad(
            generator_loss, has_aux=True
        )(fake)
        (g_grads,) = pullback(d_fake)
        anchors, anchor_opt, anchor = state.anchors, state.anchor_opt, jnp.zeros(())
        if config.anchor_weight:
            k_anchor = jax.random.fold_in(k_gen, 1)  # no new split: other runs keep their draws
            anchor, a_grads, anchors, anchor_opt = _anchor_step(state, config, bank, k_anchor)
            g_grads = jax.tree_util.tree_map(lambda g, a: g + config.anchor_weight * a, g_grads, a_grads)
        updates, g_opt = g_tx.update(g_grads, state.g_opt, state.g_params)
        g_params = optax.apply_updates(state.g_params, updates)
        g_ema = optax.incremental_update(g_params, state.g_ema, 1.0 - config.ema_decay)
        new_state = TrainState(
            state.step + 1, g_params, d_params, g_opt, d_opt, key, g_ema, anchors, anchor_opt
        )
        return new_state, StepMetrics(
            jnp.mean(d_loss), jnp.mean(w), jnp.mean(gp), g_adv, vf, stats, tau, lineal, erosion, euler,
            lattice, anchor,
        )

    return jax.jit(step)


def data_description(dataset: LabelledDataset) -> dict[str, Any]:
    """Training-data facts saved with a run: folder, voxel size, trained range, fingerprint."""
    train = dataset.train
    if not train:
        raise ValueError(f"{dataset.root}: no 'train' samples to learn from")
    sizes = sorted({s.voxel_size_m for s in train})
    if len(sizes) > 1:
        raise ValueError(f"{dataset.root}: training samples have different voxel sizes {sizes}; use one")
    digest = hashlib.sha256()
    for sample in sorted(train, key=lambda s: s.file):
        digest.update(sample.file.encode())
        digest.update(np.ascontiguousarray(sample.volume).tobytes())
    return {
        "root": str(dataset.root),
        "n_train": len(train),
        "shapes": sorted({list(s.volume.shape).__repr__() for s in train}),
        "voxel_size_m": sizes[0],
        "label_ranges": trained_label_ranges(dataset.label_array("train")),
        "source": dataset.source,
        "sha256": digest.hexdigest(),
    }


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    Attributes:
        generator: the trained generator (also exported to ``run_dir/generator``).
        state: the final training state.
        history: ``(steps_run, 7)`` losses of the steps run in this call, in
            :class:`StepMetrics` field order; read one by name with :meth:`loss`.
        seconds: wall time of this call's training loop [s].
    """

    generator: Generator
    state: TrainState = dataclasses.field(repr=False)
    history: np.ndarray = dataclasses.field(repr=False)
    seconds: float

    def loss(self, name: str) -> np.ndarray:
        """The ``(steps_run,)`` values of one :class:`StepMetrics` field, e.g. ``"tau_loss"``.

        Raises:
            ValueError: an unknown name (the message lists the known ones).
        """
        if name not in StepMetrics._fields:
            known = ", ".join(StepMetrics._fields)
            raise ValueError(f"unknown training metric {name!r}; choose from {known}")
        return self.history[:, StepMetrics._fields.index(name)]


def _export(run_dir: Path, state: TrainState, config: TrainConfig, data: dict[str, Any]) -> Generator:
    info = {
        "steps": int(state.step),
        "train_config": config.to_json(),
        "data": {k: v for k, v in data.items() if k not in ("label_ranges", "label_normalisation")},
    }
    generator = Generator(
        config.generator,
        jax.device_get(state.g_ema),
        ranges_from_json(data["label_ranges"]),
        data["voxel_size_m"],
        info,
        ranges_from_json(data["label_normalisation"]),
    )
    save_generator(generator, run_dir / "generator")
    return generator


def export_run(run_dir: str | Path, out_dir: str | Path, *, raw: bool = False) -> Generator:
    """Exports the generator of a training run's newest checkpoint to ``out_dir/generator``.

    Args:
        run_dir: the run folder (``train``'s ``run_dir``: run.json and checkpoints/).
        out_dir: folder to export into (its ``generator/`` subfolder, as a run's own export).
        raw: export the raw weights instead of their EMA: short fine-tuning arms are compared
            so, as at ``ema_decay`` 0.998 the average is still about half the start state 400
            steps in (docs/generator.md, stop 41).

    Returns:
        The exported :class:`Generator` (its ``info["steps"]``: the checkpoint's step).

    Raises:
        FileNotFoundError: ``run_dir`` has no checkpoint.
        ValueError: ``run_dir`` is not a training run folder, or its checkpoint is damaged.
    """
    run_dir = Path(run_dir)
    config, data = read_run_json(run_dir)
    manager = checkpoint_manager(run_dir, config.keep_checkpoints)
    state = restore_train_state(manager, init_train_state(config, data.get("anchors", 0)))[1]
    return _export(Path(out_dir), state._replace(g_ema=state.g_params) if raw else state, config, data)


def _append_losses(path: Path, first_step: int, rows: list[np.ndarray]) -> None:
    new = not path.exists()
    with no_space_guard(path), path.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(["step", *StepMetrics._fields])
        for i, row in enumerate(rows):
            writer.writerow([first_step + i + 1, *(f"{v:.6g}" for v in row)])


def _truncate_losses(path: Path, step: int) -> None:
    """Keeps the rows up to ``step``; a file from a version with fewer losses gets the new
    columns, 0 in the old rows (those losses did not exist then)."""
    if path.exists():
        lines = path.read_text().splitlines()
        header = ["step", *StepMetrics._fields]
        try:
            old = lines[0].split(",")
            if old != header[: len(old)]:
                raise ValueError
            pad = ",0" * (len(header) - len(old))
            rows = [line + pad for line in lines[1:] if line and int(line.split(",")[0]) <= step]
        except (ValueError, IndexError):
            raise ValueError(f"{path}: not a losses file written by jaxmicro train; move it away") from None
        write_text_atomic(path, "\n".join([",".join(header), *rows]) + "\n")


def _initial_state_from(
    source: Path, config: TrainConfig, like: TrainState
) -> tuple[TrainState, dict, dict[str, tuple[float, float]]]:
    """The state to fine-tune from, its provenance and its label normalisation.

    ``source`` is a run folder (its newest checkpoint: weights, optimiser states, step) or an
    exported generator (``generator.json``; e.g. ``checkpoints/gan``): its weights as the
    generator and its EMA, with fresh critics and optimiser states, from step 0. Either must have
    ``config``'s networks.
    """
    if not (source / RUN_JSON).is_file():
        try:
            generator = load_generator(source)
        except FileNotFoundError:
            raise ValueError(
                f"{source}: neither a training run (run.json) nor an exported generator"
            ) from None
        _check_same(source, "generator", generator.config, config.generator, gains_zeroed=True)
        params = jax.tree_util.tree_map(jnp.asarray, generator.params)
        if config.generator.seeds_per_cell and not generator.config.seeds_per_cell:
            params = add_seed_inputs(params, generator.config)
        if config.generator.channels != generator.config.channels:
            params = widen_generator(params, generator.config, like.g_params)
        # Noise inputs, residual blocks, seed inputs, CBD films or wider stages added to a trained
        # network start at 0 (this run's fresh ones), so at step 0 it computes what it did.
        params = {"params": {**like.g_params["params"], **params["params"]}}
        provenance = {"generator": str(source.resolve()), "step": int(generator.info.get("steps", 0))}
        return like._replace(g_params=params, g_ema=params), provenance, dict(generator.label_normalisation)
    source_config, source_data = read_run_json(source)
    for field in ("generator", "critic_channels", "slice_size"):
        _check_same(source, field, getattr(source_config, field), getattr(config, field))
    manager = checkpoint_manager(source, source_config.keep_checkpoints)
    if manager.latest_step() is None:
        raise ValueError(f"{source}: no checkpoint to start from")
    # The source's anchors restore only into their own shapes; this run keeps them where it
    # fits anchors to the same cubes, else its fresh ones (or none).
    had = int(source_data.get("anchors", 0))
    source_like = like._replace(anchors=None, anchor_opt=None)
    if had:
        source_like = _with_fresh_anchors(source_like, config, had)
    state = restore_train_state(manager, source_like)[1]
    if like.anchors is None or had != like.anchors.shape[0]:
        state = state._replace(anchors=like.anchors, anchor_opt=like.anchor_opt)
    normalisation = ranges_from_json(source_data.get("label_normalisation", LEGACY_LABEL_NORMALISATION))
    return state, {"run": str(source.resolve()), "step": int(state.step)}, normalisation


def _check_same(source: Path, field: str, theirs: Any, ours: Any, gains_zeroed: bool = False) -> None:
    """Raises unless ``source``'s ``field`` equals this run's. Generators may differ in their
    decoding (the same network), and with ``gains_zeroed`` an exported one may lack the noise
    inputs, residual blocks and seed inputs this run adds (all start at 0, so the network computes what it
    did; so do CBD films), or be narrower (:func:`widen_generator`)."""
    if field == "generator":
        noise = theirs.noise_injection or (gains_zeroed and ours.noise_injection)
        blocks = theirs.residual_blocks or (ours.residual_blocks if gains_zeroed else ())
        seeds = theirs.seeds_per_cell or (ours.seeds_per_cell if gains_zeroed else 0)
        films = theirs.cbd_films or (gains_zeroed and ours.cbd_films)
        channels = theirs.channels
        if gains_zeroed and len(channels) == len(ours.channels) and all(
            o >= t for o, t in zip(ours.channels, channels, strict=True)
        ):
            channels = ours.channels
        theirs = dataclasses.replace(theirs, decoding=ours.decoding, noise_injection=noise, channels=channels,
                                     residual_blocks=blocks, seeds_per_cell=seeds, cbd_films=films)
    if theirs != ours:
        raise ValueError(
            f"{source}: its {field} is {theirs}, this run's is {ours}; init_from needs the same networks"
        )


def _anchor_count(dataset: LabelledDataset, config: TrainConfig) -> int:
    """How many ``train_edge`` cubes the 3-D training volumes hold (0 without ``anchor_weight``)."""
    if not config.anchor_weight:
        return 0
    return sum(cube_count(s.volume.shape, config.train_edge) for s in dataset.train if s.volume.ndim == 3)


def _covers(normalisation: dict[str, tuple[float, float]], trained: dict[str, Any]) -> bool:
    return all(normalisation[k][0] <= lo and hi <= normalisation[k][1] for k, (lo, hi) in trained.items())


def train(
    dataset: LabelledDataset,
    run_dir: str | Path,
    config: TrainConfig,
    *,
    resume: bool = False,
    init_from: str | Path | None = None,
    progress: bool = True,
) -> TrainResult:
    """Trains (or resumes) a conditional SliceGAN on the dataset's training split.

    Args:
        dataset: labelled dataset; its ``train`` samples (3-D volumes or 2-D sections) are used.
        run_dir: run folder (see :mod:`jaxmicro.generator.checkpoint`).
        config: hyperparameters; on resume they must equal the saved ones except ``steps``.
        resume: continue from the newest checkpoint of ``run_dir``.
        init_from: start a new run from the newest checkpoint of this other run folder
            (weights, optimiser states and step count): fine-tuning with changed losses or
            step counts; or from an exported generator (its weights, with fresh critics, from
            step 0): fine-tuning on other data. Its networks (and slice size) must equal
            ``config``'s, except that an exported generator without noise inputs may gain
            them (``GeneratorConfig.noise_injection``; their scales start at 0). The labels
            keep its normalisation where that covers the new trained range, else take the new
            range.
        progress: show a tqdm bar with the losses.

    Returns:
        The :class:`TrainResult`.

    Raises:
        FileExistsError: ``run_dir`` has checkpoints and ``resume`` is False.
        FileNotFoundError: ``resume`` and there is nothing to resume.
        ValueError: bad data, a resume with another config or other training data, or an
            ``init_from`` run with other networks or nothing to start from.
        RunInUseError: another process is training in ``run_dir`` (its lock is held for the
            whole run; staging folders of killed exports are removed once it is taken).
        NoSpaceError: the disk filled up (the newest checkpoint stays; resume after freeing space).
    """
    run_dir = Path(run_dir)
    with run_lock(run_dir):
        remove_stale_temporaries(run_dir)
        return _train_locked(dataset, run_dir, config, resume, init_from, progress)


def _train_locked(
    dataset: LabelledDataset,
    run_dir: Path,
    config: TrainConfig,
    resume: bool,
    init_from: str | Path | None,
    progress: bool,
) -> TrainResult:
    data = data_description(dataset)
    manager = checkpoint_manager(run_dir, config.keep_checkpoints, cleanup=True)  # we hold the lock
    n_anchors = _anchor_count(dataset, config)
    if n_anchors:
        data["anchors"] = n_anchors
    if config.anchor_weight and config.anchor_batch > n_anchors:
        raise ValueError(
            f"anchor_batch {config.anchor_batch} exceeds the {n_anchors} training cubes of edge "
            f"{config.train_edge}; pass --anchor-batch {n_anchors} or less"
        )
    state = init_train_state(config, n_anchors)
    if manager.latest_step() is not None and not resume:
        raise FileExistsError(f"{run_dir} already holds a training run; pass --resume or use a new --out")
    if resume and init_from is not None:
        raise ValueError("pass either resume or init_from, not both")
    # A new run maps its trained range onto [0, 1]; a resumed one keeps what it was started with
    # (runs from before it was recorded: the legacy ranges).
    normalisation = label_normalisation_for(data["label_ranges"])
    if resume:
        saved, saved_data = read_run_json(run_dir)
        if saved.replace(steps=config.steps) != config:
            raise ValueError(f"{run_dir}: the run was trained with another config; resume with the saved one")
        if saved_data.get("sha256") != data["sha256"]:
            raise ValueError(f"{run_dir}: the run was trained on other data ({saved_data.get('root')})")
        if "init_from" in saved_data:
            data["init_from"] = saved_data["init_from"]
        normalisation = ranges_from_json(saved_data.get("label_normalisation", LEGACY_LABEL_NORMALISATION))
        state = restore_train_state(manager, state)[1]
        _truncate_losses(run_dir / "losses.csv", int(state.step))
    elif init_from is not None:
        state, data["init_from"], inherited = _initial_state_from(Path(init_from), config, state)
        if _covers(inherited, data["label_ranges"]):
            normalisation = inherited
    data["label_normalisation"] = normalisation
    bank = build_slice_bank(
        dataset.train,
        config.slice_size,
        normalisation,
        config.stats_lags,
        tortuosity_targets=config.tau_weight > 0,
        lineal_lengths=config.lineal_lengths if config.lineal_weight > 0 else None,
        erosion_radii=config.erosion_radii if config.erosion_weight > 0 else None,
        euler_targets=config.euler_weight > 0,
        tau_edge=config.train_edge,
        anchor_edge=config.train_edge if config.anchor_weight else None,
    )
    write_run_json(run_dir, config, data)
    step_fn = make_train_step(config)
    start_step, rows, pending = int(state.step), [], []
    started = time.perf_counter()
    bar = tqdm(
        range(start_step, config.steps),
        initial=start_step,
        total=config.steps,
        desc="training",
        unit="step",
        disable=not progress,
    )
    for _ in bar:
        state, metrics = step_fn(state, bank)
        row = np.array(jax.device_get(metrics), dtype=np.float64)
        rows.append(row)
        pending.append(row)
        named = StepMetrics(*row.tolist())
        bar.set_postfix(
            d=f"{named.critic_loss:.3g}",
            w=f"{named.wasserstein:.3g}",
            g=f"{named.generator_loss:.3g}",
            vf=f"{named.vf_loss:.2g}",
            st=f"{named.stats_loss:.2g}",
            tau=f"{named.tau_loss:.2g}",
            lp=f"{named.lineal_loss:.2g}",
            er=f"{named.erosion_loss:.2g}",
            eu=f"{named.euler_loss:.2g}",
            la=f"{named.lattice_loss:.2g}",
            an=f"{named.anchor_loss:.2g}",
        )
        if not np.all(np.isfinite(row)):
            raise FloatingPointError(
                f"non-finite losses at step {int(state.step)}: {row}; lower the learning rates"
            )
        step = int(state.step)
        if step % config.checkpoint_every == 0 or step == config.steps:
            _append_losses(run_dir / "losses.csv", step - len(pending), pending)
            pending = []
            with no_space_guard(run_dir / "checkpoints" / str(step)):
                save_train_state(manager, step, state, {"step": step, "config": config.to_json()})
            _export(run_dir, state, config, data)
        if config.png_every and step % config.png_every == 0:
            from jaxmicro.generator.plotting import save_training_png

            save_training_png(
                run_dir / "png" / f"step{step:07d}.png", state.g_params, config, bank, normalisation
            )
    bar.close()
    seconds = time.perf_counter() - started
    if pending:
        _append_losses(run_dir / "losses.csv", int(state.step) - len(pending), pending)
    generator = _export(run_dir, state, config, data)
    return TrainResult(generator, state, np.array(rows).reshape(-1, len(StepMetrics._fields)), seconds)
