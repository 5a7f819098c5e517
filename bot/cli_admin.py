"""``visitbot purge`` and ``visitbot audit``: data care at the command line (the CLI acts as an admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from bot.app import Services
from bot.cli_base import CommandError, cli_locale, emit_json, h, out, print_table, run
from bot.desk import audit as audit_log
from bot.desk import retention
from bot.desk.access import cli_admin
from bot.desk.export import day_start
from bot.desk.files import FileStore, LocalFileStore
from bot.desk.retention import Age, BadAge, parse_age
from bot.desk.timefmt import person_zone, shown
from dialogs.i18n import message, register
from storage import repositories as repo
from storage.models import User

__all__ = ["audit", "purge", "viewer_for"]

CLI = "cli"
"""The actor audit entries name for what was done at the command line (no stored user)."""

register(
    {
        "admin_help_purge": {
            "zh-CN": "删除保存期限已过的回访的回答、记录、风险标记和附件（一个事务，并记入审计日志）。",
            "en": "Delete the answers, transcripts, risk flags and attachments of visits past retention "
            "(one transaction, audited).",
        },
        "admin_help_older_than": {
            "zh-CN": "保存期限：5y（整年）或 1825d（天）；默认 VISITBOT_RETENTION_DAYS 天。",
            "en": "Retention: 5y (calendar years) or 1825d (days); default VISITBOT_RETENTION_DAYS days.",
        },
        "admin_help_dry_run": {"zh-CN": "只统计，不删除。", "en": "Count only; delete nothing."},
        "admin_help_audit": {
            "zh-CN": "审计日志：谁查看了记录、导出了什么、改了审核、清理了数据（最新在前）。",
            "en": "The audit log: who viewed a transcript, exported what, changed a review, purged data "
            "(newest first).",
        },
        "admin_help_audit_visit": {"zh-CN": "只看这条回访的记录。", "en": "Only entries about this visit."},
        "admin_help_audit_user": {
            "zh-CN": "只看这位员工的操作（用户编号或姓名）。",
            "en": "Only what this staff member did (user id or name).",
        },
        "admin_help_audit_since": {
            "zh-CN": "从这一天起（YYYY-MM-DD，按部署时区）。",
            "en": "From this day on (YYYY-MM-DD, in the deployment's zone).",
        },
        "admin_help_audit_action": {
            "zh-CN": "只看这种操作（transcript_viewed、export、purge、review_…）。",
            "en": "Only this action (transcript_viewed, export, purge, review_…).",
        },
        "admin_help_json": {"zh-CN": "输出机器可读的 JSON。", "en": "Machine-readable output."},
        "admin_help_limit": {"zh-CN": "最多显示几条。", "en": "Show at most this many."},
        "admin_help_as": {
            "zh-CN": "以这位员工（Telegram id）的身份查看：按其角色遮蔽号码（默认以管理员身份）。",
            "en": "Act as this staff member (Telegram id): numbers masked by their role (default: as an admin).",
        },
        "admin_no_such_user": {
            "zh-CN": "没有 Telegram id 为 {id} 的在职员工（visitbot users list 可查看）。",
            "en": "No active staff member has Telegram id {id} (see visitbot users list).",
        },
        "admin_bad_age": {
            "zh-CN": "--older-than 须是 5y（年）或 1825d（天），不是“{value}”。",
            "en": "--older-than must be like 5y (years) or 1825d (days), not '{value}'.",
        },
        "admin_bad_day": {
            "zh-CN": "--since 的日期“{value}”不存在，请用 YYYY-MM-DD。",
            "en": "--since: '{value}' is not a date; use YYYY-MM-DD.",
        },
        "admin_purge_done": {
            "zh-CN": "已清理 {cutoff} 之前结束的 {visits} 条回访：回答 {answers} 条、记录 {transcript} 条、"
            "风险标记 {flags} 条、附件 {attachments} 个（文件 {files} 个）。",
            "en": "Purged {visits} visit(s) finished before {cutoff}: {answers} answer(s), {transcript} transcript "
            "message(s), {flags} risk flag(s), {attachments} attachment(s) ({files} file(s)).",
        },
        "admin_purge_dry": {
            "zh-CN": "试运行（未删除）：{cutoff} 之前结束的 {visits} 条回访有回答 {answers} 条、记录 {transcript} 条、"
            "风险标记 {flags} 条、附件 {attachments} 个（文件 {files} 个）。",
            "en": "Dry run (nothing deleted): {visits} visit(s) finished before {cutoff} hold {answers} answer(s), "
            "{transcript} transcript message(s), {flags} risk flag(s), {attachments} attachment(s) ({files} file(s)).",
        },
        "admin_audit_empty": {"zh-CN": "审计日志中没有符合条件的记录。", "en": "No audit entries match."},
        "admin_col_at": {"zh-CN": "时间（{zone}）", "en": "at ({zone})"},
        "admin_col_who": {"zh-CN": "操作人", "en": "who"},
        "admin_col_action": {"zh-CN": "操作", "en": "action"},
        "admin_col_visit": {"zh-CN": "回访", "en": "visit"},
        "admin_col_detail": {"zh-CN": "详情", "en": "details"},
        "audit_refused": {
            "zh-CN": "审计日志只对主管和管理员开放。",
            "en": "The audit log is for supervisors and admins only.",
        },
    }
)


async def viewer_for(svc: Services, telegram_id: int | None) -> tuple[User, str | None]:
    """Who the command acts as: the CLI's admin, or (``--as``) the staff member with this Telegram id.

    Returns the user and the actor the audit log names (``cli`` for the admin at the command line).
    """
    if telegram_id is None:
        return cli_admin(), CLI
    async with svc.sessions() as session:
        user = await repo.user_by_telegram_id(session, telegram_id)
    if user is None:
        raise CommandError(message("admin_no_such_user", svc.settings.locale, id=telegram_id), code=2)
    return user, None


def _delete_files(store: FileStore, keys: list[str]) -> None:
    """Delete kept files no attachment uses any more (a file already gone is fine)."""
    for key in keys:
        store.delete(key)


def purge(
    older_than: Annotated[str | None, typer.Option("--older-than", help=h("admin_help_older_than"))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=h("admin_help_dry_run"))] = False,
) -> None:
    """Delete the personal data of visits past retention."""
    locale = cli_locale()
    try:
        age = parse_age(older_than) if older_than is not None else None
    except BadAge as exc:
        raise CommandError(message("admin_bad_age", locale, value=exc.text), code=2) from exc

    async def job(svc: Services) -> dict[str, Any]:
        chosen = age or Age(days=svc.settings.retention_days)
        async with svc.sessions() as session, session.begin():
            result = await retention.purge(
                session, chosen, now=svc.clock.now(), dry_run=dry_run, user=cli_admin(), actor=CLI
            )
            if dry_run:
                await session.rollback()
        if not dry_run and result.removed.files:  # after the commit: a file is gone only once its row is
            await asyncio.to_thread(_delete_files, LocalFileStore(svc.settings.files_dir), result.removed.files)
        zone = svc.settings.timezone
        return {**result.removed.counts(), "files": len(result.removed.files), "cutoff": shown(result.cutoff, zone)}

    counts = run(job)
    key = "admin_purge_dry" if dry_run else "admin_purge_done"
    out.print(message(key, locale, **counts), style="green", markup=False, soft_wrap=True)


def audit(
    visit: Annotated[int | None, typer.Option("--visit", help=h("admin_help_audit_visit"))] = None,
    user: Annotated[str | None, typer.Option("--user", help=h("admin_help_audit_user"))] = None,
    since: Annotated[str | None, typer.Option("--since", help=h("admin_help_audit_since"))] = None,
    action: Annotated[str | None, typer.Option("--action", help=h("admin_help_audit_action"))] = None,
    limit: Annotated[int, typer.Option("--limit", help=h("admin_help_limit"))] = 200,
    as_json: Annotated[bool, typer.Option("--json", help=h("admin_help_json"))] = False,
) -> None:
    """Show the audit log."""
    locale = cli_locale()

    async def job(svc: Services) -> tuple[str, list[audit_log.AuditLine]]:
        zone = person_zone(None, svc.settings.timezone)
        try:
            start = day_start(since, zone) if since else None
        except ValueError as exc:
            raise CommandError(message("admin_bad_day", locale, value=since), code=2) from exc
        by_id = user is not None and user.isdigit()
        flt = audit_log.AuditFilter(
            visit_id=visit,
            user_id=int(user) if by_id and user is not None else None,
            user_name=None if by_id else user,
            action=action,
            since=start,
            limit=limit,
        )
        async with svc.sessions() as session:
            return zone, await audit_log.entries(session, cli_admin(), flt)

    zone, lines = run(job)
    if as_json:
        emit_json([{**line.__dict__, "at": line.at.isoformat()} for line in lines])
        return
    columns = ("who", "action", "visit", "detail")
    headers = [message("admin_col_at", locale, zone=zone), *(message(f"admin_col_{c}", locale) for c in columns)]
    rows = [
        (
            shown(line.at, zone, named=False),
            f"{line.user_name} ({line.actor})" if line.user_name else line.actor,
            line.action,
            line.visit_id or "",
            audit_log.describe(line.detail),
        )
        for line in lines
    ]
    print_table(headers, rows, empty=message("admin_audit_empty", locale))
