"""Writes tests/fixtures/ops_*.safetensors: torchvision / PyTorch results for avaloc::ops.

Every case stores its inputs, the reference output and, where the op is differentiable, the
gradient of sum(output * upstream) with respect to the input features, with `upstream` stored
too. Case parameters go in the safetensors metadata as JSON. Seeded: reruns give the same files.

    .venv-ref/bin/python tests/reference/ops.py
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save_file
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import boxes as box_ops

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def save(name, tensors, cases):
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    meta = {"cases": json.dumps(cases), "torch": torch.__version__, "torchvision": torchvision.__version__}
    save_file(tensors, OUT / f"{name}.safetensors", metadata=meta)
    print(f"wrote {name}.safetensors: {len(cases)} cases, {len(tensors)} tensors")


def random_rois(g, k, batch, width, height, lo=-0.2, hi=1.2):
    """k boxes with corners spread a little beyond the image, sorted so x1 <= x2, y1 <= y2."""
    xs = (torch.rand(k, 2, generator=g) * (hi - lo) + lo) * width
    ys = (torch.rand(k, 2, generator=g) * (hi - lo) + lo) * height
    xs, _ = xs.sort(dim=1)
    ys, _ = ys.sort(dim=1)
    b = torch.randint(0, batch, (k, 1), generator=g).float()
    return torch.cat([b, xs[:, :1], ys[:, :1], xs[:, 1:], ys[:, 1:]], dim=1)


def roi_align_cases(g):
    tensors, cases = {}, []

    def case(name, features, rois, output_size, spatial_scale, sampling_ratio, aligned):
        features = features.clone().requires_grad_(True)
        out = torchvision.ops.roi_align(features, rois, output_size, spatial_scale, sampling_ratio, aligned)
        upstream = torch.randn(out.shape, generator=g)
        (grad,) = torch.autograd.grad((out * upstream).sum(), features)
        tensors.update({
            f"{name}.features": features, f"{name}.rois": rois, f"{name}.output": out,
            f"{name}.upstream": upstream, f"{name}.grad_features": grad,
        })
        cases.append({"name": name, "output_size": list(output_size), "spatial_scale": spatial_scale,
                      "sampling_ratio": sampling_ratio, "aligned": aligned})

    feats = torch.randn(2, 3, 10, 12, generator=g)
    # Stride-4 map of a 48x40 image.
    case("unaligned_sr2", feats, random_rois(g, 20, 2, 48, 40), (7, 7), 0.25, 2, False)
    case("aligned_sr2", feats, random_rois(g, 20, 2, 48, 40), (7, 7), 0.25, 2, True)
    # Adaptive sampling on large boxes: grids of several samples per bin.
    big = torch.randn(1, 4, 24, 30, generator=g)
    case("aligned_adaptive", big, random_rois(g, 12, 1, 30, 24, 0.0, 1.0), (3, 3), 1.0, 0, True)
    case("unaligned_adaptive", big, random_rois(g, 12, 1, 30, 24, 0.0, 1.0), (2, 4), 1.0, -1, False)
    # Boxes partly and wholly outside the map.
    outside = torch.tensor([
        [0, -30.0, -20.0, -10.0, -5.0],   # wholly above-left
        [1, 50.0, 45.0, 70.0, 60.0],      # wholly below-right
        [0, -8.0, 5.0, 20.0, 30.0],       # crosses the left edge
        [1, 30.0, -6.0, 60.0, 20.0],      # crosses the top and right edges
        [0, -4.0, -4.0, 52.0, 44.0],      # covers the whole map
    ])
    case("outside_aligned", feats, outside, (4, 4), 0.25, 2, True)
    case("outside_unaligned_adaptive", feats, outside, (5, 3), 0.25, 0, False)
    # Degenerate boxes: zero width, zero height, a point, sub-pixel.
    degenerate = torch.tensor([
        [0, 10.0, 10.0, 10.0, 30.0],
        [1, 5.0, 12.0, 25.0, 12.0],
        [0, 20.0, 20.0, 20.0, 20.0],
        [1, 16.2, 8.1, 16.9, 8.4],
    ])
    case("degenerate_aligned_adaptive", feats, degenerate, (2, 2), 0.25, 0, True)
    case("degenerate_unaligned", feats, degenerate, (3, 3), 0.25, 2, False)
    # SlowFast's AVA head: stride-16 map, 7x7, adaptive sampling, aligned.
    slowfast = torch.randn(2, 8, 14, 14, generator=g)
    case("slowfast_head", slowfast, random_rois(g, 16, 2, 224, 224, 0.0, 1.0), (7, 7), 1.0 / 16, 0, True)
    # More channels than one block of the CPU route (8), the last block partial.
    wide = torch.randn(2, 19, 12, 16, generator=g)
    case("channel_blocks", wide, random_rois(g, 24, 2, 32, 24), (7, 7), 0.5, 2, False)
    save("ops_roi_align", tensors, cases)


def nms_cases(g):
    tensors, cases = {}, []
    n = 1500
    xy = torch.rand(n, 2, generator=g) * 200
    wh = torch.rand(n, 2, generator=g) * 60 + 1
    boxes = torch.cat([xy, xy + wh], dim=1)
    scores = torch.rand(n, generator=g)
    idxs = torch.randint(0, 7, (n,), generator=g)
    tensors.update({"boxes": boxes, "scores": scores, "idxs": idxs})
    for thr in (0.3, 0.5, 0.7):
        tensors[f"nms_{thr}"] = torchvision.ops.nms(boxes, scores, thr)
        # numel > 4000 on CPU: torchvision takes the per-class loop, not the offset trick.
        tensors[f"batched_nms_{thr}"] = torchvision.ops.batched_nms(boxes, scores, idxs, thr)
        cases.append({"iou_threshold": thr})
    save("ops_nms", tensors, cases)


def box_cases(g):
    tensors = {}
    a = random_rois(g, 30, 1, 100, 80)[:, 1:]
    b = random_rois(g, 20, 1, 100, 80)[:, 1:]
    tensors.update({"a": a, "b": b, "iou": box_ops.box_iou(a, b), "area": box_ops.box_area(a)})
    tensors["clipped"] = box_ops.clip_boxes_to_image(a, (80, 100))
    tensors["small_kept"] = box_ops.remove_small_boxes(a, 12.0)
    # Encode / decode with the detector's weights and with unit weights.
    proposals = random_rois(g, 25, 1, 100, 80, 0.0, 1.0)[:, 1:] + torch.tensor([0, 0, 2.0, 2.0])
    gt = random_rois(g, 25, 1, 100, 80, 0.0, 1.0)[:, 1:] + torch.tensor([0, 0, 2.0, 2.0])
    codes = torch.randn(25, 12, generator=g) * 2
    codes[0, 2] = 9.0  # beyond log(1000/16): exercises the clamp
    codes[1, 7] = 7.5
    tensors.update({"proposals": proposals, "gt": gt, "codes": codes})
    cases = []
    for name, weights in (("detector", (10.0, 10.0, 5.0, 5.0)), ("unit", (1.0, 1.0, 1.0, 1.0))):
        coder = BoxCoder(weights)
        tensors[f"{name}.encoded"] = coder.encode_single(gt, proposals)
        tensors[f"{name}.decoded"] = coder.decode_single(codes, proposals)
        cases.append({"name": name, "weights": list(weights)})
    save("ops_boxes", tensors, cases)


def pool_cases(g):
    tensors, cases = {}, []

    def case(name, kind, x, kernel, stride, padding, ceil_mode, count_include_pad=True):
        x = x.clone().requires_grad_(True)
        if kind == "max":
            out = F.max_pool3d(x, kernel, stride, padding, ceil_mode=ceil_mode)
        else:
            out = F.avg_pool3d(x, kernel, stride, padding, ceil_mode=ceil_mode,
                               count_include_pad=count_include_pad)
        upstream = torch.randn(out.shape, generator=g)
        (grad,) = torch.autograd.grad((out * upstream).sum(), x)
        tensors.update({f"{name}.input": x, f"{name}.output": out, f"{name}.upstream": upstream,
                        f"{name}.grad_input": grad})
        cases.append({"name": name, "kind": kind, "kernel": list(kernel), "stride": list(stride),
                      "padding": list(padding), "ceil_mode": ceil_mode, "count_include_pad": count_include_pad})

    x = torch.randn(2, 3, 5, 9, 10, generator=g)
    case("max_stem", "max", x, (1, 3, 3), (1, 2, 2), (0, 1, 1), False)
    case("max_cube_ceil", "max", x, (3, 3, 3), (2, 2, 2), (1, 1, 1), True)
    case("max_temporal", "max", x, (2, 1, 1), (2, 1, 1), (0, 0, 0), False)
    case("avg_pad_counted", "avg", x, (3, 3, 3), (1, 2, 2), (1, 1, 1), False, True)
    case("avg_pad_excluded", "avg", x, (3, 3, 3), (1, 2, 2), (1, 1, 1), False, False)
    case("avg_ceil", "avg", x, (2, 3, 3), (2, 2, 2), (1, 1, 0), True, True)
    case("avg_ceil_excluded", "avg", x, (2, 2, 4), (2, 3, 3), (0, 1, 2), True, False)
    save("ops_pool3d", tensors, cases)


def upsample_cases(g):
    tensors, cases = {}, []
    for name, (h, w), size in (("double", (7, 9), (14, 18)), ("fpn_odd", (13, 17), (25, 34)),
                               ("fractional", (5, 6), (12, 11))):
        x = torch.randn(2, 3, h, w, generator=g, requires_grad=True)
        out = F.interpolate(x, size=size, mode="nearest")
        upstream = torch.randn(out.shape, generator=g)
        (grad,) = torch.autograd.grad((out * upstream).sum(), x)
        tensors.update({f"{name}.input": x, f"{name}.output": out, f"{name}.upstream": upstream,
                        f"{name}.grad_input": grad})
        cases.append({"name": name, "size": list(size)})
    save("ops_upsample", tensors, cases)


def conv3d_cases(g):
    """`ops.conv3d`'s routes on flex (direct kernels over few input and output channels, one
    product per image for unpadded pointwise convolutions, per-tap products otherwise), with
    the gradients of the input, the weight and the bias."""
    tensors, cases = {}, []

    def case(name, x_shape, w_shape, stride, padding, dilation, bias):
        x = torch.randn(x_shape, generator=g, requires_grad=True)
        w = (torch.randn(w_shape, generator=g) * 0.2).requires_grad_(True)
        b = torch.randn(w_shape[0], generator=g, requires_grad=True) if bias else None
        out = F.conv3d(x, w, b, stride, padding, dilation)
        upstream = torch.randn(out.shape, generator=g)
        wrt = (x, w) + ((b,) if bias else ())
        grads = torch.autograd.grad((out * upstream).sum(), wrt)
        tensors.update({f"{name}.input": x, f"{name}.weight": w, f"{name}.output": out,
                        f"{name}.upstream": upstream, f"{name}.grad_input": grads[0],
                        f"{name}.grad_weight": grads[1]})
        if bias:
            tensors.update({f"{name}.bias": b, f"{name}.grad_bias": grads[2]})
        cases.append({"name": name, "kernel": list(w_shape[2:]), "stride": list(stride),
                      "padding": list(padding), "dilation": list(dilation), "bias": bias})

    # SlowFast's fast and slow stems, at a small size.
    case("fast_stem", (2, 3, 6, 20, 22), (2, 3, 5, 7, 7), (1, 2, 2), (2, 3, 3), (1, 1, 1), False)
    case("slow_stem", (2, 3, 2, 19, 21), (8, 3, 1, 7, 7), (1, 2, 2), (0, 3, 3), (1, 1, 1), False)
    # Odd strides, dilation, asymmetric padding and a bias: every edge of the valid ranges.
    case("dilated", (1, 2, 7, 11, 13), (3, 2, 3, 3, 3), (2, 1, 3), (1, 2, 0), (2, 1, 2), True)
    case("one_channel", (3, 1, 4, 9, 8), (5, 1, 2, 4, 5), (1, 3, 2), (0, 1, 4), (1, 2, 1), True)
    # Wider inputs: pointwise convolutions (one product per image, strided or not) and the
    # per-tap products (temporal, dilated spatial, cubic, a strided 3x3x3).
    case("pointwise", (2, 6, 3, 5, 7), (5, 6, 1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), True)
    case("pointwise_strided", (2, 6, 3, 7, 8), (5, 6, 1, 1, 1), (1, 2, 2), (0, 0, 0), (1, 1, 1), False)
    case("temporal", (2, 6, 5, 4, 6), (4, 6, 3, 1, 1), (1, 1, 1), (1, 0, 0), (1, 1, 1), False)
    case("dilated_spatial", (2, 6, 2, 9, 8), (4, 6, 1, 3, 3), (1, 1, 1), (0, 2, 2), (1, 2, 2), False)
    case("cubic", (2, 5, 4, 6, 7), (3, 5, 3, 3, 2), (1, 1, 1), (1, 0, 1), (2, 1, 3), True)
    case("wide", (2, 6, 4, 6, 5), (4, 6, 3, 3, 3), (1, 2, 1), (1, 1, 1), (1, 1, 1), False)
    # The networks' shape classes through the per-tap products: ResNet 3x3 (stride 1 and 2,
    # odd sizes), SlowFast's temporal 3x1x1 and its fast-to-slow lateral 5x1x1 at stride 4, a
    # 7x7 stride-2 kernel over more than a few channels, a strided cubic kernel, many channels
    # on tiny planes (tasks spanning frames) and a tall frame (tasks within a frame).
    case("resnet_3x3", (2, 16, 1, 9, 11), (12, 16, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), False)
    case("resnet_3x3_s2", (2, 16, 2, 9, 12), (12, 16, 1, 3, 3), (1, 2, 2), (0, 1, 1), (1, 1, 1), True)
    case("temporal_3x1x1", (2, 12, 8, 5, 6), (10, 12, 3, 1, 1), (1, 1, 1), (1, 0, 0), (1, 1, 1), False)
    case("lateral_5x1x1_s4", (2, 8, 8, 5, 4), (16, 8, 5, 1, 1), (4, 1, 1), (2, 0, 0), (1, 1, 1), False)
    case("stem_7x7_s2", (1, 6, 1, 15, 17), (8, 6, 1, 7, 7), (1, 2, 2), (0, 3, 3), (1, 1, 1), False)
    # A stem with more outputs than the direct kernel takes (the R50 slow stem's 3 -> 64):
    # per-tap products over three input channels.
    case("stem_wide", (2, 3, 2, 13, 15), (20, 3, 1, 7, 7), (1, 2, 2), (0, 3, 3), (1, 1, 1), True)
    # Three taps on one clip with many output channels: the weight gradient's tasks split the
    # output channels too.
    case("temporal_many_outputs", (1, 8, 4, 3, 5), (72, 8, 3, 1, 1), (1, 1, 1), (1, 0, 0), (1, 1, 1), False)
    case("cubic_s2", (1, 6, 7, 8, 9), (5, 6, 3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), False)
    case("deep_small_plane", (2, 40, 3, 4, 4), (36, 40, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), False)
    case("tall_frame", (1, 8, 2, 64, 40), (6, 8, 1, 3, 3), (1, 1, 1), (0, 1, 1), (1, 1, 1), False)
    # A clip shorter than the temporal stride: two of the four phases hold no input frame.
    case("short_clip_s4", (1, 6, 2, 5, 4), (4, 6, 5, 1, 1), (4, 1, 1), (2, 0, 0), (1, 1, 1), False)
    # A one-column input under a 5x5 kernel: horizontal taps whose every read is padding.
    case("one_column", (1, 8, 1, 5, 1), (8, 8, 1, 5, 5), (1, 1, 1), (0, 2, 2), (1, 1, 1), False)
    # A padded pointwise kernel: both gradients through the per-tap products.
    case("pointwise_padded", (2, 6, 2, 4, 5), (5, 6, 1, 1, 1), (1, 2, 1), (1, 1, 0), (1, 1, 1), False)
    save("ops_conv3d", tensors, cases)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.set_grad_enabled(True)
    for build in (roi_align_cases, nms_cases, box_cases, pool_cases, upsample_cases,
                  conv3d_cases):
        build(torch.Generator().manual_seed(20261124))


if __name__ == "__main__":
    main()
