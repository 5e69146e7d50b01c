"""Writes tests/fixtures/detector_tiny_detectron1_io.safetensors: the tiny detector of
detector.py (its weights, torchvision's modules for the convolutions, RoIAlign and box head)
run through Detectron's (Caffe2) inference procedure, written out here in numpy after
Detectron's `generate_anchors`, `GenerateProposalsOp`, `collect`, `map_rois_to_fpn_levels`,
`im_detect_bbox` and `box_results_with_nms_and_limit` (Detectron itself needs Caffe2, which
does not install). What differs from torchvision's procedure:

- anchors of `generate_anchors(stride, (size,), ratios)`: rounded, "+1" widths, fixed strides;
- "+1" widths in box decoding, level mapping (and `log2(s / 224 + 1e-6)`) and NMS, which drops
  a box whose IoU reaches the threshold;
- proposals clipped to the padded input's last pixel, kept when at least one pixel wide and
  centred inside it; per-level NMS, then the best 1000 of all levels;
- detections decoded from the proposals divided by the image scale, in original pixels,
  clipped to the image's last pixel, with no minimum size;
- the image scale and the resized sizes of `prep_im_for_blob` (rounded).

The resize itself is torch's bilinear interpolation (half-pixel centres) where Detectron calls
cv2.resize; the two differ by sub-pixel sampling only where a rounded size changes the ratio.

    .venv-ref/bin/python tests/reference/detector_detectron1.py
"""

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from skimage import data
from torchvision.ops import roi_align

from detector import tiny_faster_rcnn

OUT = Path(__file__).resolve().parent.parent / "fixtures"
MIN_SIZE, MAX_SIZE = 160, 256
PRE_NMS, POST_NMS, RPN_NMS = 1000, 1000, 0.7
SCORE_THRESH, NMS, DETECTIONS = 0.05, 0.5, 100
CLIP = math.log(1000.0 / 16.0)


def base_anchors(stride, size, ratios):
    centre = 0.5 * (stride - 1)
    out = []
    for ratio in ratios:
        ws = np.round(np.sqrt(stride * stride / ratio))
        hs = np.round(ws * ratio)
        ws, hs = ws * size / stride, hs * size / stride
        out.append([centre - 0.5 * (ws - 1), centre - 0.5 * (hs - 1), centre + 0.5 * (ws - 1), centre + 0.5 * (hs - 1)])
    return np.array(out)


def decode(boxes, deltas, weights):
    w = boxes[:, 2] - boxes[:, 0] + 1.0
    h = boxes[:, 3] - boxes[:, 1] + 1.0
    cx, cy = boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h
    dx, dy = deltas[:, 0::4] / weights[0], deltas[:, 1::4] / weights[1]
    dw = np.minimum(deltas[:, 2::4] / weights[2], CLIP)
    dh = np.minimum(deltas[:, 3::4] / weights[3], CLIP)
    px, py = dx * w[:, None] + cx[:, None], dy * h[:, None] + cy[:, None]
    pw, ph = np.exp(dw) * w[:, None], np.exp(dh) * h[:, None]
    out = np.zeros(deltas.shape, dtype=deltas.dtype)
    out[:, 0::4], out[:, 1::4] = px - 0.5 * pw, py - 0.5 * ph
    out[:, 2::4], out[:, 3::4] = px + 0.5 * pw - 1, py + 0.5 * ph - 1
    return out


def clip(boxes, h, w):
    boxes[:, 0::4] = np.clip(boxes[:, 0::4], 0, w - 1)
    boxes[:, 1::4] = np.clip(boxes[:, 1::4], 0, h - 1)
    boxes[:, 2::4] = np.clip(boxes[:, 2::4], 0, w - 1)
    boxes[:, 3::4] = np.clip(boxes[:, 3::4], 0, h - 1)
    return boxes


def nms(boxes, scores, thresh):
    order = np.argsort(-scores, kind="stable")
    area = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep = []
    for a, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in order[a + 1:]:
            if suppressed[j]:
                continue
            iw = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]) + 1)
            ih = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]) + 1)
            inter = iw * ih
            if inter / (area[i] + area[j] - inter) >= thresh:
                suppressed[j] = True
    return np.array(keep, dtype=np.int64)


