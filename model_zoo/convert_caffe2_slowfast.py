"""Converts a Caffe2 SlowFast checkpoint (PySlowFast's model zoo Kinetics pretrains such as
`SLOWFAST_8x8_R50.pkl` with `CHECKPOINT_TYPE: caffe2`, and the LFB-era AVA models: a numpy
pickle holding {"blobs": {name: array}, ...}) into safetensors under PySlowFast's PyTorch
names, which avaloc reads through its `weights::pyslowfast_slowfast` key map, e.g. to start
AVA training from Kinetics:

    python model_zoo/convert_caffe2_slowfast.py SLOWFAST_8x8_R50.pkl slowfast_8x8_r50_k400.safetensors
    avaloc train action --config configs/action/slowfast_r50_32x2_ava.toml --weights slowfast_8x8_r50_k400.safetensors ...

The renaming rules are PySlowFast's own (`slowfast/utils/c2_model_loading.py`,
`get_name_convert_func`), applied in the same order; optimizer blobs (`*_momentum`, `lr`,
`model_iter`) are dropped as PySlowFast drops them. Only numpy and safetensors are needed
(`pip install numpy safetensors`).
"""

import argparse
import pickle
import re
import sys

import numpy as np
from safetensors.numpy import save_file

# PySlowFast's (source, destination) pairs, in order.
PAIRS = [
    (r"^nonlocal_conv([0-9]+)_([0-9]+)_(.*)", r"s\1.pathway0_nonlocal\2_\3"),
    (r"^(.*)_nonlocal([0-9]+)_(theta)(.*)", r"\1_nonlocal\2.conv_\3\4"),
    (r"^(.*)_nonlocal([0-9]+)_(g)(.*)", r"\1_nonlocal\2.conv_\3\4"),
    (r"^(.*)_nonlocal([0-9]+)_(phi)(.*)", r"\1_nonlocal\2.conv_\3\4"),
    (r"^(.*)_nonlocal([0-9]+)_(out)(.*)", r"\1_nonlocal\2.conv_\3\4"),
    (r"^(.*)_nonlocal([0-9]+)_(bn)_(.*)", r"\1_nonlocal\2.\3.\4"),
    (r"^t_pool1_subsample_bn_(.*)", r"s1_fuse.bn.\1"),
    (r"^t_pool1_subsample_(.*)", r"s1_fuse.conv_f2s.\1"),
    (r"^t_res([0-9]+)_([0-9]+)_branch2c_bn_subsample_bn_(.*)", r"s\1_fuse.bn.\3"),
    (r"^t_res([0-9]+)_([0-9]+)_branch2c_bn_subsample_(.*)", r"s\1_fuse.conv_f2s.\3"),
    (r"^res([0-9]+)_([0-9]+)_branch([0-9]+)([a-z])_(.*)", r"s\1.pathway0_res\2.branch\3.\4_\5"),
    (r"^res_conv1_bn_(.*)", r"s1.pathway0_stem.bn.\1"),
    (r"^conv1_(.*)", r"s1.pathway0_stem.conv.\1"),
    (r"^res([0-9]+)_([0-9]+)_branch([0-9]+)_(.*)", r"s\1.pathway0_res\2.branch\3_\4"),
    (r"^res_conv1_(.*)", r"s1.pathway0_stem.conv.\1"),
    (r"^t_res([0-9]+)_([0-9]+)_branch([0-9]+)([a-z])_(.*)", r"s\1.pathway1_res\2.branch\3.\4_\5"),
    (r"^t_res_conv1_bn_(.*)", r"s1.pathway1_stem.bn.\1"),
    (r"^t_conv1_(.*)", r"s1.pathway1_stem.conv.\1"),
    (r"^t_res([0-9]+)_([0-9]+)_branch([0-9]+)_(.*)", r"s\1.pathway1_res\2.branch\3_\4"),
    (r"^t_res_conv1_(.*)", r"s1.pathway1_stem.conv.\1"),
    (r"pred_(.*)", r"head.projection.\1"),
    (r"(.*)bn.b\Z", r"\1bn.bias"),
    (r"(.*)bn.s\Z", r"\1bn.weight"),
    (r"(.*)bn.rm\Z", r"\1bn.running_mean"),
    (r"(.*)bn.riv\Z", r"\1bn.running_var"),
    (r"(.*)[\._]b\Z", r"\1.bias"),
    (r"(.*)[\._]w\Z", r"\1.weight"),
]

OPTIMIZER_BLOBS = ("momentum", "lr", "model_iter")


def pytorch_name(caffe2_name):
    for source, dest in PAIRS:
        caffe2_name = re.sub(source, dest, caffe2_name)
    return caffe2_name


def convert(blobs):
    """PyTorch-named float32 arrays; raises ValueError on a blob no rule names."""
    out = {}
    for name, value in blobs.items():
        if any(skip in name for skip in OPTIMIZER_BLOBS):
            continue
        converted = pytorch_name(name)
        if not (converted.endswith((".weight", ".bias", ".running_mean", ".running_var"))):
            raise ValueError(f"blob {name!r} has no PySlowFast name (got {converted!r})")
        out[converted] = np.ascontiguousarray(np.asarray(value), dtype=np.float32)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pkl")
    p.add_argument("out")
    args = p.parse_args()
    with open(args.pkl, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    if not isinstance(data, dict) or "blobs" not in data:
        sys.exit(f"{args.pkl}: not a Caffe2 checkpoint (no 'blobs'); PySlowFast .pyth/.pkl files in "
                 "torch format are read by avaloc directly")
    try:
        tensors = convert(data["blobs"])
    except ValueError as e:
        sys.exit(f"{args.pkl}: {e}")
    save_file(tensors, args.out, metadata={"source": "caffe2 (PySlowFast names)",
                                           "converted_by": "avaloc model_zoo/convert_caffe2_slowfast.py"})
    print(f"{args.out}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
