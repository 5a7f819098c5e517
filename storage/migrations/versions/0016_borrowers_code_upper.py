"""borrowers: an index on upper(code), so ``/visit <code>`` (any case) finds the borrower by the index, not by
reading every borrower of the book

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_borrowers_code_upper", "borrowers", [sa.text("upper(code)")])


def downgrade() -> None:
    op.drop_index("ix_borrowers_code_upper", table_name="borrowers")
