"""Converts a Detectron (Caffe2, "Detectron1") Faster R-CNN FPN checkpoint -- a `.pkl` holding
{"blobs": {name: numpy array}, "cfg": ...} such as the FAIR AVA person detector
(model id 67091280, `model_final.pkl`) -- into safetensors that avaloc reads with a
`convention = "detectron1"` detector config
(configs/detector/faster_rcnn_x101_32x8d_fpn_ava_detectron1.toml).

- Blob names become detectron2's module names (`res2_0_branch2a_w` ->
  `backbone.bottom_up.res2.0.conv1.weight`, `fpn_inner_res4_22_sum_lateral_w` ->
  `backbone.fpn_lateral4.weight`, `conv_rpn_fpn2_w` -> `proposal_generator.rpn_head.conv.weight`,
  `fc6_w` -> `roi_heads.box_head.fc1.weight`, ...), which avaloc's detectron2 key map reads.
- Detectron's AffineChannel layers (`*_bn_s`, `*_bn_b`: a scale and a shift, no statistics)
  become frozen batch norms with mean 0 and variance 1 - 1e-5, which avaloc's eps of 1e-5
  turns back into the same scale.
- The stem convolution's input channels are reversed: Detectron feeds BGR, avaloc RGB (the
  config sets Detectron's pixel mean, in RGB order, and a standard deviation of 1).
- The background stays class 0, as in avaloc; training-only blobs (`*_momentum`, `lr`,
  `iter`, ...) are dropped, and so are mask and keypoint heads (a Mask or Keypoint R-CNN
  holds a complete Faster R-CNN), with a note. Any other blob is an error, so a checkpoint
  of another architecture (a C4 backbone, another box head) does not load half-converted.

Only numpy and safetensors are needed (`pip install numpy safetensors`); no Caffe2.

    python model_zoo/convert_detectron1.py model_final.pkl faster_rcnn_x101_32x8d_fpn_ava_detectron1.safetensors
"""

import argparse
import pickle
import re
import sys

import numpy as np
from safetensors.numpy import save_file

AFFINE_EPS = 1e-5
DROPPED = re.compile(r"(_momentum$|^lr$|^iter$|^one$|^data$|^im_info$)")
OTHER_HEADS = re.compile(r"^(conv_fcn\d+|kps_score|_\[mask\]_fcn\d+|mask_fcn|conv5_mask)")
RULES = [
    (r"^conv1_w$", "backbone.bottom_up.stem.conv1.weight"),
    (r"^res_conv1_bn_(s|b)$", r"backbone.bottom_up.stem.conv1.norm.\1"),
    (r"^res(\d)_(\d+)_branch1_w$", r"backbone.bottom_up.res\1.\2.shortcut.weight"),
    (r"^res(\d)_(\d+)_branch1_bn_(s|b)$", r"backbone.bottom_up.res\1.\2.shortcut.norm.\3"),
    (r"^res(\d)_(\d+)_branch2([abc])_w$", r"backbone.bottom_up.res\1.\2.conv\3.weight"),
    (r"^res(\d)_(\d+)_branch2([abc])_bn_(s|b)$", r"backbone.bottom_up.res\1.\2.conv\3.norm.\4"),
    (r"^fpn_inner_res(\d)_\d+_sum(_lateral)?_(w|b)$", r"backbone.fpn_lateral\1.\3"),
    (r"^fpn_res(\d)_\d+_sum_(w|b)$", r"backbone.fpn_output\1.\2"),
    (r"^conv_rpn_fpn2_(w|b)$", r"proposal_generator.rpn_head.conv.\1"),
    (r"^rpn_cls_logits_fpn2_(w|b)$", r"proposal_generator.rpn_head.objectness_logits.\1"),
    (r"^rpn_bbox_pred_fpn2_(w|b)$", r"proposal_generator.rpn_head.anchor_deltas.\1"),
    (r"^fc6_(w|b)$", r"roi_heads.box_head.fc1.\1"),
    (r"^fc7_(w|b)$", r"roi_heads.box_head.fc2.\1"),
    (r"^(cls_score|bbox_pred)_(w|b)$", r"roi_heads.box_predictor.\1.\2"),
]
SUFFIXES = {".w": ".weight", ".b": ".bias", ".s": ".weight"}
CONV_BRANCH = {"conva": "conv1", "convb": "conv2", "convc": "conv3"}


def rename(blob):
    """detectron2's name of a Detectron blob, or None for one this converter does not know."""
    for pattern, replacement in RULES:
        if re.match(pattern, blob):
            name = re.sub(pattern, replacement, blob)
            for short, long in CONV_BRANCH.items():
                name = name.replace(f".{short}.", f".{long}.")
            for short, long in SUFFIXES.items():
                if name.endswith(short):
                    name = name[: -len(short)] + long
            return name
    return None


def convert(blobs, log=print):
    """detectron2-named float32 tensors of a Detectron FPN Faster R-CNN's blobs. Raises
    ValueError listing the blobs it cannot place."""
    out, unknown, heads = {}, [], []
    for blob, value in sorted(blobs.items()):
        if DROPPED.search(blob):
            continue
        if OTHER_HEADS.match(blob):
            heads.append(blob)
            continue
        name = rename(blob)
        if name is None:
            unknown.append(blob)
            continue
        array = np.ascontiguousarray(np.asarray(value), dtype=np.float32)
        if name == "backbone.bottom_up.stem.conv1.weight":
            array = np.ascontiguousarray(array[:, ::-1])
        out[name] = array
        if name.endswith(".norm.weight"):
            stem = name[: -len("weight")]
            out[stem + "running_mean"] = np.zeros_like(array)
            out[stem + "running_var"] = np.full_like(array, 1.0 - AFFINE_EPS)
    if unknown:
        raise ValueError(f"{len(unknown)} blobs of no FPN Faster R-CNN part: {', '.join(unknown[:8])}")
    if heads:
        log(f"dropped {len(heads)} blobs of a mask or keypoint head ({heads[0]}, ...)")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pkl")
    p.add_argument("out")
    args = p.parse_args()
    with open(args.pkl, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    if not isinstance(data, dict) or "blobs" not in data:
        sys.exit(f"{args.pkl}: not a Detectron checkpoint (no 'blobs'); detectron2 files go through convert_detectron2.py")
    try:
        tensors = convert(data["blobs"])
    except ValueError as e:
        sys.exit(f"{args.pkl}: {e}")
    needed = ("backbone.bottom_up.stem.conv1.weight", "roi_heads.box_predictor.cls_score.weight", "backbone.fpn_lateral2.weight")
    missing = [k for k in needed if k not in tensors]
    if missing:
        sys.exit(f"{args.pkl}: not a Detectron FPN Faster R-CNN (nothing becomes {', '.join(missing)})")
    classes = tensors["roi_heads.box_predictor.cls_score.weight"].shape[0]
    save_file(tensors, args.out, metadata={"source": "detectron1", "converted_by": "avaloc model_zoo/convert_detectron1.py"})
    print(f"{args.out}: {len(tensors)} tensors, {classes} classes (background first)")


if __name__ == "__main__":
    main()
