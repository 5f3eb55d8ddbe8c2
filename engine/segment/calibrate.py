"""The background bias of a trained segmenter, chosen on its validation images.

Cross-entropy weighted towards the rare object classes (a missed object pixel costs more than a
wrong background pixel) and the Dice loss teach the network to draw objects somewhat larger than
they are: in issue 15's short runs it marked 24% more object pixels than there were. A constant
added to the background logit moves every outline in or out without changing which object
class wins inside an object, so it is chosen after training, on the held-out validation images
at their own size (as `segment` sees them), as the value with the best mean IoU over the object
classes; the smallest such bias when several tie. The training data is never used for it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np

from engine.segment import metrics
from engine.segment.data import Sample
from engine.segment.model_file import SegmenterFile
from engine.segment.predict import Segmenter
from engine.types import CancelToken

BIASES = tuple(float(b) for b in np.arange(-2.0, 4.01, 0.25))


def choose_background_bias(file: SegmenterFile, samples: Sequence[Sample], device: str = "cpu",
                           biases: Sequence[float] = BIASES,
                           cancel: Optional[CancelToken] = None) -> tuple[float, dict[float, dict]]:
    """(the chosen bias, {bias: metrics.summary of the validation images with it}) for
    `file`'s network."""
    segmenter = Segmenter(dataclasses.replace(file, background_bias=0.0), device=device)
    confusions = [metrics.Confusion(len(file.class_names)) for _ in biases]
    for sample in samples:
        if cancel is not None:
            cancel.raise_if_cancelled()
        logits = segmenter.full_logits(sample.image)
        best_object = (logits[..., 1:].argmax(-1) + 1).astype(np.uint8)
        margin = logits[..., 0] - logits[..., 1:].max(-1)  # background wins at margin + bias >= 0
        for bias, confusion in zip(biases, confusions):
            confusion.add(sample.target, np.where(margin + bias >= 0, 0, best_object).astype(np.uint8))
    summaries = [metrics.summary(c, file.class_names) for c in confusions]
    score = [-1.0 if math.isnan(s["mean_iou"]) else s["mean_iou"] for s in summaries]
    best = max(range(len(biases)), key=lambda i: (round(score[i], 6), -abs(biases[i])))
    return float(biases[best]), {float(b): summary for b, summary in zip(biases, summaries)}
