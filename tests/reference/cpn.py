"""Writes tests/fixtures/cpn_tiny_*.safetensors: CPN as GengDavid/pytorch-cpn builds it
(`networks/{network,globalNet,refineNet}.py`, transcribed below with its widths as arguments)
and as chenyilun95/tf-cpn builds it (`models/COCO.res50.256x192.CPN/network.py`, transcribed
in PyTorch: TensorFlow 1's resize grid, a biased merge conv, identity shortcuts in the cascade,
concatenation C2..C5, the heads' norm before the resize, batch-norm epsilon 1e-9), on
torchvision's ResNet trunk with seeded weights and random batch-norm statistics, run on a crop
of scikit-image's astronaut photo. Stores the input, GlobalNet's four heatmaps (coarsest
first, as both number them) and RefineNet's output for each, the pytorch-cpn weights under
its own names (with train.py's `module.` prefix) and the tf-cpn ones under avaloc's names (as
model_zoo/convert_tf_cpn.py writes them). cpn_tiny_train: the tf-cpn network's training targets
(tf-cpn's `joints_heatmap_gen` with OpenCV) for two crops, its losses (GlobalNet and RefineNet
with online hard keypoint mining) and their gradients on six parameters by PyTorch autograd.

    .venv-ref/bin/python tests/reference/cpn.py
"""

import json
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file
from skimage import data
from torchvision.models.resnet import Bottleneck as TvBottleneck, ResNet

OUT = Path(__file__).resolve().parent.parent / "fixtures"
# configs/pose/cpn_tiny.toml
INPUT_HW = (96, 64)
OUTPUT_HW = (24, 16)
CHANNELS, REFINE_WIDTH, KEYPOINTS = 16, 8, 17
BASE = 8
MEAN = torch.tensor([122.7717, 115.9465, 102.9801])


# ---- pytorch-cpn (networks/globalNet.py, refineNet.py, network.py), widths as arguments ----

class GlobalNet(nn.Module):
    def __init__(self, channel_settings, output_shape, num_class, c):
        super().__init__()
        self.channel_settings = channel_settings
        laterals, upsamples, predict = [], [], []
        for i in range(len(channel_settings)):
            laterals.append(nn.Sequential(nn.Conv2d(channel_settings[i], c, 1, bias=False),
                                          nn.BatchNorm2d(c), nn.ReLU(inplace=True)))
            predict.append(nn.Sequential(
                nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                nn.Conv2d(c, num_class, 3, padding=1, bias=False),
                nn.Upsample(size=output_shape, mode="bilinear", align_corners=True),
                nn.BatchNorm2d(num_class)))
            if i != len(channel_settings) - 1:
                upsamples.append(nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                    nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c)))
        self.laterals = nn.ModuleList(laterals)
        self.upsamples = nn.ModuleList(upsamples)
        self.predict = nn.ModuleList(predict)

    def forward(self, x):
        global_fms, global_outs = [], []
        for i in range(len(self.channel_settings)):
            if i == 0:
                feature = self.laterals[i](x[i])
            else:
                feature = self.laterals[i](x[i]) + up
            global_fms.append(feature)
            if i != len(self.channel_settings) - 1:
                up = self.upsamples[i](feature)
            global_outs.append(self.predict[i](feature))
        return global_fms, global_outs


class RefineBottleneck(nn.Module):
    def __init__(self, inplanes, planes, out):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.downsample(x))


class RefineNet(nn.Module):
    def __init__(self, c, w, out_shape, num_class):
        super().__init__()
        cascade = []
        for i in range(4):
            cascade.append(nn.Sequential(
                *[RefineBottleneck(c, w, c) for _ in range(3 - i)],
                nn.Upsample(size=out_shape, mode="bilinear", align_corners=True)))
        self.cascade = nn.ModuleList(cascade)
        self.final_predict = nn.Sequential(RefineBottleneck(4 * c, w, c),
                                           nn.Conv2d(c, num_class, 3, padding=1, bias=False),
                                           nn.BatchNorm2d(num_class))

    def forward(self, x):
        refine_fms = [self.cascade[i](x[i]) for i in range(4)]
        return self.final_predict(torch.cat(refine_fms, dim=1))


