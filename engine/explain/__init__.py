"""What a network sees: Grad-CAM and Grad-CAM++ (pytorch-grad-cam) and occlusion sensitivity
for a classifier; occlusion for one detection, backbone feature maps (ResNet stages, FPN
levels) and first-layer filters for classifiers and detectors alike.

Every map is float32, the original image's height x width, in 0..1. Long work takes a
progress callback and a CancelToken; nothing here prints.
"""

from engine.explain.explainer import Explainer, open_model
from engine.explain.types import CAM_METHODS, DETECTOR_METHODS, METHODS, FeatureMaps, Filters, Heatmap

__all__ = ["CAM_METHODS", "DETECTOR_METHODS", "METHODS", "Explainer", "FeatureMaps", "Filters", "Heatmap", "open_model"]
