#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU and the CUDA toolkit, builds avaloc with the
# `cuda` feature and runs every network on CUDA against flex (the CPU reference) with the same
# seeded weights and inputs: the largest output difference (within 1e-4 of the output's scale,
# or the command fails) and both forward times, as one table; also in gpu_check.json. The
# full-size networks (SlowFast R50 32×2, Faster R-CNN R50-FPN, CPN R50) are included; their
# flex side takes a few minutes. Extra arguments go to `avaloc backend-check`.
#   scripts/gpu_check.sh [--repeat 10] [--tolerance 1e-4]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --features cuda
"${CARGO_TARGET_DIR:-target}/release/avaloc" --backend cuda backend-check \
    --large --repeat 5 --json gpu_check.json "$@"
