"""Writes the on-demand fixture of the ignored full-size test in tests/slowfast_parity.rs
(tests/fixtures/ondemand/slowfast_r50*, git-ignored, about 70 MB): PySlowFast's own
`SlowFastModel` (PyPI `slowfast`, torchvision's RoIAlign standing in for detectron2's) as
configs/action/slowfast_r50_8x8_ava.toml describes it — R50, alpha 4, beta 1/8, fusion
kernel 7, every block with its temporal kernel, res5 at stride 1 with dilation 2, aligned
RoIAlign at 1/16, 80 classes — with seeded random weights and batch-norm statistics (rounded
to float16), in eval mode, on one clip of 32 frames at reduced size (96x128, slow pathway 8
frames) with three boxes: each pathway's res5 features and the scores.

    .venv-ref/bin/python tests/reference/slowfast_r50.py
    cargo test --release --test slowfast_parity -- --ignored
"""

from pathlib import Path

import torch
from safetensors.torch import save_file

from pyslowfast import ava_slowfast

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "ondemand"


def build():
    return ava_slowfast(classes=80, frames=32, fusion_kernel=7, aligned=True)


def main():
    torch.manual_seed(20261124)
    model = build()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.0)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        model.head.projection.weight.normal_(0.0, 0.05)
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())
    model.eval()
    fast = torch.randn(1, 3, 32, 96, 128).half().float()
    slow = fast[:, :, torch.linspace(0, 31, 8).long()].contiguous()
    boxes = torch.tensor([[0, 10.0, 8.0, 60.0, 90.0], [0, 50.5, 20.0, 127.0, 95.0], [0, 0.0, 0.0, 40.0, 40.0]])
    features = {}
    model.s5.register_forward_hook(lambda _m, _i, out: features.update(slow5=out[0], fast5=out[1]))
    with torch.no_grad():
        scores = model([slow.clone(), fast.clone()], boxes)
    OUT.mkdir(parents=True, exist_ok=True)
    sd = {k: v.half().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()}
    save_file(sd, OUT / "slowfast_r50.safetensors")
    save_file({"fast": fast.half(), "boxes": boxes, "scores": scores,
               "slow5": features["slow5"].contiguous(), "fast5": features["fast5"].contiguous()},
              OUT / "slowfast_r50_io.safetensors")
    print("wrote slowfast_r50:", len(sd), "tensors;", tuple(features["slow5"].shape),
          tuple(features["fast5"].shape), tuple(scores.shape))


if __name__ == "__main__":
    main()
