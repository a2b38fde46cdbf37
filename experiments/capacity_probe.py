"""Can the generator network draw the training volumes at all? A reconstruction probe.

GAN training asks two things of the generator at once: that its weights can draw the
simulator's structures, and that the adversarial game finds those weights. This probe takes the
second away. The weights and one free latent per volume are fitted to reproduce ``--volumes``
training volumes voxel for voxel (cross-entropy to the one-hot phases, Adam), as in generative
latent optimisation (Bojanowski et al. 2018, arXiv:1707.05776). Where the fitted network still
draws the AM's particles wrong (local thickness, chords, two-point function against the
targets), the architecture cannot draw them, whatever the training; where it draws them right,
the failing GAN runs are an optimisation problem, and width or depth are not what is missing.

Reported beside the fit, in the same run: a low-pass control with the same number of numbers
per volume as the latent (the one-hot volume averaged over blocks, trilinearly upsampled, then
decoded by the argmax), and the floor, the distance of other simulator volumes at the same
labels (a 64^3 cube of a 128^3 volume of ``--control-data``) from the targets.

    python experiments/capacity_probe.py data/wide64 --control-data data/wide128 \\
        --channels 64,32,16 --steps 1500 --json docs/experiments/stop46/probe_small.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxmicro.characterise.morphology import distance_names, morphology, morphology_distances
from jaxmicro.data import load_dataset
from jaxmicro.data.phases import N_PHASES
from jaxmicro.generator.config import GeneratorConfig
from jaxmicro.generator.model import generator_logits, init_generator


def _pick(samples, count: int):
    """``count`` samples spread over the manifest order (the label grid)."""
    index = np.linspace(0, len(samples) - 1, count).round().astype(int)
    return [samples[i] for i in index]


def _unit_labels(labels: np.ndarray, all_labels: np.ndarray) -> np.ndarray:
    low, high = all_labels.min(0), all_labels.max(0)
    return (labels - low) / np.where(high > low, high - low, 1.0)


def _low_pass(volumes: np.ndarray, block: int) -> np.ndarray:
    """Argmax of the block-averaged one-hot volumes, trilinearly upsampled (periodic)."""
    one_hot = jax.nn.one_hot(volumes, N_PHASES)
    n, z, y, x, _ = one_hot.shape
    coarse = one_hot.reshape(n, z // block, block, y // block, block, x // block, block, N_PHASES).mean(
        (2, 4, 6)
    )
    # Periodic trilinear upsampling: the coarse values sit at block centres.
    padded = jnp.pad(coarse, ((0, 0), (1, 1), (1, 1), (1, 1), (0, 0)), mode="wrap")
    fine = jax.image.resize(
        padded,
        (n, (z // block + 2) * block, (y // block + 2) * block, (x // block + 2) * block, N_PHASES),
        "linear",
    )
    fine = fine[:, block : block + z, block : block + y, block : block + x]
    return np.asarray(jnp.argmax(fine, -1), np.uint8)


def _scores(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    out = {"accuracy": float(np.mean(predicted == target))}
    for phase, name in enumerate(("pore", "am", "cbd")):
        a, b = predicted == phase, target == phase
        out[f"iou_{name}"] = float(np.sum(a & b) / max(np.sum(a | b), 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="training dataset of 64^3 volumes (e.g. data/wide64)")
    parser.add_argument("--control-data", help="another dataset at the same labels, volumes >= 64^3")
    parser.add_argument(
        "--compare", help="an exported generator (e.g. checkpoints/gan): one volume per label"
    )
    parser.add_argument("--init-from", help="an exported generator whose network and weights to start from")
    parser.add_argument(
        "--freeze-weights",
        action="store_true",
        help="fit the latents only: can the given weights draw the volumes at all (GAN inversion)",
    )
    parser.add_argument("--volumes", type=int, default=6)
    parser.add_argument("--channels", default="64,32,16")
    parser.add_argument("--latent-channels", type=int, default=16)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam step of the weights")
    parser.add_argument("--latent-lr", type=float, default=1e-2, help="Adam step of the latents")
    parser.add_argument("--report-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the report here")
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    train = dataset.train
    chosen = _pick(train, args.volumes)
    targets = np.stack([s.volume for s in chosen]).astype(np.int32)
    labels = np.stack([s.labels.to_array() for s in chosen])
    if args.init_from:
        from jaxmicro.generator import load_generator

        start = load_generator(args.init_from)
        config, initial = start.config, start.params
        unit = jnp.asarray(start.unit_labels(labels), jnp.float32)
    else:
        config = GeneratorConfig(
            latent_channels=args.latent_channels, channels=tuple(int(c) for c in args.channels.split(","))
        )
        unit = jnp.asarray(_unit_labels(labels, dataset.label_array("train")), jnp.float32)
    factor = config.upsample_factor
    latent_shape = tuple(n // factor for n in targets.shape[1:])
    key_w, key_z = jax.random.split(jax.random.PRNGKey(args.seed))
    params = initial if args.init_from else init_generator(config, key_w)
    latents = jax.random.normal(key_z, (len(chosen), *latent_shape, config.latent_input_channels))
    n_weights = sum(int(v.size) for v in jax.tree_util.tree_leaves(params))
    print(
        f"{len(chosen)} volumes {targets.shape[1:]}, latent {latent_shape} x {config.latent_input_channels}, "
        f"{n_weights} weights",
        flush=True,
    )

    optimiser = optax.multi_transform(
        {
            "weights": optax.set_to_zero() if args.freeze_weights else optax.adam(args.lr),
            "latents": optax.adam(args.latent_lr),
        },
        {"weights": jax.tree_util.tree_map(lambda _: "weights", params), "latents": "latents"},
    )
    state = {"weights": params, "latents": latents}
    opt_state = optimiser.init(state)

    def loss_fn(state):
        logits = generator_logits(state["weights"], config, state["latents"], unit)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, targets)), logits

    @jax.jit
    def step(state, opt_state):
        (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(state)
        updates, opt_state = optimiser.update(grads, opt_state, state)
        return optax.apply_updates(state, updates), opt_state, loss

    history, start = [], time.time()
    for i in range(1, args.steps + 1):
        state, opt_state, loss = step(state, opt_state)
        if i % args.report_every == 0 or i == args.steps:
            _, logits = loss_fn(state)
            predicted = np.asarray(jnp.argmax(logits, -1), np.uint8)
            row = {
                "step": i,
                "cross_entropy": float(loss),
                **_scores(predicted, targets),
                "seconds": round(time.time() - start, 1),
            }
            history.append(row)
            print(json.dumps(row), flush=True)

    _, logits = loss_fn(state)
    fitted = np.asarray(jnp.argmax(logits, -1), np.uint8)
    # Same numbers per volume as the latent: latent voxels x channels = blocks x 3 phases.
    numbers = int(np.prod(latent_shape)) * config.latent_channels
    block = max(b for b in (2, 4, 8, 16) if (targets.shape[1] // b) ** 3 * N_PHASES >= numbers)
    low_pass = _low_pass(targets.astype(np.uint8), block)
    reference = morphology(targets.astype(np.uint8))
    names = distance_names()
    # The same weights from fresh latents with the fitted latents' per-channel mean and spread:
    # whether the decoder draws particles from noise, or only from latents fitted to each volume.
    fitted_latents = state["latents"]
    mean = fitted_latents.mean(axis=(0, 1, 2, 3))
    spread = fitted_latents.std(axis=(0, 1, 2, 3))
    fresh = mean + spread * jax.random.normal(jax.random.PRNGKey(args.seed + 1), fitted_latents.shape)
    sampled = np.asarray(jnp.argmax(generator_logits(state["weights"], config, fresh, unit), -1), np.uint8)
    arms = {"fitted": fitted, f"low_pass_{block}": low_pass, "fresh_latents": sampled}
    if args.compare:
        from jaxmicro.generator import generate, load_generator

        made = generate(load_generator(args.compare), labels, shape=targets.shape[1:], seed=args.seed)
        arms[f"generator {args.compare}"] = np.asarray(made.volume)
    if args.control_data:
        control = load_dataset(args.control_data)
        by_label = {tuple(np.round(s.labels.to_array(), 4)): s for s in control.samples}
        edge = targets.shape[1]
        arms["control"] = np.stack(
            [by_label[tuple(np.round(l, 4))].volume[:edge, :edge, :edge] for l in labels]
        )
    flat = np.asarray(fitted_latents).reshape(-1, fitted_latents.shape[-1])
    standardised = (flat - flat.mean(0)) / flat.std(0)
    latent_stats = {
        "mean": float(np.abs(flat.mean(0)).mean()),
        "std": float(flat.std(0).mean()),
        "excess_kurtosis": float((standardised**4).mean() - 3),
    }
    report = {
        "data": args.data,
        "latent_stats": latent_stats,
        "labels": labels.tolist(),
        "config": {"channels": list(config.channels), "latent_channels": config.latent_channels},
        "weights": n_weights,
        "steps": args.steps,
        "init_from": args.init_from,
        "freeze_weights": args.freeze_weights,
        "lr": args.lr,
        "latent_lr": args.latent_lr,
        "history": history,
        "arms": {},
    }
    for name, volumes in arms.items():
        distances = morphology_distances(morphology(volumes), reference)
        report["arms"][name] = {
            **_scores(volumes, targets),
            "distances": dict(zip(names, distances.tolist(), strict=True)),
        }
        print(
            name,
            json.dumps({k: round(v, 4) for k, v in report["arms"][name]["distances"].items()}),
            flush=True,
        )
    print("latent", json.dumps(latent_stats), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
