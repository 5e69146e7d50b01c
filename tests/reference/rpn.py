"""Writes tests/fixtures/rpn_tiny*.safetensors: torchvision's AnchorGenerator, RPNHead and
RegionProposalNetwork (eval mode) on the pyramid levels of fpn.py, with seeded random head
weights (rounded to float16): anchors, objectness logits and box deltas in torchvision's
flattened order, and the final proposals. Run fpn.py first.

    .venv-ref/bin/python tests/reference/rpn.py
"""

from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def main():
    torch.manual_seed(20261126)
    io = load_file(OUT / "fpn_tiny_io.safetensors")
    names = ["0", "1", "2", "3", "pool"]
    features = OrderedDict((n, io[f"level_{n}"]) for n in names)
    image = io["input"]
    anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    head = RPNHead(32, 3)
    with torch.no_grad():
        for p in head.parameters():
            p.uniform_(-0.1, 0.1)
            p.copy_(p.half().float())
    rpn = RegionProposalNetwork(anchors, head, 0.7, 0.3, 256, 0.5,
                                dict(training=2000, testing=1000), dict(training=2000, testing=1000), 0.7)
    rpn.eval()
    images = ImageList(image, [tuple(image.shape[-2:])])
    with torch.no_grad():
        feats = list(features.values())
        objectness, deltas = head(feats)
        grid = anchors(images, feats)[0]
        flat_obj, flat_deltas = concat_box_prediction_layers(objectness, deltas)
        proposals, _ = rpn(images, features)
    save_file({"anchors": grid, "objectness": flat_obj.reshape(-1), "deltas": flat_deltas,
               "proposals": proposals[0]}, OUT / "rpn_tiny_io.safetensors")
    save_file({f"rpn.head.{k}": v.half().contiguous() for k, v in head.state_dict().items()},
              OUT / "rpn_tiny.safetensors")
    print("wrote rpn_tiny:", tuple(grid.shape), "anchors,", tuple(proposals[0].shape), "proposals")
    print(list(head.state_dict().keys()))


if __name__ == "__main__":
    main()