class Trunk(ResNet):
    """pytorch-cpn's networks/resnet.py: torchvision's ResNet returning [C5, C4, C3, C2], here
    with BASE stem channels and stages of BASE, 2 BASE, 4 BASE, 8 BASE planes (avaloc's
    `base_channels`), one block each."""

    def __init__(self, norm_layer=nn.BatchNorm2d, base=BASE, blocks=(1, 1, 1, 1)):
        super().__init__(TvBottleneck, list(blocks), norm_layer=norm_layer)
        self.inplanes = base
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = norm_layer(base)
        self.layer1 = self._make_layer(TvBottleneck, base, blocks[0])
        self.layer2 = self._make_layer(TvBottleneck, 2 * base, blocks[1], stride=2)
        self.layer3 = self._make_layer(TvBottleneck, 4 * base, blocks[2], stride=2)
        self.layer4 = self._make_layer(TvBottleneck, 8 * base, blocks[3], stride=2)
        del self.fc

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x1 = self.layer1(x)
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        return [x4, x3, x2, x1]


class PytorchCpn(nn.Module):
    """The tiny fixture network by default; CPN50 at 256x192 is
    `PytorchCpn(64, (3, 4, 6, 3), 256, 128, (64, 48))`."""

    def __init__(self, base=BASE, blocks=(1, 1, 1, 1), c=CHANNELS, w=REFINE_WIDTH, out_hw=OUTPUT_HW):
        super().__init__()
        self.resnet = Trunk(base=base, blocks=blocks)
        channels = [8 * base * 4, 4 * base * 4, 2 * base * 4, base * 4]
        self.global_net = GlobalNet(channels, out_hw, KEYPOINTS, c)
        self.refine_net = RefineNet(c, w, out_hw, KEYPOINTS)

    def forward(self, x):
        global_fms, global_outs = self.global_net(self.resnet(x))
        return global_outs, self.refine_net(global_fms)


# ---- tf-cpn (network.py: create_global_net, create_refine_net), transcribed ----

def tf_resize(x, size):
    """tf.image.resize_bilinear, TF 1 defaults (align_corners=False, no half-pixel centres)."""
    def axis(x, dim, out):
        n = x.shape[dim]
        src = torch.arange(out, dtype=torch.float64) * (n / out)
        lo = src.floor().long().clamp(max=n - 1)
        hi = (lo + 1).clamp(max=n - 1)
        w = (src - lo.double()).float()
        shape = [1, 1, 1, 1]
        shape[dim] = out
        a, b = x.index_select(dim, lo), x.index_select(dim, hi)
        return a + (b - a) * w.reshape(shape)
    return axis(axis(x, 2, size[0]), 3, size[1])


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-9)


