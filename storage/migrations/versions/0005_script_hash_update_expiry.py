"""script versions pin a content hash; processed updates can expire

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("script_versions") as batch:
        batch.add_column(sa.Column("content_hash", sa.String(64), nullable=True))
    op.create_index(op.f("ix_processed_updates_at"), "processed_updates", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_processed_updates_at"), table_name="processed_updates")
    with op.batch_alter_table("script_versions") as batch:
        batch.drop_column("content_hash")
