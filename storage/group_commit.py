"""Group commit: concurrent units of work share one transaction, each caller answered after its commit.

A unit of work is an async function of a session that reads and writes, and returns a result. Units
handed in while a batch is running wait for it and go together in the next one: one session, one
transaction, one commit (one sync to disk on SQLite, one WAL flush on PostgreSQL) for all of them.
Each caller gets its result only once the transaction holding its writes has committed, so nothing a
caller shows afterwards can be lost by a crash.

A unit that raises, or a commit that fails, rolls the whole batch back; then every unit of it runs
again on its own, in its own transaction, so a failing unit fails only its own caller (the others
commit as if they had come alone). Units must therefore touch nothing outside the session they are
given (the database is rolled back, anything else would not be).

A batch of one (a quiet bot) is one transaction, as without group commit. A unit that finds a row
changed since it read it (``StaleDataError``, raised by a version guard) runs once more on its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

__all__ = ["GroupCommit", "Unit", "writers_for"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]

MAX_BATCH = 64
"""At most this many units share a transaction (a long batch delays its first caller's answer)."""


POSTGRES_WRITERS = 4
"""Batches a PostgreSQL deployment runs at once (one each on its own connection)."""


def writers_for(sessions: async_sessionmaker[AsyncSession] | None) -> int:
    """How many batches may run at once on the database ``sessions`` use: SQLite has one writer."""
    bind = sessions.kw.get("bind") if sessions is not None else None
    return 1 if bind is None or bind.dialect.name == "sqlite" else POSTGRES_WRITERS


@dataclass
class _Job(Generic[T]):
    unit: Unit[T]
    done: asyncio.Future[T]


@dataclass
class _Lane:
    """The queue and the batches in progress of one event loop (tests run many loops, one after another)."""

    loop: asyncio.AbstractEventLoop
    queue: list[_Job[Any]] = field(default_factory=list)
    writers: set[asyncio.Task[None]] = field(default_factory=set)
    """Writer tasks draining the queue."""
    running: dict[asyncio.Task[None], list[_Job[Any]]] = field(default_factory=dict)
    """The batches in progress, by the task running each: a batch every caller of which gave up is
    cancelled (rolled back: nothing is committed)."""


class GroupCommit:
    """Runs units of work in shared transactions; see the module's docstring.

    ``writers`` batches may run at once (each on a connection of its own): one for SQLite, which has a
    single writer anyway; a few for PostgreSQL, where a batch waiting on the network need not hold up
    the next one.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = MAX_BATCH, writers: int = 1
    ) -> None:
        if writers < 1:
            raise ValueError("writers must be at least 1")
        self.sessions = sessions
        self.max_batch = max_batch
        self.writers = writers
        self._lane: _Lane | None = None
        self.batches = 0
        """Transactions committed so far (for benchmarks and tests)."""

    async def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in the next batch; its result once that batch (or its own retry) committed."""
        loop = asyncio.get_running_loop()
        lane = self._lane
        if lane is None or lane.loop is not loop:
            lane = self._lane = _Lane(loop)
        job: _Job[T] = _Job(unit, loop.create_future())
        lane.queue.append(job)
        if len(lane.writers) < self.writers:
            writer = loop.create_task(self._write(lane), name="group-commit")
            lane.writers.add(writer)
            writer.add_done_callback(lane.writers.discard)
        try:
            return await job.done
        except asyncio.CancelledError:  # the caller gave up (a time limit): its unit is not run, or
            # its batch stops when nobody else waits for it (rolled back: nothing half recorded)
            if job in lane.queue:
                lane.queue.remove(job)
            for task, batch in list(lane.running.items()):
                if job in batch and all(other.done.cancelled() for other in batch):
                    task.cancel()
            raise

    async def _write(self, lane: _Lane) -> None:
        """Drain the queue batch by batch; the task ends when nothing is waiting.

        It leaves ``lane.writers`` in the same step as it last finds the queue empty: left to the task's
        done callback (a later step), a unit handed in between would find a writer counted that is gone,
        start none, and wait for ever.
        """
        try:
            await self._drain(lane)
        finally:
            lane.writers.discard(asyncio.current_task())

    async def _drain(self, lane: _Lane) -> None:
        batch: list[_Job[Any]] = []
        while lane.queue:
            batch, lane.queue = lane.queue[: self.max_batch], lane.queue[self.max_batch :]
            work = asyncio.create_task(self._batch(batch))
            lane.running[work] = batch
            try:
                await asyncio.wait([work])
            except BaseException:  # the writer is cancelled (its loop shuts down): nobody is left waiting
                work.cancel()
                for job in [*batch, *lane.queue]:
                    job.done.cancel()
                lane.queue.clear()
                raise
            finally:
                del lane.running[work]
            await asyncio.sleep(0)  # callers of this batch go on before the next one starts

    async def _batch(self, batch: list[_Job[Any]]) -> None:
        if len(batch) == 1 or not await self._together(batch):
            for job in batch:
                if not job.done.done():
                    await self._alone(job)

    async def _together(self, batch: list[_Job[Any]]) -> bool:
        """Run a batch in one transaction; False (rolled back, nobody answered) when any part failed."""
        results: list[Any] = []
        try:
            async with self.sessions() as session, session.begin():
                for job in batch:
                    results.append(await job.unit(session))
        except Exception as exc:
            log.info("a batch of %d failed (%s); its units run again one by one", len(batch), type(exc).__name__)
            return False
        self.batches += 1
        for job, result in zip(batch, results, strict=True):
            if not job.done.done():
                job.done.set_result(result)
        return True

    async def _alone(self, job: _Job[Any]) -> None:
        """Run one unit in its own transaction; its caller gets the result or the exception.

        A unit that found a row changed since it was read (``StaleDataError``: a unit may rely on a read
        made before its transaction, guarded by the row's version) runs once more: it reads again."""
        for attempt in (1, 2):
            try:
                async with self.sessions() as session, session.begin():
                    result = await job.unit(session)
                break
            except Exception as exc:
                if isinstance(exc, StaleDataError) and attempt == 1:
                    log.info("a unit met a row changed meanwhile (%s); it runs again", exc)
                    continue
                if not job.done.done():
                    job.done.set_exception(exc)
                return
        self.batches += 1
        if not job.done.done():
            job.done.set_result(result)
