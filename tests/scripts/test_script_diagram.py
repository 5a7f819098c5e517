"""``scripts draw``: the graph's nodes are the script's steps; edges carry the conditions.

SVG and PNG come from what ``make`` installs: these tests run with no ``dot`` program on the PATH.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

from dialogs.catalog import ScriptCatalog
from dialogs.diagram import DiagramError, draw
from dialogs.graphics import svg_to_png

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> ScriptCatalog:
    return ScriptCatalog()


def svg_nodes(svg: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            title = group.find(f"{SVG}title")
            assert title is not None and title.text
            nodes[title.text] = group
    return nodes


def svg_edges(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return [
        "".join(t.itertext())
        for group in root.iter(f"{SVG}g")
        if group.get("class") == "edge"
        for t in group.iter(f"{SVG}text")
    ]


@pytest.mark.parametrize(
    "script_id", ["officer_phone_visit", "onsite_visit", "self_checkin", "visit_refusal", "overdue_reminder"]
)
def test_svg_nodes_are_the_steps(catalog: ScriptCatalog, script_id: str) -> None:
    script = catalog.latest(script_id).script
    svg = draw(script, "svg")
    assert len(svg) > 1000
    nodes = svg_nodes(svg)
    assert set(nodes) == {s.id for s in script.steps}
    for step in script.steps:
        fills = {e.get("fill") for e in nodes[step.id] if e.get("fill")}
        assert ("lightgrey" in fills) == (step.outcome is not None), step.id  # outcomes are grey octagons


def test_svg_edges_carry_the_conditions(catalog: ScriptCatalog) -> None:
    labels = svg_edges(draw(catalog.latest("officer_phone_visit").script, "svg", locale="en"))
    assert "answer == 'poor'" in labels and "else" in labels and "next" in labels
    assert any("identity" in label and "self" in label for label in labels)


def test_png_is_an_image(catalog: ScriptCatalog) -> None:
    png = draw(catalog.latest("visit_refusal").script, "png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000


def test_mermaid_needs_no_graphviz(catalog: ScriptCatalog) -> None:
    script = catalog.latest("overdue_reminder").script
    text = draw(script, "mermaid").decode("utf-8")
    assert "stateDiagram-v2" in text and "[*] --> identity" in text
    for step in script.steps:
        assert f" as {step.id}\n" in text
    assert "Class closing s_outcome" in text and "Class identity s_start" in text
    assert "overdue_reason --> dispute_detail: answer == 'dispute'" in text


def test_unknown_format_is_refused(catalog: ScriptCatalog) -> None:
    with pytest.raises(DiagramError, match="unknown format"):
        draw(catalog.latest("overdue_reminder").script, "gif")


def test_node_boxes_hold_their_chinese_text(catalog: ScriptCatalog) -> None:
    # A CJK glyph is one em wide in any font; Graphviz in WebAssembly cannot measure it, the diagram must.
    svg = draw(catalog.latest("officer_phone_visit").script, "svg")
    for step_id, node in svg_nodes(svg).items():
        xs = [float(x) for shape in node if shape.tag != f"{SVG}text" for x in _xs(shape)]
        for text in node.iter(f"{SVG}text"):
            line = text.text or ""
            size = float(text.get("font-size", "14"))
            least = sum(1.0 if not c.isascii() else 0.45 for c in line) * size
            assert max(xs) - min(xs) >= least, (step_id, line)


def _xs(shape: ET.Element) -> list[str]:
    """The x coordinates of a polygon's points or a path's pairs."""
    numbers = re.findall(r"-?[\d.]+", shape.get("points") or shape.get("d") or "")
    return numbers[0::2]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG image, from its header."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def png_pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGBA PNG (what resvg writes; small ones: it is slow)."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos, data, width, height = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 6)
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw, stride, rows, previous = zlib.decompress(data), width * 4, [], bytes(width * 4)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left, up = line[i - 4] if i >= 4 else 0, previous[i]
            corner = previous[i - 4] if i >= 4 else 0
            guess = {0: 0, 1: left, 2: up, 3: (left + up) // 2, 4: _paeth(left, up, corner)}[kind]
            line[i] = (line[i] + guess) & 0xFF
        rows.append(bytes(line))
        previous = bytes(line)
    return width, height, rows


def _paeth(a: int, b: int, c: int) -> int:
    """PNG's Paeth predictor."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def glyph(char: str) -> list[bytes]:
    """The PNG pixels of one character set in the diagrams' font."""
    svg = (
        '<svg width="40pt" height="40pt" viewBox="0 0 40 40" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="4" y="32" font-family="sans-serif" font-size="32">{char}</text></svg>'
    )
    return png_pixels(svg_to_png(svg.encode("utf-8"), zoom=1.0))[2]


def test_png_sets_chinese_labels_in_real_glyphs() -> None:
    # Missing glyphs would all look alike (blank or the same box); real ones differ and have ink.
    shapes = {char: glyph(char) for char in "回访贷"}
    assert len({b"".join(rows) for rows in shapes.values()}) == 3
    for char, rows in shapes.items():
        ink = sum(1 for row in rows for i in range(0, len(row), 4) if row[i] < 128)
        assert ink > 40, char


def test_png_of_a_script_is_a_picture_of_its_size(catalog: ScriptCatalog) -> None:
    script = catalog.latest("visit_refusal").script
    svg = draw(script, "svg")
    size = re.search(rb'width="([\d.]+)pt"', svg)
    assert size is not None
    width_pt = float(size.group(1))
    png = draw(script, "png")
    width, height = png_size(png)
    assert width == pytest.approx(width_pt * 1.5, abs=2) and height > 500
    assert len(png) > width * height // 50  # not a blank page: a white PNG compresses to almost nothing


def path_without_dot() -> str:
    """The PATH with every folder holding a ``dot`` program left out."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [f for f in folders if f and not (Path(f) / "dot").exists()]
    return os.pathsep.join([str(Path(sys.executable).parent), *kept])


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_cli_draws_without_the_dot_program(tmp_path: Path, fmt: str) -> None:
    env = {**os.environ, "PATH": path_without_dot()}
    assert shutil.which("dot", path=env["PATH"]) is None
    visitbot = Path(sys.executable).with_name("visitbot")
    target = tmp_path / f"picture.{fmt}"
    args = [str(visitbot), "scripts", "draw", "overdue_reminder", "--format", fmt, "--output", str(target)]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    data = target.read_bytes()
    if fmt == "svg":
        assert set(svg_nodes(data)) >= {"identity", "overdue_reason", "dispute_detail"}
    else:
        assert png_size(data)[0] > 300 and len(data) > 20_000
