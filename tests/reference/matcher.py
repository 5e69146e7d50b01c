"""Writes tests/fixtures/matcher.safetensors: torchvision's `Matcher` (the RPN's 0.7 / 0.3
with low-quality matches, the box head's 0.5 / 0.5 without) on random ground-truth boxes and
anchors, with the IoU matrix it matched.

    .venv-ref/bin/python tests/reference/matcher.py
"""

from pathlib import Path

import torch
from safetensors.torch import save_file
from torchvision.models.detection._utils import Matcher
from torchvision.ops import box_iou

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def boxes(g, n, size):
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 3 + 4
    return torch.cat([xy, xy + wh], dim=1)


def main():
    g = torch.Generator().manual_seed(20261128)
    gt, anchors = boxes(g, 7, 200.0), boxes(g, 600, 200.0)
    iou = box_iou(gt, anchors)
    rpn = Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou)
    heads = Matcher(0.5, 0.5, allow_low_quality_matches=False)(iou)
    save_file({"gt": gt, "anchors": anchors, "iou": iou, "rpn": rpn, "heads": heads}, OUT / "matcher.safetensors")
    print("wrote matcher:", int((rpn >= 0).sum()), "RPN positives,", int((heads >= 0).sum()), "head positives")


if __name__ == "__main__":
    main()
