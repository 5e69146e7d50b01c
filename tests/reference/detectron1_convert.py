"""Self-check of model_zoo/convert_detectron1.py (not a fixture writer): the tiny detector's
torchvision weights are written as a Detectron (Caffe2) FPN checkpoint would hold them --
Detectron's blob names, AffineChannel scales and shifts in place of the frozen batch norms,
a BGR stem, momentum blobs -- then converted. Every tensor must come back under detectron2's
name (the naming tests/detector_parity.rs loads through avaloc's detectron2 key map), equal,
and every norm must apply the same affine map as the original batch norm. Keypoint-head blobs
are dropped with a note; a blob of a part the converter does not know is refused.

    .venv-ref/bin/python tests/reference/detectron1_convert.py
"""

import re
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "model_zoo"))
from convert_detectron1 import AFFINE_EPS, convert  # noqa: E402

EPS = 1e-5  # torchvision's FrozenBatchNorm2d, and avaloc's


def torchvision_weights():
    fixtures = ROOT / "tests" / "fixtures"
    state = {f"backbone.body.{k}": v for k, v in load_file(fixtures / "resnet_tiny.safetensors").items()
             if not k.startswith("fc.")}
    for part in ("fpn_tiny", "rpn_tiny", "roi_heads_tiny"):
        state.update(load_file(fixtures / f"{part}.safetensors"))
    return {k: v.astype(np.float64) for k, v in state.items() if "num_batches_tracked" not in k}


def detectron_blobs(tv):
    """Detectron's blobs of the torchvision weights (one block per stage: block 0 is last)."""
    blobs = {}
    for key, value in tv.items():
        prefix = None
        m = re.match(r"backbone\.body\.layer(\d)\.(\d+)\.(conv|bn)(\d)\.(\w+)$", key)
        d = re.match(r"backbone\.body\.layer(\d)\.(\d+)\.downsample\.(0|1)\.(\w+)$", key)
        if key == "backbone.body.conv1.weight":
            blobs["conv1_w"] = value[:, ::-1]
        elif key.startswith("backbone.body.bn1."):
            prefix = "res_conv1_bn"
        elif m and m.group(3) == "conv":
            blobs[f"res{int(m.group(1)) + 1}_{m.group(2)}_branch2{'abc'[int(m.group(4)) - 1]}_w"] = value
        elif m:
            prefix = f"res{int(m.group(1)) + 1}_{m.group(2)}_branch2{'abc'[int(m.group(4)) - 1]}_bn"
        elif d and d.group(3) == "0":
            blobs[f"res{int(d.group(1)) + 1}_{d.group(2)}_branch1_w"] = value
        elif d:
            prefix = f"res{int(d.group(1)) + 1}_{d.group(2)}_branch1_bn"
        else:
            blobs[head_blob(key)] = value
            continue
        if prefix and key.endswith(".weight"):
            base = key[: -len("weight")]
            scale = tv[base + "weight"] / np.sqrt(tv[base + "running_var"] + EPS)
            blobs[prefix + "_s"] = scale
            blobs[prefix + "_b"] = tv[base + "bias"] - tv[base + "running_mean"] * scale
    blobs.update({"conv1_w_momentum": np.zeros(3), "fc6_b_momentum": np.zeros(3), "lr": np.ones(1)})
    return blobs


def head_blob(key):
    suffix = "_w" if key.endswith(".weight") else "_b"
    fpn = re.match(r"backbone\.fpn\.(inner|layer)_blocks\.(\d)\.0\.", key)
    if fpn:
        stage = int(fpn.group(2)) + 2
        if fpn.group(1) == "layer":
            return f"fpn_res{stage}_0_sum{suffix}"
        return f"fpn_inner_res{stage}_0_sum{'' if stage == 5 else '_lateral'}{suffix}"
    names = {"rpn.head.conv.0.0.": "conv_rpn_fpn2", "rpn.head.cls_logits.": "rpn_cls_logits_fpn2",
             "rpn.head.bbox_pred.": "rpn_bbox_pred_fpn2", "roi_heads.box_head.fc6.": "fc6",
             "roi_heads.box_head.fc7.": "fc7", "roi_heads.box_predictor.cls_score.": "cls_score",
             "roi_heads.box_predictor.bbox_pred.": "bbox_pred"}
    return next(v for k, v in names.items() if key.startswith(k)) + suffix


