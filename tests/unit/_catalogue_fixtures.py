"""Generated files for the catalogue adapter tests: tiny PNGs, SVGs with RDF, fake trees."""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from PIL import Image


def tiny_png(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), colour).save(path)
    return path


def svg_with_rdf(title: str = "", keywords: list[str] | None = None, description: str = "", author: str = "",
                 default_namespace: bool = True, raw_title: str | None = None) -> str:
    """An SVG laid out like the Debian openclipart files (Inkscape 0.3x era).

    raw_title is inserted unescaped, to make a malformed file.
    """
    lis = "".join(f"<rdf:li>{escape(k)}</rdf:li>" for k in keywords or [])
    xmlns = ' xmlns="http://www.w3.org/2000/svg"' if default_namespace else ""
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 20010904//EN" "http://www.w3.org/TR/2001/REC-SVG-20010904/DTD/svg10.dtd">
<svg{xmlns} width="10" height="10">
  <metadata>
    <rdf:RDF xmlns:cc="http://web.resource.org/cc/" xmlns:dc="http://purl.org/dc/elements/1.1/"
             xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
      <cc:Work rdf:about="">
        <dc:title>{raw_title if raw_title is not None else escape(title)}</dc:title>
        <dc:description>{escape(description)}</dc:description>
        <dc:subject><rdf:Bag>{lis}<rdf:li></rdf:li></rdf:Bag></dc:subject>
        <dc:publisher><cc:Agent rdf:about="http://www.openclipart.org"><dc:title>Publisher Name</dc:title></cc:Agent></dc:publisher>
        <dc:creator><cc:Agent><dc:title>{escape(author)}</dc:title></cc:Agent></dc:creator>
        <dc:format>image/svg+xml</dc:format>
      </cc:Work>
    </rdf:RDF>
  </metadata>
  <rect width="10" height="10" style="fill:#ff0000"/>
</svg>
"""


def make_openclipart_tree(root: Path) -> Path:
    """Two categories, nested folders, a malformed SVG, a PNG without SVG, a symlinked alias."""
    files = {
        "animals/mammals/housecats/cat_01": svg_with_rdf(
            "Sleeping cat", ["cat", "mammal", "unsorted", "cat", "lemon_theme_icon"], "A cat asleep.", "Ann Artist"),
        "animals/bird_01": svg_with_rdf("Bird", ["bird", "hash", "hash(0x8a07754)"], "", "Bob", default_namespace=False),
        # Malformed: a bare "&" in the title; expat rejects the whole file.
        "animals/dog_bob_01": svg_with_rdf(keywords=["dog"], description="Good dog", author="Bob", raw_title="Dogs & cats"),
        # Not XML at all, and no metadata to find: title comes from the file name.
        "food/fruit/green_apple_01": "this is not an svg <<<",
        # A collection label as title: the file name is added to the text.
        "food/calzettoni": svg_with_rdf("Various Cliparts", [], "", "Carla"),
    }
    for rel, svg in files.items():
        tiny_png(root / "png" / f"{rel}.png")
        (root / "svg" / f"{rel}.svg").parent.mkdir(parents=True, exist_ok=True)
        (root / "svg" / f"{rel}.svg").write_text(svg, encoding="utf-8")
    tiny_png(root / "png" / "food" / "no_svg_pear_01.png", (10, 200, 10))
    # The same picture filed under a second category, as the Debian package does.
    (root / "png" / "food" / "fruit" / "cat_alias_01.png").symlink_to(root / "png/animals/mammals/housecats/cat_01.png")
    (root / "svg" / "food" / "fruit" / "cat_alias_01.svg").symlink_to(root / "svg/animals/mammals/housecats/cat_01.svg")
    return root
