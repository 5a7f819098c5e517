"""bench.statement_floor measures every layer of both statements, on the read an answer really makes."""

from __future__ import annotations

from bench.statement_floor import measure


async def test_every_layer_is_measured_for_both_statements(database_url: str) -> None:
    figures = await measure(database_url, 3)  # it checks that the read finds the staff, the chat and its visit
    layers = ["driver", "driver sql, held connection", "text, connection", "text, session"]
    if database_url.startswith("sqlite"):
        layers.insert(1, "one hop")
    assert list(figures["select 1"]) == [*layers, "session alone", "connection alone"]
    assert list(figures["sender's read"]) == [
        *layers,
        "core, session",
        "core + entities, session",
        "direct, session",
        "direct + entities, session",
        "direct + entities, connection",
        "orm, session",
    ]
    assert all(value > 0 for layers_of in figures.values() for value in layers_of.values())