def main():
    model = tiny_faster_rcnn()
    model.eval()
    image = torch.from_numpy(data.astronaut()[100:400, 50:450].copy()).permute(2, 0, 1).float() / 255
    image = image.half().float().contiguous()
    h0, w0 = image.shape[1:]
    scale = MIN_SIZE / min(h0, w0)
    if round(scale * max(h0, w0)) > MAX_SIZE:
        scale = MAX_SIZE / max(h0, w0)
    size = (int(np.round(h0 * scale)), int(np.round(w0 * scale)))
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    resized = F.interpolate(((image - mean) / std)[None], size=size, mode="bilinear", align_corners=False)
    ph, pw = (math.ceil(s / 32) * 32 for s in size)
    batch = torch.zeros(1, 3, ph, pw)
    batch[:, :, : size[0], : size[1]] = resized

    with torch.no_grad():
        features = list(model.backbone(batch).values())  # P2..P5, P6
        objectness, deltas = model.rpn.head(features)
    # Proposals per level (stride 2^l, anchor size 32 * 2^(l-2)), then the best of all levels.
    rois, roi_scores = [], []
    for level, (logits, codes) in enumerate(zip(objectness, deltas)):
        stride = 4 * 2**level
        anchors = base_anchors(stride, 32 * 2**level, [0.5, 1.0, 2.0])
        _, a, fh, fw = logits.shape
        ys, xs = np.meshgrid(np.arange(fh) * stride, np.arange(fw) * stride, indexing="ij")
        shifts = np.stack([xs.ravel(), ys.ravel(), xs.ravel(), ys.ravel()], 1)
        all_anchors = (anchors[None] + shifts[:, None]).reshape(-1, 4)
        scores = torch.sigmoid(logits[0]).permute(1, 2, 0).reshape(-1).numpy().astype(np.float64)
        codes = codes[0].permute(1, 2, 0).reshape(-1, 4).numpy().astype(np.float64)
        order = np.argsort(-scores, kind="stable")[:PRE_NMS]
        boxes = clip(decode(all_anchors[order], codes[order], (1.0, 1.0, 1.0, 1.0)), ph, pw)
        scores = scores[order]
        cx = boxes[:, 0] + (boxes[:, 2] - boxes[:, 0] + 1) / 2
        cy = boxes[:, 1] + (boxes[:, 3] - boxes[:, 1] + 1) / 2
        ok = (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1]) & (cx < pw) & (cy < ph)
        boxes, scores = boxes[ok], scores[ok]
        keep = nms(boxes, scores, RPN_NMS)[:POST_NMS]
        rois.append(boxes[keep])
        roi_scores.append(scores[keep])
    rois, roi_scores = np.concatenate(rois), np.concatenate(roi_scores)
    rois = rois[np.argsort(-roi_scores, kind="stable")[:POST_NMS]]

    # RoIAlign on P2..P5 by Detectron's level mapping, then the box head.
    s = np.sqrt((rois[:, 2] - rois[:, 0] + 1) * (rois[:, 3] - rois[:, 1] + 1))
    levels = np.clip(np.floor(4 + np.log2(s / 224 + 1e-6)), 2, 5).astype(int)
    pooled = torch.zeros(len(rois), features[0].shape[1], 7, 7)
    with torch.no_grad():
        for lvl in range(2, 6):
            idx = np.where(levels == lvl)[0]
            if len(idx) == 0:
                continue
            r = torch.from_numpy(np.hstack([np.zeros((len(idx), 1)), rois[idx]])).float()
            pooled[idx] = roi_align(features[lvl - 2], r, (7, 7), 1.0 / 2**lvl, 2, aligned=False)
        logits, box_codes = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
    probs = torch.softmax(logits, 1).numpy().astype(np.float64)
    boxes = clip(decode(rois / scale, box_codes.numpy().astype(np.float64), (10.0, 10.0, 5.0, 5.0)), h0, w0)

    out_boxes, out_scores, out_labels = [], [], []
    for j in range(1, probs.shape[1]):
        idx = np.where(probs[:, j] > SCORE_THRESH)[0]
        b, p = boxes[idx, 4 * j : 4 * j + 4], probs[idx, j]
        keep = nms(b, p, NMS)
        out_boxes.append(b[keep])
        out_scores.append(p[keep])
        out_labels.append(np.full(len(keep), j))
    out_boxes, out_scores, out_labels = map(np.concatenate, (out_boxes, out_scores, out_labels))
    order = np.argsort(-out_scores, kind="stable")[:DETECTIONS]
    save_file(
        {
            "boxes": torch.from_numpy(out_boxes[order]).float(),
            "scores": torch.from_numpy(out_scores[order]).float(),
            "labels": torch.from_numpy(out_labels[order]).long(),
            "proposals": torch.from_numpy(rois[:50]).float(),
        },
        OUT / "detector_tiny_detectron1_io.safetensors",
    )
    print(f"wrote detector_tiny_detectron1_io: scale {scale:.4f}, input {size} padded to {(ph, pw)}, "
          f"{len(rois)} proposals, {len(order)} detections")


if __name__ == "__main__":
    main()
