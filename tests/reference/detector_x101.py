"""Writes the on-demand fixture of the ignored full-size test in tests/detector_x101_parity.rs
(tests/fixtures/ondemand/, git-ignored, about 210 MB): torchvision's FasterRCNN on a
`resnet_fpn_backbone("resnext101_32x8d")` with seeded random weights and frozen-batch-norm
statistics (rounded to float16 for storage; the reference runs on the rounded values), a
person-only head (2 classes), min/max size 320/480, in eval mode on scikit-image's
`astronaut` photo: the pyramid levels and the final detections.

    .venv-ref/bin/python tests/reference/detector_x101.py
    cargo test --release --test detector_x101_parity -- --ignored
"""

from pathlib import Path

import torch
from safetensors.torch import save_file
from skimage import data
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone
from torchvision.ops.misc import FrozenBatchNorm2d

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "ondemand"


def main():
    torch.manual_seed(20261124)
    backbone = resnet_fpn_backbone(backbone_name="resnext101_32x8d", weights=None, trainable_layers=5)
    model = FasterRCNN(backbone, num_classes=2, min_size=320, max_size=480)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.weight.uniform_(0.3, 0.8)
                m.bias.uniform_(-0.1, 0.1)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        for p in model.state_dict().values():
            if p.is_floating_point():
                p.copy_(p.half().float())
    model.eval()
    image = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255
    image = image.half().float().contiguous()
    with torch.no_grad():
        batch, _ = model.transform([image])
        levels = model.backbone(batch.tensors)
        d = model([image])[0]
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items() if v.is_floating_point()},
              OUT / "detector_x101.safetensors")
    io = {"image": image.half(), "boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"]}
    io.update({f"level{i}": v.contiguous() for i, v in enumerate(levels.values())})
    save_file(io, OUT / "detector_x101_io.safetensors")
    print("wrote detector_x101:", tuple(batch.tensors.shape), tuple(d["boxes"].shape),
          [tuple(v.shape) for v in levels.values()])


if __name__ == "__main__":
    main()
