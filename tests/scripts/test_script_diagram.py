"""``scripts draw``: the graph's nodes are the script's steps; edges carry the conditions."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dialogs.catalog import ScriptCatalog
from dialogs.diagram import DiagramError, draw

SVG = "{http://www.w3.org/2000/svg}"


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
