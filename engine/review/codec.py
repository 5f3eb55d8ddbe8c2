"""Compact bytes for a `Detections`: arrays as a compressed .npz (never a pickle), masks
bit-packed inside their boxes. The review store keeps results in this form."""

from __future__ import annotations

import io

import numpy as np

from engine.review.vocabulary import Vocabulary
from engine.types import CroppedMask, Detections


def encode_detections(det: Detections) -> bytes:
    arrays = {"boxes": det.boxes.astype(np.float32), "scores": det.scores.astype(np.float32),
              "labels": det.labels.astype(np.int32)}
    if det.masks is not None:
        arrays["mask_geometry"] = np.array(
            [(m.x0, m.y0, *m.bitmap.shape) for m in det.masks], np.int32).reshape(-1, 4)
        flat = [m.bitmap.ravel() for m in det.masks]
        arrays["mask_bits"] = np.packbits(np.concatenate(flat) if flat else np.zeros(0, bool))
    if det.keypoints is not None:
        arrays["keypoints"] = det.keypoints.astype(np.float32)
    if det.analysed_size is not None:
        arrays["analysed_size"] = np.array(det.analysed_size, np.int32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _decode_masks(geometry: np.ndarray, bits: np.ndarray) -> tuple[CroppedMask, ...]:
    sizes = geometry[:, 2].astype(np.int64) * geometry[:, 3]
    flat = np.unpackbits(bits, count=int(sizes.sum())).astype(bool)
    masks, start = [], 0
    for (x0, y0, h, w), size in zip(geometry.tolist(), sizes.tolist()):
        masks.append(CroppedMask(x0, y0, flat[start : start + size].reshape(h, w)))
        start += size
    return tuple(masks)


def decode_detections(payload: bytes, size: tuple[int, int], vocabulary: Vocabulary | dict, **meta) -> Detections:
    """The detections back; `vocabulary` as a `Vocabulary` or its JSON form (a dict)."""
    if isinstance(vocabulary, dict):
        vocabulary = Vocabulary(tuple(vocabulary["classes"]), tuple(vocabulary.get("keypoint_names", ())),
                                tuple(tuple(p) for p in vocabulary.get("skeleton", ())))
    with np.load(io.BytesIO(payload), allow_pickle=False) as data:
        masks = _decode_masks(data["mask_geometry"], data["mask_bits"]) if "mask_geometry" in data else None
        return Detections(
            image_size=size,
            boxes=data["boxes"],
            scores=data["scores"],
            labels=data["labels"].astype(np.int64),
            class_names=vocabulary.classes,
            masks=masks,
            keypoints=data["keypoints"] if "keypoints" in data else None,
            keypoint_names=vocabulary.keypoint_names,
            skeleton=vocabulary.skeleton,
            analysed_size=tuple(int(v) for v in data["analysed_size"]) if "analysed_size" in data else None,
            **meta,
        )
