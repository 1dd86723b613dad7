"""Safe image decoding: caps checked before decoding, transparency on white, typed errors."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from vitrina.training.images import (
    DEFAULT_MAX_PIXELS,
    MEDIA_TYPES,
    ImageDecodeError,
    ImageTooLarge,
    load_image,
    thumbnail,
)

WHITE, RED, BLUE = (255, 255, 255), (255, 0, 0), (0, 0, 255)


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, followed by an empty data chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_rgb_passes_through_from_path(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (5, 4), RED).save(path)
    image = load_image(path)
    assert image.mode == "RGB" and image.size == (5, 4)
    assert image.getpixel((0, 0)) == RED
    assert load_image(str(path)).getpixel((2, 2)) == RED


def test_rgba_transparent_background_composites_to_white():
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.putpixel((4, 4), (*RED, 255))
    rgba.putpixel((1, 1), (0, 0, 0, 128))
    image = load_image(_encode(rgba))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((4, 4)) == RED
    assert all(120 <= c <= 135 for c in image.getpixel((1, 1)))


def test_la_composites_to_white():
    la = Image.new("LA", (4, 4), (0, 0))
    la.putpixel((2, 2), (0, 255))
    image = load_image(_encode(la))
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((2, 2)) == (0, 0, 0)


def test_palette_png_with_transparency_composites_to_white():
    palette = Image.new("P", (6, 6), 0)
    palette.putpalette([0, 0, 0, *BLUE] + [0] * (256 - 2) * 3)
    palette.putpixel((3, 3), 1)
    data = _encode(palette, transparency=0)
    assert Image.open(io.BytesIO(data)).info.get("transparency") == 0
    image = load_image(data)
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == WHITE
    assert image.getpixel((3, 3)) == BLUE


def test_16_bit_grayscale_keeps_its_range():
    values = np.array([[0, 32768], [65535, 65535]], dtype=np.uint16)
    data = _encode(Image.fromarray(values))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    image = load_image(data)
    assert image.getpixel((0, 0)) == (0, 0, 0)
    assert 126 <= image.getpixel((1, 0))[0] <= 129
    assert image.getpixel((0, 1)) == WHITE


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = _encode(Image.new("RGB", (40, 20), RED), "JPEG", exif=exif.tobytes())
    assert load_image(data).size == (20, 40)


@pytest.mark.parametrize(
    "make_data",
    [
        lambda: b"definitely not an image",
        lambda: b"",
        # Noise does not compress, so cutting the file in half cuts into pixel data.
        lambda: _encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)))[:6000],
        lambda: _encode(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")[:3000],
    ],
    ids=["garbage", "empty", "truncated-png", "truncated-jpeg"],
)
def test_corrupt_or_truncated_data_raises_decode_error(make_data):
    with pytest.raises(ImageDecodeError) as caught:
        load_image(make_data())
    assert isinstance(caught.value, ValueError)
    assert "bytes>" in str(caught.value)


def test_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.png")


def test_corrupt_file_error_names_the_path(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageDecodeError, match="broken.png"):
        load_image(path)


def test_image_over_the_default_cap_is_refused_from_its_header():
    # 100 MP in mode "1" is 12 MB raw and a few kB as PNG.
    data = _encode(Image.new("1", (10_000, 10_000)))
    with pytest.raises(ImageTooLarge) as caught:
        load_image(data)
    error = caught.value
    assert error.pixels == 100_000_000 and error.max_pixels == DEFAULT_MAX_PIXELS
    assert "100,000,000" in str(error) and "40,000,000" in str(error)


def test_image_over_a_low_cap_is_refused_and_under_it_accepted():
    data = _encode(Image.new("RGB", (200, 100), RED))
    with pytest.raises(ImageTooLarge, match="200x100"):
        load_image(data, max_pixels=19_999)
    assert load_image(data, max_pixels=20_000).size == (200, 100)


def test_pil_bomb_guard_becomes_image_too_large():
    # Header claims 60000 x 60000 = 3.6 GP: PIL's own guard fires inside Image.open.
    with pytest.raises(ImageTooLarge, match="3,600,000,000"):
        load_image(_png_header_only(60_000, 60_000))


def test_large_jpeg_is_decoded_reduced_instead_of_refused():
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)), "JPEG")
    image = load_image(data, max_pixels=500_000)
    # Half scale (800 x 600 = 480,000) is the first libjpeg scale under the cap.
    assert image.size == (800, 600) and image.mode == "RGB"
    assert load_image(data, max_pixels=100_000).size == (200, 150)
    with pytest.raises(ImageTooLarge):
        load_image(data, max_pixels=10_000)  # even 1/8 scale (30,000 px) is over


def test_large_png_is_refused_not_reduced():
    data = _encode(Image.new("RGB", (1600, 1200), RED))
    with pytest.raises(ImageTooLarge):
        load_image(data, max_pixels=500_000)


def test_max_pixels_must_be_positive():
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(b"", max_pixels=0)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_thumbnail_fits_the_box_and_keeps_aspect(fmt):
    original = Image.new("RGBA", (400, 200), (*RED, 255))
    data = thumbnail(original, 100, format=fmt)
    small = Image.open(io.BytesIO(data))
    assert small.format == fmt and small.size == (100, 50)
    assert original.size == (400, 200)  # the caller's image is untouched
    assert fmt in MEDIA_TYPES


def test_thumbnail_never_enlarges_and_flattens_alpha_for_jpeg():
    transparent = Image.new("RGBA", (30, 20), (0, 0, 0, 0))
    small = Image.open(io.BytesIO(thumbnail(transparent, (200, 200))))
    assert small.size == (30, 20) and small.mode == "RGB"
    assert all(c >= 250 for c in small.getpixel((5, 5)))


def test_thumbnail_rejects_unknown_format():
    with pytest.raises(ValueError, match="format"):
        thumbnail(Image.new("RGB", (4, 4)), 2, format="GIF")
