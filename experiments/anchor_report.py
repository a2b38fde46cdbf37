"""What a run's reconstruction anchors hold: how much of each training cube the generator draws
back from its anchor, and whether the fitted latents still look like the prior's draws.

For a run trained with ``--anchor-weight`` (its newest checkpoint, raw weights): the share of
each training cube's voxels that the argmax of the generator at the cube's anchor and labels
gets right; the anchors' channel means, spreads and largest channel correlation, their lag-1
spatial correlation along each axis, and their correlation with the standard-normal draws they
started from (``train.init_train_state``). Latents that stay white and close to their start mean
the weights did the fitting: a lookup from those noise volumes, which fresh draws do not reach
(docs/generator.md, stop 48).

    python experiments/anchor_report.py runs/r1 --data data/wide64
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxmicro.data.dataset import load_dataset
from jaxmicro.generator.checkpoint import (
    checkpoint_manager,
    ranges_from_json,
    read_run_json,
    restore_train_state,
)
from jaxmicro.generator.model import generator_logits
from jaxmicro.generator.slices import build_slice_bank
from jaxmicro.generator.train import init_train_state


def latent_statistics(anchors: np.ndarray, initial: np.ndarray) -> dict[str, float]:
    """Second-order statistics of ``(n, e, e, e, c)`` latents against their initial draws."""
    flat = anchors.reshape(-1, anchors.shape[-1])
    corr = np.corrcoef(flat.T)
    centred = anchors - anchors.mean(axis=(0, 1, 2, 3))
    lag1 = [
        float((centred * np.roll(centred, 1, axis=axis)).mean() / (centred**2).mean()) for axis in (1, 2, 3)
    ]
    return {
        "largest_channel_mean": float(np.abs(flat.mean(0)).max()),
        "channel_std_min": float(flat.std(0).min()),
        "channel_std_max": float(flat.std(0).max()),
        "largest_channel_correlation": float(np.abs(corr - np.eye(len(corr))).max()),
        "lag1_correlation_max": float(np.abs(lag1).max()),
        "correlation_with_initial": float(np.corrcoef(anchors.ravel(), initial.ravel())[0, 1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a training run folder trained with --anchor-weight")
    parser.add_argument("--data", required=True, help="the run's training dataset (e.g. data/wide64)")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()

    run = Path(args.run)
    config, data = read_run_json(run)
    if not data.get("anchors"):
        raise SystemExit(f"{run}: trained without anchors (--anchor-weight); nothing to report")
    start = init_train_state(config, data["anchors"])
    step, state, _ = restore_train_state(checkpoint_manager(run, config.keep_checkpoints), start)
    bank = build_slice_bank(
        load_dataset(args.data).train,
        config.slice_size,
        ranges_from_json(data["label_normalisation"]),
        config.stats_lags,
        anchor_edge=config.train_edge,
    )
    right = []
    for j in range(state.anchors.shape[0]):
        target = np.asarray(bank.anchor_volumes[j])
        labels = bank.labels_unit[bank.anchor_labels[j]][None]
        latent = state.anchors[j][None]
        logits = generator_logits(state.g_params, config.generator, latent, labels, target.shape)
        right.append(float(np.mean(np.asarray(jnp.argmax(logits[0], -1)) == target)))
    report = {
        "run": str(run),
        "step": int(step),
        "voxels_right_mean": float(np.mean(right)),
        "voxels_right_min": float(np.min(right)),
        "voxels_right_max": float(np.max(right)),
        **latent_statistics(np.asarray(state.anchors), np.asarray(start.anchors)),
    }
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
