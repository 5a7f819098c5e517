"""``visitbot scripts draw``: a script's graph via the diagram extension of ``transitions``.

Nodes are steps (labelled with the answer kind and the start of the line; the first step is blue,
outcomes are grey double octagons), edges are branches labelled with their conditions (``else`` for
the fallback of a step that branches, ``next`` where a step simply goes on).
SVG and PNG need the ``graphviz`` package and the ``dot`` program; Mermaid needs neither.
This is the only module that imports ``transitions.extensions.diagrams``.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from typing import Any, Literal

from transitions import State
from transitions.extensions.diagrams import GraphMachine

from dialogs.errors import DialogError
from dialogs.i18n import pick
from dialogs.schema import Script, Step
from dialogs.scriptgraph import Edge, ScriptGraph

__all__ = ["FORMATS", "DiagramError", "draw"]

FORMATS = ("mermaid", "svg", "png")
TRIGGER = "advance"
FONT = "sans-serif"
"""Lets fontconfig pick a font with CJK glyphs when one is installed (e.g. Debian fonts-noto-cjk)."""
OUTCOME_STYLE = {"shape": "doubleoctagon", "fillcolor": "lightgrey", "color": "black", "peripheries": "1"}
START_STYLE = {"shape": "rectangle", "fillcolor": "lightblue", "color": "black", "peripheries": "2"}


class DiagramError(DialogError):
    """A diagram could not be drawn (unknown format, graphviz missing)."""


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


def _node_label(step: Step, locale: str, *, mermaid: bool) -> str:
    """A node's text: step id, answer kind or outcome, and the start of its line."""
    if step.outcome is not None:
        detail = f"outcome: {step.outcome.value}"
    elif step.ask is not None:
        detail = step.ask.kind.value + (", skippable" if step.skippable else "")
    else:
        detail = "says"
    title = _excerpt(pick(step.say, locale)) if step.say else ""
    parts = [step.id, detail] + ([title] if title and not mermaid else [])
    return " · ".join(parts) if mermaid else "\\n".join(_escape(p) for p in parts)


def _excerpt(line: str, size: int = 24) -> str:
    """The start of a line, with template values shown as an ellipsis."""
    text = " ".join(re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "…", line).split())
    return text if len(text) <= size else text[: size - 1] + "…"


def _escape(text: str) -> str:
    """Text safe inside a graphviz label."""
    return text.replace("\\", "\\\\").replace('"', "'").replace("{", "(").replace("}", ")")


def _edge_label(edge: Edge, *, branching: bool, mermaid: bool) -> str:
    """An edge's text: the condition, else/next, and the identity mark."""
    label = edge.when or ("else" if branching else "next")
    if edge.confirms_identity:
        label += " ✔ identity"
    if mermaid:
        return label.replace(":", "：").replace(";", "，").replace("\n", " ")
    return label


def _machine(script: Script, engine: Literal["graphviz", "mermaid"], locale: str) -> _StepMachine:
    """A graph machine whose states are the script's steps and transitions its branches."""
    graph = ScriptGraph(script)
    mermaid = engine == "mermaid"
    states: list[dict[str, Any]] = [
        {"name": sid, "label": _node_label(graph.steps[sid], locale, mermaid=mermaid)} for sid in graph.order
    ]
    transitions = []
    for sid in graph.order:
        branching = any(e.when for e in graph.edges[sid])
        for e in graph.edges[sid]:
            label = _edge_label(e, branching=branching, mermaid=mermaid)
            transitions.append({"trigger": TRIGGER, "source": e.source, "dest": e.target, "label": label})
    machine = _StepMachine(
        states=states,
        transitions=transitions,
        initial=graph.start,
        auto_transitions=False,
        graph_engine=engine,
        title=f"{script.id} v{script.version}: {pick(script.title, locale)}",
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
        graph = _machine(script, "mermaid", locale).get_graph()
        return str(graph.source).encode("utf-8")
    if importlib.util.find_spec("graphviz") is None:
        raise DiagramError("SVG and PNG need the 'graphviz' Python package (pip install graphviz)")
    graph = _machine(script, "graphviz", locale).get_graph()
    for attributes in (graph.graph_attr, graph.node_attr, graph.edge_attr):
        attributes["fontname"] = FONT
    try:
        return bytes(graph.pipe(format=fmt))
    except Exception as exc:  # graphviz.ExecutableNotFound, CalledProcessError
        raise DiagramError(f"graphviz could not draw the diagram ({exc}); is the 'dot' program installed?") from exc