class TfBottleneck(nn.Module):
    """slim resnet_v1.bottleneck: identity shortcut when the depth is unchanged."""

    def __init__(self, inplanes, planes, out):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), bn(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False), bn(planes)
        self.conv3, self.bn3 = nn.Conv2d(planes, out, 1, bias=False), bn(out)
        self.downsample = (nn.Sequential(nn.Conv2d(inplanes, out, 1, bias=False), bn(out))
                           if inplanes != out else None)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class TfCpn(nn.Module):
    """Module names are avaloc's, which the tf-cpn converter writes."""

    def __init__(self):
        super().__init__()
        self.trunk = Trunk(norm_layer=bn)
        c = CHANNELS
        stages = [8 * BASE * 4, 4 * BASE * 4, 2 * BASE * 4, BASE * 4]
        self.laterals = nn.ModuleList(nn.ModuleDict({"conv": nn.Conv2d(s, c, 1, bias=False), "norm": bn(c)})
                                      for s in stages)
        self.merges = nn.ModuleList(nn.ModuleDict({"conv": nn.Conv2d(c, c, 1)}) for _ in range(3))
        self.predict = nn.ModuleList(nn.ModuleDict({
            "reduce": nn.ModuleDict({"conv": nn.Conv2d(c, c, 1, bias=False), "norm": bn(c)}),
            "heatmap": nn.ModuleDict({"conv": nn.Conv2d(c, KEYPOINTS, 3, padding=1, bias=False),
                                      "norm": bn(KEYPOINTS)})}) for _ in stages)
        self.cascade = nn.ModuleList(nn.ModuleList(TfBottleneck(c, REFINE_WIDTH, c) for _ in range(3 - i))
                                     for i in range(4))
        self.final_bottleneck = TfBottleneck(4 * c, REFINE_WIDTH, c)
        self.out = nn.ModuleDict({"conv": nn.Conv2d(c, KEYPOINTS, 3, padding=1, bias=False), "norm": bn(KEYPOINTS)})

    def forward(self, x):
        blocks = self.trunk(x)  # C5..C2
        merged, outs = [], []
        for i, block in enumerate(blocks):
            lateral = F.relu(self.laterals[i]["norm"](self.laterals[i]["conv"](block)))
            if i == 0:
                fm = lateral
            else:
                up = tf_resize(merged[-1], lateral.shape[2:])
                fm = self.merges[i - 1]["conv"](up) + lateral
            merged.append(fm)
            head = self.predict[i]
            y = F.relu(head["reduce"]["norm"](head["reduce"]["conv"](fm)))
            y = head["heatmap"]["norm"](head["heatmap"]["conv"](y))
            outs.append(tf_resize(y, OUTPUT_HW))
        refine = []
        for i, fm in enumerate(merged):
            for block in self.cascade[i]:
                fm = block(fm)
            refine.append(tf_resize(fm, OUTPUT_HW))
        y = self.final_bottleneck(torch.cat(refine[::-1], dim=1))
        return outs, self.out["norm"](self.out["conv"](y))

    def avaloc_state_dict(self):
        out = {}
        for k, v in self.state_dict().items():
            if k.endswith("num_batches_tracked"):
                continue
            k = k.replace("downsample.0.", "downsample.conv.").replace("downsample.1.", "downsample.bn.")
            if k.startswith(("laterals", "merges", "predict")):
                k = "global_net." + k
            elif k.startswith(("cascade", "final_bottleneck", "out.")):
                k = "refine_net." + k
            out[k] = v
        return out


