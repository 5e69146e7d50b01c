"""Converts a tf-cpn checkpoint (chenyilun95/tf-cpn, TensorFlow 1 `snapshot_N.ckpt`) to a
safetensors file with avaloc's names, for configs/pose/cpn_*.toml (`convention = "tf_cpn"`).

    pip install tensorflow-cpu numpy safetensors        # TensorFlow only reads the checkpoint
    python model_zoo/convert_tf_cpn.py snapshot_350.ckpt cpn_r50_256x192.safetensors

What it does, from tf-cpn's `network.py` and `lib/nets/basemodel.py`:
- slim's `resnet_v1_{50,101}/conv1`, `block{b}/unit_{u}/bottleneck_v1/{shortcut,conv1,conv2,
  conv3}` become `trunk.conv1`, `trunk.layer{b}.{u-1}.{downsample.conv,conv1,conv2,conv3}`;
- GlobalNet's `lateral/res{5..2}`, `merge/res{4..2}`, `tmp/res{5..2}`, `pyramid/res{5..2}`
  become `global_net.{laterals,merges,predict.reduce,predict.heatmap}.{i}`, coarsest first;
- RefineNet's `res{5..3}/refine_conv{j}`, `final_bottleneck`, `refine_out` become
  `refine_net.cascade.{i}.{j}`, `refine_net.final_bottleneck`, `refine_net.out`;
- kernels go from HWIO to OIHW; `BatchNorm/{gamma,beta,moving_mean,moving_variance}` become
  `weight, bias, running_mean, running_var` (tf-cpn's epsilon 1e-9 is the convention's);
- the first convolution's input channels are reversed, BGR to RGB (avaloc feeds RGB).
Optimiser slots (`Adam`, `Momentum`), the global step and any other variable are dropped
only when they are optimiser state; an unknown network variable is an error.
"""

import re
import sys

import numpy as np
from safetensors.numpy import save_file

LEVELS = {"res5": 0, "res4": 1, "res3": 2, "res2": 3}
NORM = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
        "moving_variance": "running_var"}
BOTTLENECK = {"shortcut": "downsample.conv", "conv1": "conv1", "conv2": "conv2", "conv3": "conv3"}
BOTTLENECK_NORM = {"shortcut": "downsample.bn", "conv1": "bn1", "conv2": "bn2", "conv3": "bn3"}
OPTIMISER = re.compile(r"(/Adam(_\d+)?$|/Momentum$|^global_step$|^beta[12]_power|/ExponentialMovingAverage$)")


def layer_name(scope):
    """avaloc's module path for a tf-cpn layer scope, and whether its norm is a bottleneck's."""
    m = re.fullmatch(r"resnet_v1_\d+/conv1", scope)
    if m:
        return "trunk.conv1", "trunk.bn1"
    m = re.fullmatch(r"resnet_v1_\d+/block(\d)/unit_(\d+)/bottleneck_v1/(shortcut|conv[123])", scope)
    if m:
        prefix = f"trunk.layer{m[1]}.{int(m[2]) - 1}"
        return f"{prefix}.{BOTTLENECK[m[3]]}", f"{prefix}.{BOTTLENECK_NORM[m[3]]}"
    m = re.fullmatch(r"(lateral|tmp|pyramid)/(res[2-5])", scope)
    if m:
        i = LEVELS[m[2]]
        base = {"lateral": f"global_net.laterals.{i}", "tmp": f"global_net.predict.{i}.reduce",
                "pyramid": f"global_net.predict.{i}.heatmap"}[m[1]]
        return f"{base}.conv", f"{base}.norm"
    m = re.fullmatch(r"merge/(res[2-4])", scope)
    if m:
        return f"global_net.merges.{LEVELS[m[1]] - 1}.conv", None
    m = re.fullmatch(r"(res[3-5])/refine_conv(\d+)/(conv[123])", scope)
    if m:
        prefix = f"refine_net.cascade.{LEVELS[m[1]]}.{m[2]}"
        return f"{prefix}.{BOTTLENECK[m[3]]}", f"{prefix}.{BOTTLENECK_NORM[m[3]]}"
    m = re.fullmatch(r"final_bottleneck/(shortcut|conv[123])", scope)
    if m:
        prefix = "refine_net.final_bottleneck"
        return f"{prefix}.{BOTTLENECK[m[1]]}", f"{prefix}.{BOTTLENECK_NORM[m[1]]}"
    if scope == "refine_out":
        return "refine_net.out.conv", "refine_net.out.norm"
    return None


def convert(variables):
    """`variables`: tf-cpn's variable name -> array. Returns avaloc's name -> array."""
    out, unknown = {}, []
    for name, value in sorted(variables.items()):
        if OPTIMISER.search(name):
            continue
        # Multi-tower training may nest the network in a scope: match from a known root.
        m = re.search(r"(resnet_v1_\d+/.*|(lateral|merge|tmp|pyramid|res[3-5]|final_bottleneck|refine_out)/.*)$",
                      name)
        scope, leaf = (m[1].rsplit("/", 1) if m else (None, None))
        norm_leaf = None
        if scope and scope.endswith("/BatchNorm"):
            scope, norm_leaf = scope[: -len("/BatchNorm")], leaf
        names = layer_name(scope) if scope else None
        if names is None:
            unknown.append(name)
            continue
        conv, norm = names
        if norm_leaf is not None and norm is not None and norm_leaf in NORM:
            out[f"{norm}.{NORM[norm_leaf]}"] = np.asarray(value, np.float32)
        elif leaf == "weights" and np.ndim(value) == 4:
            kernel = np.transpose(np.asarray(value, np.float32), (3, 2, 0, 1))
            if conv == "trunk.conv1":
                kernel = kernel[:, ::-1]
            out[f"{conv}.weight"] = np.ascontiguousarray(kernel)
        elif leaf == "biases" and norm is None:
            out[f"{conv}.bias"] = np.asarray(value, np.float32)
        else:
            unknown.append(name)
    if unknown:
        raise SystemExit("variables tf-cpn's network does not have: " + ", ".join(unknown))
    return out


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    import tensorflow as tf

    reader = tf.train.load_checkpoint(sys.argv[1])
    variables = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    tensors = convert(variables)
    save_file(tensors, sys.argv[2], metadata={"source": "tf-cpn"})
    print(f"wrote {sys.argv[2]}: {len(tensors)} tensors from {len(variables)} variables")


if __name__ == "__main__":
    main()
