"""promises to pay, hardship (relief) requests, corrections; flag kinds, evidence and explanations; photo hashes,
borrower coordinates, what a visit remembers for the next (visits.measures) and who answered it (respondent_id)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

RELIEF_FROM_TASKS = """
INSERT INTO relief_requests (borrower_id, loan_id, visit_id, officer_id, kind, terms, requested_at, status)
SELECT t.borrower_id, v.loan_id, t.visit_id, t.officer_id,
       CASE WHEN t.note LIKE 'instalments%' THEN 'instalments' ELSE 'extension' END,
       CASE WHEN t.note LIKE '%: %' THEN SUBSTR(t.note, {find}(t.note, ': ') + 2) END,
       t.created_at, 'pending'
FROM tasks t LEFT JOIN visits v ON v.id = t.visit_id
WHERE t.kind = 'relief'
"""
"""Relief requests kept as officer tasks before (kind ``relief``, note ``extension: 6个月``) become requests
waiting for a supervisor."""


def upgrade() -> None:
    op.create_table(
        "relief_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_relief_requests_borrower_id_borrowers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], name=op.f("fk_relief_requests_decided_by_users")),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_relief_requests_loan_id_loans"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["officer_id"], ["users.id"], name=op.f("fk_relief_requests_officer_id_users")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_relief_requests_visit_id_visits"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relief_requests")),
    )
    with op.batch_alter_table("relief_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_relief_requests_borrower_id"), ["borrower_id"], unique=False)
        batch_op.create_index("ix_relief_requests_status", ["status", "requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_relief_requests_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("step_id", sa.String(length=40), nullable=False),
        sa.Column("old_raw", sa.Text(), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("old_display", sa.Text(), nullable=False),
        sa.Column("new_raw", sa.Text(), nullable=False),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("new_display", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"], ["answers.id"], name=op.f("fk_corrections_answer_id_answers"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_corrections_user_id_users")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_corrections_visit_id_visits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
    )
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_corrections_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("borrower_id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("promised_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paid_amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_task_id", sa.Integer(), nullable=True),
        sa.Column("claimed_paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_visit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["borrower_id"], ["borrowers.id"], name=op.f("fk_promises_borrower_id_borrowers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["claim_visit_id"], ["visits.id"], name=op.f("fk_promises_claim_visit_id_visits"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_task_id"], ["tasks.id"], name=op.f("fk_promises_follow_up_task_id_tasks"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_promises_loan_id_loans"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["officer_id"], ["users.id"], name=op.f("fk_promises_officer_id_users")),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_promises_visit_id_visits"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promises_borrower_id"), ["borrower_id"], unique=False)
        batch_op.create_index("ix_promises_status_promised", ["status", "promised_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_promises_visit_id"), ["visit_id"], unique=False)

    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phash", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("phash_0", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("phash_1", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("phash_2", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("phash_3", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attachments_phash_0"), ["phash_0"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_phash_1"), ["phash_1"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_phash_2"), ["phash_2"], unique=False)
        batch_op.create_index(batch_op.f("ix_attachments_phash_3"), ["phash_3"], unique=False)

    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))

    with op.batch_alter_table("risk_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), server_default=sa.text("'answer'"), nullable=False))
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("explained_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("explained_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("explanation", sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_risk_flags_explained_by_users"), "users", ["explained_by"], ["id"])

    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode_ref", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("respondent_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("measures", sa.JSON(), nullable=True))

    find = "INSTR" if op.get_bind().dialect.name == "sqlite" else "STRPOS"
    op.execute(RELIEF_FROM_TASKS.format(find=find))


def downgrade() -> None:
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_column("mode_ref")

    with op.batch_alter_table("visits", schema=None) as batch_op:
        batch_op.drop_column("measures")
        batch_op.drop_column("respondent_id")

    with op.batch_alter_table("risk_flags", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_risk_flags_explained_by_users"), type_="foreignkey")
        batch_op.drop_column("explanation")
        batch_op.drop_column("explained_by")
        batch_op.drop_column("explained_at")
        batch_op.drop_column("evidence")
        batch_op.drop_column("kind")

    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")

    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_phash_3"))
        batch_op.drop_index(batch_op.f("ix_attachments_phash_2"))
        batch_op.drop_index(batch_op.f("ix_attachments_phash_1"))
        batch_op.drop_index(batch_op.f("ix_attachments_phash_0"))
        batch_op.drop_column("phash_3")
        batch_op.drop_column("phash_2")
        batch_op.drop_column("phash_1")
        batch_op.drop_column("phash_0")
        batch_op.drop_column("phash")

    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promises_visit_id"))
        batch_op.drop_index("ix_promises_status_promised")
        batch_op.drop_index(batch_op.f("ix_promises_borrower_id"))

    op.drop_table("promises")
    with op.batch_alter_table("corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_corrections_visit_id"))

    op.drop_table("corrections")
    with op.batch_alter_table("relief_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_relief_requests_visit_id"))
        batch_op.drop_index("ix_relief_requests_status")
        batch_op.drop_index(batch_op.f("ix_relief_requests_borrower_id"))

    op.drop_table("relief_requests")
