"""Writes tests/fixtures/resnet_tiny*.safetensors: a small torchvision ResNeXt (bottleneck
blocks [1, 1, 1, 1], 2 groups of width 4) with seeded random weights and batch-norm
statistics, its stage outputs and logits on a fixed input. Weights are rounded to float16 to
keep the file small; the reference outputs are computed from the rounded weights.

    .venv-ref/bin/python tests/reference/resnet.py
"""

from pathlib import Path

import torch
from safetensors.torch import save_file
from torchvision.models.resnet import Bottleneck, ResNet

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def main():
    torch.manual_seed(20261124)
    net = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, groups=2, width_per_group=4)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        for p in net.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())
    net.eval()
    x = torch.randn(2, 3, 32, 24)
    outputs = {"input": x}
    with torch.no_grad():
        y = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        for i in range(1, 5):
            y = getattr(net, f"layer{i}")(y)
            outputs[f"c{i + 1}"] = y
        outputs["logits"] = net(x)
    save_file(outputs, OUT / "resnet_tiny_io.safetensors")
    sd = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
    save_file(sd, OUT / "resnet_tiny.safetensors")
    print(f"wrote resnet_tiny: {sum(v.numel() for v in sd.values())} values")


if __name__ == "__main__":
    main()
