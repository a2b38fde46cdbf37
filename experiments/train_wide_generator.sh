#!/usr/bin/env bash
# Fine-tunes the narrow generator (checkpoints/narrow) onto the wide label grid (jaxmicro
# simulate's default since 2026-12-04: am_wt 0.85-0.98, porosity 0.20-0.50, adhesion 0-1; issue
# 26 item 4; the result is checkpoints/default since 2026-12-05): its weights
# as the start, fresh critics, all auxiliary losses on (two-point statistics, pore tortuosity,
# sharpened), EMA weights exported. Since 2026-12-04 (second run) also the morphology losses: the
# lineal path (straight runs through each phase) and the 3-D ball erosion (how deep each phase is:
# the first wide run kept the shipped model's thin-cored AM blobs); LINEAL=0 EROSION=0 gives the
# first run's recipe. EULER (default 0) weights the Euler-characteristic (topology) loss; the
# third run, runs/wide2e, is the second run's step-1500 state continued with EULER=100 (its
# run.json's train_config.euler_weight set to 100 before resuming: a resume keeps a run's
# weights, so a change of recipe mid-run is that one edit). The fourth, runs/wide2f, is a copy of
# runs/wide2e at step 2400 continued after the lineal-path/erosion gradient fix of 2026-12-04
# (erosion weight 10 to step 2900, then 100 by the same run.json edit); EROSION sets it for a
# fresh run. The fifth, runs/wide2g (2026-12-04, stop 35), is a copy of runs/wide2f at step 3600
# continued with straight_through_temperature 2 (the auxiliary losses but Euler on the decoded
# volumes; a first try at 3 diverged within 30 steps through the Euler term, which since keeps
# the sharpened volumes), and from step 4000 vf_weight 1000 (the decoded-fraction loss read
# 3-8e-4, so at weight 10 it was 0.1 % of the generator's loss); both by run.json edits.
# Usage: experiments/train_wide_generator.sh [RUN_DIR] [STEPS]
# Resumable: run it again after a crash or kill and it continues from the newest checkpoint.
# On a shared CPU it is pinned to one thread; drop XLA_FLAGS on a quiet machine or a GPU.
set -euo pipefail
RUN_DIR=${1:-runs/wide}
STEPS=${2:-6000}
DATA=data/wide64
INIT=${INIT:-checkpoints/narrow}  # the narrow generator (checkpoints/default until 2026-12-05)
LINEAL=${LINEAL:-10}
EROSION=${EROSION:-10}
EULER=${EULER:-0}
export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
export XLA_FLAGS=${XLA_FLAGS:-"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"}

if [ ! -f "$DATA/manifest.json" ]; then
  jaxmicro simulate --out "$DATA" --size 64 --voxel-size-m 0.75e-6 --seed 0 --grid wide
fi
if [ -f "$RUN_DIR/run.json" ]; then
  jaxmicro train --data "$DATA" --out "$RUN_DIR" --resume --steps "$STEPS"
else
  jaxmicro train --data "$DATA" --out "$RUN_DIR" --config small --steps "$STEPS" --init-from "$INIT" \
    --checkpoint-every 100 --png-every 500 --stats-weight 100 --tau-weight 100 \
    --aux-temperature 0.2 --ema-decay 0.998 --lineal-weight "$LINEAL" --erosion-weight "$EROSION" \
    --euler-weight "$EULER"
fi
# Then: jaxmicro validate --checkpoint "$RUN_DIR" --data "$DATA" --seeds 3 --size 128 --reference-seeds 3
