"""load_image: every format and mode a user drops comes back as upright RGB uint8, and every
file that cannot be read raises one error type that names the file and the reason."""

import numpy as np
import pytest
from PIL import Image

from engine.images import ImageLoadError, image_size, load_image, scan_paths


def _gradient(height=30, width=40) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 6, y * 8, np.full_like(x, 128)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp", ".tif", ".webp"])
def test_each_format_loads_as_rgb(tmp_path, suffix):
    path = tmp_path / f"image{suffix}"
    Image.fromarray(_gradient()).save(path)
    image = load_image(path)
    assert image.shape == (30, 40, 3) and image.dtype == np.uint8
    assert abs(int(image[15, 20, 0]) - 120) <= 12  # lossy formats stay close


@pytest.mark.parametrize(
    "mode,pixel,expected",
    [
        ("L", 200, (200, 200, 200)),
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),  # transparent composites over white
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
    ],
)
def test_modes_are_converted(tmp_path, mode, pixel, expected):
    path = tmp_path / ("image.tif" if mode in ("CMYK", "I;16") else "image.png")
    Image.new(mode, (8, 6), pixel).save(path)
    image = load_image(path)
    assert image.shape == (6, 8, 3)
    assert tuple(int(v) for v in image[3, 4]) == expected


def test_palette_image(tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(_gradient()).convert("P").save(path)
    assert load_image(path).shape == (30, 40, 3)


def test_sixteen_bit_png_keeps_its_range(tmp_path):
    path = tmp_path / "deep.png"
    data = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (4, 1))
    Image.fromarray(data).save(path)
    image = load_image(path)
    assert image[0, 0, 0] == 0 and image[0, -1, 0] == 255


def test_exif_orientation_is_applied(tmp_path):
    array = np.zeros((20, 60, 3), np.uint8)
    array[:, :10] = (255, 0, 0)  # a red band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(array).save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.shape == (60, 20, 3)
    assert image[2, 10, 0] > 200 and image[-3, 10, 0] < 60  # the band is now at the top
    assert image_size(path) == (60, 20)


def test_non_ascii_path(tmp_path):
    folder = tmp_path / "Fotos für Zoë 写真"
    folder.mkdir()
    path = folder / "Überprüfung ü.png"
    Image.fromarray(_gradient()).save(path)
    assert load_image(path).shape == (30, 40, 3)


def _expect_error(path, words):
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(path) in str(info.value)
    assert any(w in info.value.reason for w in words), info.value.reason


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nothing.png", ["not found"])


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _expect_error(path, ["empty"])


def test_truncated_file(tmp_path):
    path = tmp_path / "cut.png"
    Image.fromarray(_gradient(200, 200)).save(path)
    path.write_bytes(path.read_bytes()[:300])
    _expect_error(path, ["truncated", "corrupt"])


def test_not_an_image(tmp_path):
    path = tmp_path / "letter.jpg"
    path.write_text("Dear reviewer, this is not a picture.")
    _expect_error(path, ["not an image"])


def test_scan_paths_sorts_images_videos_and_others(tmp_path):
    (tmp_path / "sub" / ".hidden").mkdir(parents=True)
    for name in ["b.png", "a.JPG", "sub/c.webp", "sub/clip.mp4", "notes.txt", "sub/.hidden/x.png"]:
        (tmp_path / name).write_bytes(b"x")
    scan = scan_paths([tmp_path, tmp_path / "gone.png"])
    assert [p.name for p in scan.images] == ["a.JPG", "b.png", "c.webp"]
    assert [p.name for p in scan.videos] == ["clip.mp4"]
    assert [p.name for p in scan.skipped] == ["notes.txt"]
    assert [p.name for p in scan.missing] == ["gone.png"]