def detectron2_name(key):
    """detectron2's name of a torchvision key (as tests/detector_parity.rs writes it)."""
    rules = [(r"^backbone\.body\.conv1\.", "backbone.bottom_up.stem.conv1."),
             (r"^backbone\.body\.bn1\.", "backbone.bottom_up.stem.conv1.norm."),
             (r"\.bn(\d)\.", r".conv\1.norm."), (r"\.downsample\.0\.", ".shortcut."),
             (r"\.downsample\.1\.", ".shortcut.norm."),
             (r"^backbone\.body\.layer(\d)\.", lambda m: f"backbone.bottom_up.res{int(m.group(1)) + 1}."),
             (r"^backbone\.fpn\.inner_blocks\.(\d)\.0\.", lambda m: f"backbone.fpn_lateral{int(m.group(1)) + 2}."),
             (r"^backbone\.fpn\.layer_blocks\.(\d)\.0\.", lambda m: f"backbone.fpn_output{int(m.group(1)) + 2}."),
             (r"^rpn\.head\.conv\.0\.0\.", "proposal_generator.rpn_head.conv."),
             (r"^rpn\.head\.cls_logits\.", "proposal_generator.rpn_head.objectness_logits."),
             (r"^rpn\.head\.bbox_pred\.", "proposal_generator.rpn_head.anchor_deltas."),
             (r"^roi_heads\.box_head\.fc6\.", "roi_heads.box_head.fc1."),
             (r"^roi_heads\.box_head\.fc7\.", "roi_heads.box_head.fc2.")]
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


def main():
    tv = torchvision_weights()
    out = convert(detectron_blobs(tv))
    expected = {detectron2_name(k) for k in tv}
    assert set(out) == expected, (sorted(set(out) ^ expected))[:10]
    norms = 0
    for key, value in tv.items():
        name = detectron2_name(key)
        if ".norm." not in name and "bn1" not in key:
            assert np.array_equal(out[name], value.astype(np.float32)), name
        elif key.endswith(".weight"):
            base, tv_base = name[: -len("weight")], key[: -len("weight")]
            scale = tv[tv_base + "weight"] / np.sqrt(tv[tv_base + "running_var"] + EPS)
            shift = tv[tv_base + "bias"] - tv[tv_base + "running_mean"] * scale
            got_scale = out[base + "weight"] / np.sqrt(out[base + "running_var"].astype(np.float64) + EPS)
            got_shift = out[base + "bias"] - out[base + "running_mean"] * got_scale
            assert np.allclose(got_scale, scale, rtol=1e-6) and np.allclose(got_shift, shift, atol=1e-6), name
            norms += 1
    notes = []
    with_head = convert({**detectron_blobs(tv), "kps_score_w": np.zeros(1), "conv_fcn1_w": np.zeros(1)}, notes.append)
    assert set(with_head) == set(out) and len(notes) == 1 and "2 blobs" in notes[0], notes
    try:
        convert({**detectron_blobs(tv), "fc8_w": np.zeros(1)})
        raise AssertionError("an unknown blob was accepted")
    except ValueError as e:
        assert "fc8_w" in str(e), e
    print(f"convert_detectron1: {len(out)} tensors under detectron2's names, {norms} AffineChannel "
          f"norms as frozen batch norms (eps {AFFINE_EPS}), BGR stem reversed; keypoint heads dropped, unknown blobs refused")


if __name__ == "__main__":
    main()
