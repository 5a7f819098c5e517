"""``visitbot scripts draw``: a script's graph as Mermaid text, SVG or PNG.

Nodes are steps (labelled with the answer kind and the start of the line; the first step is blue,
outcomes are grey double octagons), edges are branches labelled with their conditions (``else`` for
the fallback of a step that branches, ``next`` where a step simply goes on).
Mermaid comes from the diagram extension of ``transitions`` (the only module that imports it); SVG
and PNG from DOT text laid out by :mod:`dialogs.graphics`, which needs no ``dot`` program and no
system fonts. Graphviz there cannot measure text, so every node is made as wide as its estimated text.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import graphviz
from transitions import State
from transitions.extensions.diagrams import GraphMachine

from dialogs import graphics
from dialogs.errors import DialogError
from dialogs.i18n import pick
from dialogs.schema import Script, Step
from dialogs.scriptgraph import Edge, ScriptGraph

__all__ = ["FORMATS", "DiagramError", "dot_source", "draw"]

FORMATS = ("mermaid", "svg", "png")
TRIGGER = "advance"
FONT = "sans-serif"
"""Any viewer's sans-serif for SVG; the PNG maps it to the shipped CJK font."""
FONT_SIZE = 14.0
MARGIN = 8.0
"""Points between a label and its node's border on each side (Graphviz's default 0.11 inch)."""
OCTAGON_ROOM = 1.25
"""How much wider than its text an octagon must be for its slanted corners to clear the text."""
POINTS_PER_INCH = 72
OUTCOME_STYLE = {"shape": "doubleoctagon", "fillcolor": "lightgrey", "color": "black", "peripheries": "1"}
START_STYLE = {"shape": "rectangle", "fillcolor": "lightblue", "color": "black", "peripheries": "2"}


class DiagramError(DialogError):
    """A diagram could not be drawn (unknown format, a drawing package missing)."""


def _styles() -> Any:
    """GraphMachine's styles plus ours (a copy: the class attribute is shared by every machine)."""
    styles: dict[str, Any] = copy.deepcopy(GraphMachine.style_attributes)
    styles["node"]["outcome"] = OUTCOME_STYLE
    styles["node"]["start"] = START_STYLE
    return styles


class _StepState(State):
    """A state that carries a display label (the diagram's node text)."""

    def __init__(self, *args: Any, label: str | None = None, **kwargs: Any) -> None:
        """Keep the label (the step's id when none is given)."""
        super().__init__(*args, **kwargs)
        self.label = label or self.name


class _StepMachine(GraphMachine):
    """A graph machine whose states have labels."""

    state_cls = _StepState
    style_attributes = _styles()
    machine_attributes = {**GraphMachine.machine_attributes, "rankdir": "TB"}  # noqa: RUF012 - read top-down


def _node_lines(step: Step, locale: str) -> list[str]:
    """A node's text: step id, answer kind or outcome, and the start of its line."""
    if step.outcome is not None:
        detail = f"outcome: {step.outcome.value}"
    elif step.ask is not None:
        detail = step.ask.kind.value + (", skippable" if step.skippable else "")
    else:
        detail = "says"
    title = _excerpt(pick(step.say, locale)) if step.say else ""
    return [step.id, detail] + ([title] if title else [])


def _excerpt(line: str, size: int = 24) -> str:
    """The start of a line, with template values shown as an ellipsis."""
    text = " ".join(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "…", line).split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _escape(text: str) -> str:
    """Text safe inside a graphviz label."""
    return text.replace("\\", "\\\\").replace('"', "'").replace("{", "(").replace("}", ")")


def _label(lines: Sequence[str], *, octagon: bool = False) -> dict[str, str]:
    """A node's label and its least width (inches) for the estimated text size.

    Graphviz in WebAssembly has no fonts and guesses CJK text too narrow; ``width`` is a minimum, so a
    label it measures wider keeps its own size. An octagon needs room around the text for its corners.
    """
    text_width = max(graphics.text_width(line, FONT_SIZE) for line in lines) + 2 * MARGIN
    width = text_width * (OCTAGON_ROOM if octagon else 1.0) / POINTS_PER_INCH
    return {"label": "\\n".join(_escape(line) for line in lines), "width": f"{width:.2f}"}


