"""Writes tests/fixtures/weights_*: one small PyTorch network's weights in every container
avaloc reads, plus its output on a fixed input, and deliberately broken variants.

    .venv-ref/bin/python tests/reference/weights.py
"""

from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

OUT = Path(__file__).resolve().parent.parent / "fixtures"


class TinyNet(nn.Module):
    """Conv + BatchNorm + Linear: exercises the transposed linear weight and BN's names."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(20261124)
    net = TinyNet()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.5, 0.5)
    net.eval()
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad():
        y = net(x)
    sd = {k: v.clone() for k, v in net.state_dict().items()}  # includes bn.num_batches_tracked
    save_file({"input": x, "output": y}, OUT / "weights_io.safetensors")
    save_file({k: v.contiguous() for k, v in sd.items()}, OUT / "weights_tiny.safetensors")
    torch.save(sd, OUT / "weights_tiny.pth")
    torch.save(sd, OUT / "weights_tiny_legacy.pth", _use_new_zipfile_serialization=False)
    # PySlowFast's layout: weights under model_state beside optimizer state and counters.
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(x).sum().backward()
    opt.step()
    with torch.no_grad():
        net.load_state_dict(sd)
    torch.save({"epoch": 3, "model_state": sd, "optimizer_state": opt.state_dict()},
               OUT / "weights_tiny_nested.pyth")
    torch.save({k: v.double() if v.is_floating_point() else v for k, v in sd.items()},
               OUT / "weights_tiny_f64.pth")
    # Broken: fc.bias missing, an unexpected tensor, conv.weight with the wrong shape.
    broken = {k: v.clone() for k, v in sd.items() if k != "fc.bias"}
    broken["head.extra.weight"] = torch.zeros(2, 2)
    broken["conv.weight"] = torch.zeros(4, 3, 5, 5)
    save_file(broken, OUT / "weights_tiny_broken.safetensors")
    print("wrote weights fixtures")


if __name__ == "__main__":
    main()
