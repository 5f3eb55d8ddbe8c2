"""Timing a segmenter for `sightline bench`: the same scenes as the detectors, and 640x480 frames."""

from __future__ import annotations

import statistics
import time

import cv2
import numpy as np

from engine.segment.predict import Segmenter

VGA = (640, 480)


def median_seconds(segmenter: Segmenter, images: list[np.ndarray]) -> tuple[float, float]:
    """Median wall time and median CPU time (all threads of this process) of `predict` (class
    map at the image's size) over `images`, after a warm-up. On a machine whose cores are
    shared with other work the CPU time says what a free machine would take."""
    segmenter.predict(images[0])
    wall, cpu = [], []
    for image in images:
        began, began_cpu = time.perf_counter(), time.process_time()
        segmenter.predict(image)
        wall.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return statistics.median(wall), statistics.median(cpu)


def segmenter_lines(path: str, images: list[np.ndarray], device: str = "auto") -> list[str]:
    """Report lines: ms per image on `images`, and frames/s on them scaled to 640x480."""
    segmenter = Segmenter(path, device=device)
    scenes, scenes_cpu = median_seconds(segmenter, images)
    vga, vga_cpu = median_seconds(segmenter, [cv2.resize(image, VGA, interpolation=cv2.INTER_LINEAR) for image in images])
    return [f"segmenter    {segmenter.name}: U-Net, working size {segmenter.input_size}px, "
            f"{len(segmenter.class_names)} classes",
            f"segment      {scenes * 1000:8.1f} ms/image (median, same scenes; CPU time {scenes_cpu * 1000:.1f} ms)",
            f"segment VGA  {vga * 1000:8.1f} ms/frame at 640x480 = {1 / vga:.1f} frames/s "
            f"(CPU time {vga_cpu * 1000:.1f} ms/frame, all threads)"]