def randomise(model, g):
    """Weights around PyTorch's init scale, and batch-norm statistics far from identity."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    model.eval()


def photo():
    """A 96x64 crop of the astronaut around her upper body, normalised as CPN does."""
    img = torch.from_numpy(data.astronaut()).float()  # 512x512 RGB
    crop = img[30:510, 130:450].permute(2, 0, 1)[None]  # 480x320, 3:2
    crop = F.interpolate(crop, size=INPUT_HW, mode="bilinear", align_corners=False)
    return (crop - MEAN.reshape(1, 3, 1, 1)) / 255.0


def main():
    g = torch.Generator().manual_seed(20261129)
    x = photo()
    for name, model in [("pytorch", PytorchCpn()), ("tf", TfCpn())]:
        randomise(model, g)
        with torch.no_grad():
            outs, refine = model(x)
        io = {"input": x, "refine": refine}
        io.update({f"global_{i}": o for i, o in enumerate(outs)})
        save_file({k: v.contiguous() for k, v in io.items()}, OUT / f"cpn_tiny_{name}_io.safetensors")
        if name == "pytorch":
            weights = {f"module.{k}": v for k, v in model.state_dict().items()}
        else:
            weights = model.avaloc_state_dict()
        save_file({k: v.contiguous() for k, v in weights.items()}, OUT / f"cpn_tiny_{name}.safetensors")
        print(f"wrote cpn_tiny_{name}: {len(weights)} tensors; refine {tuple(refine.shape)}, "
              f"|refine| max {refine.abs().max():.3f}")


# ---- training targets and losses (tf-cpn's dataset.py::joints_heatmap_gen, network.py) ----

def joints_heatmap_gen(joints, kernel):
    """tf-cpn: a one at (int(y*h/H), int(x*w/W)), cv2.GaussianBlur(k, 0), peak scaled to 255;
    joints with v = 0 or a negative coordinate give an empty map."""
    import cv2
    import numpy as np
    h, w = OUTPUT_HW
    maps = np.zeros((len(joints), h, w), np.float32)
    for j, (x, y, v) in enumerate(joints):
        if v <= 0 or x < 0 or y < 0:
            continue
        x, y = min(x, INPUT_HW[1] - 1), min(y, INPUT_HW[0] - 1)
        maps[j, int(y * h / INPUT_HW[0]), int(x * w / INPUT_HW[1])] = 1
        maps[j] = cv2.GaussianBlur(maps[j], (kernel, kernel), 0)
        am = np.amax(maps[j])
        if am > 1e-8:
            maps[j] /= am / 255
    return maps


def tf_cpn_loss(global_outs, refine, targets, refine_target, valid):
    """network.py: global MSE per level against visible-only targets / 4 levels / 2; refine
    per-keypoint MSE over labelled keypoints, top 8 per crop, mean."""
    visible = (valid > 1.1).float()[:, :, None, None]
    global_loss = 0.0
    for out, target in zip(global_outs, targets):
        global_loss = global_loss + ((out - target * visible) ** 2).mean() / len(targets)
    global_loss = global_loss / 2.0
    per_kp = ((refine - refine_target) ** 2).mean(dim=(2, 3)) * (valid > 0.1).float()
    topk = per_kp.topk(8, dim=1).values
    refine_loss = (topk.sum(dim=1) / 8).mean()
    return global_loss, refine_loss


# Finest level first, as tf-cpn lists them; 9 is left out because OpenCV 5 tabulates it
# where tf-cpn's OpenCV 3 computed it.
KERNELS = (15, 11, 7, 7)
CHECKED = ["trunk.conv1.weight", "laterals.0.conv.weight", "merges.2.conv.bias",
           "predict.3.heatmap.conv.weight", "cascade.0.0.conv2.weight", "out.conv.weight"]


def training_fixture():
    import numpy as np
    # The weights of cpn_tiny_tf (same seed, same draws).
    g = torch.Generator().manual_seed(20261129)
    randomise(PytorchCpn(), g)
    model = TfCpn()
    randomise(model, g)
    x = photo()
    x = torch.cat([x, x.flip(3)])
    rng = np.random.default_rng(5)
    joints = []
    for _ in range(2):
        kp = np.stack([rng.uniform(-4, INPUT_HW[1] + 4, 17), rng.uniform(-4, INPUT_HW[0] + 4, 17),
                       rng.choice([0, 1, 2, 2, 2], 17)], axis=1)
        kp[:, :2] = np.round(kp[:, :2], 2)
        joints.append(kp)
    valid = torch.tensor(np.stack([j[:, 2] for j in joints]), dtype=torch.float32)
    # Levels coarsest first: tf-cpn gives the finest (C2) the first kernel.
    targets = [torch.tensor(np.stack([joints_heatmap_gen(j, k) for j in joints])) for k in KERNELS[::-1]]
    refine_target = torch.tensor(np.stack([joints_heatmap_gen(j, min(KERNELS)) for j in joints]))
    outs, refine = model(x)
    global_loss, refine_loss = tf_cpn_loss(outs, refine, targets, refine_target, valid)
    total = global_loss + refine_loss
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(total, [params[n] for n in CHECKED])
    io = {"input": x, "joints": torch.tensor(np.stack(joints), dtype=torch.float32),
          "refine_target": refine_target, "global_loss": global_loss.reshape(1),
          "refine_loss": refine_loss.reshape(1), "total": total.reshape(1)}
    io.update({f"target_{i}": t for i, t in enumerate(targets)})
    io.update({f"grad.{n}": gr for n, gr in zip(CHECKED, grads)})
    save_file({k: v.detach().contiguous() for k, v in io.items()}, OUT / "cpn_tiny_train.safetensors",
              metadata={"kernels": json.dumps(KERNELS), "checked": json.dumps(CHECKED)})
    print(f"wrote cpn_tiny_train: global {global_loss.item():.3f}, refine {refine_loss.item():.3f}")


if __name__ == "__main__":
    main()
    training_fixture()