def _edge_label(edge: Edge, *, branching: bool, mermaid: bool) -> str:
    """An edge's text: the condition, else/next, and the identity mark."""
    label = edge.when or ("else" if branching else "next")
    if edge.confirms_identity:
        label += " ✔ identity"
    if mermaid:
        return label.replace(":", "：").replace(";", "，").replace("\n", " ")
    return label


def _title(script: Script, locale: str) -> str:
    """The diagram's caption."""
    return f"{script.id} v{script.version}: {pick(script.title, locale)}"


def _edge_labels(graph: ScriptGraph) -> dict[tuple[str, str], str]:
    """Each (step, next step) pair with its branch labels (several branches to one step share an arrow)."""
    labels: dict[tuple[str, str], list[str]] = {}
    for sid in graph.order:
        branching = any(e.when for e in graph.edges[sid])
        for e in graph.edges[sid]:
            labels.setdefault((e.source, e.target), []).append(_edge_label(e, branching=branching, mermaid=False))
    return {pair: " | ".join(texts) for pair, texts in labels.items()}


def dot_source(script: Script, locale: str = "zh-CN") -> str:
    """The script's graph as Graphviz DOT text, every label sized for the Graphviz that has no fonts."""
    graph = ScriptGraph(script)
    styles = _styles()["node"]
    font = {"fontname": FONT, "fontsize": f"{FONT_SIZE:g}"}
    dot = graphviz.Digraph(
        name=script.id,
        graph_attr={"rankdir": "TB", "label": _escape(_title(script, locale)), **font},
        node_attr=font,
        edge_attr={**font, "color": "black"},
    )
    for sid in graph.order:
        style = "start" if sid == graph.start else "outcome" if sid in graph.outcomes else "default"
        label = _label(_node_lines(graph.steps[sid], locale), octagon=style == "outcome")
        dot.node(sid, **{**styles["default"], **styles[style], **label})
    for (source, target), text in _edge_labels(graph).items():
        dot.edge(source, target, label=_escape(text))
    return str(dot.source)


def _mermaid_machine(script: Script, locale: str) -> _StepMachine:
    """A graph machine whose states are the script's steps and transitions its branches."""
    graph = ScriptGraph(script)
    states: list[dict[str, Any]] = [
        {"name": sid, "label": " · ".join(_node_lines(graph.steps[sid], locale)[:2])} for sid in graph.order
    ]
    transitions = []
    for sid in graph.order:
        branching = any(e.when for e in graph.edges[sid])
        for e in graph.edges[sid]:
            label = _edge_label(e, branching=branching, mermaid=True)
            transitions.append({"trigger": TRIGGER, "source": e.source, "dest": e.target, "label": label})
    machine = _StepMachine(
        states=states,
        transitions=transitions,
        initial=graph.start,
        auto_transitions=False,
        graph_engine="mermaid",
        title=_title(script, locale),
        show_conditions=False,
    )
    styled = machine.model_graphs[id(machine)]
    styled.reset_styling()
    styled.set_node_style(graph.start, "start")
    for sid in graph.outcomes:
        styled.set_node_style(sid, "outcome")
    return machine


def draw(script: Script, fmt: str = "svg", *, locale: str = "zh-CN") -> bytes:
    """The script's diagram as Mermaid text (UTF-8) or an SVG/PNG image."""
    if fmt not in FORMATS:
        raise DiagramError(f"unknown format '{fmt}'; use one of {', '.join(FORMATS)}")
    if fmt == "mermaid":
        graph = _mermaid_machine(script, locale).get_graph()
        return str(graph.source).encode("utf-8")
    try:
        picture = graphics.svg(dot_source(script, locale))
        return picture if fmt == "svg" else graphics.svg_to_png(picture)
    except graphics.GraphicsError as exc:
        raise DiagramError(f"{script.id}: {exc}") from exc
