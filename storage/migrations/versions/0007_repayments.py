"""repayments: each loan's schedule (due date, amount due, amount paid, paid on)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repayments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount_due", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_repayments_loan_id_loans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayments")),
    )
    with op.batch_alter_table("repayments", schema=None) as batch_op:
        batch_op.create_index("uq_repayments_loan_due", ["loan_id", "due_on"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("repayments", schema=None) as batch_op:
        batch_op.drop_index("uq_repayments_loan_due")

    op.drop_table("repayments")
