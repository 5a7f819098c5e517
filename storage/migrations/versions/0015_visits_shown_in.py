"""visits: where the visit's current question is on screen (shown_in, shown_step), kept with the visit's own
write; chat_sessions keeps only which visit a chat is on (its message_id and step go)

A press on a question's button records the answer and says, in the same UPDATE of the visit, that the pressed
message shows the next question: the chat's row is no longer written on every answer (one statement less).
A visit moved by anything that does not say where its next question shows (another front-end, a typed
answer before its question is delivered) no longer has ``shown_step`` equal to its ``step``: not on screen.

The chats' pointers are carried over: a chat showing its visit's question keeps showing it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

CARRY_OVER = """
UPDATE visits SET
    shown_in = (
        SELECT 'tg:' || CAST(c.chat_id AS VARCHAR(24)) || ':' || CAST(c.message_id AS VARCHAR(24))
        FROM chat_sessions c
        WHERE c.visit_id = visits.id AND c.message_id IS NOT NULL AND c.step = visits.step
        ORDER BY c.updated_at DESC LIMIT 1
    ),
    shown_step = step
WHERE status = 'open' AND EXISTS (
    SELECT 1 FROM chat_sessions c WHERE c.visit_id = visits.id AND c.message_id IS NOT NULL AND c.step = visits.step
)
"""

CARRY_BACK = """
UPDATE chat_sessions SET
    step = (SELECT v.step FROM visits v WHERE v.id = chat_sessions.visit_id),
    message_id = (
        SELECT CAST(substr(v.shown_in, length('tg:' || CAST(chat_sessions.chat_id AS VARCHAR(24)) || ':') + 1)
                    AS BIGINT)
        FROM visits v
        WHERE v.id = chat_sessions.visit_id AND v.shown_step = v.step
          AND v.shown_in LIKE 'tg:' || CAST(chat_sessions.chat_id AS VARCHAR(24)) || ':%'
    )
WHERE visit_id IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("visits", sa.Column("shown_in", sa.String(length=64), nullable=True))
    op.add_column("visits", sa.Column("shown_step", sa.String(length=40), nullable=True))
    op.execute(CARRY_OVER)
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_column("step")
        batch_op.drop_column("message_id")


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("step", sa.String(length=40), nullable=True))
    op.execute(CARRY_BACK)
    # ALTER TABLE … DROP COLUMN, not a copy of the table (SQLite ≥ 3.35): the visits' triggers (0013) stay
    op.drop_column("visits", "shown_step")
    op.drop_column("visits", "shown_in")
