"""Writes tests/fixtures/detector_tiny_io.safetensors: torchvision's FasterRCNN assembled
from the small ResNeXt-FPN, RPN head and box head of resnet.py / fpn.py / rpn.py /
roi_heads.py (their weights, no new ones), run in eval mode on a crop of scikit-image's
`astronaut` photo: the transformed (normalised, resized, padded) batch, and the final
detections in original-image pixels. min_size 160 / max_size 256 make the resize and the
padding non-trivial. Run the other scripts first.

    .venv-ref/bin/python tests/reference/detector.py
"""

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from skimage import data
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def floats(path):
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(OUT / path).items()}


def tiny_faster_rcnn(norm_layer=None):
    """The tiny detector with the part fixtures' weights (trunk norm: torchvision's default,
    BatchNorm2d, or `norm_layer`)."""
    trunk = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, groups=2, width_per_group=4,
                   norm_layer=norm_layer)
    trunk.load_state_dict(floats("resnet_tiny.safetensors"))
    backbone = BackboneWithFPN(trunk, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [256, 512, 1024, 2048], 32, extra_blocks=LastLevelMaxPool())
    model = FasterRCNN(backbone, num_classes=None, min_size=160, max_size=256,
                       box_head=TwoMLPHead(32 * 49, 64), box_predictor=FastRCNNPredictor(64, 3))
    state = {f"backbone.body.{k}": v for k, v in floats("resnet_tiny.safetensors").items() if not k.startswith("fc.")}
    for part in ("fpn_tiny", "rpn_tiny", "roi_heads_tiny"):
        state.update(floats(f"{part}.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all("num_batches_tracked" in k for k in missing), (missing, unexpected)
    return model


def main():
    model = tiny_faster_rcnn()
    model.eval()
    image = torch.from_numpy(data.astronaut()[100:400, 50:450].copy()).permute(2, 0, 1).float() / 255
    image = image.half().float().contiguous()  # stored as float16: the model sees the rounded image
    with torch.no_grad():
        batch, _ = model.transform([image])
        d = model([image])[0]
    # One row of the transformed batch spot-checks normalisation, resize and padding.
    save_file({"image": image.half(), "batch_row80": batch.tensors[:, :, 80, :].contiguous(),
               "boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"]},
              OUT / "detector_tiny_io.safetensors")
    print("wrote detector_tiny_io:", tuple(batch.tensors.shape), batch.image_sizes, tuple(d["boxes"].shape))


if __name__ == "__main__":
    main()
