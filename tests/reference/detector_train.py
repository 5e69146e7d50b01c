"""Writes tests/fixtures/detector_tiny_train.safetensors: torchvision's FasterRCNN (the tiny
detector of detector.py, its trunk on FrozenBatchNorm2d) in training mode on two images of
different sizes (crops of scikit-image's `astronaut` and `chelsea`) with hand-placed ground
truth: the four losses and the gradients of their sum for a few parameters. The balanced
sampler is replaced by one that takes the first candidates in index order, so that the
result is deterministic; avaloc's sampler does the same when given no random generator.

    .venv-ref/bin/python tests/reference/detector_train.py
"""

import torch
from safetensors.torch import save_file
from skimage import data
from torchvision.models.detection import _utils
from torchvision.ops.misc import FrozenBatchNorm2d

from detector import OUT, tiny_faster_rcnn


def first_candidates(self, matched_idxs):
    pos_idx, neg_idx = [], []
    for m in matched_idxs:
        positive = torch.where(m >= 1)[0]
        negative = torch.where(m == 0)[0]
        num_pos = min(positive.numel(), int(self.batch_size_per_image * self.positive_fraction))
        num_neg = min(negative.numel(), self.batch_size_per_image - num_pos)
        pos_mask = torch.zeros_like(m, dtype=torch.uint8)
        neg_mask = torch.zeros_like(m, dtype=torch.uint8)
        pos_mask[positive[:num_pos]] = 1
        neg_mask[negative[:num_neg]] = 1
        pos_idx.append(pos_mask)
        neg_idx.append(neg_mask)
    return pos_idx, neg_idx


def image(array):
    t = torch.from_numpy(array.copy()).permute(2, 0, 1).float() / 255
    return t.half().float().contiguous()  # stored as float16: the model sees the rounded image


def main():
    _utils.BalancedPositiveNegativeSampler.__call__ = first_candidates
    model = tiny_faster_rcnn(norm_layer=FrozenBatchNorm2d)
    model.train()
    images = [image(data.astronaut()[100:400, 50:450]), image(data.chelsea()[20:280, 40:400])]
    targets = [
        {"boxes": torch.tensor([[110.0, 10.0, 330.0, 299.0], [5.0, 140.0, 95.0, 290.0]]),
         "labels": torch.tensor([1, 2])},
        {"boxes": torch.tensor([[60.0, 30.0, 250.0, 255.0]]), "labels": torch.tensor([1])},
    ]
    losses = model(images, targets)
    total = sum(losses.values())
    total.backward()
    params = dict(model.named_parameters())
    grads = {f"grad.{k}": params[k].grad for k in (
        "backbone.body.conv1.weight", "backbone.fpn.layer_blocks.0.0.weight",
        "rpn.head.conv.0.0.weight", "rpn.head.bbox_pred.weight",
        "roi_heads.box_head.fc6.weight", "roi_heads.box_predictor.bbox_pred.weight")}
    out = {f"image{i}": im.half() for i, im in enumerate(images)}
    for i, t in enumerate(targets):
        out[f"boxes{i}"] = t["boxes"]
        out[f"labels{i}"] = t["labels"]
    out.update({k: v.detach().reshape(1) for k, v in losses.items()})
    out.update(grads)
    save_file(out, OUT / "detector_tiny_train.safetensors")
    print("wrote detector_tiny_train:", {k: round(float(v), 5) for k, v in losses.items()})


if __name__ == "__main__":
    main()
