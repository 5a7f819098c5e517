"""A script as a graph of steps: edges, reachability, dead ends and loops (for lint and diagrams).

Works on the validated :class:`~dialogs.schema.Script` only, so it can describe a script that does
not compile; targets that do not exist are simply left out of the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.schema import Script

__all__ = ["Edge", "ScriptGraph"]


@dataclass(frozen=True)
class Edge:
    """One way from a step to the next: the branch's condition (None for the fallback)."""

    source: str
    target: str
    when: str | None
    confirms_identity: bool = False
    implicit: bool = False
    """True for the fall-through to the next step of a step without ``next``."""


class ScriptGraph:
    """Steps and the edges between them, in script order."""

    def __init__(self, script: Script) -> None:
        """Index the steps and derive every edge, fall-throughs included."""
        self.script = script
        self.order: list[str] = []
        for step in script.steps:
            if step.id not in self.order:
                self.order.append(step.id)
        self.steps = {s.id: s for s in reversed(script.steps)}  # the first definition wins
        self.outcomes = {s.id for s in self.steps.values() if s.outcome is not None}
        self.edges: dict[str, list[Edge]] = {sid: [] for sid in self.order}
        for index, sid in enumerate(self.order):
            step = self.steps[sid]
            if step.outcome is not None:
                continue
            if step.next:
                for branch in step.next:
                    if branch.goto in self.steps:
                        edge = Edge(sid, branch.goto, branch.when, branch.confirms_identity)
                        self.edges[sid].append(edge)
            elif index + 1 < len(self.order):
                self.edges[sid].append(Edge(sid, self.order[index + 1], None, implicit=True))

    @property
    def start(self) -> str:
        """The step a visit starts at."""
        return self.script.first_step

    def successors(self, step_id: str) -> list[str]:
        """The steps one branch away, without repeats."""
        return list(dict.fromkeys(e.target for e in self.edges.get(step_id, [])))

    def reachable(self, start: str | None = None) -> set[str]:
        """Every step a visit can get to from ``start`` (default: the first step)."""
        first = start or self.start
        if first not in self.steps:
            return set()
        seen, todo = {first}, [first]
        while todo:
            for nxt in self.successors(todo.pop()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    def reaching_outcome(self) -> set[str]:
        """Every step from which some path ends at an outcome."""
        back: dict[str, set[str]] = {sid: set() for sid in self.order}
        for edges in self.edges.values():
            for e in edges:
                back[e.target].add(e.source)
        seen, todo = set(self.outcomes), list(self.outcomes)
        while todo:
            for prev in back[todo.pop()]:
                if prev not in seen:
                    seen.add(prev)
                    todo.append(prev)
        return seen

    def before_identity(self) -> set[str]:
        """Steps a visit can reach before a branch confirms the borrower's identity."""
        if self.script.identity_step is None or self.start not in self.steps:
            return set()
        seen, todo = {self.start}, [self.start]
        while todo:
            for e in self.edges[todo.pop()]:
                if not e.confirms_identity and e.target not in seen:
                    seen.add(e.target)
                    todo.append(e.target)
        return seen

    def loops(self) -> list[list[str]]:
        """Strongly connected groups of steps that form a cycle (Tarjan), in script order."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []

        def visit(node: str) -> None:
            """Tarjan's depth-first step."""
            index[node] = low[node] = len(index)
            stack.append(node)
            on_stack.add(node)
            for nxt in self.successors(node):
                if nxt not in index:
                    visit(nxt)
                    low[node] = min(low[node], low[nxt])
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    group.append(top)
                    if top == node:
                        break
                if len(group) > 1 or node in self.successors(node):
                    found.append(sorted(group, key=self.order.index))

        for sid in self.order:
            if sid not in index:
                visit(sid)
        return found

    def exits(self, group: list[str]) -> list[Edge]:
        """Edges that leave a group of steps."""
        members = set(group)
        return [e for sid in group for e in self.edges[sid] if e.target not in members]
