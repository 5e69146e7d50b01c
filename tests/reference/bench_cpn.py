"""PyTorch timings for benches/pose.rs: pytorch-cpn's CPN50 (the transcription in cpn.py,
torchvision's ResNet-50 trunk) on 16 crops of 256x192, random weights: the forward pass (eval
mode, no gradients) and one training step (tf-cpn's losses, backward, Adam; batch norm with
frozen statistics, as avaloc's frozen_bn config), on the CPU.

    .venv-ref/bin/python tests/reference/bench_cpn.py --threads 2
"""

import argparse
import statistics
import time

import torch

from cpn import PytorchCpn, tf_cpn_loss


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
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.requires_grad_(False)
            m.bias.requires_grad_(False)
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-4)
    targets = [torch.rand(16, 17, 64, 48) * 255 for _ in range(4)]
    refine_target = torch.rand(16, 17, 64, 48) * 255
    valid = torch.full((16, 17), 2.0)

    def step():
        outs, refine = model(crops)
        global_loss, refine_loss = tf_cpn_loss(outs, refine, targets, refine_target, valid)
        optim.zero_grad()
        (global_loss + refine_loss).backward()
        optim.step()

    step()
    times = []
    for _ in range(max(3, args.repeat // 2)):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(f"cpn_r50_256x192_train_step_batch16 ({args.threads} threads): median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s")


if __name__ == "__main__":
    main()
