"""Self-check of model_zoo/convert_caffe2_slowfast.py (not a fixture writer): every tensor of
the tiny PySlowFast model with a non-local block (tests/fixtures/slowfast_tiny_nonlocal,
written by slowfast_ava.py) is given its Caffe2 blob name; PySlowFast's own
`get_name_convert_func` must map each blob name back to the PyTorch name, the converter's
copy of the rules must agree with it, and `convert` on the blobs (plus optimizer blobs, which
it drops) must give back the fixture exactly.

    .venv-ref/bin/python tests/reference/caffe2_slowfast_convert.py
"""

import re
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "model_zoo"))
from convert_caffe2_slowfast import convert, pytorch_name  # noqa: E402

BN = {"weight": "s", "bias": "b", "running_mean": "rm", "running_var": "riv"}
PARAM = {"weight": "w", "bias": "b"}


def caffe2_name(name, last_block):
    """The blob name Caffe2 SlowFast checkpoints use for a PySlowFast parameter."""
    m = re.fullmatch(r"s1\.pathway([01])_stem\.(conv|bn)\.(\w+)", name)
    if m:
        t = "t_" if m[1] == "1" else ""
        return f"{t}conv1_{PARAM[m[3]]}" if m[2] == "conv" else f"{t}res_conv1_bn_{BN[m[3]]}"
    m = re.fullmatch(r"s(\d)\.pathway([01])_res(\d+)\.branch(1|2\.[abc])(_bn)?\.(\w+)", name)
    if m:
        t = "t_" if m[2] == "1" else ""
        branch = m[4].replace(".", "")
        kind = f"bn_{BN[m[6]]}" if m[5] else PARAM[m[6]]
        return f"{t}res{m[1]}_{m[3]}_branch{branch}_{kind}"
    m = re.fullmatch(r"s(\d)_fuse\.(conv_f2s|bn)\.(\w+)", name)
    if m:
        base = "t_pool1_subsample" if m[1] == "1" else f"t_res{m[1]}_{last_block[m[1]]}_branch2c_bn_subsample"
        return f"{base}_{PARAM[m[3]]}" if m[2] == "conv_f2s" else f"{base}_bn_{BN[m[3]]}"
    m = re.fullmatch(r"s(\d)\.pathway0_nonlocal(\d+)\.(conv_(\w+)|bn)\.(\w+)", name)
    if m:
        part = m[4] if m[4] else "bn"
        kind = PARAM[m[5]] if m[4] else BN[m[5]]
        return f"nonlocal_conv{m[1]}_{m[2]}_{part}_{kind}"
    m = re.fullmatch(r"head\.projection\.(\w+)", name)
    if m:
        return f"pred_{PARAM[m[1]]}"
    raise ValueError(f"no Caffe2 name for {name}")


def main():
    from pyslowfast import stub_detectron2

    stub_detectron2()
    from slowfast.utils.c2_model_loading import get_name_convert_func

    reference = get_name_convert_func()
    state = {k: v.astype(np.float32) for k, v in
             load_file(ROOT / "tests/fixtures/slowfast_tiny_nonlocal.safetensors").items()}
    last_block = {}
    for name in state:
        m = re.match(r"s(\d)\.pathway1_res(\d+)\.", name)
        if m:
            last_block[m[1]] = max(last_block.get(m[1], 0), int(m[2]))
    blobs = {}
    for name, value in state.items():
        blob = caffe2_name(name, last_block)
        assert reference(blob) == name, f"{blob}: PySlowFast gives {reference(blob)}, expected {name}"
        assert pytorch_name(blob) == name, f"{blob}: converter gives {pytorch_name(blob)}"
        blobs[blob] = value
        blobs[blob + "_momentum"] = np.zeros_like(value)
    blobs["lr"] = np.array([0.1], dtype=np.float32)
    blobs["model_iter"] = np.array([100], dtype=np.int64)
    back = convert(blobs)
    assert back.keys() == state.keys(), sorted(set(back) ^ set(state))
    for name, value in state.items():
        assert np.array_equal(back[name], value), name
    print(f"ok: {len(state)} tensors named as PySlowFast names them and converted back exactly")


if __name__ == "__main__":
    main()
