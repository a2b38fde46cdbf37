"""Export the raw (not EMA-averaged) generator weights of a training run's newest checkpoint.

Short fine-tuning arms are compared on their raw weights: with ``ema_decay`` 0.998 the exported
average is still about half the start state 400 steps in (docs/generator.md, stop 41).

    python experiments/export_raw_weights.py runs/l1 runs/l1_raw   # writes runs/l1_raw/generator
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jaxmicro.generator.train import export_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="training run folder")
    parser.add_argument("out", help="folder to export into (its generator/ subfolder)")
    args = parser.parse_args()
    generator = export_run(args.run, args.out, raw=True)
    print(f"step {generator.info['steps']} exported to {Path(args.out) / 'generator'}")


if __name__ == "__main__":
    main()
