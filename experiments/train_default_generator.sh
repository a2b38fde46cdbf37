#!/usr/bin/env bash
# Trains the shipped default generator (checkpoints/default) on the simulator's default dataset.
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
# Then: rm -rf checkpoints/default && cp -r "$RUN_DIR/generator" checkpoints/default
#       jaxmicro validate --checkpoint checkpoints/default --data "$DATA" --seeds 3
