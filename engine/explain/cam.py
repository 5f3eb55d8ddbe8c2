"""Grad-CAM and Grad-CAM++ for a trained classifier, through pytorch-grad-cam (`grad-cam`).

The image goes through the classifier's own preprocessing (shrunk, stretched to its square
input); the library computes the map on the layer's grid, scaled 0..1, and `cells_to_image`
draws it at the original image's height and width, each cell over the input pixels it is
centred on, so the map lines up with the image whatever its size or shape.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np
import torch

from engine.explain.maps import cells_to_image, nominal_stride
from engine.explain.types import CAM_METHODS, Heatmap
from engine.types import CancelToken, Progress, ProgressCallback

DEFAULT_LAYER = "layer4"
CLASSIFIER_LAYERS = ("layer1", "layer2", "layer3", "layer4")


def class_index(class_names, target: Union[None, int, str], probabilities: np.ndarray) -> int:
    """The class to explain: the most probable one when `target` is None, else the name (or
    index) given; ValueError naming the classes when there is no such class."""
    if target is None or target == "":
        return int(np.argmax(probabilities))
    if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(class_names):
        return int(target)
    if str(target) in class_names:
        return list(class_names).index(str(target))
    raise ValueError(f"no class '{target}' in this classifier: its classes are {', '.join(class_names)}")


def _cam_class(method: str):
    """The library's CAM class for `method`, made to return the map at the layer's own grid
    (min-max scaled to 0..1); `cells_to_image` then places the cells in image pixels."""
    from pytorch_grad_cam import GradCAM, GradCAMPlusPlus  # imported when used: the package is large

    if method not in CAM_METHODS:
        raise ValueError(f"unknown method '{method}': choose one of {', '.join(CAM_METHODS)}")

    class AtLayerGrid(GradCAM if method == "gradcam" else GradCAMPlusPlus):
        def get_target_width_height(self, input_tensor):
            activations = self.activations_and_grads.activations[0]
            return int(activations.shape[-1]), int(activations.shape[-2])

    return AtLayerGrid


def classifier_cam(
    classifier,
    image: np.ndarray,
    method: str = "gradcam",
    target: Union[None, int, str] = None,
    layer: str = DEFAULT_LAYER,
    progress: Optional[ProgressCallback] = None,
    cancel: Optional[CancelToken] = None,
) -> Heatmap:
    """The Grad-CAM (or Grad-CAM++) map of `target` (default: the predicted class) for one RGB
    uint8 image, at the ResNet stage `layer`, in the image's own pixels."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if layer not in CLASSIFIER_LAYERS:
        raise ValueError(f"unknown layer '{layer}': choose one of {', '.join(CLASSIFIER_LAYERS)}")
    cam_class = _cam_class(method)
    height, width = np.asarray(image).shape[:2]
    batch = classifier.preprocess(image)[None].to(classifier.device)
    model = classifier.model
    with torch.no_grad():
        probabilities = torch.softmax(model(batch).float(), dim=1)[0].cpu().numpy()
    index = class_index(classifier.class_names, target, probabilities)
    if cancel is not None:
        cancel.raise_if_cancelled()
    cam = cam_class(model=model, target_layers=[getattr(model, layer)])
    try:
        with torch.enable_grad():
            cells = cam(input_tensor=batch, targets=[ClassifierOutputTarget(index)])[0]
    finally:
        cam.activations_and_grads.release()
    side = int(batch.shape[-1])
    values = cells_to_image(cells, nominal_stride(side, cells.shape[-1]), (side, side), height, width)
    values /= max(float(values.max()), 1e-12)  # the peak may fall between cells: make it 1 again
    if progress is not None:
        progress(Progress(1, 1, method))
    return Heatmap(method, values, classifier.class_names[index], float(probabilities[index]))
