"""A small U-Net for semantic segmentation (Ronneberger et al. 2015, slimmed for the CPU).

The encoder halves the resolution `depth` times while doubling the channels (capped at
8x `base`); the decoder upsamples bilinearly, concatenates the encoder's features of the
same resolution (the skip connections) and convolves. Every convolution is followed by
GroupNorm and ReLU: GroupNorm does not depend on the batch, so training on small batches of
crops and predicting single frames see the same statistics (BatchNorm's running averages
gave all-background at evaluation in one measured run). Output: one logit per class per pixel
at the input's resolution; inputs need sides divisible by `pad_multiple`. With
`stem_stride=2` the first convolution halves the resolution and the logits are upsampled at
the end: about a quarter of the work, for coarser edges.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _groups(channels: int) -> int:
    for groups in (8, 4, 2):
        if channels % groups == 0:
            return groups
    return 1


def conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Two 3x3 convolutions (the first with `stride`), each with GroupNorm and ReLU."""
    layers = []
    for channels_in, step in ((in_channels, stride), (out_channels, 1)):
        layers += [nn.Conv2d(channels_in, out_channels, 3, stride=step, padding=1, bias=False),
                   nn.GroupNorm(_groups(out_channels), out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(self, num_classes: int, base: int = 16, depth: int = 4, stem_stride: int = 1, in_channels: int = 3):
        super().__init__()
        if num_classes < 2 or base < 1 or depth < 1:
            raise ValueError("a U-Net needs at least 2 classes, 1 base channel and depth 1")
        if stem_stride not in (1, 2):
            raise ValueError("stem_stride is 1 or 2")
        self.num_classes, self.base, self.depth, self.stem_stride = num_classes, base, depth, stem_stride
        widths = [base * min(2**level, 8) for level in range(depth + 1)]
        self.stem = conv_block(in_channels, widths[0], stem_stride)
        self.down = nn.ModuleList(conv_block(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(conv_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    @property
    def pad_multiple(self) -> int:
        return 2**self.depth * self.stem_stride

    def config(self) -> dict:
        return {"base": self.base, "depth": self.depth, "stem_stride": self.stem_stride}

    def forward(self, x: torch.Tensor, upsample: bool = True) -> torch.Tensor:
        """Logits at the input's resolution, or with `upsample=False` at 1/stem_stride of it
        (inference scales them once, straight to the original image's size)."""
        size = x.shape[-2:]
        skips = [self.stem(x)]
        for block in self.down:
            skips.append(block(F.max_pool2d(skips[-1], 2)))
        x = skips.pop()
        for block in self.up:
            skip = skips.pop()
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        x = self.head(x)
        if upsample and self.stem_stride != 1:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return x
