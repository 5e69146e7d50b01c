"""Writes tests/fixtures/fpn_tiny*.safetensors: torchvision's FeaturePyramidNetwork (with
LastLevelMaxPool, as in `resnet_fpn_backbone`) on the small ResNeXt of resnet.py, seeded
random FPN weights (rounded to float16), and the five pyramid levels for an input whose
size makes the top-down resizes non-2x. Run resnet.py first: the trunk weights come from
tests/fixtures/resnet_tiny.safetensors.

    .venv-ref/bin/python tests/reference/fpn.py
"""

from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def main():
    torch.manual_seed(20261125)
    trunk = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, groups=2, width_per_group=4)
    trunk.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in load_file(OUT / "resnet_tiny.safetensors").items()})
    backbone = BackboneWithFPN(trunk, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [256, 512, 1024, 2048], 32, extra_blocks=LastLevelMaxPool())
    with torch.no_grad():
        for p in backbone.fpn.parameters():
            p.uniform_(-0.1, 0.1)
            p.copy_(p.half().float())
    backbone.eval()
    x = torch.randn(1, 3, 72, 56)
    with torch.no_grad():
        levels = backbone(x)
    outputs = {"input": x}
    outputs.update({f"level_{name}": v for name, v in levels.items()})
    save_file(outputs, OUT / "fpn_tiny_io.safetensors")
    # The checkpoint as a torchvision detector names it.
    fpn = {f"backbone.fpn.{k}": v.half().contiguous() for k, v in backbone.fpn.state_dict().items()}
    save_file(fpn, OUT / "fpn_tiny.safetensors")
    print("wrote fpn_tiny:", {k: tuple(v.shape) for k, v in levels.items()})


if __name__ == "__main__":
    main()
