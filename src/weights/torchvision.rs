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
