"""A map drawn on the server as a PNG: what the web page shows where the browser has no WebGL.

Points are splatted into a numpy canvas (a small square each, later points on top), so a million
points take a fraction of a second and no plotting library is needed. Colours follow the
page's categorical palette, so the picture and the live map read the same.
"""
from __future__ import annotations

import io

import numpy as np

# The page's categorical palette (web/src/colours.js): Tableau 10, then 10 more hues; ranks past
# it share the noise grey, as on the page.
PALETTE = np.array([
    (78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
    (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172),
    (160, 203, 232), (255, 190, 125), (255, 157, 154), (134, 188, 182), (140, 209, 125),
    (241, 206, 99), (212, 166, 200), (250, 191, 210), (211, 114, 149), (73, 152, 148),
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
            known = (codes >= 0) & (codes < len(PALETTE))
            colours = np.where(known[:, None], PALETTE[np.clip(codes, 0, len(PALETTE) - 1)], NOISE)
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
