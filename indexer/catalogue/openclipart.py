"""`openclipart[:<root>]`: the Debian openclipart-png + openclipart-svg packages.

Layout (default root /usr/share/openclipart):

    png/<category>/<sub/folders>/<name>.png   the image (image_ref)
    svg/<category>/<sub/folders>/<name>.svg   same tree; its RDF metadata gives the text

About 15 % of the files in both trees are symlinks to a picture filed under another
category too; each is its own item (its own id and category), counted in
report["image_aliases"].

Text of an item: "<title>. <keyword, keyword>. <description>", empty parts skipped.
When the file name has a word found in neither title, author nor keywords, the
name from the file (without its _01 counter) follows the title: many titles are
collection labels ("gramastar" for ~1,400 stars, "Part of the Flat Icon Collection
...", "Various Cliparts"), and then only the file name (cdinfo, calzettoni) says
what the picture shows (report["names_from_filename"]).
Keywords drop empty <rdf:li/>, repeats, the literal "unsorted" (a placeholder for
"no keywords yet") and Perl artifacts of the collection's export scripts: "hash",
"hash(0x8a07754)", "0x8b754fc" (report["keywords_dropped"]; "HASH(0x...)" is also
removed from titles, descriptions and authors). The rest are kept verbatim in
metadata["keywords"], with "_" read as a space in the text.
"""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vitrina.indexer.catalogue._common import clean, image_status_for, join_text, new_report, title_from_stem
from vitrina.indexer.catalogue._tree import TreeCatalogue, TreeEntry
from vitrina.indexer.catalogue.base import CatalogueError, Item

DEFAULT_ROOT = Path("/usr/share/openclipart")
PLACEHOLDER_KEYWORDS = frozenset({"unsorted"})
# The collection's export scripts stringified Perl references: "HASH(0x862bbb8)" as a
# title, description or keyword, and keywords "hash" and "0x8b754fc" split from it.
_PERL_ARTIFACT = re.compile(r"(?i)\bhash\(0x[0-9a-f]+\)|^(?:hash|0x[0-9a-f]+)$")


@dataclass
class SvgMetadata:
    title: str = ""
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    author: str = ""


def _local(tag: Any) -> str:
    # Comments and processing instructions have a function as tag.
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if _local(c.tag) == name), None)


def _text(el: ET.Element | None) -> str:
    # itertext also covers <dc:description><rdf:Alt><rdf:li>...</rdf:li></rdf:Alt>.
    return clean("".join(el.itertext())) if el is not None else ""


def _from_rdf(container: ET.Element) -> SvgMetadata:
    # cc:Work in every Debian file; rdf:Description in files from other editors.
    work = next((e for e in container.iter() if _local(e.tag) in ("Work", "Description")), None)
    if work is None:
        return SvgMetadata()
    meta = SvgMetadata(title=_text(_child(work, "title")), description=_text(_child(work, "description")))
    subject = _child(work, "subject")
    if subject is not None:
        items = [e for e in subject.iter() if _local(e.tag) == "li"]
        meta.keywords = [_text(li) for li in items] if items else _text(subject).split(",")
    creator = _child(work, "creator")
    if creator is not None:
        # dc:creator/cc:Agent/dc:title, or plain text in hand-written files.
        name = next((e for e in creator.iter() if _local(e.tag) == "title"), None)
        meta.author = _text(name) if name is not None else _text(creator)
    return meta


def _parse_xml(path: Path) -> SvgMetadata:
    """Stops at the end of the metadata: it precedes the drawing, most of the file."""
    with open(path, "rb") as fh:
        for _, el in ET.iterparse(fh, events=("end",)):
            name = _local(el.tag)
            if name == "RDF":
                return _from_rdf(el)
            if name == "metadata":  # metadata without rdf:RDF
                return _from_rdf(el)
    return SvgMetadata()


def _rx(name: str) -> str:
    # (?<!/) skips self-closing tags such as <rdf:li/>, which have no content.
    return rf"<(?:[\w.-]+:)?{name}\b[^>]*(?<!/)>(.*?)</(?:[\w.-]+:)?{name}\s*>"


def _rx_text(fragment: str) -> str:
    return clean(html.unescape(re.sub(r"<[^>]*>", "", fragment)))


