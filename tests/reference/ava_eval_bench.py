"""Times the official AVA evaluator on an AVA-val-sized random input (50k keyframes, about
1M detection rows), and writes the input so `avaloc eval` can be timed on the same files.

    .venv-ref/bin/python tests/reference/ava_eval_bench.py /tmp/ava_bench
    time avaloc eval --groundtruth /tmp/ava_bench/groundtruth.csv \
        --detections /tmp/ava_bench/detections.csv --labelmap /tmp/ava_bench/labelmap.pbtxt
"""

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ava_eval import ava_eval_helper, read_csv  # noqa: E402


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/ava_bench")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    ids = list(range(1, 61))
    with open(out / "labelmap.pbtxt", "w") as f:
        for i in ids:
            f.write(f'item {{\n  name: "action {i}"\n  id: {i}\n}}\n')
    with open(out / "groundtruth.csv", "w") as gt, open(out / "detections.csv", "w") as det:
        for v in range(56):
            for t in range(902, 902 + 893):
                for p in range(rng.randint(1, 3)):
                    w, h = rng.uniform(0.1, 0.4), rng.uniform(0.3, 0.7)
                    x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
                    for a in rng.sample(ids, rng.randint(1, 3)):
                        gt.write(f"video{v:03d},{t},{x:.3f},{y:.3f},{x + w:.3f},{y + h:.3f},{a},{p}\n")
                    for a in rng.sample(ids, 10):
                        j = [rng.uniform(-0.03, 0.03) for _ in range(4)]
                        det.write(f"video{v:03d},{t},{x + j[0]:.3f},{y + j[1]:.3f},{x + w + j[2]:.3f},"
                                  f"{y + h + j[3]:.3f},{a},{rng.random():.6f}\n")
    print(f"wrote {out}")
    start = time.perf_counter()
    categories, whitelist = ava_eval_helper.read_labelmap(out / "labelmap.pbtxt")
    gt = read_csv(out / "groundtruth.csv", whitelist, 0)
    det = read_csv(out / "detections.csv", whitelist, 50)
    metrics = ava_eval_helper.run_evaluation(categories, gt, det, set(), verbose=False)
    print(f"official evaluator: mAP {metrics['PascalBoxes_Precision/mAP@0.5IOU']:.6f} "
          f"in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
