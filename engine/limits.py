"""How big an image Sightline takes, checked before memory is spent on it.

- Reading: an image file over `MAX_IMAGE_PIXELS` is refused from its header, before decoding
  (decoded, every megapixel costs 3 MB, and reading makes several copies).
- Analysing: the model's input (the image after the model's own resize: 800 px shorter side
  for the COCO models, native size for the demo model, or `--size`) over
  `MAX_INFERENCE_PIXELS` is reported as failed without running the model. Measured with the
  demo model on the CPU (tests/benchmarks/bench_inference_memory.py), inference costs about
  160 to 190 bytes of memory per input pixel (1 MP: +180 MB, 4 MP: +725 MB, 9 MP: +1347 MB),
  so the limit is about 4 GB.
"""

from __future__ import annotations

MAX_IMAGE_PIXELS = 120_000_000
MAX_INFERENCE_PIXELS = 20_000_000
BYTES_PER_INFERENCE_PIXEL = 200


def megapixels(pixels: float) -> str:
    return f"{pixels / 1e6:.0f} MP" if pixels >= 1e7 else f"{pixels / 1e6:.1f} MP"


def image_too_large(width: int, height: int) -> str:
    """Why an image of this size is not read at all, or ""."""
    if width * height <= MAX_IMAGE_PIXELS:
        return ""
    return (f"image too large: {width}x{height} ({megapixels(width * height)}); Sightline reads images up to "
            f"{megapixels(MAX_IMAGE_PIXELS)}")


def model_input_size(transform, height: int, width: int) -> tuple[int, int]:
    """(height, width) the model's transform resizes an image to (torchvision's rule)."""
    if getattr(transform, "native", False):
        return height, width
    short, long = min(height, width), max(height, width)
    scale = min(float(transform.min_size[-1]) / short, float(transform.max_size) / long)
    return int(height * scale), int(width * scale)


def inference_too_large(transform, height: int, width: int) -> str:
    """Why an image of this size is not given to the model, or ""."""
    in_height, in_width = model_input_size(transform, height, width)
    pixels = in_height * in_width
    if pixels <= MAX_INFERENCE_PIXELS:
        return ""
    gigabytes = pixels * BYTES_PER_INFERENCE_PIXEL / 2**30
    at = "at its native size" if (in_height, in_width) == (height, width) else f"at {in_width}x{in_height}"
    return (f"too large to analyse within memory: the {width}x{height} image would go to the model {at} "
            f"({megapixels(pixels)}, about {gigabytes:.0f} GB); the limit is {megapixels(MAX_INFERENCE_PIXELS)}: "
            f"choose a smaller inference size (--size)")
