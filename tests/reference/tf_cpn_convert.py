"""Checks model_zoo/convert_tf_cpn.py on a TensorFlow checkpoint written here: the tiny tf-cpn
network of cpn.py (tests/fixtures/cpn_tiny_tf.safetensors, avaloc's names) is saved under the
variable names tf-cpn's `network.py` and slim's `resnet_v1` give it (kernels HWIO, the first
one reading BGR, `BatchNorm/{gamma,beta,moving_mean,moving_variance}`, Adam slots and a global
step as a training snapshot has), read back with `tf.train.load_checkpoint`, converted, and
compared with the fixture tensor by tensor (exactly).

    .venv-ref/bin/pip install tensorflow-cpu
    .venv-ref/bin/python tests/reference/tf_cpn_convert.py
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from safetensors.numpy import load_file

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "model_zoo"))
from convert_tf_cpn import convert  # noqa: E402

LEVEL = ["res5", "res4", "res3", "res2"]
NORM = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
UNIT = {"downsample.conv": "shortcut", "downsample.bn": "shortcut", "conv1": "conv1", "bn1": "conv1",
        "conv2": "conv2", "bn2": "conv2", "conv3": "conv3", "bn3": "conv3"}


def tf_scope(module):
    """tf-cpn's scope for an avaloc module path (the inverse of the converter's table)."""
    parts = module.split(".")
    if parts[0] == "trunk":
        if parts[1] in ("conv1", "bn1"):
            return "resnet_v1_50/conv1"
        block, unit = parts[1][len("layer"):], int(parts[2]) + 1
        return f"resnet_v1_50/block{block}/unit_{unit}/bottleneck_v1/{UNIT['.'.join(parts[3:])]}"
    if parts[0] == "global_net":
        kind, i = parts[1], int(parts[2])
        if kind == "laterals":
            return f"lateral/{LEVEL[i]}"
        if kind == "merges":
            return f"merge/{LEVEL[i + 1]}"
        return f"{'tmp' if parts[3] == 'reduce' else 'pyramid'}/{LEVEL[i]}"
    if parts[1] == "cascade":
        return f"{LEVEL[int(parts[2])]}/refine_conv{parts[3]}/{UNIT['.'.join(parts[4:])]}"
    if parts[1] == "final_bottleneck":
        return f"final_bottleneck/{UNIT['.'.join(parts[2:])]}"
    return "refine_out"


def main():
    fixture = load_file(str(ROOT / "tests/fixtures/cpn_tiny_tf.safetensors"))
    variables = {}
    for key, value in fixture.items():
        module, leaf = key.rsplit(".", 1)
        is_norm = module.endswith(("norm", "bn1", "bn2", "bn3", "downsample.bn")) or module == "trunk.bn1"
        scope = tf_scope(module)
        if is_norm:
            variables[f"{scope}/BatchNorm/{NORM[leaf]}"] = value
        elif leaf == "weight":
            kernel = value[:, ::-1] if module == "trunk.conv1" else value
            variables[f"{scope}/weights"] = np.transpose(kernel, (2, 3, 1, 0))
        else:
            variables[f"{scope}/biases"] = value
    with tempfile.TemporaryDirectory() as tmp:
        graph = tf.Graph()
        with graph.as_default():
            tf_vars = [tf.compat.v1.Variable(v, name=n) for n, v in variables.items()]
            tf_vars.append(tf.compat.v1.Variable(np.zeros(3, np.float32), name="lateral/res5/weights/Adam"))
            tf_vars.append(tf.compat.v1.Variable(np.int64(7), name="global_step"))
            saver = tf.compat.v1.train.Saver(tf_vars)
            with tf.compat.v1.Session() as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                path = saver.save(sess, f"{tmp}/snapshot_1.ckpt")
        reader = tf.train.load_checkpoint(path)
        names = reader.get_variable_to_shape_map()
        converted = convert({n: reader.get_tensor(n) for n in names})
    assert set(converted) == set(fixture), set(converted) ^ set(fixture)
    for key, value in fixture.items():
        np.testing.assert_array_equal(converted[key], value, err_msg=key)
    print(f"convert_tf_cpn: {len(names)} TensorFlow variables -> {len(converted)} tensors, "
          "equal to the fixture")


if __name__ == "__main__":
    main()
