"""Export the raw (not EMA-averaged) generator weights of a training run's newest checkpoint.

Short fine-tuning arms are compared on their raw weights: with ``ema_decay`` 0.998 the exported
average is still about half the start state 400 steps in (docs/generator.md, stop 41).

    python experiments/export_raw_weights.py runs/l1 runs/l1_raw   # writes runs/l1_raw/generator
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from jaxmicro.generator.checkpoint import checkpoint_manager, read_run_json, restore_train_state

training = importlib.import_module("jaxmicro.generator.train")  # the module, not the function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="training run folder")
    parser.add_argument("out", help="folder to export into (its generator/ subfolder)")
    args = parser.parse_args()
    run = Path(args.run)
    config, data = read_run_json(run)
    manager = checkpoint_manager(run, config.keep_checkpoints)
    state = restore_train_state(manager, training.init_train_state(config))[1]
    training._export(Path(args.out), state._replace(g_ema=state.g_params), config, data)
    print(f"step {int(state.step)} exported to {Path(args.out) / 'generator'}")


if __name__ == "__main__":
    main()
