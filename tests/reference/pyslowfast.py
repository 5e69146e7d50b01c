"""PySlowFast's own model code (the `slowfast` package from PyPI, installed with --no-deps,
plus fvcore) for the reference scripts: `stub_detectron2` stands torchvision's RoIAlign in
for the detectron2 one PySlowFast imports, and `ava_slowfast` builds `SlowFastModel` in an AVA
configuration (res5 at stride 1 with dilation 2, the RoI head, no non-local blocks unless
asked)."""

import sys
import types

import torchvision


def stub_detectron2():
    """PySlowFast imports detectron2's ROIAlign; torchvision's is the same op."""
    layers = types.ModuleType("detectron2.layers")
    layers.ROIAlign = torchvision.ops.RoIAlign
    sys.modules["detectron2"] = types.ModuleType("detectron2")
    sys.modules["detectron2.layers"] = layers


def ava_slowfast(classes, frames, width=64, beta_inv=8, fusion_kernel=5, aligned=True,
                 dropout=0.5, one_block_per_stage=False, nonlocal_location=None):
    """SlowFast R50 (or one bottleneck per stage) with alpha 4, fusion channel ratio 2, every
    block with its temporal kernel."""
    stub_detectron2()
    import slowfast.models.video_model_builder as vmb
    from slowfast.config.defaults import get_cfg

    vmb._MODEL_STAGE_DEPTH[50] = (1, 1, 1, 1) if one_block_per_stage else (3, 4, 6, 3)
    cfg = get_cfg()
    cfg.MODEL.ARCH, cfg.MODEL.NUM_CLASSES, cfg.MODEL.DROPOUT_RATE = "slowfast", classes, dropout
    cfg.RESNET.DEPTH, cfg.RESNET.WIDTH_PER_GROUP = 50, width
    cfg.RESNET.NUM_BLOCK_TEMP_KERNEL = [[1, 1]] * 4 if one_block_per_stage else [[3, 3], [4, 4], [6, 6], [3, 3]]
    cfg.RESNET.SPATIAL_STRIDES = [[1, 1], [2, 2], [2, 2], [1, 1]]
    cfg.RESNET.SPATIAL_DILATIONS = [[1, 1], [1, 1], [1, 1], [2, 2]]
    cfg.NONLOCAL.LOCATION = nonlocal_location or [[[], []]] * 4
    cfg.NONLOCAL.GROUP = [[1, 1]] * 4
    cfg.NONLOCAL.POOL = [[[1, 2, 2], [1, 2, 2]]] * 4
    cfg.SLOWFAST.ALPHA, cfg.SLOWFAST.BETA_INV = 4, beta_inv
    cfg.SLOWFAST.FUSION_CONV_CHANNEL_RATIO, cfg.SLOWFAST.FUSION_KERNEL_SZ = 2, fusion_kernel
    cfg.DATA.NUM_FRAMES = frames
    cfg.DETECTION.ENABLE, cfg.DETECTION.ALIGNED = True, aligned
    return vmb.SlowFastModel(cfg)
