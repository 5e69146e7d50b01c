"""Writes tests/fixtures/coco_keypoints/: random COCO keypoint cases and what pycocotools'
`COCOeval(iouType="keypoints")` makes of them (`summarize()`'s ten numbers). The cases
cover people of every area range, crowds, people without labelled keypoints, hidden
keypoints, images without people or without detections, more than 20 detections in an image,
tied scores and detections far from anyone.

    .venv-ref/bin/pip install pycocotools
    .venv-ref/bin/python tests/reference/coco_keypoints_eval.py
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "coco_keypoints"


def person(rng, ann_id, image_id, crowd=False, unlabelled=False):
    w, h = rng.uniform(10, 200), rng.uniform(20, 300)
    x, y = rng.uniform(0, 400), rng.uniform(0, 300)
    kx, ky = rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17)
    v = rng.choice([0, 1, 2, 2, 2], 17) if not unlabelled else np.zeros(17, int)
    kps = np.stack([np.where(v > 0, kx, 0), np.where(v > 0, ky, 0), v], 1).round(2)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "keypoints": kps.ravel().tolist(),
            "num_keypoints": int((v > 0).sum()), "area": float(round(w * h * rng.uniform(0.5, 0.9), 2)),
            "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)], "iscrowd": int(crowd)}


def detection(rng, image_id, near=None, scores=None):
    if near is not None:
        g = np.array(near["keypoints"]).reshape(17, 3)
        scale = np.sqrt(near["area"]) * rng.uniform(0.002, 0.12)
        xy = g[:, :2] + rng.normal(0, scale, (17, 2))
        # Unlabelled ground-truth keypoints: the detector still guesses somewhere in the box.
        bx, by, bw, bh = near["bbox"]
        xy[g[:, 2] == 0] = np.stack([rng.uniform(bx, bx + bw, 17), rng.uniform(by, by + bh, 17)], 1)[g[:, 2] == 0]
    else:
        xy = np.stack([rng.uniform(0, 600, 17), rng.uniform(0, 500, 17)], 1)
    kps = np.concatenate([xy.round(2), np.ones((17, 1))], 1)
    score = float(rng.choice(scores)) if scores is not None else float(round(rng.uniform(0, 1), 3))
    return {"image_id": image_id, "category_id": 1, "keypoints": kps.ravel().tolist(), "score": score}


def case(seed):
    rng = np.random.default_rng(seed)
    images = [{"id": i + 1, "file_name": f"{i + 1:06d}.jpg", "width": 640, "height": 480} for i in range(12)]
    anns, dets, ann_id = [], [], 1
    for img in images:
        n = int(rng.integers(0, 6)) if img["id"] != 3 else 0
        people = []
        for _ in range(n):
            p = person(rng, ann_id, img["id"], crowd=rng.random() < 0.08, unlabelled=rng.random() < 0.1)
            ann_id += 1
            people.append(p)
        anns += people
        if img["id"] == 5:
            continue  # no detections here
        tied = [0.5, 0.7] if img["id"] % 4 == 0 else None
        for p in people:
            for _ in range(int(rng.integers(0, 3))):
                dets.append(detection(rng, img["id"], near=p, scores=tied))
        extra = 25 if img["id"] == 7 else int(rng.integers(0, 3))
        for _ in range(extra):
            dets.append(detection(rng, img["id"], scores=tied))
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "keypoints": [], "skeleton": []}]}
    return gt, dets


def evaluate(gt_path, dt_path):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_path))
        res = coco.loadRes(str(dt_path))
        ev = COCOeval(coco, res, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(s) for s in ev.stats]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {}
    for seed in range(6):
        gt, dets = case(seed)
        gt_path, dt_path = OUT / f"case{seed}_gt.json", OUT / f"case{seed}_dt.json"
        gt_path.write_text(json.dumps(gt))
        dt_path.write_text(json.dumps(dets))
        expected[f"case{seed}"] = evaluate(gt_path, dt_path)
        print(seed, len(gt["annotations"]), len(dets), [round(s, 4) for s in expected[f"case{seed}"]])
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1))


if __name__ == "__main__":
    main()
