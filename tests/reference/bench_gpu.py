"""PyTorch on the same GPU as `avaloc --backend cuda backend-check`: the forward passes of its
workloads that have a PyTorch counterpart (PySlowFast's SlowFast synth and R50 32x2 with 4
boxes, torchvision's R50-FPN backbone + FPN at 800x1344, pytorch-cpn's CPN50 on 16 crops of
256x192), random weights, eval mode, no gradients, in float32 and under bfloat16 autocast:
median milliseconds after one untimed pass, with the device synchronised. With --avaloc
gpu_check.json (the backend-check's table) it prints one table of both.

    .venv-ref/bin/python tests/reference/bench_gpu.py [--device cuda] [--repeat 5]
        [--avaloc gpu_check.json] [--json pytorch_gpu.json] [--small]

--small keeps the synthetic SlowFast only (a wiring check on a CPU: --device cpu).
"""

import argparse
import json
import statistics
import time

import torch


def boxes(n, h, w, device):
    """backend-check's four boxes (batch index, x1, y1, x2, y2) on clips i mod n."""
    rows = [[i % n, 0.1 * w + i, 0.05 * h, 0.6 * w + i, 0.9 * h] for i in range(4)]
    return torch.tensor(rows, dtype=torch.float32, device=device)


def slowfast(name, model, clips, device):
    b, c, t, h, w = clips
    fast = torch.randn(b, c, t, h, w, device=device)
    slow = fast[:, :, ::4].contiguous()
    rois = boxes(b, h, w, device)
    return name, model.to(device).eval(), lambda m: m([slow, fast], rois)


def workloads(device, small):
    from pyslowfast import ava_slowfast

    yield slowfast("SlowFast synth",
                   ava_slowfast(classes=9, frames=8, width=16, fusion_kernel=5, dropout=0.2,
                                one_block_per_stage=True),
                   (4, 3, 8, 112, 112), device)
    if small:
        return
    yield slowfast("SlowFast R50 32×2",
                   ava_slowfast(classes=80, frames=32, fusion_kernel=7, aligned=False),
                   (1, 3, 32, 224, 224), device)
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    fpn = resnet_fpn_backbone(backbone_name="resnet50", weights=None, trainable_layers=3)
    image = torch.rand(1, 3, 800, 1344, device=device)
    yield "Faster R-CNN R50-FPN (FPN)", fpn.to(device).eval(), lambda m: m(image)
    from cpn import PytorchCpn

    cpn = PytorchCpn(64, (3, 4, 6, 3), 256, 128, (64, 48))
    crops = torch.randn(16, 3, 256, 192, device=device) * 0.3
    yield "CPN R50", cpn.to(device).eval(), lambda m: m(crops)


def timed(model, call, device, repeat, bf16):
    def once():
        with torch.no_grad(), torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                                             enabled=bf16):
            call(model)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    once()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        once()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--avaloc", help="backend-check's --json output, to print beside")
    p.add_argument("--avaloc-bf16", help="backend-check --bf16's --json output, a column more")
    p.add_argument("--json", help="write the PyTorch timings here")
    p.add_argument("--small", action="store_true")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = {}
    for name, model, call in workloads(device, args.small):
        rows[name] = {
            "pytorch_f32_ms": timed(model, call, device, args.repeat, bf16=False),
            "pytorch_bf16_ms": timed(model, call, device, args.repeat, bf16=True),
        }
        print(f"{name}: float32 {rows[name]['pytorch_f32_ms']:.1f} ms, "
              f"bfloat16 autocast {rows[name]['pytorch_bf16_ms']:.1f} ms", flush=True)
        del model
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": gpu, "torch": torch.__version__, "rows": rows}, f, indent=2)
    if args.avaloc:
        with open(args.avaloc) as f:
            avaloc = json.load(f)
        half = {}
        if args.avaloc_bf16:
            with open(args.avaloc_bf16) as f:
                half = {r["network"]: r for r in json.load(f)["rows"]}
        backend = avaloc["backend"]
        print(f"\n{gpu}, PyTorch {torch.__version__}")
        print(f"| network | max abs. diff. from flex | flex ms | avaloc {backend} ms "
              f"| avaloc bf16 ms (diff.) | PyTorch f32 ms | PyTorch bf16 ms "
              f"| avaloc / PyTorch f32 |")
        print("|---|---|---|---|---|---|---|---|")
        for row in avaloc["rows"]:
            ours = rows.get(row["network"])
            theirs = f"{ours['pytorch_f32_ms']:.1f} | {ours['pytorch_bf16_ms']:.1f} | " \
                     f"{row['backend_ms'] / ours['pytorch_f32_ms']:.2f}" if ours else "— | — | —"
            h = half.get(row["network"])
            bf16 = f"{h['backend_ms']:.1f} ({h['max_diff']:.1e})" if h else "—"
            print(f"| {row['network']} | {row['max_diff']:.1e} | {row['flex_ms']:.1f} | "
                  f"{row['backend_ms']:.1f} | {bf16} | {theirs} |")


if __name__ == "__main__":
    main()
