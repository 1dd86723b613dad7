"""Safe image decoding shared by the indexer and the API.

Catalogues contain hostile-looking but honest files (openclipart has PNGs of
600 megapixels) and broken ones, so every image goes through `load_image`:
the pixel count is checked from the header *before* anything is decoded,
JPEGs that are too large are decoded at a reduced scale instead of refused,
transparency is flattened onto white (what a catalogue page shows), and
every failure is one of two typed errors the indexer can report per item.
"""
from __future__ import annotations

import io
import math
import struct
import zlib
from os import PathLike
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

DEFAULT_MAX_PIXELS = 40_000_000

# PIL's own decompression-bomb guard runs inside Image.open, before
# `load_image` can look at the header, and refuses anything above twice this
# value. Left at PIL's default (~89 MP) it would refuse huge JPEGs that
# `draft()` can decode at 1/8 scale, so it is raised to a backstop far above
# any sane cap; `load_image` enforces the real, per-call limit itself. It is
# only ever raised, never lowered or disabled, so code elsewhere in the
# process that opens images directly keeps a guard.
PIL_BACKSTOP_PIXELS = 1_000_000_000
if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < PIL_BACKSTOP_PIXELS:
    Image.MAX_IMAGE_PIXELS = PIL_BACKSTOP_PIXELS

# Scales libjpeg can decode at directly (Image.draft), smallest reduction first.
_JPEG_DRAFT_SCALES = (2, 4, 8)

# What PIL raises for malformed data varies by codec: truncated streams give
# OSError, bad headers SyntaxError, odd chunk sizes struct.error/EOFError,
# broken zlib streams zlib.error.
_DECODE_FAILURES = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, Image.UnidentifiedImageError)

MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}

ImageSource = str | PathLike | bytes | bytearray | memoryview


class ImageError(ValueError):
    """An image that cannot be used; the message names the file and why."""


class ImageDecodeError(ImageError):
    """The data is not a readable image (corrupt, truncated, unknown format)."""


class ImageTooLarge(ImageError):
    """The image has more pixels than the caller allows."""

    def __init__(self, source: str, size: tuple[int, int] | None, pixels: int, max_pixels: int):
        self.size = size
        self.pixels = pixels
        self.max_pixels = max_pixels
        dims = f"{size[0]}x{size[1]} = " if size else ""
        super().__init__(f"{source}: image is {dims}{pixels:,} pixels, over the cap of {max_pixels:,} pixels")


def load_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode `source` (a path or the file's bytes) into an RGB PIL image.

    Raises ImageTooLarge when width*height exceeds `max_pixels` and the
    image cannot be decoded reduced, ImageDecodeError when the data is not a
    readable image, and FileNotFoundError when a path does not exist.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    name = _describe(source)
    stream = _open_stream(source)
    try:
        image = _open_header(stream, name, max_pixels)
        _fit_pixel_cap(image, name, max_pixels)
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(name, image.size, image.width * image.height, max_pixels) from exc
        except _DECODE_FAILURES as exc:
            raise ImageDecodeError(f"{name}: cannot decode image data ({exc})") from exc
        return to_rgb(_upright(image))
    finally:
        stream.close()


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB, compositing transparency onto white."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # PIL's convert() clips these to 0..255, which turns 16-bit scans white.
        image = _high_bit_depth_to_l(image)
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def thumbnail(image: Image.Image, size: int | tuple[int, int], format: str = "JPEG", quality: int = 85) -> bytes:
    """Encode a copy of `image` shrunk to fit `size` (max side, or (w, h)) as JPEG or PNG bytes.

    Aspect ratio is kept and images are never enlarged. See MEDIA_TYPES for
    the matching Content-Type.
    """
    fmt = format.upper()
    if fmt == "JPG":
        fmt = "JPEG"
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"thumbnail format must be one of {sorted(MEDIA_TYPES)}, got {format!r}")
    box = (size, size) if isinstance(size, int) else tuple(size)
    if min(box) <= 0:
        raise ValueError(f"thumbnail size must be positive, got {size!r}")
    # Image.thumbnail works in place; the caller's image must stay untouched.
    small = (to_rgb(image) if fmt == "JPEG" else image).copy()
    # reducing_gap lets PIL shrink by whole factors first: much faster on
    # large images and indistinguishable at thumbnail size.
    small.thumbnail(box, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    if fmt == "JPEG":
        small.save(out, "JPEG", quality=quality, optimize=True)
    else:
        small.save(out, "PNG", optimize=True)
    return out.getvalue()


def _describe(source: ImageSource) -> str:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes>"
    return str(source)


def _open_stream(source: ImageSource) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    # Opened here rather than by PIL so a missing file stays FileNotFoundError
    # instead of being mistaken for corrupt data.
    return open(Path(source), "rb")


def _open_header(stream: BinaryIO, name: str, max_pixels: int) -> Image.Image:
    """Parse only the header: no pixel data is decoded yet."""
    try:
        return Image.open(stream)
    except Image.DecompressionBombError as exc:
        # Raised by PIL's backstop before the size is available to us; the
        # effective cap is whichever of the two limits is lower.
        effective_cap = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or max_pixels))
        raise ImageTooLarge(name, None, _pixels_from_bomb_message(str(exc)), effective_cap) from exc
    except _DECODE_FAILURES as exc:
        raise ImageDecodeError(f"{name}: not a readable image ({exc})") from exc


def _fit_pixel_cap(image: Image.Image, name: str, max_pixels: int) -> None:
    """Make `image` decode within `max_pixels`, reducing JPEGs, or raise ImageTooLarge."""
    width, height = image.size
    if width * height <= max_pixels:
        return
    # MPO is the multi-picture JPEG many cameras write; it drafts like JPEG.
    if image.format in ("JPEG", "MPO"):
        for scale in _JPEG_DRAFT_SCALES:
            target = (math.ceil(width / scale), math.ceil(height / scale))
            if target[0] * target[1] <= max_pixels:
                # draft() picks the largest libjpeg scale whose output is still >= target.
                image.draft(None, target)
                break
        if image.width * image.height <= max_pixels:
            return
    raise ImageTooLarge(name, (width, height), width * height, max_pixels)


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation cameras record, so photos show the way up they were taken."""
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_FAILURES:
        # Broken EXIF must not cost an otherwise good image.
        return image


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    values = np.asarray(image)
    if image.mode == "F":
        top = float(values.max()) if values.size else 1.0
        scaled = values / (top if top > 0 else 1.0) * 255.0
    else:
        # 16-bit sources (I;16*, and PNGs PIL opens as "I") use 0..65535.
        scaled = values.astype(np.float64) / 257.0
    # A 16-bit tRNS colour would not match after scaling, so the result is opaque.
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8))


def _pixels_from_bomb_message(message: str) -> int:
    # "Image size (600000000 pixels) exceeds limit of ..." is the only place
    # PIL reports the size when its guard fires inside Image.open.
    digits = message.split("(", 1)[-1].split(" ", 1)[0]
    return int(digits) if digits.isdigit() else 0
