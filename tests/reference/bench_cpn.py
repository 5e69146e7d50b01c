"""PyTorch timings for benches/pose.rs: pytorch-cpn's CPN50 (the transcription in cpn.py,
torchvision's ResNet-50 trunk) on 16 crops of 256x192, random weights, eval mode, no
gradients, on the CPU.

    .venv-ref/bin/python tests/reference/bench_cpn.py --threads 2
"""

import argparse
import statistics
import time

import torch

from cpn import PytorchCpn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = PytorchCpn(64, (3, 4, 6, 3), 256, 128, (64, 48)).eval()
    crops = torch.randn(16, 3, 256, 192) * 0.3
    times = []
    with torch.no_grad():
        model(crops)
        for _ in range(args.repeat):
            start = time.perf_counter()
            model(crops)
            times.append(time.perf_counter() - start)
    print(f"cpn_r50_256x192_batch16 ({args.threads} threads): median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s")


if __name__ == "__main__":
    main()
