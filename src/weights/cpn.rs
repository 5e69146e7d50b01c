//! Key map from pytorch-cpn's naming.

use super::KeyMap;

/// GengDavid/pytorch-cpn's `CPN` (`resnet.*`, `global_net.{laterals,upsamples,predict}.*`,
/// `refine_net.{cascade,final_predict}.*`; saved by its `train.py` through `DataParallel`, so
/// with a `module.` prefix, which is dropped) onto [`crate::models::pose::Cpn`]. Both number
/// GlobalNet's levels and RefineNet's cascades coarsest first.
pub fn pytorch_cpn() -> KeyMap {
    KeyMap::identity()
        .rename(r"^module\.", "")
        .rename(r"^resnet\.", "trunk.")
        .rename(r"\.downsample\.0\.", ".downsample.conv.")
        .rename(r"\.downsample\.1\.", ".downsample.bn.")
        .rename(
            r"^global_net\.laterals\.(\d+)\.0\.",
            "global_net.laterals.$1.conv.",
        )
        .rename(
            r"^global_net\.laterals\.(\d+)\.1\.",
            "global_net.laterals.$1.norm.",
        )
        // upsamples.{i} = (Upsample, conv, bn), into level i + 1.
        .rename(
            r"^global_net\.upsamples\.(\d+)\.1\.",
            "global_net.merges.$1.conv.",
        )
        .rename(
            r"^global_net\.upsamples\.(\d+)\.2\.",
            "global_net.merges.$1.norm.",
        )
        // predict.{i} = (conv, bn, relu, conv, Upsample, bn).
        .rename(
            r"^global_net\.predict\.(\d+)\.0\.",
            "global_net.predict.$1.reduce.conv.",
        )
        .rename(
            r"^global_net\.predict\.(\d+)\.1\.",
            "global_net.predict.$1.reduce.norm.",
        )
        .rename(
            r"^global_net\.predict\.(\d+)\.3\.",
            "global_net.predict.$1.heatmap.conv.",
        )
        .rename(
            r"^global_net\.predict\.(\d+)\.5\.",
            "global_net.predict.$1.heatmap.norm.",
        )
        // final_predict = (Bottleneck, conv, bn).
        .rename(
            r"^refine_net\.final_predict\.0\.",
            "refine_net.final_bottleneck.",
        )
        .rename(r"^refine_net\.final_predict\.1\.", "refine_net.out.conv.")
        .rename(r"^refine_net\.final_predict\.2\.", "refine_net.out.norm.")
}
