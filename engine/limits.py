"""How big an image Sightline takes, checked before memory is spent on it.

- Reading: an image file over `MAX_IMAGE_PIXELS` is refused from its header, before decoding
  (decoded, every megapixel costs 3 MB, and reading makes several copies).
- Working size: a model sees an image at a scale it knows. The COCO models resize to their
  own 800 px shorter side; a native-size model (the demo) keeps images up to the size range
  it was trained on (its transform's min_size x max_size, 480x640 for the demo) and shrinks
  larger ones into that range. Results are mapped back to the original pixels.
- Analysing: the model's input (that working size, or `--size`) over `MAX_INFERENCE_PIXELS`
  is reported as failed without running the model, and so is an input whose memory estimate
  is over the memory free right now (RAM on the CPU, GPU memory on CUDA), instead of swapping.
  Measured with the demo model on the CPU (tests/benchmarks/bench_inference_memory.py),
  inference costs about 160 to 190 bytes of memory per input pixel (1 MP: +180 MB, 4 MP:
  +725 MB, 9 MP: +1347 MB), so the limit is about 4 GB.
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


def _min_size(transform) -> float:
    sizes = transform.min_size
    return float(sizes[-1] if isinstance(sizes, (tuple, list)) else sizes)


def model_input_size(transform, height: int, width: int) -> tuple[int, int]:
    """(height, width) the model sees an image at: torchvision's rule (shorter side to
    min_size unless max_size caps the longer side); for a native-size model the image's own
    size, shrunk by the same rule when it is larger than the range the model was trained on."""
    short, long = min(height, width), max(height, width)
    scale = min(_min_size(transform) / short, float(transform.max_size) / long)
    if getattr(transform, "native", False) and scale >= 1.0:
        return height, width
    return int(height * scale), int(width * scale)


def inference_bytes(pixels: int) -> int:
    """The memory one model call on an input of this many pixels is estimated to take."""
    return int(pixels * BYTES_PER_INFERENCE_PIXEL)


def gigabytes(count: float) -> str:
    return f"{count / 2**30:.1f} GB" if count < 10 * 2**30 else f"{count / 2**30:.0f} GB"


def inference_too_large(transform, height: int, width: int, free_bytes: int | None = None) -> str:
    """Why an image of this size is not given to the model, or "". `free_bytes`: the memory
    free on the device now (None: unknown, only the fixed limit applies)."""
    in_height, in_width = model_input_size(transform, height, width)
    pixels = in_height * in_width
    needed = inference_bytes(pixels)
    at = "at its native size" if (in_height, in_width) == (height, width) else f"at {in_width}x{in_height}"
    if pixels > MAX_INFERENCE_PIXELS:
        return (f"too large to analyse within memory: the {width}x{height} image would go to the model {at} "
                f"({megapixels(pixels)}, about {gigabytes(needed)}); the limit is "
                f"{megapixels(MAX_INFERENCE_PIXELS)}: choose a smaller inference size (--size)")
    if free_bytes is not None and needed > free_bytes:
        return (f"not enough free memory to analyse: the {width}x{height} image would go to the model {at}, "
                f"about {gigabytes(needed)}, and only {gigabytes(free_bytes)} is free; close other programs "
                f"or choose a smaller inference size (--size)")
    return ""
