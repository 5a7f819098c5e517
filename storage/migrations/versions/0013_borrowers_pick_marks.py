"""borrowers: each borrower's newest open visit and last visit's start (open_visit_id, last_started_at), kept by
the database from visits (triggers), and the /visit pick list's order indexed over them (everyone's and each
officer's): the list reads 20 index entries and never the visits, with 0 or 10,000 open, in any size of book

The triggers are on ``visits``. SQLite drops a table's triggers with the table: a later migration that
rebuilds ``visits`` there (``batch_alter_table`` copying the table) must create them again
(``SQLITE_TRIGGERS``); the pick-list tests, run on the head schema, fail if they are missing.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 21:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE borrowers SET
    open_visit_id = (SELECT max(v.id) FROM visits v WHERE v.borrower_id = borrowers.id AND v.status = 'open'),
    last_started_at = (SELECT max(v.started_at) FROM visits v WHERE v.borrower_id = borrowers.id)
"""

SQLITE_REFRESH = """
    UPDATE borrowers SET
        open_visit_id = (SELECT max(v.id) FROM visits v WHERE v.borrower_id = borrowers.id AND v.status = 'open'),
        last_started_at = (SELECT max(v.started_at) FROM visits v WHERE v.borrower_id = borrowers.id)
    WHERE id IN ({ids});
"""

SQLITE_TRIGGERS = {
    # a new visit can only raise the marks: no read of the borrower's other visits
    "visits_pick_marks_insert": """
CREATE TRIGGER visits_pick_marks_insert AFTER INSERT ON visits BEGIN
    UPDATE borrowers SET
        open_visit_id = CASE WHEN NEW.status = 'open' AND (open_visit_id IS NULL OR NEW.id > open_visit_id)
                             THEN NEW.id ELSE open_visit_id END,
        last_started_at = CASE WHEN last_started_at IS NULL OR NEW.started_at > last_started_at
                               THEN NEW.started_at ELSE last_started_at END
    WHERE id = NEW.borrower_id;
END
""",
    "visits_pick_marks_update": f"""
CREATE TRIGGER visits_pick_marks_update AFTER UPDATE OF status, started_at, borrower_id ON visits BEGIN
{SQLITE_REFRESH.format(ids="OLD.borrower_id, NEW.borrower_id")}
END
""",
    "visits_pick_marks_delete": f"""
CREATE TRIGGER visits_pick_marks_delete AFTER DELETE ON visits BEGIN
{SQLITE_REFRESH.format(ids="OLD.borrower_id")}
END
""",
}

POSTGRES_FUNCTION = """
CREATE FUNCTION visits_pick_marks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- a new visit can only raise the marks (GREATEST skips NULL); the row lock orders concurrent writers
        UPDATE borrowers SET
            open_visit_id = CASE WHEN NEW.status = 'open' THEN GREATEST(open_visit_id, NEW.id) ELSE open_visit_id END,
            last_started_at = GREATEST(last_started_at, NEW.started_at)
        WHERE id = NEW.borrower_id;
        RETURN NULL;
    END IF;
    FOR changed IN
        SELECT DISTINCT b FROM unnest(ARRAY[OLD.borrower_id, CASE WHEN TG_OP = 'UPDATE' THEN NEW.borrower_id END]) b
        WHERE b IS NOT NULL ORDER BY b
    LOOP
        -- the borrower's row locked first, then its visits read: each statement of this (volatile) function
        -- sees what a concurrent writer of the same borrower committed while this one waited for the lock
        PERFORM 1 FROM borrowers WHERE id = changed FOR UPDATE;
        UPDATE borrowers SET
            open_visit_id = (SELECT max(v.id) FROM visits v WHERE v.borrower_id = changed AND v.status = 'open'),
            last_started_at = (SELECT max(v.started_at) FROM visits v WHERE v.borrower_id = changed)
        WHERE id = changed;
    END LOOP;
    RETURN NULL;
END
$$
"""

PICK_ORDER: list[str | sa.TextClause] = [
    sa.text("(open_visit_id IS NULL)"),
    sa.text("(last_started_at IS NOT NULL)"),
    "last_started_at",
    sa.text(
        "(CASE WHEN (risk_tier = 'high') THEN 0 WHEN (risk_tier = 'medium') THEN 1"
        " WHEN (risk_tier = 'low') THEN 2 ELSE 3 END)"
    ),
    "code",
]
"""The pick list's order (``storage.models.BORROWER_PICK_ORDER`` as it is today), written as the query writes it."""

POSTGRES_TRIGGER = """
CREATE TRIGGER visits_pick_marks AFTER INSERT OR DELETE OR UPDATE OF status, started_at, borrower_id ON visits
FOR EACH ROW EXECUTE FUNCTION visits_pick_marks()
"""


def upgrade() -> None:
    op.add_column("borrowers", sa.Column("open_visit_id", sa.Integer(), nullable=True))
    op.add_column("borrowers", sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(BACKFILL)
    op.create_index("ix_borrowers_pick", "borrowers", PICK_ORDER)
    op.create_index("ix_borrowers_officer_pick", "borrowers", ["officer_id", *PICK_ORDER])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for ddl in SQLITE_TRIGGERS.values():
            op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER visits_pick_marks ON visits")
        op.execute("DROP FUNCTION visits_pick_marks()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_borrowers_officer_pick", table_name="borrowers")
    op.drop_index("ix_borrowers_pick", table_name="borrowers")
    with op.batch_alter_table("borrowers", schema=None) as batch_op:
        batch_op.drop_column("last_started_at")
        batch_op.drop_column("open_visit_id")
