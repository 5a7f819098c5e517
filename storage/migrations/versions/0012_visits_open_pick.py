"""visits: a partial index on the open visits by borrower and id, for the /visit pick list (each borrower's
newest open visit read from the index alone, never a sort of their visits)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index("ix_visits_open_newest", "visits", ["borrower_id", "id"], sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_visits_open_newest", table_name="visits")
