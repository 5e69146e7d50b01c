//! Key map from detectron2's naming, for checkpoints that `model_zoo/convert_detectron2.py`
//! turned into safetensors (it also moves detectron2's background class from last to first,
//! torchvision's order, so the heads need no other change).

use super::KeyMap;

/// A detectron2 `GeneralizedRCNN` with a ResNet/ResNeXt-FPN backbone (`backbone.bottom_up.*`,
/// `backbone.fpn_lateral{2..5}`, `backbone.fpn_output{2..5}`, `proposal_generator.rpn_head.*`,
/// `roi_heads.box_head.fc{1,2}`, `roi_heads.box_predictor.*`) onto
/// [`crate::models::detector::FasterRcnn`].
pub fn detectron2_faster_rcnn() -> KeyMap {
    let mut map = KeyMap::identity()
        .rename(
            r"^backbone\.bottom_up\.stem\.conv1\.norm\.",
            "backbone.body.bn1.",
        )
        .rename(
            r"^backbone\.bottom_up\.stem\.conv1\.",
            "backbone.body.conv1.",
        );
    for (stage, layer) in [(2, 1), (3, 2), (4, 3), (5, 4)] {
        map = map.rename(
            &format!(r"^backbone\.bottom_up\.res{stage}\."),
            &format!("backbone.body.layer{layer}."),
        );
        map = map
            .rename(
                &format!(r"^backbone\.fpn_lateral{stage}\."),
                &format!("backbone.fpn.inner_blocks.{}.", stage - 2),
            )
            .rename(
                &format!(r"^backbone\.fpn_output{stage}\."),
                &format!("backbone.fpn.layer_blocks.{}.", stage - 2),
            );
    }
    map.rename(r"\.conv(\d)\.norm\.", ".bn$1.")
        .rename(r"\.shortcut\.norm\.", ".downsample.bn.")
        .rename(r"\.shortcut\.", ".downsample.conv.")
        .rename(
            r"^proposal_generator\.rpn_head\.objectness_logits\.",
            "rpn.head.cls_logits.",
        )
        .rename(
            r"^proposal_generator\.rpn_head\.anchor_deltas\.",
            "rpn.head.bbox_pred.",
        )
        .rename(r"^proposal_generator\.rpn_head\.", "rpn.head.")
        .rename(r"^roi_heads\.box_head\.fc1\.", "box_head.fc6.")
        .rename(r"^roi_heads\.box_head\.fc2\.", "box_head.fc7.")
        .rename(r"^roi_heads\.box_predictor\.", "box_head.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_every_detectron2_name() {
        let map = detectron2_faster_rcnn();
        for (from, to) in [
            (
                "backbone.bottom_up.stem.conv1.weight",
                "backbone.body.conv1.weight",
            ),
            (
                "backbone.bottom_up.stem.conv1.norm.running_var",
                "backbone.body.bn1.running_var",
            ),
            (
                "backbone.bottom_up.res2.0.conv1.weight",
                "backbone.body.layer1.0.conv1.weight",
            ),
            (
                "backbone.bottom_up.res3.2.conv2.norm.bias",
                "backbone.body.layer2.2.bn2.bias",
            ),
            (
                "backbone.bottom_up.res5.0.shortcut.weight",
                "backbone.body.layer4.0.downsample.conv.weight",
            ),
            (
                "backbone.bottom_up.res4.0.shortcut.norm.weight",
                "backbone.body.layer3.0.downsample.bn.weight",
            ),
            (
                "backbone.fpn_lateral2.weight",
                "backbone.fpn.inner_blocks.0.weight",
            ),
            (
                "backbone.fpn_output5.bias",
                "backbone.fpn.layer_blocks.3.bias",
            ),
            (
                "proposal_generator.rpn_head.conv.weight",
                "rpn.head.conv.weight",
            ),
            (
                "proposal_generator.rpn_head.objectness_logits.bias",
                "rpn.head.cls_logits.bias",
            ),
            (
                "proposal_generator.rpn_head.anchor_deltas.weight",
                "rpn.head.bbox_pred.weight",
            ),
            ("roi_heads.box_head.fc1.weight", "box_head.fc6.weight"),
            ("roi_heads.box_head.fc2.bias", "box_head.fc7.bias"),
            (
                "roi_heads.box_predictor.cls_score.weight",
                "box_head.cls_score.weight",
            ),
            (
                "roi_heads.box_predictor.bbox_pred.bias",
                "box_head.bbox_pred.bias",
            ),
        ] {
            assert_eq!(map.map(from).as_deref(), Some(to), "{from}");
        }
    }
}
