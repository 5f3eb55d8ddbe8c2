"""The slim Mask R-CNN with a keypoint head behind the bundled `demo-shapes` model.

About 4 M parameters: a ResNet-18 trunk up to layer3 (regular BatchNorm, trained from
scratch), a 64-channel FPN, and light box, mask and keypoint heads. torchvision's RoIHeads runs
a mask head and a keypoint head side by side when both are set, so one model returns boxes,
masks and keypoints for every shape.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn
from torchvision.models import resnet18
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from engine.demo.scenes import CLASS_NAMES, KEYPOINT_NAMES
from engine.limits import model_input_size

FPN_CHANNELS = 64
MIN_SIZE, MAX_SIZE = 480, 640  # the demo scenes are at most 640x480
NUM_CLASSES = len(CLASS_NAMES) + 1  # plus background


class NativeSizeTransform(GeneralizedRCNNTransform):
    """Keeps images at their own size within the range the model was trained on (shorter
    side up to `min_size`, longer side up to `max_size`), shrinks larger ones into it
    (`engine.limits.model_input_size`); with `native` off, resizes as any torchvision model.

    The demo scenes are drawn at a fixed pixel scale (shapes 24 to 96 px across), so the model
    sees them best unresized; a photo larger than a scene is shrunk to a scene's size, so its
    shapes keep the proportions the model knows. An explicit inference size still works.
    """

    native = True

    def resize(self, image, target=None):
        height, width = image.shape[-2:]
        if self.native and model_input_size(self, height, width) == (height, width):
            return image, target
        return super().resize(image, target)


def _backbone() -> BackboneWithFPN:
    trunk = resnet18(weights=None)
    return BackboneWithFPN(
        trunk,
        return_layers={"layer1": "0", "layer2": "1", "layer3": "2"},
        in_channels_list=[64, 128, 256],
        out_channels=FPN_CHANNELS,
        extra_blocks=LastLevelMaxPool(),
    )


def build_demo_model() -> MaskRCNN:
    """A fresh, untrained demo model (architecture only)."""
    anchors = AnchorGenerator(
        sizes=((16,), (32,), (64,), (128,)), aspect_ratios=((0.5, 1.0, 2.0),) * 4
    )
    levels = ["0", "1", "2"]
    model = MaskRCNN(
        _backbone(),
        num_classes=None,
        min_size=MIN_SIZE,
        max_size=MAX_SIZE,
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_test=300,
        box_roi_pool=MultiScaleRoIAlign(levels, 7, 2),
        box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, 256),
        box_predictor=FastRCNNPredictor(256, NUM_CLASSES),
        box_batch_size_per_image=256,
        box_score_thresh=0.05,
        mask_roi_pool=MultiScaleRoIAlign(levels, 14, 2),
        mask_head=MaskRCNNHeads(FPN_CHANNELS, [64, 64], 1),
        mask_predictor=MaskRCNNPredictor(64, 64, NUM_CLASSES),
    )
    model.transform = NativeSizeTransform(
        MIN_SIZE, MAX_SIZE, model.transform.image_mean, model.transform.image_std
    )
    heads = model.roi_heads
    heads.keypoint_roi_pool = MultiScaleRoIAlign(levels, 14, 2)
    heads.keypoint_head = KeypointRCNNHeads(FPN_CHANNELS, [64, 64, 64, 64])
    heads.keypoint_predictor = KeypointRCNNPredictor(64, len(KEYPOINT_NAMES))
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def half_state_dict(model: nn.Module) -> "OrderedDict":
    """Float tensors stored as float16 to halve the bundled file; loading casts them back."""
    return OrderedDict(
        (k, v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()
    )
