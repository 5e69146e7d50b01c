"""torchvision timings for the same workloads as benches/ops.rs, on the CPU.

    .venv-ref/bin/python tests/reference/bench_ops.py --threads 2
"""

import argparse
import time

import torch
import torchvision


def uniform(n, seed):
    """The xorshift stream of benches/ops.rs, so both sides see the same boxes."""
    s, out = seed, []
    mask = (1 << 64) - 1
    for _ in range(n):
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        out.append((s >> 40) / float(1 << 24))
    return out


def rois(k, batch, width, height):
    u, rows = uniform(5 * k, 7), []
    for i in range(k):
        r = u[5 * i:5 * i + 5]
        w, h = 16 + r[3] * (width - 16) * 0.5, 16 + r[4] * (height - 16) * 0.5
        x1, y1 = r[1] * (width - w), r[2] * (height - h)
        rows.append([float(int(r[0] * batch)), x1, y1, x1 + w, y1 + h])
    return torch.tensor(rows, dtype=torch.float32)


# (name, input, weight, stride, padding, dilation)
LAYERS = [
    ("slow_res2_1x3x3", (1, 64, 8, 56, 56), (64, 64, 1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
    ("slow_res3_1x3x3_s2", (1, 128, 8, 56, 56), (128, 128, 1, 3, 3), (1, 2, 2), (0, 1, 1), 1),
    ("slow_res4_1x3x3", (1, 256, 8, 14, 14), (256, 256, 1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
    ("slow_res4_3x1x1", (1, 1024, 8, 14, 14), (256, 1024, 3, 1, 1), (1, 1, 1), (1, 0, 0), 1),
    ("slow_res5_1x3x3", (1, 512, 8, 7, 7), (512, 512, 1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
    ("ava_res5_1x3x3_dilated", (1, 512, 8, 14, 14), (512, 512, 1, 3, 3), (1, 1, 1), (0, 2, 2),
     (1, 2, 2)),
    ("fast_res2_1x3x3", (1, 8, 32, 56, 56), (8, 8, 1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
    ("fast_res4_3x1x1", (1, 128, 32, 14, 14), (32, 128, 3, 1, 1), (1, 1, 1), (1, 0, 0), 1),
    ("fpn_3x3_200x336", (1, 256, 1, 200, 336), (256, 256, 1, 3, 3), (1, 1, 1), (0, 1, 1), 1),
]


ONLY = ""  # --only: time just the benchmarks whose name contains it


def timeit(name, fn, repeat):
    if ONLY not in name:
        return
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"{name}: median {times[len(times) // 2] * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--only", default="", help="time only benchmarks whose name contains this")
    args = p.parse_args()
    global ONLY
    ONLY = args.only
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {args.threads} threads")

    feats = torch.randn(2, 2304, 16, 29)
    boxes = rois(512, 2, 29 * 16.0, 16 * 16.0)
    align = lambda x: torchvision.ops.roi_align(x, boxes, (7, 7), 1 / 16, 0, True)
    with torch.no_grad():
        timeit("roi_align forward 512x7x7 on [2,2304,16,29]", lambda: align(feats), args.repeat)

    def fwd_bwd():
        x = feats.clone().requires_grad_(True)
        align(x).sum().backward()
    timeit("roi_align forward+backward", fwd_bwd, args.repeat)

    n, u = 5000, uniform(5 * 5000, 11)
    b, s = [], []
    for i in range(n):
        r = u[5 * i:5 * i + 5]
        x, y, w, h = r[0] * 800, r[1] * 600, 8 + r[2] * 120, 8 + r[3] * 120
        b.append([x, y, x + w, y + h])
        s.append(r[4])
    b, s = torch.tensor(b), torch.tensor(s)
    timeit("nms 5000 boxes iou 0.7", lambda: torchvision.ops.nms(b, s, 0.7), args.repeat * 3)

    # The demo SlowFast's fast stem: 5x7x7, 3 -> 2 channels, 4 clips of 8x112x112.
    clips = torch.randn(4, 3, 8, 112, 112)
    stem = torch.nn.Conv3d(3, 2, (5, 7, 7), (1, 2, 2), (2, 3, 3), bias=False)
    with torch.no_grad():
        timeit("stem conv3d forward 4x3x8x112", lambda: stem(clips), args.repeat)

    def stem_step():
        stem.zero_grad()
        stem(clips).sum().backward()
    timeit("stem conv3d forward+backward (weight grad)", stem_step, args.repeat)

    # benches/ops.rs's LAYERS: forward, and forward + backward (input and weight gradients).
    for name, shape, weight, stride, padding, dilation in LAYERS:
        x = torch.randn(shape)
        conv = torch.nn.Conv3d(weight[1], weight[0], weight[2:], stride, padding, dilation,
                               bias=False)
        with torch.no_grad():
            timeit(f"conv3d {name} forward", lambda: conv(x), args.repeat)

        def step():
            conv.zero_grad()
            xg = x.clone().requires_grad_(True)
            conv(xg).sum().backward()
        timeit(f"conv3d {name} forward+backward", step, args.repeat)


if __name__ == "__main__":
    main()
