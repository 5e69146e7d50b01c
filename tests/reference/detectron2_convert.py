"""Self-check of model_zoo/convert_detectron2.py (not a fixture writer): the tiny detector's
torchvision weights are put into detectron2's layout (stem expecting BGR, background class
last, no background box rows), converted back by `convert`, and must come out equal.
The names are left alone here; tests/detector_parity.rs checks the detectron2 key map.

    .venv-ref/bin/python tests/reference/detectron2_convert.py
"""

import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "model_zoo"))
from convert_detectron2 import convert  # noqa: E402


def main():
    fixtures = ROOT / "tests" / "fixtures"
    stem = load_file(fixtures / "resnet_tiny.safetensors")["conv1.weight"].astype(np.float32)
    heads = {k: v.astype(np.float32) for k, v in load_file(fixtures / "roi_heads_tiny.safetensors").items()}
    cls_w, cls_b = heads["roi_heads.box_predictor.cls_score.weight"], heads["roi_heads.box_predictor.cls_score.bias"]
    box_w, box_b = heads["roi_heads.box_predictor.bbox_pred.weight"], heads["roi_heads.box_predictor.bbox_pred.bias"]
    box_w[:4], box_b[:4] = 0, 0  # torchvision trains a background box; detectron2 has none
    detectron2 = {
        "backbone.bottom_up.stem.conv1.weight": stem[:, ::-1],
        "roi_heads.box_predictor.cls_score.weight": np.roll(cls_w, -1, axis=0),
        "roi_heads.box_predictor.cls_score.bias": np.roll(cls_b, -1, axis=0),
        "roi_heads.box_predictor.bbox_pred.weight": box_w[4:],
        "roi_heads.box_predictor.bbox_pred.bias": box_b[4:],
    }
    back = convert(detectron2)
    expected = {
        "backbone.bottom_up.stem.conv1.weight": stem,
        "roi_heads.box_predictor.cls_score.weight": cls_w,
        "roi_heads.box_predictor.cls_score.bias": cls_b,
        "roi_heads.box_predictor.bbox_pred.weight": box_w,
        "roi_heads.box_predictor.bbox_pred.bias": box_b,
    }
    for name, value in expected.items():
        assert back[name].shape == value.shape and np.array_equal(back[name], value), name
    print("convert_detectron2: background order, box rows and stem channels round-trip exactly")


if __name__ == "__main__":
    main()
