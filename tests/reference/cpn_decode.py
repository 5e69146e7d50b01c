"""Writes tests/fixtures/cpn_decode.safetensors: tf-cpn's test-time post-processing
(`models/COCO.res50.256x192.CPN/mptest.py::test_net`, transcribed below with OpenCV and NumPy
as it is written there) on random heatmaps: flip merge, keypoints in image pixels, keypoint
scores and the rescored box, for crops given as tf-cpn's `details` (crop corners in image
pixels).

    .venv-ref/bin/pip install opencv-python-headless
    .venv-ref/bin/python tests/reference/cpn_decode.py
"""

import json
from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import save_file

OUT = Path(__file__).resolve().parent.parent / "fixtures"
DATA_SHAPE = (256, 192)
OUTPUT_SHAPE = (64, 48)
SYMMETRY = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]


def test_net_person(heatmap, flipped, details, det_score):
    """mptest.py's loop body for one person: `heatmap`, `flipped` are [17, 64, 48]."""
    fmp = flipped.copy()
    for i in range(len(fmp)):
        fmp[i] = cv2.flip(fmp[i], 1)
    for (q, w) in SYMMETRY:
        fmp[q], fmp[w] = fmp[w].copy(), fmp[q].copy()
    res = (heatmap + fmp) / 2.0

    cls_skeleton = np.zeros((17, 3))
    r0 = res.copy()
    r0 /= 255.0
    r0 += 0.5
    for w in range(17):
        res[w] /= np.amax(res[w])
    border = 10
    dr = np.zeros((17, OUTPUT_SHAPE[0] + 2 * border, OUTPUT_SHAPE[1] + 2 * border))
    dr[:, border:-border, border:-border] = res[:17].copy()
    for w in range(17):
        dr[w] = cv2.GaussianBlur(dr[w], (21, 21), 0)
    for w in range(17):
        lb = dr[w].argmax()
        y, x = np.unravel_index(lb, dr[w].shape)
        dr[w, y, x] = 0
        lb = dr[w].argmax()
        py, px = np.unravel_index(lb, dr[w].shape)
        y -= border
        x -= border
        py -= border + y
        px -= border + x
        ln = (px ** 2 + py ** 2) ** 0.5
        delta = 0.25
        if ln > 1e-3:
            x += delta * px / ln
            y += delta * py / ln
        x = max(0, min(x, OUTPUT_SHAPE[1] - 1))
        y = max(0, min(y, OUTPUT_SHAPE[0] - 1))
        cls_skeleton[w, :2] = (x * 4 + 2, y * 4 + 2)
        cls_skeleton[w, 2] = r0[w, int(round(y) + 1e-10), int(round(x) + 1e-10)]
    # Map back to original image coordinates.
    cls_skeleton[:, 0] = cls_skeleton[:, 0] / DATA_SHAPE[1] * (details[2] - details[0]) + details[0]
    cls_skeleton[:, 1] = cls_skeleton[:, 1] / DATA_SHAPE[0] * (details[3] - details[1]) + details[1]
    score = det_score * cls_skeleton[:, 2].mean()
    return cls_skeleton, score


def smooth_heatmaps(rng):
    """Network-like maps: a blurred peak of height ~255 per keypoint, plus noise."""
    maps = rng.normal(0, 8, size=(17,) + OUTPUT_SHAPE).astype(np.float32)
    for k in range(17):
        y, x = rng.integers(0, OUTPUT_SHAPE[0]), rng.integers(0, OUTPUT_SHAPE[1])
        one = np.zeros(OUTPUT_SHAPE, np.float32)
        one[y, x] = 1
        one = cv2.GaussianBlur(one, (7, 7), 0)
        maps[k] += one / one.max() * rng.uniform(60, 300)
    return maps


def main():
    rng = np.random.default_rng(20261129)
    tensors, cases = {}, []
    for i in range(4):
        # Stored as float16 (a small fixture); decoded from exactly those values.
        heatmap, flipped = (smooth_heatmaps(rng).astype(np.float16).astype(np.float32) for _ in range(2))
        x1, y1 = rng.integers(-40, 400, size=2)
        w = int(rng.integers(30, 300))
        details = [int(x1), int(y1), int(x1) + w, int(y1) + int(w * 4 / 3)]
        det = float(rng.uniform(0.5, 1.0))
        skeleton, score = test_net_person(heatmap, flipped,
                                          details, det)
        tensors[f"{i}.heatmap"] = heatmap.astype(np.float16)
        tensors[f"{i}.flipped"] = flipped.astype(np.float16)
        tensors[f"{i}.keypoints"] = skeleton[:, :2].astype(np.float32)
        tensors[f"{i}.scores"] = skeleton[:, 2].astype(np.float32)
        cases.append({"details": details, "det_score": det, "score": float(score)})
    save_file(tensors, str(OUT / "cpn_decode.safetensors"),
              metadata={"cases": json.dumps(cases), "opencv": cv2.__version__})
    print(f"wrote cpn_decode.safetensors: {len(cases)} persons")


if __name__ == "__main__":
    main()
