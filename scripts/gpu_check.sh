#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and the CUDA toolkit, builds avaloc with the
# `cuda` feature and runs every network on CUDA against flex (the CPU reference) with the same
# seeded weights and inputs: the largest output difference (within 1e-4 of the output's scale,
# or the command fails) and both forward times, as one table; also in gpu_check.json. The
# full-size networks (SlowFast R50 32×2, Faster R-CNN R50-FPN, CPN R50) are included; their
# flex side takes a few minutes. Then the same in bfloat16 (CUDA's, against flex's float32,
# within 5e-2: reported, not required; gpu_check_bf16.json). Where a Python with a CUDA build of PyTorch is at hand
# ($PYTHON, else .venv-ref/bin/python; see tests/reference/README.md), the same networks run in
# PyTorch on the same GPU, in float32 and bfloat16 autocast, and one table shows both
# (pytorch_gpu.json). Extra arguments go to `avaloc backend-check`.
#   scripts/gpu_check.sh [--repeat 10] [--tolerance 1e-4]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features cuda
avaloc="${CARGO_TARGET_DIR:-target}/release/avaloc"
"$avaloc" --backend cuda backend-check --large --repeat 5 --json gpu_check.json "$@"
# The same in bfloat16 (within 5e-2 of flex's float32): reported, not required.
rm -f gpu_check_bf16.json
"$avaloc" --backend cuda backend-check --bf16 --large --repeat 5 --json gpu_check_bf16.json \
    || echo "bfloat16: see the message above (gpu_check_bf16.json may be missing)" >&2
bf16=()
[ -f gpu_check_bf16.json ] && bf16=(--avaloc-bf16 gpu_check_bf16.json)
PYTHON="${PYTHON:-.venv-ref/bin/python}"
if "$PYTHON" -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
    "$PYTHON" tests/reference/bench_gpu.py --device cuda --repeat 5 \
        --avaloc gpu_check.json "${bf16[@]}" --json pytorch_gpu.json
else
    echo "no PyTorch with CUDA at $PYTHON: the PyTorch column is left out" >&2
fi
