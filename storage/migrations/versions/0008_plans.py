"""plans: monthly plan entries, officers' watch flags, and once-only outbox messages (dedupe_key)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("script_id", sa.String(length=40), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("planned_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_plan_entries_borrower_id_borrowers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_plan_entries_loan_id_loans"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["officer_id"], ["users.id"], name=op.f("fk_plan_entries_officer_id_users")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_plan_entries_visit_id_visits"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_entries")),
    )
    with op.batch_alter_table("plan_entries", schema=None) as batch_op:
        batch_op.create_index("uq_plan_entries_month_borrower", ["month", "borrower_id"], unique=True)
        batch_op.create_index("ix_plan_entries_officer_month", ["officer_id", "month"], unique=False)

    op.create_table(
        "watch_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_watch_flags_borrower_id_borrowers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_watch_flags_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watch_flags")),
    )
    with op.batch_alter_table("watch_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watch_flags_borrower_id"), ["borrower_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=80), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_dedupe_key"), ["dedupe_key"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_dedupe_key"), type_="unique")
        batch_op.drop_column("dedupe_key")
    with op.batch_alter_table("watch_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watch_flags_borrower_id"))
    op.drop_table("watch_flags")
    with op.batch_alter_table("plan_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_entries_officer_month")
        batch_op.drop_index("uq_plan_entries_month_borrower")
    op.drop_table("plan_entries")
