"""answers: the update that gave each answer (update_key, unique): an answer is its update's claim, so a
redelivered update is found on its answer and an answer costs no processed_updates row (one statement less)

Updates that record no answer (``/back``, a refused input, an input for an earlier question) are still
claimed in ``processed_updates``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("answers", sa.Column("update_key", sa.String(length=64), nullable=True))
    op.create_index("ix_answers_update_key", "answers", ["update_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_answers_update_key", table_name="answers")
    with op.batch_alter_table("answers", schema=None) as batch_op:
        batch_op.drop_column("update_key")
