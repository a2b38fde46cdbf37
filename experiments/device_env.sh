# Sourced by the scripts that run on a lent device (gpu_check.sh, train_on_gpu.sh), in the
# repository root with PY set: the checkout on PYTHONPATH, unbuffered output, and the wheels
# carried in .whl (packages the device image lacks) installed into /tmp/site ahead of it.
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "installing .whl failed" >&2; exit 1; }
    export PYTHONPATH="/tmp/site:$PYTHONPATH"
fi
