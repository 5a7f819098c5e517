"""``visitbot tasks``: an officer's open call-backs and tasks at the command line, with the rules of contact.

A console-only officer (no Telegram) sees their call-backs here. A call-back booked outside the
borrower's contact window shows the next allowed time (:func:`bot.desk.tasks.contact_view`); one the
borrower asked for keeps its time and says so. Times are in the CLI's zone (``VISITBOT_TIMEZONE``),
named. Without ``--officer``, everyone's tasks; ``--all`` adds tasks already done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, emit_json, out, run
from bot.desk.labels import task_label, task_note_label
from bot.desk.tasks import OfficerNotFound, TaskView, find_officer, officer_tasks
from bot.desk.timefmt import shown
from bot.settings import Settings
from dialogs.i18n import message, register
from storage import repositories as repo

__all__ = ["tasks"]


def h(key: str) -> str:
    """A help text in the user's language."""
    return message(key, cli_locale())


register(
    {
        "tasks_help": {
            "zh-CN": "信贷员的待办：回电和其他任务，按联系规则给出可联系的时间。",
            "en": "An officer's open call-backs and tasks, with the times the rules of contact allow.",
        },
        "tasks_help_officer": {
            "zh-CN": "只看这位员工的（Telegram id 或姓名）。",
            "en": "Only this staff member's (Telegram id or name).",
        },
        "tasks_help_all": {"zh-CN": "包括已完成的任务。", "en": "Tasks already done too."},
        "tasks_help_json": {
            "zh-CN": "输出机器可读的 JSON（时间带时区偏移）。",
            "en": "Machine-readable output (times with offsets).",
        },
        "tasks_none": {"zh-CN": "没有待办任务。", "en": "No open tasks."},
        "tasks_none_of": {"zh-CN": "{name} 没有待办任务。", "en": "{name} has no open tasks."},
        "tasks_title": {"zh-CN": "{name} 的待办任务", "en": "{name}'s tasks"},
        "tasks_title_all": {"zh-CN": "所有员工的待办任务", "en": "Everyone's tasks"},
        "tasks_col_id": {"zh-CN": "编号", "en": "id"},
        "tasks_col_kind": {"zh-CN": "任务", "en": "task"},
        "tasks_col_borrower": {"zh-CN": "借款人", "en": "borrower"},
        "tasks_col_officer": {"zh-CN": "信贷员", "en": "officer"},
        "tasks_col_at": {"zh-CN": "约定时间（{zone}）", "en": "booked for ({zone})"},
        "tasks_col_contact": {"zh-CN": "可联系时间", "en": "may call"},
        "tasks_col_note": {"zh-CN": "原因", "en": "why"},
        "tasks_contact_ok": {"zh-CN": "按约定时间", "en": "at the booked time"},
        "tasks_contact_moved": {
            "zh-CN": "不在可联系时段，最早 {at}",
            "en": "outside the contact hours; earliest {at}",
        },
        "tasks_contact_asked": {
            "zh-CN": "借款人要求的时间，照约定",
            "en": "the time the borrower asked for: kept",
        },
        "tasks_contact_done": {"zh-CN": "已完成 {at}", "en": "done {at}"},
        "tasks_count": {"zh-CN": "共 {count} 项。", "en": "{count} in all."},
        "tasks_moved": {
            "zh-CN": "{moved} 个回电不在借款人可联系时段（借款人当地时间 {opens}–{closes}），已给出最早可联系时间。",
            "en": "{moved} call-back(s) fall outside the borrower's contact hours ({opens}–{closes}, their time): "
            "the earliest allowed time is shown.",
        },
    }
)


def _contact(view: TaskView, zone: str, locale: str) -> Text:
    """What the rules of contact say about a task's time, styled."""
    task = view.task
    if task.done_at is not None:
        return Text(message("tasks_contact_done", locale, at=shown(task.done_at, zone, named=False)), style="dim")
    if view.booked_at is None or task.kind != "callback":
        return Text("")
    if view.borrower_asked:
        return Text(message("tasks_contact_asked", locale), style="cyan")
    if view.moved and view.allowed_at is not None:
        return Text(message("tasks_contact_moved", locale, at=shown(view.allowed_at, zone)), style="yellow")
    return Text(message("tasks_contact_ok", locale), style="green")


def _as_json(view: TaskView, names: dict[int, str]) -> dict[str, object]:
    """One task for ``--json``: codes as stored, times in ISO with their offset."""
    task = view.task

    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at is not None else None

    return {
        "id": task.id,
        "kind": task.kind,
        "borrower": {"code": task.borrower.code, "name": task.borrower.name, "timezone": task.borrower.timezone},
        "officer": names.get(task.officer_id or 0),
        "booked_at": iso(view.booked_at),
        "allowed_at": iso(view.allowed_at),
        "outside_window": view.moved,
        "borrower_asked": view.borrower_asked,
        "note": task.note,
        "done_at": iso(task.done_at),
    }


def tasks(
    officer: Annotated[str | None, typer.Option("--officer", help=h("tasks_help_officer"))] = None,
    include_done: Annotated[bool, typer.Option("--all", help=h("tasks_help_all"))] = False,
    as_json: Annotated[bool, typer.Option("--json", help=h("tasks_help_json"))] = False,
) -> None:
    """List open call-backs and tasks, soonest first, with the times the rules of contact allow."""
    locale = cli_locale()

    async def job(svc: Services) -> tuple[str | None, list[TaskView], dict[int, str], Settings]:
        name = None
        officer_id = None
        if officer is not None:
            try:
                found = await find_officer(svc.sessions, officer, locale=locale)
            except OfficerNotFound as exc:
                raise CommandError(exc.text, code=2) from exc
            name, officer_id = found.name, found.id
        views = await officer_tasks(svc.sessions, svc.settings, officer_id=officer_id, include_done=include_done)
        async with svc.sessions() as session:
            names = {user.id: user.name for user in await repo.list_users(session)}
        return name, views, names, svc.settings

    name, views, names, settings = run(job)
    if as_json:
        emit_json([_as_json(view, names) for view in views])
        return
    zone = settings.timezone
    if not views:
        out.print(message("tasks_none_of", locale, name=name) if name else message("tasks_none", locale), markup=False)
        return
    title = message("tasks_title", locale, name=name) if name else message("tasks_title_all", locale)
    columns = ["id", "kind", "borrower", *([] if name else ["officer"])]
    table = Table(
        *(message(f"tasks_col_{c}", locale) for c in columns),
        message("tasks_col_at", locale, zone=zone),
        message("tasks_col_contact", locale),
        message("tasks_col_note", locale),
        title=title,
    )
    for view in views:
        task = view.task
        cells = [str(task.id), task_label(task.kind, locale), f"{task.borrower.code} {task.borrower.name}"]
        if not name:
            cells.append(names.get(task.officer_id or 0, "-"))
        table.add_row(
            *(Text(cell) for cell in cells),
            Text(shown(view.booked_at, zone, named=False)),
            _contact(view, zone, locale),
            Text(task_note_label(task.kind, task.note, locale)),
        )
    out.print(table)
    out.print(message("tasks_count", locale, count=len(views)), markup=False)
    moved = sum(1 for view in views if view.moved and view.task.done_at is None)
    if moved:
        opens, closes = (f"{t:%H:%M}" for t in (settings.contact_window_start, settings.contact_window_end))
        said = message("tasks_moved", locale, moved=moved, opens=opens, closes=closes)
        out.print(Text(said, style="yellow"), soft_wrap=True)
