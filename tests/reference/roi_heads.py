"""Writes tests/fixtures/roi_heads_tiny*.safetensors: torchvision's MultiScaleRoIAlign
(P2-P5, 7x7, sampling 2), TwoMLPHead, FastRCNNPredictor (3 classes with background) and
RoIHeads post-processing (eval mode) on the proposals of rpn.py and the levels of fpn.py,
with seeded random weights rounded to float16. Run fpn.py and rpn.py first.

    .venv-ref/bin/python tests/reference/roi_heads.py
"""

from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import MultiScaleRoIAlign

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def main():
    torch.manual_seed(20261127)
    fpn = load_file(OUT / "fpn_tiny_io.safetensors")
    proposals = load_file(OUT / "rpn_tiny_io.safetensors")["proposals"]
    features = OrderedDict((n, fpn[f"level_{n}"]) for n in ["0", "1", "2", "3", "pool"])
    pooler = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    head = TwoMLPHead(32 * 7 * 7, 64)
    predictor = FastRCNNPredictor(64, 3)
    heads = RoIHeads(pooler, head, predictor, 0.5, 0.5, 512, 0.25, None, 0.05, 0.5, 100)
    with torch.no_grad():
        for p in list(head.parameters()) + list(predictor.parameters()):
            p.uniform_(-0.1, 0.1)
            p.copy_(p.half().float())
    heads.eval()
    image_shapes = [(72, 56)]
    with torch.no_grad():
        pooled = pooler(features, [proposals], image_shapes)
        logits, deltas = predictor(head(pooled))
        detections, _ = heads(features, [proposals], image_shapes)
    d = detections[0]
    # Every 7th RoI of the pooled features keeps the file small and spans all levels.
    save_file({"pooled_every7": pooled[::7].contiguous(), "class_logits": logits, "box_regression": deltas,
               "boxes": d["boxes"], "scores": d["scores"], "labels": d["labels"]},
              OUT / "roi_heads_tiny_io.safetensors")
    weights = {f"roi_heads.box_head.{k}": v for k, v in head.state_dict().items()}
    weights.update({f"roi_heads.box_predictor.{k}": v for k, v in predictor.state_dict().items()})
    save_file({k: v.half().contiguous() for k, v in weights.items()}, OUT / "roi_heads_tiny.safetensors")
    print("wrote roi_heads_tiny:", tuple(pooled.shape), "pooled,", tuple(d["boxes"].shape), "detections")


if __name__ == "__main__":
    main()
