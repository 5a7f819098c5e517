"""An officer's open tasks (call-backs, relief requests) with the rules of contact applied.

A call-back booked at a time outside the borrower's contact window (their own zone) may not be made
then: it shows the next time the window opens instead, unless the borrower asked for that very time
(``Task.borrower_asked``), which is kept and said. The morning digest (:mod:`bot.desk.digest`) and
``visitbot tasks`` both show call-backs this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.contact import ContactWindow
from bot.desk.errors import NotFound
from dialogs.i18n import message, register
from storage import digest as store
from storage import repositories as repo
from storage.models import Task, User

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "OfficerNotFound",
    "TaskView",
    "callback_allowed_at",
    "contact_view",
    "find_officer",
    "officer_tasks",
    "window_of",
]

register(
    {
        "tasks_no_officer": {
            "zh-CN": "没有 Telegram id 或姓名为“{who}”的在职员工。用 visitbot users list 查看员工。",
            "en": "No active staff member has the Telegram id or name '{who}'. See visitbot users list.",
        },
        "tasks_officer_ambiguous": {
            "zh-CN": "有 {count} 位员工叫“{who}”，请改用 Telegram id（visitbot users list）。",
            "en": "{count} staff members are called '{who}'; give their Telegram id instead (visitbot users list).",
        },
    }
)


class OfficerNotFound(NotFound):
    """``--officer`` names nobody (or several people); ``text`` says so in the user's language."""


@dataclass(frozen=True)
class TaskView:
    """One task as an officer should act on it: when it was booked and when contact is allowed."""

    task: Task
    booked_at: datetime | None
    """The time on the task (a call-back's time; None for a task without one)."""
    allowed_at: datetime | None
    """When the call may be made: ``booked_at``, or the next opening of the borrower's window."""
    borrower_asked: bool
    """The borrower asked for this time themself: kept even outside the window."""

    @property
    def moved(self) -> bool:
        """The booked time falls outside the borrower's window: call at ``allowed_at`` instead."""
        return self.booked_at is not None and self.allowed_at != self.booked_at


def window_of(settings: Settings) -> ContactWindow:
    """The contact window of a deployment (``VISITBOT_CONTACT_WINDOW_START``/``END``)."""
    return ContactWindow(settings.contact_window_start, settings.contact_window_end)


def callback_allowed_at(at: datetime, zone: str, window: ContactWindow, *, borrower_asked: bool) -> datetime:
    """When a call-back booked for ``at`` may be made: ``at`` inside the borrower's window (in ``zone``)
    or when the borrower asked for it, else the window's next opening."""
    if borrower_asked or window.contains(at, zone):
        return at
    return window.next_open(at, zone)


def contact_view(task: Task, window: ContactWindow) -> TaskView:
    """A task with the window applied: a call-back outside it moves to the next opening (unless the
    borrower asked for the time); other tasks and timeless ones stay as they are."""
    at, asked = task.due_at, bool(task.borrower_asked)
    if at is None or task.kind != "callback":
        return TaskView(task, at, at, asked)
    return TaskView(task, at, callback_allowed_at(at, task.borrower.timezone, window, borrower_asked=asked), asked)


async def find_officer(sessions: async_sessionmaker[AsyncSession], who: str, *, locale: str) -> User:
    """The active staff member ``who`` names: a Telegram id, else a name (exact, any case)."""
    text = who.strip()
    async with sessions() as session:
        if text.isdigit():
            found = await repo.user_by_telegram_id(session, int(text))
            if found is not None:
                return found
        named = [user for user in await store.staff_by_name(session, text) if user.active]
    if len(named) > 1:
        raise OfficerNotFound(message("tasks_officer_ambiguous", locale, count=len(named), who=text))
    if not named:
        raise OfficerNotFound(message("tasks_no_officer", locale, who=text))
    return named[0]


async def officer_tasks(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    officer_id: int | None = None,
    include_done: bool = False,
) -> list[TaskView]:
    """Open tasks (of one officer, or everyone's) with the rules of contact applied, in the order they may
    be done (the allowed time, soonest first; timeless ones, then done ones, last)."""
    window = window_of(settings)
    async with sessions() as session:
        tasks: Sequence[Task] = await store.tasks_of(session, officer_id=officer_id, include_done=include_done)
    views = [contact_view(task, window) for task in tasks]
    return sorted(views, key=_order)


def _order(view: TaskView) -> tuple[bool, bool, datetime, int]:
    allowed = view.allowed_at or datetime.max.replace(tzinfo=UTC)
    return view.task.done_at is not None, view.allowed_at is None, allowed, view.task.id
