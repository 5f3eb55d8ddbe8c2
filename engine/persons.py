"""The `persons` model: Mask R-CNN's person masks joined to Keypoint R-CNN's keypoints.

Each Keypoint R-CNN person is matched greedily (highest score first) to the unmatched Mask
R-CNN person whose box overlaps it most, at IoU 0.5 or more. A matched pair keeps Mask R-CNN's
box and mask (the mask is relative to that box) and Keypoint R-CNN's keypoints. A person
found by only one model is kept: without a mask, or with invisible keypoints.
"""

from __future__ import annotations

import torch
from torchvision.ops import box_iou

COCO_PERSON = 1
MATCH_IOU = 0.5
NO_KEYPOINT_SCORE = -100.0


def _match(kp_boxes: torch.Tensor, kp_scores: torch.Tensor, mask_boxes: torch.Tensor) -> list[int]:
    """For each keypoint detection, the index of its mask detection, or -1."""
    matches = [-1] * len(kp_boxes)
    if len(kp_boxes) == 0 or len(mask_boxes) == 0:
        return matches
    ious = box_iou(kp_boxes.float(), mask_boxes.float())
    taken = torch.zeros(len(mask_boxes), dtype=torch.bool, device=ious.device)
    for i in torch.argsort(kp_scores, descending=True).tolist():
        row = ious[i].masked_fill(taken, -1.0)
        j = int(torch.argmax(row))
        if row[j] >= MATCH_IOU:
            matches[i], taken[j] = j, True
    return matches


def merge_persons(mask_output: dict, keypoint_output: dict) -> dict:
    """One output dict (torchvision format, masks still box-relative) with both per person."""
    people = mask_output["labels"] == COCO_PERSON
    m_boxes, m_scores = mask_output["boxes"][people], mask_output["scores"][people]
    m_masks = mask_output["masks"][people]
    k_boxes, k_scores = keypoint_output["boxes"], keypoint_output["scores"]
    k_points, k_point_scores = keypoint_output["keypoints"], keypoint_output["keypoints_scores"]
    matches = _match(k_boxes, k_scores, m_boxes)
    unmatched = [j for j in range(len(m_boxes)) if j not in set(matches)]
    empty_mask = torch.zeros_like(m_masks[:1]) if len(m_masks) else mask_output["masks"].new_zeros((1, 1, 28, 28))
    boxes, scores, masks = [], [], []
    for i, j in enumerate(matches):
        boxes.append(m_boxes[j] if j >= 0 else k_boxes[i])
        scores.append(torch.maximum(k_scores[i], m_scores[j]) if j >= 0 else k_scores[i])
        masks.append(m_masks[j : j + 1] if j >= 0 else empty_mask)
    for j in unmatched:
        boxes.append(m_boxes[j])
        scores.append(m_scores[j])
        masks.append(m_masks[j : j + 1])
    n_extra, k = len(unmatched), k_points.shape[1] if k_points.ndim == 3 else 17
    points = torch.cat([k_points.float(), k_points.new_zeros((n_extra, k, 3)).float()])
    point_scores = torch.cat([k_point_scores.float(), k_point_scores.new_full((n_extra, k), NO_KEYPOINT_SCORE).float()])
    device = k_boxes.device
    order = torch.argsort(torch.stack(scores), descending=True) if scores else torch.zeros(0, dtype=torch.long)
    return {
        "boxes": torch.stack(boxes)[order] if boxes else k_boxes.new_zeros((0, 4)),
        "scores": torch.stack(scores)[order] if scores else k_scores.new_zeros((0,)),
        "labels": torch.full((len(boxes),), COCO_PERSON, dtype=torch.int64, device=device),
        "masks": torch.cat(masks)[order] if masks else empty_mask[:0],
        "keypoints": points[order],
        "keypoints_scores": point_scores[order],
    }
