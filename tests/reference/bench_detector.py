"""torchvision timings for benches/detector.rs: Faster R-CNN forward on one 800x1333 image,
random weights, on the CPU.

    .venv-ref/bin/python tests/reference/bench_detector.py --threads 2
"""

import argparse
import time

import torch
from torchvision.models.detection import FasterRCNN, fasterrcnn_resnet50_fpn
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone


def timeit(name, model, image, repeat):
    with torch.no_grad():
        model([image])
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            model([image])
            times.append(time.perf_counter() - t)
    times.sort()
    print(f"{name}: median {times[len(times) // 2]:.2f} s, min {times[0]:.2f} s")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--x101", action="store_true", help="also ResNeXt-101 32x8d-FPN")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    image = torch.rand(3, 800, 1333)
    r50 = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    timeit("faster_rcnn_r50_fpn 800x1333", r50, image, args.repeat)
    if args.x101:
        backbone = resnet_fpn_backbone(backbone_name="resnext101_32x8d", weights=None, trainable_layers=3)
        x101 = FasterRCNN(backbone, num_classes=91).eval()
        timeit("faster_rcnn_x101_32x8d_fpn 800x1333", x101, image, max(1, args.repeat // 2))


if __name__ == "__main__":
    main()
