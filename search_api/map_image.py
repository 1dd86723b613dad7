"""A map drawn on the server as a PNG: what the web page shows where the browser has no WebGL.

Points are splatted into a numpy canvas (a small square each, later points on top), so a million
points take a fraction of a second and no plotting library is needed. Colours follow the
page's categorical palette, so the picture and the live map read the same.
"""
from __future__ import annotations

import io

import numpy as np

# Tableau 10, the page's categorical palette (web/src/colours.js); category i takes i % 10.
PALETTE = np.array([
    (78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
    (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172),
], dtype=np.uint8)
NOISE = np.array((170, 170, 170), dtype=np.uint8)
BACKGROUND = {"light": (255, 255, 255), "dark": (24, 26, 31)}
MARGIN = 0.04


def render_map(coords: np.ndarray, codes: np.ndarray | None, width: int, height: int, theme: str = "light") -> bytes:
    """PNG of points at `coords` (in [-1, 1], y up) coloured by `codes` (category index per
    point, negative for noise; None: one colour), fitted into width x height with equal axes."""
    from PIL import Image

    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND[theme]
    if len(coords):
        side = min(width, height) * (1 - 2 * MARGIN) / 2
        px = np.clip(np.round(width / 2 + coords[:, 0] * side).astype(np.int64), 0, width - 2)
        py = np.clip(np.round(height / 2 - coords[:, 1] * side).astype(np.int64), 0, height - 2)
        if codes is None:
            colours = np.broadcast_to(PALETTE[0], (len(coords), 3))
        else:
            codes = np.asarray(codes)
            colours = np.where((codes < 0)[:, None], NOISE, PALETTE[np.maximum(codes, 0) % len(PALETTE)])
        # Fewer points, bigger dots: 4 px for a few dozen, 2 px from about 10k up.
        dot = int(np.clip(round(6 - np.log10(len(coords))), 2, 5))
        px, py = np.minimum(px, width - dot), np.minimum(py, height - dot)
        # Fancy-index assignment keeps the last write per pixel: later rows are drawn on top.
        for dy in range(dot):
            for dx in range(dot):
                canvas[py + dy, px + dx] = colours
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, format="PNG", optimize=False)
    return out.getvalue()
