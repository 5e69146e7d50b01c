"""MMAction2 timings for benches/action.rs: `FBONonLocal` (2304 -> 512, 2 layers, the LFB
configs' settings) on 64 RoIs with 500 bank entries each, on the CPU: forward (eval mode, no
gradients) and forward + backward (training mode, dropout 0.2, the bank without gradient).

    .venv-ref/bin/python tests/reference/bench_fbo.py --threads 2
"""

import argparse
import time

import torch

from fbo import load_fbo_head


def timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fbo, _ = load_fbo_head()
    nl = fbo.FBONonLocal(2304, 2304, 512, 1, 500, num_non_local_layers=2)
    st = torch.randn(64, 2304, 1, 1, 1)
    lt = torch.randn(64, 2304, 500, 1, 1)
    nl.eval()
    with torch.no_grad():
        med, best = timed(lambda: nl(st, lt), args.repeat)
    print(f"fbo_nonlocal_forward_64x500x2304: median {med * 1e3:.1f} ms, min {best * 1e3:.1f} ms")
    nl.train()
    st.requires_grad_(True)
    med, best = timed(lambda: nl(st, lt).sum().backward(), args.repeat)
    print(f"fbo_nonlocal_forward_backward_64x500x2304: median {med * 1e3:.1f} ms, "
          f"min {best * 1e3:.1f} ms (torch {torch.__version__}, {args.threads} threads)")


if __name__ == "__main__":
    main()
