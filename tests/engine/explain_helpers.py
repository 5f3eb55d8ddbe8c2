"""A classifier whose answer is known without training, for testing explanations: a ResNet-18
wired by hand so that class c's logit is the mean over the image of "how much more of colour
channel c than of the other two" (red, green, blue). Its Grad-CAM must light up the pixels of
the class's colour, wherever they are; it is saved in the real classifier file format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.train import checkpoint as C
from engine.train import strategies as S

CLASSES = ("red", "green", "blue")
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220)}
NORMALISATION = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _identity_batchnorms(model: nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.running_mean.zero_()
            module.running_var.fill_(1.0)


def colour_resnet(gain: float = 40.0) -> nn.Module:
    """ResNet-18 whose stem computes the three colour contrasts (channels 0..2), whose
    downsampling blocks average them 3x3 (their shortcut off), whose other blocks pass them
    on (their residual branch off), and whose fc reads them (times `gain`)."""
    model = S.build_for_checkpoint("resnet18", len(CLASSES))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        _identity_batchnorms(model)
        for c in range(3):  # a 7x7 average of the contrast, so no pixel falls between samples
            model.conv1.weight[c] = -0.5 / 49
            model.conv1.weight[c, c] = 1.0 / 49
        for layer in (model.layer2, model.layer3, model.layer4):  # each halving: a 3x3 average
            block = layer[0]
            for c in range(3):
                block.conv1.weight[c, c] = 1.0 / 9
                block.conv2.weight[c, c, 1, 1] = 1.0
        for c in range(3):
            model.fc.weight[c, c] = gain
    return model.eval()


def save_colour_classifier(folder: Path, input_size: int = 160, name: str = "colours") -> Path:
    model = colour_resnet()
    checkpoint = C.make_checkpoint(model, "resnet18", CLASSES, input_size, *NORMALISATION, "scratch",
                                   {"val_accuracy": 1.0}, name)  # fmt: skip
    return C.save_classifier(checkpoint, Path(folder) / f"{name}.pt")


def scene(height: int, width: int, shapes: dict[str, tuple[int, int, int]], seed: int = 0) -> np.ndarray:
    """A grey noisy (height, width) RGB image with a filled square per {colour: (x, y, side)}."""
    rng = np.random.default_rng(seed)
    image = rng.integers(110, 146, size=(height, width, 3), dtype=np.uint8)
    for colour, (x, y, side) in shapes.items():
        image[y : y + side, x : x + side] = COLOURS[colour]
    return image


def on_square(point: tuple[int, int], square: tuple[int, int, int], tolerance=8) -> bool:
    """Whether (x, y) lies on the (x0, y0, side) square, give or take `tolerance` (px, or (x, y))."""
    (x, y), (x0, y0, side) = point, square
    tx, ty = tolerance if isinstance(tolerance, tuple) else (tolerance, tolerance)
    return x0 - tx <= x < x0 + side + tx and y0 - ty <= y < y0 + side + ty


def half_cell(stride: int, input_size: int, height: int, width: int) -> tuple[float, float]:
    """Half a feature-grid cell in image pixels (x, y): how far a map's peak, which falls on a
    cell, may lie from an object that sits between cells."""
    return stride / 2 * width / input_size, stride / 2 * height / input_size


def demo_scene(height: int = 144, width: int = 160, centre=(56, 60), radius: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """(image, box) of one filled circle on a noisy grey background, like the demo scenes."""
    import cv2

    rng = np.random.default_rng(5)
    image = np.clip(rng.normal(128, 10, size=(height, width, 3)), 0, 255).astype(np.uint8)
    cv2.circle(image, centre, radius, (230, 60, 40), thickness=-1)
    x, y = centre
    return image, np.array([x - radius, y - radius, x + radius + 1, y + radius + 1], np.float32)
