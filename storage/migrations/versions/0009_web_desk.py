"""web desk: one-time login links, browser sessions, and the review queue's order (visits.review_rank, indexed)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RANK_FINISHED = """
UPDATE visits SET review_rank =
    (3 - COALESCE((SELECT MAX(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1 ELSE 0 END)
                   FROM risk_flags WHERE risk_flags.visit_id = visits.id AND risk_flags.cleared_at IS NULL), 0)) * 1000
    + (999 - (SELECT COUNT(*) FROM risk_flags
              WHERE risk_flags.visit_id = visits.id AND risk_flags.cleared_at IS NULL AND severity = 'high'))
WHERE status = 'finished'
"""
"""Finished visits get their place in the review queue (the same formula as storage.web.rank_for_review)."""


def upgrade() -> None:
    op.create_table(
        "web_logins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_logins_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_logins")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_logins_token_hash")),
    )
    with op.batch_alter_table("web_logins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_logins_user_id"), ["user_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_web_sessions_key_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_rank", sa.Integer(), nullable=True))
    op.execute(RANK_FINISHED)
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_visits_review_queue", ["status", "review_rank", "finished_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_visits_officer_queue", ["officer_id", "status", "review_rank", "finished_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_index("ix_visits_officer_queue")
        batch_op.drop_index("ix_visits_review_queue")
        batch_op.drop_column("review_rank")
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
    op.drop_table("web_sessions")
    with op.batch_alter_table("web_logins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_logins_user_id"))
    op.drop_table("web_logins")
