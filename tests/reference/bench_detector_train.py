"""torchvision timing for benches/detector.rs `train_step_synth_4x240x320`: one training step
(losses, backward, SGD update) of the synthetic-data detector of
configs/detector/faster_rcnn_synth.toml, rebuilt from torchvision's parts: a ResNet with
Bottleneck blocks [1, 1, 1, 1] on a 16-channel stem with GroupNorm(min(32, C/2)), a 32-channel
FPN, a 128-wide two-FC box head, 2 classes, 128 RoIs per image, min/max size 192/256; 4
random images of 320x240 with 3 boxes each.

    .venv-ref/bin/python tests/reference/bench_detector_train.py --threads 2
"""

import argparse
import time

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.resnet import Bottleneck, ResNet
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


class SmallResNet(ResNet):
    def __init__(self, base):
        nn.Module.__init__(self)
        self._norm_layer = lambda c: nn.GroupNorm(max(1, min(32, c // 2)), c)
        self.inplanes, self.dilation, self.groups, self.base_width = base, 1, 1, 64
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = self._norm_layer(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(Bottleneck, base, 1)
        self.layer2 = self._make_layer(Bottleneck, 2 * base, 1, stride=2)
        self.layer3 = self._make_layer(Bottleneck, 4 * base, 1, stride=2)
        self.layer4 = self._make_layer(Bottleneck, 8 * base, 1, stride=2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=10)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    trunk = SmallResNet(16)
    backbone = BackboneWithFPN(trunk, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
                               [64, 128, 256, 512], 32, extra_blocks=LastLevelMaxPool())
    model = FasterRCNN(backbone, num_classes=None, min_size=192, max_size=256,
                       box_head=TwoMLPHead(32 * 49, 128), box_predictor=FastRCNNPredictor(128, 2),
                       box_batch_size_per_image=128).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    images = [torch.rand(3, 240, 320) for _ in range(4)]
    boxes = torch.tensor([[20.0, 40.0, 80.0, 200.0], [120.0, 60.0, 170.0, 180.0], [220.0, 30.0, 300.0, 230.0]])
    targets = [{"boxes": boxes, "labels": torch.ones(3, dtype=torch.int64)} for _ in range(4)]

    def step():
        loss = sum(model(images, targets).values())
        optim.zero_grad()
        loss.backward()
        optim.step()

    step()
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"train_step_synth_4x240x320: median {times[len(times) // 2] * 1000:.0f} ms, min {times[0] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
