//! Key maps from torchvision's naming.

use super::KeyMap;

/// torchvision's classification ResNet / ResNeXt (`resnet50`, `resnext101_32x8d`, ...) onto
/// [`crate::nn::ResNet`]: only the shortcut's `downsample.0` / `downsample.1` differ. Without a
/// classification head, the checkpoint's `fc` is dropped.
pub fn torchvision_resnet(with_head: bool) -> KeyMap {
    let map = KeyMap::identity()
        .rename(r"\.downsample\.0\.", ".downsample.conv.")
        .rename(r"\.downsample\.1\.", ".downsample.bn.");
    if with_head { map } else { map.ignore(r"^fc\.") }
}

/// torchvision's detection FPN (`backbone.fpn.inner_blocks.{i}.0.*`, `layer_blocks.{i}.0.*`)
/// onto [`crate::models::detector::Fpn`]; the rest of a detector checkpoint is dropped.
pub fn torchvision_fpn() -> KeyMap {
    KeyMap::identity()
        .ignore(r"^(rpn|roi_heads|backbone\.body)\.")
        .rename(r"^backbone\.fpn\.", "")
        .rename(r"^(inner_blocks|layer_blocks)\.(\d+)\.0\.", "$1.$2.")
}

/// torchvision's `rpn.head.*` (`conv.0.0`, `cls_logits`, `bbox_pred`) onto
/// [`crate::models::detector::RpnHead`].
pub fn torchvision_rpn_head() -> KeyMap {
    KeyMap::identity()
        .ignore(r"^(backbone|roi_heads)\.")
        .rename(r"^rpn\.head\.", "")
        .rename(r"^conv\.0\.0\.", "conv.")
}

/// torchvision's `roi_heads.box_head.fc6/fc7` and `roi_heads.box_predictor.cls_score/bbox_pred`
/// onto [`crate::models::detector::BoxHead`].
pub fn torchvision_box_head() -> KeyMap {
    KeyMap::identity()
        .ignore(r"^(backbone|rpn)\.")
        .rename(r"^roi_heads\.(box_head|box_predictor)\.", "")
}

/// A whole torchvision `FasterRCNN` checkpoint (`backbone.body`, `backbone.fpn`, `rpn.head`,
/// `roi_heads.box_head` / `box_predictor`) onto [`crate::models::detector::FasterRcnn`].
pub fn torchvision_faster_rcnn() -> KeyMap {
    KeyMap::identity()
        .rename(r"\.downsample\.0\.", ".downsample.conv.")
        .rename(r"\.downsample\.1\.", ".downsample.bn.")
        .rename(
            r"^backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.0\.",
            "backbone.fpn.$1.$2.",
        )
        .rename(r"^rpn\.head\.conv\.0\.0\.", "rpn.head.conv.")
        .rename(r"^roi_heads\.(box_head|box_predictor)\.", "box_head.")
}
