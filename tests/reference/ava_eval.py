"""Writes tests/fixtures/ava_eval/: a random AVA-format evaluation case (ground truth,
detections, label map, exclusions) and the official evaluator's results on it; then the
case split into two parts by video (`parts_a.csv`: the first two videos' ground truth,
`parts_b.csv`: the others', as AVA-Kinetics' AVA and Kinetics files) and the official
evaluator's results on each part, the detections restricted to that part's videos.

The reader is ActivityNet's get_ava_performance.py `read_csv` (a 50-per-frame heap for
detections), reproduced below; the metrics come from the Pascal evaluator PySlowFast ships
(`pip install --no-deps slowfast`), which is the same code.

    .venv-ref/bin/python tests/reference/ava_eval.py
"""

import csv
import heapq
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np

# The evaluator predates numpy 2.
np.bool = bool
np.float = float
np.NAN = np.nan

from slowfast.utils import ava_eval_helper  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "ava_eval"
LABELS = {1: "bend/bow (at the waist)", 3: "dance", 5: "fall down", 8: "jump/leap",
          11: "sit", 12: "stand", 14: "walk", 17: "carry/hold (an object)", 20: "climb (e.g., a mountain)"}


def read_csv(csv_file, class_whitelist=None, capacity=0):
    """ActivityNet get_ava_performance.py read_csv."""
    entries = defaultdict(list)
    boxes, labels, scores = defaultdict(list), defaultdict(list), defaultdict(list)
    with open(csv_file) as f:
        for row in csv.reader(f):
            assert len(row) in [7, 8], "Wrong number of columns: " + row
            image_key = ava_eval_helper.make_image_key(row[0], row[1])
            x1, y1, x2, y2 = [float(n) for n in row[2:6]]
            action_id = int(row[6])
            if class_whitelist and action_id not in class_whitelist:
                continue
            score = 1.0
            if len(row) == 8:
                score = float(row[7])
            if capacity < 1 or len(entries[image_key]) < capacity:
                heapq.heappush(entries[image_key], (score, action_id, y1, x1, y2, x2))
            elif score > entries[image_key][0][0]:
                heapq.heapreplace(entries[image_key], (score, action_id, y1, x1, y2, x2))
    for image_key in entries:
        entry = sorted(entries[image_key], key=lambda tup: -tup[0])
        for item in entry:
            score, action_id, y1, x1, y2, x2 = item
            boxes[image_key].append([y1, x1, y2, x2])
            labels[image_key].append(action_id)
            scores[image_key].append(score)
    return boxes, labels, scores


def jitter(box, rng, amount):
    x1, y1, x2, y2 = box
    d = [rng.uniform(-amount, amount) for _ in range(4)]
    return [min(max(v + e, 0.0), 1.0) for v, e in zip((x1, y1, x2, y2), d)]


