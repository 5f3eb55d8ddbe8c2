"""Big inputs are failures of one file, not of the run: an image too large to read or to
analyse within memory is named with the reason and the batch carries on. Bad numbers in
the arguments are usage errors from the parser."""

from __future__ import annotations

import json
import resource
import struct
import zlib
from pathlib import Path

import cv2
import pytest
from PIL import Image

from engine import cli, limits
from engine.commands import detect as detect_command
from engine.demo.scenes import make_scene
from engine.images import ImageLoadError, load_image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_blank_png(path: Path, width: int, height: int) -> Path:
    """(height: a multiple of 500.) A real, complete greyscale PNG of any size, written row by row (a few MB on disk)."""
    compressor, rows = zlib.compressobj(1), b"\x00" * ((width + 1) * 500)  # filter byte + pixels, 500 rows
    parts = [compressor.compress(rows) for _ in range(height // 500)]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat)
                     + _png_chunk(b"IEND", b""))
    return path


def test_a_20000_pixel_square_png_is_refused_from_its_header(tmp_path):
    path = write_blank_png(tmp_path / "huge.png", 20000, 20000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageLoadError) as caught:
        load_image(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "too large: 20000x20000 (400 MP)" in str(caught.value) and str(path) in str(caught.value)
    assert grown_mb < 100  # nothing was decoded


def test_an_8000x6000_image_that_does_not_fit_in_free_memory_fails_alone(demo_detector, tmp_path, monkeypatch,
                                                                          capsys):
    from engine import devices

    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (8000, 6000), (90, 120, 150)).save(folder / "big.jpg", quality=50)
    cv2.imwrite(str(folder / "small.png"), cv2.resize(make_scene(41).image, (160, 120))[:, :, ::-1])
    monkeypatch.setattr(detect_command, "make_detector", lambda args: demo_detector)
    # 20 MB free: the small image's call (about 4 MB) fits, the big one's (at 640x480, about 60 MB) does not
    monkeypatch.setattr(devices, "free_memory_bytes", lambda device: 20 * 2**20)
    out = tmp_path / "r.json"
    code = cli.main(["detect", str(folder), "--out", str(out), "--batch-size", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "1 images done" in err, err
    line = next(l for l in err.splitlines() if "big.jpg" in l)
    assert "not enough free memory" in line and "8000x6000" in line and "--size" in line
    assert [Path(im["file_name"]).name for im in json.loads(out.read_text())["images"]] == ["small.png"]


def test_the_limit_follows_the_model_input_not_the_file(demo_detector):
    transform = demo_detector._models[0].transform
    assert limits.inference_too_large(transform, 6000, 8000) == ""  # the demo model shrinks it to 640x480
    assert limits.model_input_size(transform, 6000, 8000) == (480, 640)
    demo_detector._apply_size(6000)  # as with --size 6000: 6000x8000 (48 MP), over the limit
    try:
        assert "too large to analyse within memory" in limits.inference_too_large(transform, 6000, 8000)
    finally:
        demo_detector._apply_size(None)


def test_an_allocation_the_system_refuses_is_out_of_memory():
    from engine.devices import is_out_of_memory

    cpu = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: "
                       "you tried to allocate 3145728000 bytes.")
    assert is_out_of_memory(cpu) and is_out_of_memory(MemoryError()) and not is_out_of_memory(RuntimeError("x"))


@pytest.mark.parametrize("argv, message", [
    (("--size", "0"), "argument --size: must be from 32 to 8000, got 0"),
    (("--size", "-5"), "argument --size: must be from 32 to 8000, got -5"),
    (("--batch-size", "0"), "argument --batch-size: must be 1 or more, got 0"),
    (("--start", "inf"), "argument --start: not a time: 'inf'"),
    (("--start", "nan"), "argument --start: not a time: 'nan'"),
    (("--end", "nan"), "argument --end: not a time: 'nan'"),
])
def test_bad_numbers_are_refused_by_the_parser(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as caught:
        cli.main(["detect", str(tmp_path), *argv])
    assert caught.value.code == 2 and message in capsys.readouterr().err
