#!/usr/bin/env bash
# The tortuosity solver on a GPU (issue 3's goals: a 256^3 solve under 0.1 s, >= 30x TauFactor
# on the same GPU), as one call of the `device` tool, which copies the working tree to a machine
# with an NVIDIA H100/H200 whose image holds JAX (CUDA), torch, numpy, scipy and tifffile.
#
# Prepare once, in the repository root of the development machine:
#   printf '/.whl/\n/.device_data\n' >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl \
#       connected-components-3d==4.1.1 taufactor==1.2.1
#   ln -s ../shared/data .device_data       # the electrode volume travels through the link
# Then call the device tool's `run` with
#   command: bash experiments/gpu_check.sh
#   carry:   [".whl", ".device_data/electrode.tiff"]
#   timeout_s: 570
# Results come back under $OUT: gpu.txt (versions), bench.log and bench_tortuosity_gpu.json
# (experiments/bench_tortuosity.py --device gpu), tune.log and tune_multigrid_gpu.json.
# Both JSON files are written after every volume or row, so a run cut short keeps its results.
# Sizes 256^3 (the goal's) and 128^3 only, plus the electrode: each new shape compiles the solve
# three times (float32, the float64 reference, the flood fill), which may take tens of seconds
# on a GPU; with more device time, add SIZES="256 128 200 64".
#
# Dry run on a CPU machine: DEVICE=cpu PY=.venv/bin/python SIZES=32 BENCH_S=60 TUNE_S=60 \
#   TUNE_SIZE=32 bash experiments/gpu_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
PY=${PY:-python3}
DEVICE=${DEVICE:-gpu}
mkdir -p "$OUT"
source experiments/device_env.sh  # PYTHONPATH, carried wheels
# TauFactor imports IPython.display.clear_output (used for its plots only); the image has no IPython.
if ! "$PY" -c "import IPython.display" 2>/dev/null; then
    mkdir -p /tmp/stub/IPython && touch /tmp/stub/IPython/__init__.py
    echo 'def clear_output(*args, **kwargs): pass' >/tmp/stub/IPython/display.py
    export PYTHONPATH="$PYTHONPATH:/tmp/stub"
fi
{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
    "$PY" -c "import jax, torch, cc3d, taufactor; print('jax', jax.__version__, jax.devices()); \
print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1
} | tee "$OUT/gpu.txt"

# shellcheck disable=SC2086  # SIZES is a list of numbers
timeout "${BENCH_S:-330}" "$PY" experiments/bench_tortuosity.py --device "$DEVICE" --sizes ${SIZES:-256 128} \
    --electrode .device_data/electrode.tiff --json "$OUT/bench_tortuosity_gpu.json" 2>&1 | tee "$OUT/bench.log"
bench=${PIPESTATUS[0]}
timeout "${TUNE_S:-200}" "$PY" experiments/tune_multigrid.py --device "$DEVICE" --size "${TUNE_SIZE:-256}" \
    --max-coarse 64 4096 --electrode .device_data/electrode.tiff --json "$OUT/tune_multigrid_gpu.json" 2>&1 | tee "$OUT/tune.log"
tune=${PIPESTATUS[0]}
echo "bench exit $bench, tuning exit $tune (124: cut off at its time limit)"
[ "$bench" -eq 0 ]