def main():
    rng = random.Random(20261124)
    OUT.mkdir(parents=True, exist_ok=True)
    all_ids = list(LABELS) + [2, 9, 80]  # some ids outside the label map
    gt_rows, det_rows, exclusions = [], [], []
    for v in range(4):
        video = f"vid{v:03d}_{rng.randrange(10**6):06d}"
        for t in range(902, 902 + 25):
            persons = rng.randint(0, 4)
            for p in range(persons):
                w, h = rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.7)
                x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
                box = [x, y, x + w, y + h]
                actions = rng.sample([a for a in all_ids if a not in (3, 20)], rng.randint(1, 3))
                for a in actions:
                    gt_rows.append([video, f"{t:04d}", *box, a, p])
                # A good detector finds most true actions...
                for a in actions:
                    if rng.random() < 0.7:
                        det_rows.append([video, f"{t:04d}", *jitter(box, rng, 0.03), a, rng.uniform(0.2, 1.0)])
                # ... among detections near the person for random actions.
                for _ in range(rng.randint(1, 4)):
                    jb = jitter(box, rng, rng.choice([0.01, 0.05, 0.2]))
                    for a in rng.sample(all_ids, rng.randint(1, 6)):
                        det_rows.append([video, f"{t:04d}", *jb, a, rng.random()])
            if persons == 0 or rng.random() < 0.1:
                # False positives on frames with or without ground truth.
                for _ in range(rng.randint(1, 5)):
                    jb = jitter([0.3, 0.3, 0.6, 0.8], rng, 0.3)
                    det_rows.append([video, f"{t:04d}", *jb, rng.choice(all_ids), rng.random()])
            if rng.random() < 0.08:
                # Crowded frames: more than 50 detections, to exercise the cap.
                for _ in range(60):
                    jb = jitter([0.2, 0.2, 0.5, 0.9], rng, 0.2)
                    det_rows.append([video, f"{t:04d}", *jb, rng.choice(all_ids), rng.random()])
            if rng.random() < 0.05:
                exclusions.append([video, f"{t:04d}"])
        # An invalid detection box (x2 < x1) and a detection on an excluded frame.
        det_rows.append([video, "0903", 0.6, 0.2, 0.4, 0.5, 12, 0.99])
    rng.shuffle(det_rows)

    def write(name, rows):
        with open(OUT / name, "w", newline="") as f:
            csv.writer(f).writerows([[repr(c) if isinstance(c, float) else c for c in r] for r in rows])

    write("groundtruth.csv", gt_rows)
    write("detections.csv", det_rows)
    write("exclusions.csv", exclusions)
    with open(OUT / "labelmap.pbtxt", "w") as f:
        for i, name in LABELS.items():
            f.write(f'item {{\n  name: "{name}"\n  id: {i}\n}}\n')

    categories, whitelist = ava_eval_helper.read_labelmap(OUT / "labelmap.pbtxt")
    excluded = ava_eval_helper.read_exclusions(OUT / "exclusions.csv")
    expected = {}
    for name, cap in (("capped", 50), ("uncapped", 0)):
        gt = read_csv(OUT / "groundtruth.csv", whitelist, 0)
        det = read_csv(OUT / "detections.csv", whitelist, cap)
        metrics = ava_eval_helper.run_evaluation(categories, gt, det, excluded, verbose=False)
        per_class = {}
        for c in categories:
            ap = metrics[f"PascalBoxes_PerformanceByCategory/AP@0.5IOU/{c['name']}"]
            per_class[str(c["id"])] = None if np.isnan(ap) else float(ap)
        expected[name] = {"mAP": float(metrics["PascalBoxes_Precision/mAP@0.5IOU"]), "per_class": per_class}
    with open(OUT / "expected.json", "w") as f:
        json.dump(expected, f, indent=1)
    write_parts(categories, whitelist, excluded)
    print(f"wrote {len(gt_rows)} ground-truth rows, {len(det_rows)} detections; "
          f"mAP {expected['capped']['mAP']:.6f} (capped), {expected['uncapped']['mAP']:.6f}")


def write_parts(categories, whitelist, excluded):
    """Each part evaluated alone, as the official evaluator sees a subset."""
    with open(OUT / "groundtruth.csv") as f:
        rows = list(csv.reader(f))
    videos = sorted({r[0] for r in rows})
    parts = {"parts_a.csv": set(videos[:2]), "parts_b.csv": set(videos[2:])}
    expected = {}
    for name, part in parts.items():
        with open(OUT / name, "w", newline="") as f:
            csv.writer(f).writerows([r for r in rows if r[0] in part])
        with open(OUT / "detections.csv") as f:
            dets = [r for r in csv.reader(f) if r[0] in part]
        subset = Path("/tmp") / f"ava_eval_{name}"
        with open(subset, "w", newline="") as f:
            csv.writer(f).writerows(dets)
        gt = read_csv(OUT / name, whitelist, 0)
        det = read_csv(subset, whitelist, 50)
        metrics = ava_eval_helper.run_evaluation(categories, gt, det, excluded, verbose=False)
        per_class = {}
        for c in categories:
            ap = metrics[f"PascalBoxes_PerformanceByCategory/AP@0.5IOU/{c['name']}"]
            per_class[str(c["id"])] = None if np.isnan(ap) else float(ap)
        expected[name] = {"mAP": float(metrics["PascalBoxes_Precision/mAP@0.5IOU"]), "per_class": per_class}
    with open(OUT / "expected_parts.json", "w") as f:
        json.dump(expected, f, indent=1)
    print("parts: " + ", ".join(f"{k} mAP {v['mAP']:.6f}" for k, v in expected.items()))


if __name__ == "__main__":
    main()
