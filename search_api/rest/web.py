"""The web map at `/`: its page and its content-hashed assets, built from web/ into static/map.

The page holds no data (everything comes from the API, with the key when one is needed), so it
is served without a key. Assets are content-hashed, so they are cached for a year; the page
itself is revalidated on every load so a re-built map is picked up at once. Every answer
carries a Content-Security-Policy that allows nothing outside this server.
"""
from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

STATIC = Path(__file__).resolve().parent.parent / "static" / "map"
BUILD_COMMAND = "make web"
CSP = "; ".join([
    "default-src 'self'",
    # regl (the WebGL layer under regl-scatterplot) compiles its draw commands with new Function;
    # eval still loads nothing from anywhere else.
    "script-src 'self' 'unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    # regl-scatterplot builds its spatial index in a worker made from a blob.
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_ASSET = re.compile(r"^[A-Za-z0-9_-]+\.(js|css)$")
_MEDIA = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

router = APIRouter(include_in_schema=False)

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vitrina: web map not built</title></head>
<body><h1>The web map is not built</h1>
<p>This server was installed from a source checkout whose web assets have not been built yet.
Run <code>{command}</code> in the repository (it runs <code>npm ci &amp;&amp; npm run build</code> in
<code>web/</code>), then reload this page. The API itself works: see <a href="/docs">/docs</a>.</p>
</body></html>"""


@router.get("/", response_class=HTMLResponse)
def web_map() -> Response:
    page = STATIC / "index.html"
    if not page.is_file():
        return HTMLResponse(_NOT_BUILT.format(command=BUILD_COMMAND), status_code=503,
                            headers={**SECURITY_HEADERS, "Cache-Control": "no-store", "Retry-After": "3600"})
    return HTMLResponse(page.read_text(encoding="utf-8"), headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/static/map/assets/{name}")
def web_asset(name: str) -> Response:
    path = STATIC / "assets" / name
    match = _ASSET.match(name)
    if match is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no web asset {name[:100]!r}")
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
    return FileResponse(path, media_type=_MEDIA[match.group(1)], headers=headers)
