#!/usr/bin/env bash
# One prepared GPU session: conformance on CUDA for PyTorch and JAX, the fused-kernel peers
# through --impl/--like, the asv GPU rows at the LLM shape, and the merged CPU + GPU report.
#
# Usage, from the repository root on a machine with a CUDA GPU:
#   WHEELS_DIR=wheels OUT_DIR=gpu-out CPU_REPORT=reports/conformance.json \
#       bash benchmarks/gpu_session.sh
#
# WHEELS_DIR (optional) holds wheels for what the GPU image lacks (asv, jsonschema and its
# dependencies, liger-kernel, cut-cross-entropy, quack-kernels); they are installed with
# --no-index into a private target. Every step has its own time limit and the script goes on
# when one fails, so one broken step costs only itself; each step's log is under OUT_DIR.
set -uo pipefail
out=${OUT_DIR:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if [ -n "${WHEELS_DIR:-}" ] && ls "$WHEELS_DIR"/*.whl >/dev/null 2>&1; then
  site=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS_DIR"/*.whl
  export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi

step() {  # step NAME SECONDS COMMAND...: run one step with a limit, log it, never abort
  local name=$1 limit=$2
  shift 2
  echo "== $name (limit ${limit}s)"
  local start=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  echo "   exit $? after $((SECONDS - start))s"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/gpu.txt" 2>&1
python3 -c 'import torch, jax; print("torch", torch.__version__, torch.version.cuda); print("jax", jax.__version__, jax.devices())' >>"$out/gpu.txt" 2>&1

step verify-cuda 240 python3 -m verify --framework torch --framework jax --device cuda \
  --profile quick --output "$out/cuda"
for peer in liger_cross_entropy quack_cross_entropy liger_linear_cross_entropy \
  cut_linear_cross_entropy; do
  like=$(python3 -c "from verify.peers import PEERS; print(PEERS['$peer'])")
  step "peer-$peer" 90 python3 -m verify --device cuda --impl "verify.peers:$peer" \
    --like "$like" --profile quick --output "$out/peer-$peer"
done
# The GPU rows of the asv suite at the LLM shape (8192 x 128256), bfloat16 and float32.
XENT_BENCH_FULL=1 step asv-gpu 300 asv run --python=same --quick --show-stderr \
  --bench 'Implementation(Time|GpuMemory|Bandwidth)|Peer|DeviceCopy' --set-commit-hash "$(git rev-parse HEAD)"
if [ -n "${CPU_REPORT:-}" ] && [ -f "$CPU_REPORT" ]; then
  step merge 60 python3 -m verify merge "$CPU_REPORT" "$out/cuda/conformance.json" \
    --output "$out/merged"
fi
