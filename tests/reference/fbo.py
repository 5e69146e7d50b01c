"""Writes tests/fixtures/fbo_*.safetensors: MMAction2's own feature-bank operators
(`FBONonLocal`, `FBOAvg`, `FBOMax` of mmaction/models/roi_heads/shared_heads/fbo_head.py, from
the PyPI `mmaction2` wheel, its parents stubbed) on seeded weights and inputs; outputs and,
with dropout off, the gradients of the inputs and of every parameter of the non-local operator.

Two widths: "tiny" (S 16, bank 12 wide, latent 8, 6 entries, 3 boxes) stores everything;
"real" (S 2304, bank 2304, latent 512, 500 entries, 2 boxes, 2 layers) draws its weights and
inputs from a formula the Rust test recomputes (`wave`, below) and stores the outputs, the
short-term gradient, the first 4 bank entries' gradients and the small parameters' gradients.

    .venv-ref/bin/pip install --no-deps mmaction2
    .venv-ref/bin/pip install mmengine einops mmcv-lite==2.1.0
    .venv-ref/bin/python tests/reference/fbo.py
"""

import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

OUT = Path(__file__).resolve().parent.parent / "fixtures"


def load_fbo_head():
    """fbo_head.py alone: its package imports mmdet and the whole model zoo. Its parent
    packages are stubbed, and so is `.lfb` (the bank loader, unused here)."""
    import mmaction

    package = "mmaction.models.roi_heads.shared_heads"
    folder = Path(mmaction.__file__).parent / "models/roi_heads/shared_heads"
    for name in ["mmaction.models", "mmaction.models.roi_heads", package]:
        stub = types.ModuleType(name)
        stub.__path__ = []
        sys.modules[name] = stub
    lfb = types.ModuleType(package + ".lfb")
    lfb.LFB = object
    sys.modules[lfb.__name__] = lfb
    spec = importlib.util.spec_from_file_location(package + ".fbo_head", folder / "fbo_head.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module, spec.origin


def wave(n, a, b, scale):
    """The values the Rust test recomputes: sin(i·a + b)·scale in f64, rounded to f32."""
    return (np.sin(np.arange(n, dtype=np.float64) * a + b) * scale).astype(np.float32)


def ours(name):
    """MMAction2's parameter names onto avaloc's `Fbo` (layers from 0, ConvModule's `.conv`
    dropped, LayerNorm's weight and bias as Burn's gamma and beta)."""
    name = name.replace(".conv.weight", ".weight").replace(".conv.bias", ".bias")
    for i in range(1, 4):
        name = name.replace(f"non_local_layer_{i}.", f"layers.{i - 1}.")
    name = name.replace("ln.weight", "ln.gamma").replace("ln.bias", "ln.beta")
    return "nonlocal." + name


def linear_layout(t):
    """A 1x1x1 conv weight [out, in, 1, 1, 1] as PyTorch's Linear layout [out, in]; a
    LayerNorm([c, 1, 1, 1]) parameter as [c]."""
    return t.reshape(t.shape[0], -1) if t.dim() == 5 else t.reshape(-1)


def case(fbo, name, st_dim, lt_dim, latent, entries, boxes, layers, formula):
    nl = fbo.FBONonLocal(st_dim, lt_dim, latent, 1, entries, num_non_local_layers=layers,
                         st_feat_dropout_ratio=0.0, lt_feat_dropout_ratio=0.0,
                         pre_activate=True, zero_init_out_conv=False)
    for layer in nl.non_local_layers:
        getattr(nl, layer).dropout_ratio = 0.0
    params = dict(nl.named_parameters())
    with torch.no_grad():
        for i, (key, p) in enumerate(sorted(params.items())):
            if formula:
                p.copy_(torch.from_numpy(wave(p.numel(), 0.37 + 0.011 * i, 0.5 * i, 0.02))
                        .reshape(p.shape))
            else:
                p.normal_(0.0, 0.3)
                if "ln." in key:
                    p.add_(1.0 if key.endswith("weight") else 0.0)
    nl.eval()
    if formula:
        st = torch.from_numpy(wave(boxes * st_dim, 0.13, 0.1, 1.0)).reshape(boxes, st_dim)
        lt = torch.from_numpy(wave(boxes * entries * lt_dim, 0.029, 0.7, 1.0)) \
            .reshape(boxes, entries, lt_dim)
    else:
        st = torch.randn(boxes, st_dim)
        lt = torch.randn(boxes, entries, lt_dim)
        lt[:, -2:] = 0.0  # empty seconds: zero rows
    st.requires_grad_(True)
    lt.requires_grad_(True)
    # MMAction2's layout: [N, C, num_feat, 1, 1].
    st5 = st[:, :, None, None, None]
    lt5 = lt.permute(0, 2, 1)[:, :, :, None, None]
    out = nl(st5, lt5).reshape(boxes, latent)
    upstream = torch.from_numpy(wave(boxes * latent, 0.71, 0.3, 1.0)).reshape(boxes, latent)
    (out * upstream).sum().backward()
    avg = fbo.FBOAvg()(st5, lt5).reshape(boxes, lt_dim)
    mx = fbo.FBOMax()(st5, lt5).reshape(boxes, lt_dim)
    tensors = {"nonlocal": out, "avg": avg, "max": mx, "upstream": upstream,
               "grad_short_term": st.grad}
    if formula:
        tensors["grad_bank_head"] = lt.grad[:, :4]
        small = {k: p for k, p in params.items() if p.numel() <= latent}
        grads = {ours(k): linear_layout(p.grad) for k, p in small.items()}
    else:
        tensors.update(short_term=st, bank=lt, grad_bank=lt.grad)
        weights = {ours(k): linear_layout(p.detach()) for k, p in params.items()}
        save_file({k: v.contiguous() for k, v in weights.items()},
                  OUT / f"fbo_{name}_weights.safetensors")
        grads = {ours(k): linear_layout(p.grad) for k, p in params.items()}
    tensors.update({f"grad.{k}": v for k, v in grads.items()})
    meta = {"st_dim": st_dim, "lt_dim": lt_dim, "latent": latent, "entries": entries,
            "boxes": boxes, "layers": layers,
            # The weights' order of `wave` draws: MMAction2's names sorted.
            "params": [[ours(k), list(params[k].shape)] for k in sorted(params)]}
    save_file({k: v.detach().contiguous() for k, v in tensors.items()},
              OUT / f"fbo_{name}_io.safetensors",
              metadata={"cases": json.dumps([meta]), "torch": torch.__version__})


def main():
    fbo, path = load_fbo_head()
    torch.manual_seed(20261129)
    case(fbo, "tiny", 16, 12, 8, 6, 3, 2, formula=False)
    case(fbo, "real", 2304, 2304, 512, 500, 2, 2, formula=True)
    print(f"wrote fbo_tiny*, fbo_real_io from {path}")


if __name__ == "__main__":
    main()
