"""PySlowFast timings for benches/action.rs: `SlowFastModel` as configs/AVA/c2/
SLOWFAST_32x2_R50.yaml (the model avaloc's configs/action/slowfast_r50_32x2_ava.toml
describes) on one 224x224 clip (slow 8 frames, fast 32) with 4 boxes, random weights: the
forward pass (eval mode, no gradients) and one training step (BCE, backward, SGD; batch
norm with frozen statistics, as avaloc's model), on the CPU.

With `--model synth`: the model of configs/action/slowfast_synth.toml (one block per stage,
width 16, beta 1/8, fusion kernel 5, 9 classes, dropout 0.2) on 4 clips of 8 frames at
112x112 with one box each, a training step with batch norm in training mode (avaloc's config
uses group norm).

    .venv-ref/bin/python tests/reference/bench_slowfast.py --threads 2 [--model synth]
"""

import argparse
import time

import torch

from pyslowfast import ava_slowfast


def build():
    return ava_slowfast(classes=80, frames=32, fusion_kernel=7, aligned=False)


def build_synth():
    return ava_slowfast(classes=9, frames=8, width=16, fusion_kernel=5, dropout=0.2,
                        one_block_per_stage=True)


def synth(repeat):
    model = build_synth()
    slow, fast = torch.randn(4, 3, 2, 112, 112), torch.randn(4, 3, 8, 112, 112)
    boxes = torch.tensor([[0, 10.0, 10.0, 60.0, 100.0], [1, 20.0, 5.0, 80.0, 100.0],
                          [2, 0.0, 0.0, 50.0, 100.0], [3, 60.0, 20.0, 100.0, 100.0]])
    model.eval()
    with torch.no_grad():
        med, best = timed(lambda: model([slow, fast], boxes), repeat)
    print(f"slowfast_synth_forward_4x8x112: median {med:.3f} s, min {best:.3f} s")
    model.train()
    model.head.act = torch.nn.Identity()
    optim = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    targets = torch.zeros(4, 9)

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model([slow, fast], boxes), targets)
        optim.zero_grad()
        loss.backward()
        optim.step()

    med, best = timed(step, repeat)
    print(f"slowfast_synth_train_step_4x8x112: median {med:.3f} s, min {best:.3f} s")


def timed(step, repeat):
    step()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--model", choices=["r50", "synth"], default="r50")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "synth":
        return synth(args.repeat)
    model = build()
    slow, fast = torch.randn(1, 3, 8, 224, 224), torch.randn(1, 3, 32, 224, 224)
    boxes = torch.tensor([[0, 10.0, 20.0, 100.0, 200.0], [0, 80.0, 30.0, 150.0, 220.0],
                          [0, 120.0, 0.0, 220.0, 180.0], [0, 0.0, 60.0, 60.0, 223.0]])
    model.eval()
    with torch.no_grad():
        med, best = timed(lambda: model([slow, fast], boxes), args.repeat)
    print(f"slowfast_r50_32x2_forward_224: median {med:.2f} s, min {best:.2f} s")
    model.train()
    for m in model.modules():  # frozen statistics, as avaloc's frozen-BN model trains
        if isinstance(m, torch.nn.BatchNorm3d):
            m.eval()
    optim = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    head_act = model.head.act
    model.head.act = torch.nn.Identity()  # logits, for BCE-with-logits as avaloc trains
    targets = torch.zeros(4, 80)

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model([slow, fast], boxes), targets)
        optim.zero_grad()
        loss.backward()
        optim.step()

    med, best = timed(step, args.repeat)
    model.head.act = head_act
    print(f"slowfast_r50_32x2_train_step_224: median {med:.2f} s, min {best:.2f} s")


if __name__ == "__main__":
    main()
