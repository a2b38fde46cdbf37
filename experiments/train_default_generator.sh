#!/usr/bin/env bash
# Trains the narrow-range generator (checkpoints/narrow; the shipped default until 2026-12-05) on
# the narrow grid. The shipped default now is the wide one: experiments/train_wide_generator.sh.
# Usage: experiments/train_default_generator.sh [RUN_DIR] [STEPS]
# Resumable: run it again after a crash or kill and it continues from the newest checkpoint.
# On a shared CPU it is pinned to one thread; drop XLA_FLAGS on a quiet machine or a GPU.
set -euo pipefail
RUN_DIR=${1:-runs/default}
STEPS=${2:-4000}
DATA=data/simulated64
export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
export XLA_FLAGS=${XLA_FLAGS:-"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}

if [ ! -f "$DATA/manifest.json" ]; then
  jaxmicro simulate --out "$DATA" --size 64 --voxel-size-m 0.75e-6 --seed 0 --grid narrow
fi
if [ -f "$RUN_DIR/run.json" ]; then
  jaxmicro train --data "$DATA" --out "$RUN_DIR" --resume --steps "$STEPS"
else
  jaxmicro train --data "$DATA" --out "$RUN_DIR" --config small --steps "$STEPS" --png-every 200
fi
# Then: rm -rf checkpoints/narrow && cp -r "$RUN_DIR/generator" checkpoints/narrow
#       jaxmicro validate --checkpoint checkpoints/narrow --data "$DATA" --seeds 3
