"""Converts a detectron2 model-zoo Faster R-CNN checkpoint (a `.pkl` holding
{"model": {name: numpy array}, ...}) into safetensors that avaloc reads with a
`convention = "detectron2"` detector config. Two changes besides the format:

- the background class moves from last (detectron2) to first (torchvision and avaloc):
  `cls_score` rows are rotated, and `bbox_pred` gets four zero rows in front, since
  detectron2 predicts no box for the background;
- the stem convolution's input channels are reversed, because detectron2's models take BGR
  images and avaloc feeds RGB (detectron2's X-101-32x8d pixel mean/std, reversed to RGB,
  equal torchvision's ImageNet normalisation that avaloc applies).

Only numpy and safetensors are needed (`pip install numpy safetensors`); no detectron2.

    python model_zoo/convert_detectron2.py model_final_68b088.pkl faster_rcnn_x101_32x8d_fpn_3x_detectron2.safetensors
"""

import argparse
import pickle
import sys

import numpy as np
from safetensors.numpy import save_file


def convert(model):
    out = {}
    for name, value in model.items():
        array = np.ascontiguousarray(np.asarray(value), dtype=np.float32)
        if name == "backbone.bottom_up.stem.conv1.weight":
            array = np.ascontiguousarray(array[:, ::-1])
        elif name.startswith("roi_heads.box_predictor.cls_score."):
            array = np.ascontiguousarray(np.roll(array, 1, axis=0))
        elif name.startswith("roi_heads.box_predictor.bbox_pred."):
            zeros = np.zeros((4,) + array.shape[1:], dtype=np.float32)
            array = np.concatenate([zeros, array], axis=0)
        out[name] = array
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pkl")
    p.add_argument("out")
    args = p.parse_args()
    with open(args.pkl, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    if "blobs" in data:
        sys.exit(f"{args.pkl}: a Detectron1/Caffe2 file ('blobs'); this converter reads detectron2 files")
    model = data.get("model", data)
    needed = ("roi_heads.box_predictor.cls_score.weight", "backbone.bottom_up.stem.conv1.weight")
    missing = [k for k in needed if k not in model]
    if missing:
        sys.exit(f"{args.pkl}: not a detectron2 Faster R-CNN checkpoint (no {', '.join(missing)})")
    tensors = convert(model)
    classes = tensors["roi_heads.box_predictor.cls_score.weight"].shape[0]
    save_file(tensors, args.out, metadata={"source": "detectron2", "converted_by": "avaloc model_zoo/convert_detectron2.py"})
    print(f"{args.out}: {len(tensors)} tensors, {classes} classes (background first)")


if __name__ == "__main__":
    main()
