"""Queries of the files kept with visits (photos given as answers); the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Attachment, utcnow

__all__ = ["add_attachment", "drop_step_attachments", "key_in_use", "phash_quarters", "visit_attachments"]


def phash_quarters(phash: str) -> tuple[int, int, int, int]:
    """A 64-bit perceptual hash (hex) as its four 16-bit quarters, high first (the indexed columns)."""
    bits = int(phash, 16)
    return (bits >> 48 & 0xFFFF, bits >> 32 & 0xFFFF, bits >> 16 & 0xFFFF, bits & 0xFFFF)


async def add_attachment(
    session: AsyncSession,
    visit_id: int,
    step_id: str,
    *,
    store_key: str,
    sha256: str,
    size: int,
    kind: str = "photo",
    content_type: str | None = None,
    source_ref: str | None = None,
    phash: str | None = None,
    at: datetime | None = None,
) -> Attachment:
    """Record a file kept for an answer of ``step_id``; a photo's perceptual hash (16 hex digits) with its quarters."""
    quarters = phash_quarters(phash) if phash else (None, None, None, None)
    row = Attachment(
        visit_id=visit_id,
        step_id=step_id,
        kind=kind,
        store_key=store_key,
        sha256=sha256,
        size=size,
        content_type=content_type,
        source_ref=(source_ref or "")[:255] or None,
        phash=phash,
        phash_0=quarters[0],
        phash_1=quarters[1],
        phash_2=quarters[2],
        phash_3=quarters[3],
        created_at=at or utcnow(),
    )
    session.add(row)
    await session.flush()
    return row


async def visit_attachments(session: AsyncSession, visit_id: int) -> Sequence[Attachment]:
    """A visit's kept files, in the order they were given."""
    query = select(Attachment).where(Attachment.visit_id == visit_id).order_by(Attachment.id)
    return (await session.scalars(query)).all()


async def drop_step_attachments(session: AsyncSession, visit_id: int, step_id: str) -> None:
    """Forget the files of an answer that was withdrawn (/back); the stored bytes stay for retention."""
    await session.execute(delete(Attachment).where(Attachment.visit_id == visit_id, Attachment.step_id == step_id))


async def key_in_use(session: AsyncSession, store_key: str) -> bool:
    """Whether any visit still refers to a stored file (content keys are shared by equal files)."""
    found = await session.scalar(select(Attachment.id).where(Attachment.store_key == store_key).limit(1))
    return found is not None