def _parse_regex(path: Path) -> SvgMetadata:
    """Best effort for files expat rejects (stray '&', undeclared entities, truncation)."""
    raw = path.read_bytes().decode("utf-8", "replace")
    found = re.search(_rx("Work"), raw, re.S) or re.search(_rx("metadata"), raw, re.S)
    if not found:
        return SvgMetadata()
    block = found.group(1)
    meta = SvgMetadata()
    creator = re.search(_rx("creator"), block, re.S)
    if creator:
        name = re.search(_rx("title"), creator.group(1), re.S)
        meta.author = _rx_text(name.group(1) if name else creator.group(1))
    # Agents (creator, publisher, rights) have their own dc:title; drop them first.
    own = re.sub(r"<(?:[\w.-]+:)?(creator|publisher|rights|contributor)\b.*?</(?:[\w.-]+:)?\1\s*>", "", block, flags=re.S)
    for attr in ("title", "description"):
        m = re.search(_rx(attr), own, re.S)
        if m:
            setattr(meta, attr, _rx_text(m.group(1)))
    subject = re.search(_rx("subject"), own, re.S)
    if subject:
        meta.keywords = [_rx_text(v) for v in re.findall(_rx("li"), subject.group(1), re.S)]
    return meta


def read_svg_metadata(path: str | Path) -> tuple[SvgMetadata, bool]:
    """Title, description, keywords and author of an SVG; True when the regex fallback was used."""
    path = Path(path)
    try:
        return _parse_xml(path), False
    except (ET.ParseError, UnicodeError, ValueError):
        return _parse_regex(path), True


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W_]+", text.casefold()))


def _drop_artifacts(text: str) -> str:
    return clean(_PERL_ARTIFACT.sub("", text))


def _keywords(raw: list[str]) -> tuple[list[str], int]:
    """Non-empty keywords, first spelling of each kept, placeholders dropped."""
    seen: set[str] = set()
    out: list[str] = []
    dropped = 0
    for kw in raw:
        kw = clean(kw)
        key = kw.casefold()
        if not kw or key in seen:
            continue
        seen.add(key)
        if key in PLACEHOLDER_KEYWORDS or not _drop_artifacts(kw):
            dropped += 1
            continue
        out.append(kw)
    return out, dropped


class OpenClipartCatalogue(TreeCatalogue):
    extensions = frozenset({".png"})

    def __init__(self, root: str | Path = DEFAULT_ROOT, spec: str | None = None):
        path = Path(root).expanduser().absolute()
        if not (path / "png").is_dir():
            what = "does not exist" if not path.exists() else "has no png/ folder"
            raise CatalogueError(
                f"openclipart catalogue: {path} {what}; expected <root>/png and <root>/svg as installed by "
                f"the Debian packages openclipart-png and openclipart-svg (apt-get install openclipart-png "
                f"openclipart-svg), or give another root with openclipart:<root>"
            )
        super().__init__(spec or ("openclipart" if path == DEFAULT_ROOT else f"openclipart:{path}"), path)
        self.svg_root = path / "svg"

    def _image_root(self) -> Path:
        return self.root / "png"  # type: ignore[operator]

    def _new_report(self) -> dict[str, Any]:
        return new_report(
            svg_missing=0,  # PNG without SVG: title from the file name
            metadata_fallbacks=0,  # malformed SVG read with the regex fallback
            titles_from_filename=0,  # no usable dc:title (includes svg_missing)
            names_from_filename=0,  # file name says more than the title: added to the text
            keywords_dropped=0,
            image_aliases=0,  # PNG that is a symlink to another item's picture
        )

    def _make(self, entry: TreeEntry) -> Item:
        report = self.report
        svg = self.svg_root / (entry.id + ".svg")
        if svg.is_file():
            meta, fallback = read_svg_metadata(svg)
            report["metadata_fallbacks"] += fallback
        else:
            meta = SvgMetadata()
            report["svg_missing"] += 1
        meta.title, meta.description, meta.author = map(_drop_artifacts, (meta.title, meta.description, meta.author))
        name = title_from_stem(entry.id.rsplit("/", 1)[-1], drop_counter=True)
        title = meta.title or name
        report["titles_from_filename"] += not meta.title
        keywords, dropped = _keywords(meta.keywords)
        report["keywords_dropped"] += dropped
        # File names are "<title>_<author>" cut at 25 characters, hence prefixes. A name
        # word found in none of title, author and keywords means the title is a collection
        # label ("Various Cliparts" for unsorted/calzettoni): the name says what it shows.
        known = _words(" ".join([title, meta.author, *keywords]))
        novel = any(not any(k.startswith(w) for k in known) for w in _words(name))
        extra = name if meta.title and novel else ""
        report["names_from_filename"] += bool(extra)
        if Path(entry.path).is_symlink():
            report["image_aliases"] += 1
        return Item(
            id=entry.id,
            title=title,
            text=join_text([title, extra, ", ".join(k.replace("_", " ") for k in keywords), meta.description]),
            image_ref=entry.path,
            metadata={
                "category": entry.category,
                "subcategory": entry.subcategory,
                "keywords": keywords,
                "author": meta.author or None,
            },
            image_status=image_status_for(entry.path),
        )
