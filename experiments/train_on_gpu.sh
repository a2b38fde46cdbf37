#!/usr/bin/env bash
# Generator training on a lent GPU (issue 26 item 5), as one call of the `device` tool: resumes
# a run folder prepared on the CPU (its newest checkpoint) for TRAIN_S seconds of wall time and
# brings the state back. The device image holds JAX (CUDA), flax, optax, orbax, tqdm and scipy;
# connected-components-3d travels as a wheel.
#
# Prepare once, in the repository root of the development machine:
#   printf '/.whl/\n/gpu_start/\n' >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl connected-components-3d==4.1.1
#   mkdir -p gpu_start && cp -r runs/wide2g gpu_start/run   # keep only its newest checkpoint:
#   ls -d gpu_start/run/checkpoints/* | sort -n | head -n -1 | xargs rm -rf; rm -rf gpu_start/run/png
#   cp -r data/wide64 gpu_start/data                         # 9.3 MB; the run's 17 MB checkpoint beside it
# or, for a fresh run of a larger preset, carry only the data and set PRESET: the run starts on the
# device (its checkpoints are too big to carry; `default`'s generator alone is ~16x `small`'s):
#   mkdir -p gpu_start && cp -r data/wide64 gpu_start/data; command: PRESET=default bash experiments/train_on_gpu.sh
# EXTRA adds flags to a fresh run's `jaxmicro train`, e.g. EXTRA="--residual-blocks 1,1,1".
# Stop 46 (docs/generator.md, "What the network can draw") found that the `small` network can
# draw the training volumes (99.9 % of their voxels when fitted to reconstruct them) and that the
# shipped weights cannot (74 %), so width is not the first lever: a device run should test the
# reconstruction anchors at GPU step counts, e.g. EXTRA="--anchor-weight 10" on `small`. Stop 48
# found that anchors pre-fitted by a reconstruction phase stay drawn back (87-90 % of voxels) while
# the random volumes do not improve (11 % against the default's 6.9 %): the network memorises its
# anchors' noise volumes, so a device run of anchors alone is unlikely to pay; see docs/generator.md.
# Then call the device tool's `run` with
#   command: bash experiments/train_on_gpu.sh
#   carry:   [".whl", "gpu_start"]
#   timeout_s: 560
# Results come back under $OUT: gpu.txt (versions), train.log, losses.csv, generator.tgz.aa, ...
# (the exported EMA generator: `cat generator.tgz.* | tar xz` gives generator/) and, when under
# 40 MB, state.tgz.aa, .ab, ... (the newest checkpoint, in 15 MB parts): here,
# `cat state.tgz.* | tar xz -C runs/NAME` and `jaxmicro train --data data/wide64 --out runs/NAME
# --resume` continue on the CPU.
# The run keeps its run.json (its recipe and checkpoint_every); STEPS (default 100000) only caps
# it, TRAIN_S (default 420) ends it: a step killed at the limit loses at most checkpoint_every
# steps. On a GPU raise batch_volumes in run.json first if the step time allows (a recipe change).
#
# Dry run on a CPU machine: DEVICE_DRY=1 PY=.venv/bin/python TRAIN_S=60 bash experiments/train_on_gpu.sh
set -uo pipefail
OUT=${OUT:-/tmp/train_on_gpu}
PY=${PY:-python3}
SRC=${SRC:-gpu_start}
TRAIN_S=${TRAIN_S:-420}
STEPS=${STEPS:-100000}
mkdir -p "$OUT"
source experiments/device_env.sh  # PYTHONPATH, carried wheels
if [ -n "${DEVICE_DRY:-}" ]; then
    export JAX_PLATFORMS=cpu
fi
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$PY" -c "import jax, flax, optax, orbax.checkpoint, cc3d; print('jax', jax.__version__, jax.devices(), \
'flax', flax.__version__, 'optax', optax.__version__)" 2>&1
} | tee "$OUT/gpu.txt"
RUN=/tmp/run
rm -rf "$RUN"
if [ -n "${PRESET:-}" ]; then
    train=(--config "$PRESET" --checkpoint-every 100 --stats-weight 100 --tau-weight 100 --aux-temperature 0.2
           --ema-decay 0.998 --lineal-weight 10 --erosion-weight 100 --euler-weight 100)
    read -r -a extra <<< "${EXTRA:-}"
    train+=("${extra[@]}")
else
    [ -f "$SRC/run/run.json" ] || { echo "no run folder at $SRC/run (see the preparation above)" >&2; exit 1; }
    cp -r "$SRC/run" "$RUN"
    train=(--resume)
fi
start=$(date +%s)
timeout "$TRAIN_S" "$PY" -m jaxmicro train --data "$SRC/data" --out "$RUN" "${train[@]}" --steps "$STEPS" \
    2>&1 | tr '\r' '\n' | awk 'NR % 50 == 1' | tee "$OUT/train.log"
status=${PIPESTATUS[0]}
echo "training exit $status (124: stopped at TRAIN_S=$TRAIN_S s) after $(( $(date +%s) - start )) s" | tee -a "$OUT/train.log"
cp "$RUN/losses.csv" "$OUT/" 2>/dev/null
tar czf - -C "$RUN" generator | split -b 15m - "$OUT/generator.tgz."
newest=$(ls "$RUN/checkpoints" | sort -n | tail -n 1)
if [ "$(du -sm "$RUN/checkpoints/$newest" | cut -f1)" -lt 40 ]; then  # what comes back: 64 MB in all
    tar czf - -C "$RUN" run.json losses.csv "checkpoints/$newest" | split -b 15m - "$OUT/state.tgz."
else
    echo "checkpoint $newest too big to bring back; the exported generator came back" | tee -a "$OUT/train.log"
fi
ls -l "$OUT"
