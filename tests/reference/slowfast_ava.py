"""Writes tests/fixtures/slowfast_tiny*.safetensors: PySlowFast's own `SlowFastModel` (the
`slowfast` package from PyPI, with torchvision's RoIAlign standing in for detectron2's) in a
tiny AVA configuration: one bottleneck block per stage (PySlowFast's depth table patched),
width 8 per group, alpha 4, beta 1/4, fusion kernel 5 with channel ratio 2, res5 at stride 1
with dilation 2, the RoI head (7x7 aligned RoIAlign at 1/16, spatial max, 5 classes, sigmoid)
on an 8-frame 64x64 clip pair with three boxes. Seeded random weights and batch-norm
statistics, rounded to float16; eval mode. Stored: the weights under PySlowFast's names,
the inputs, each pathway's res5 features and the scores. A second fixture,
slowfast_tiny_nonlocal*, adds a non-local block (dot product, pool 1x2x2) after res4's slow
block, as the R101 "50_50" AVA models place them.

    .venv-ref/bin/pip install fvcore   # PySlowFast's config and init helpers
    .venv-ref/bin/python tests/reference/slowfast_ava.py
"""

from pathlib import Path

import torch
from safetensors.torch import save_file

from pyslowfast import ava_slowfast

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def build(nonlocal_res4=False):
    # With nonlocal_res4, a non-local block after res4's (only) slow block, as the R101
    # 50_50 models place them.
    location = [[[], []], [[], []], [[0], []], [[], []]] if nonlocal_res4 else None
    return ava_slowfast(classes=5, frames=8, width=8, beta_inv=4, fusion_kernel=5,
                        one_block_per_stage=True, nonlocal_location=location)


def write(name, nonlocal_res4):
    torch.manual_seed(20261125)
    model = build(nonlocal_res4)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm3d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        model.head.projection.weight.normal_(0.0, 0.1)
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())
    model.eval()
    slow = torch.randn(2, 3, 2, 64, 64).half().float()
    fast = torch.randn(2, 3, 8, 64, 64).half().float()
    boxes = torch.tensor([[0, 4.0, 6.0, 40.0, 60.0], [0, 20.5, 2.0, 63.0, 33.0], [1, 10.0, 10.0, 30.0, 50.0]])
    features = {}
    model.s5.register_forward_hook(lambda _m, _i, out: features.update(slow5=out[0], fast5=out[1]))
    with torch.no_grad():
        scores = model([slow.clone(), fast.clone()], boxes)
    sd = {k: v.half().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()}
    save_file(sd, OUT / f"{name}.safetensors")
    save_file({"slow": slow.half(), "fast": fast.half(), "boxes": boxes, "scores": scores,
               "slow5": features["slow5"].contiguous(), "fast5": features["fast5"].contiguous()},
              OUT / f"{name}_io.safetensors")
    print(f"wrote {name}:", len(sd), "tensors;", tuple(features["slow5"].shape),
          tuple(features["fast5"].shape), tuple(scores.shape))
    if not nonlocal_res4:
        write_grads(model, slow, fast, boxes, name)


# Parameters whose gradients the training parity test compares: both stems, a res2 and a
# res5 convolution of each pathway, a fusion conv, a non-frozen-BN-free path to the head.
GRAD_KEYS = ["s1.pathway0_stem.conv.weight", "s1.pathway1_stem.conv.weight",
             "s1_fuse.conv_f2s.weight", "s2.pathway0_res0.branch2.b.weight",
             "s2.pathway1_res0.branch2.a.weight", "s5.pathway0_res0.branch2.c.weight",
             "s5.pathway1_res0.branch1.weight", "head.projection.weight", "head.projection.bias"]


def write_grads(model, slow, fast, boxes, name):
    """The training loss (BCE with logits over multi-hot targets, mean over every element)
    and its gradients, in eval mode: frozen batch-norm statistics and no dropout, as avaloc's
    frozen-BN model with dropout 0."""
    model.eval()
    model.head.act = torch.nn.Identity()
    targets = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 1]])
    logits = model([slow.clone(), fast.clone()], boxes)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)
    model.zero_grad()
    loss.backward()
    params = dict(model.named_parameters())
    out = {"targets": targets, "loss": loss.detach().reshape(1)}
    out.update({f"grad.{k}": params[k].grad.contiguous() for k in GRAD_KEYS})
    save_file(out, OUT / f"{name}_grads.safetensors")
    print(f"wrote {name}_grads: loss {loss.item():.6f}")


def main():
    write("slowfast_tiny", False)
    write("slowfast_tiny_nonlocal", True)


if __name__ == "__main__":
    main()
