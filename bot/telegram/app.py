"""The Telegram application: handlers by role, the command menu, polling or webhook."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.app import Services, settle_heap
from bot.desk.invites import INVITE_DATA
from bot.settings import Settings
from bot.telegram import borrower, officer, supervisor
from bot.telegram import contact as contact_commands
from bot.telegram import corrections as correction_commands
from bot.telegram import flags as flag_commands
from bot.telegram import plan as plan_commands
from bot.telegram import relief as relief_commands
from bot.telegram.calls import VisitBot
from bot.telegram.common import Sender, answer_query, identify, is_answered, send, services_of, t
from bot.telegram.delivery import ChatOrderedProcessor, ChatPacedLimiter
from bot.telegram.digest import install as schedule_digests
from bot.telegram.http import AiohttpRequest
from bot.telegram.invites import press_invite
from bot.telegram.outbox import install as deliver_outbox
from bot.telegram.promises import install as check_promises
from bot.telegram.reminders import expire_old_updates, forget_old_updates
from bot.telegram.render import record_id
from bot.telegram.visits import load_chat, on_button, on_input, reshow
from bot.telegram.web import web_link
from dialogs.i18n import LOCALES, message, normalize_locale, register
from dialogs.schema import Outcome
from storage import repositories as repo

__all__ = ["COMMANDS", "build_application"]

log = logging.getLogger(__name__)

Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE, Sender], Awaitable[object]]

STAFF = ("officer", "supervisor", "admin")
OFFICERS = ("officer", "admin")
REVIEWERS = ("supervisor", "admin")

OFFICER_COMMANDS = (
    "visit", "resume", "back", "skip", "cancel", "note", "invite", "reply", "correct", "plan", "flag", "web",
)  # fmt: skip
SUPERVISOR_COMMANDS = ("review", "relief", "transcript", "correct", "export", "resolve", "refusals", "progress", "web")
COMMANDS: dict[str, tuple[str, ...]] = {
    "stranger": ("start", "help"),
    "borrower": borrower.BORROWER_COMMANDS,
    "officer": ("start", "help", *OFFICER_COMMANDS, "transcript"),
    "supervisor": ("start", "help", *SUPERVISOR_COMMANDS),
    "admin": ("start", "help", *OFFICER_COMMANDS, *(c for c in SUPERVISOR_COMMANDS if c not in OFFICER_COMMANDS)),
}

register(
    {
        "cmd_start": {"zh-CN": "开始", "en": "Start"},
        "cmd_help": {"zh-CN": "帮助", "en": "Help"},
        "cmd_visit": {"zh-CN": "开始回访（可加编号或姓名）", "en": "Start a visit (code or name)"},
        "cmd_resume": {"zh-CN": "继续未完成的回访", "en": "Resume an unfinished visit"},
        "cmd_back": {"zh-CN": "撤回上一个回答", "en": "Undo the last answer"},
        "cmd_skip": {"zh-CN": "跳过当前问题", "en": "Skip this question"},
        "cmd_cancel": {"zh-CN": "结束回访并选择结果", "en": "End the visit with an outcome"},
        "cmd_note": {"zh-CN": "给回访加备注", "en": "Add a remark to the visit"},
        "cmd_invite": {"zh-CN": "生成客户自助回访链接", "en": "Make a self-service link for a borrower"},
        "cmd_reply": {"zh-CN": "回复主管的退回意见", "en": "Answer a supervisor's comment"},
        "cmd_review": {"zh-CN": "待审核的回访", "en": "Visits waiting for review"},
        "cmd_transcript": {"zh-CN": "查看回访记录", "en": "Read a visit's transcript"},
        "cmd_export": {"zh-CN": "导出回访（Excel）", "en": "Export visits (Excel)"},
        "tg_welcome_officer": {
            "zh-CN": "{name}，您好！电话回访时用 /visit 选择借款人，我会一步步给出要说的话，您点选对方的回答即可。\n"
            "/resume 继续未完成的回访，/back 撤回，/skip 跳过，/cancel 结束，/note 备注。",
            "en": "Hello {name}! During a call, send /visit to pick the borrower; I show each line to say and "
            "you tap what they answered.\n/resume continues a visit, /back undoes, /skip skips, /cancel ends, "
            "/note adds a remark.",
        },
        "tg_timeout": {
            "zh-CN": "这次处理超时，已停止：没有记录到一半的内容，已经记录的回答都安全保存着。"
            "请再发一次，我会显示当前的问题。",
            "en": "That took too long and was stopped: nothing was half-recorded, and every answer recorded so far "
            "is safe. Send it again and I will show the current question.",
        },
        "tg_working": {
            "zh-CN": "正在处理，请稍候……",
            "en": "Working on it…",
        },
        "tg_welcome_supervisor": {
            "zh-CN": "{name}，您好！高风险预警会第一时间发送给您。",
            "en": "Hello {name}! High-risk alerts reach you as they happen.",
        },
    }
)


def guarded(
    handler: Handler, roles: tuple[str, ...]
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """Wrap a handler: identify the sender, refuse anyone outside ``roles`` politely."""

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        sender = await identify(update, context)
        if sender is None:
            return
        if sender.role not in roles:
            if update.callback_query is not None:
                await answer_query(update.callback_query)
            key = "tg_stranger" if sender.role == "stranger" else "tg_not_allowed"
            await send(context, sender.chat_id, html.escape(t(key, sender, id=sender.telegram_id)))
            return
        try:
            await handler(update, context, sender)
        finally:  # whatever happened, the press does not keep spinning
            if update.callback_query is not None and not is_answered(update.callback_query):
                await answer_query(update.callback_query)

    return callback


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/start [token]: open a self-service invite, or greet staff by role (and refresh their menu)."""
    if context.args:
        await borrower.start_with_token(update, context, sender, context.args[0])
        return
    await set_commands_for(context, sender)
    if sender.role == "borrower":
        if not await resume_chat(context, sender):
            await send(context, sender.chat_id, html.escape(t("tg_welcome_borrower", sender)))
        return
    if sender.user is None:
        await send(context, sender.chat_id, html.escape(t("tg_stranger", sender, id=sender.telegram_id)))
        return
    key = "tg_welcome_officer" if sender.role in OFFICERS else "tg_welcome_supervisor"
    await send(context, sender.chat_id, html.escape(t(key, sender, name=sender.user.name)))


async def resume_chat(context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> bool:
    """Show the chat's open visit's current question again; False when the chat is on none."""
    chat = await load_chat(context, sender.chat_id)
    if chat is None or chat.visit_id is None:
        return False
    await reshow(context, sender, chat.visit_id)
    return True


async def resume(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/resume: a borrower's check-in where it stands; an officer's unfinished visits to pick from."""
    if sender.role in OFFICERS:
        await officer.resume(update, context, sender)
    elif not await resume_chat(context, sender):
        await send(context, sender.chat_id, html.escape(t("tg_welcome_borrower", sender)))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/help: what this person can do here (a borrower: only their own commands)."""
    if sender.role == "borrower":
        await borrower.help_borrower(update, context, sender)
        return
    await start(update, context, sender)


async def buttons(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """Route a button press by its callback data prefix."""
    query = update.callback_query
    assert query is not None
    data = query.data or ""
    kind, _, rest = data.partition(":")
    if kind in ("a", "m", "c"):
        await on_button(update, context, sender)
    elif kind == "v" and sender.role in OFFICERS:
        await answer_query(query)
        await officer.pick_borrower(update, context, sender, rest)
    elif kind == "r" and sender.role in OFFICERS and (resumed := record_id(rest)) is not None:
        await answer_query(query)
        await officer.resume_visit(update, context, sender, resumed)
    elif kind == "s" and sender.role in STAFF and (picked := _staff_data(rest)) is not None:
        await answer_query(query)
        action, visit_id = picked
        if action == "tr":
            await supervisor.transcript(update, context, sender, visit_id)
        elif action == "ok" and sender.role in REVIEWERS:
            await supervisor.approve(update, context, sender, visit_id)
        elif action == "ret" and sender.role in REVIEWERS:
            await supervisor.ask_comment(update, context, sender, visit_id)
    elif kind == "x" and (parsed := _cancel_data(rest)) is not None:
        await officer.cancel_button(update, context, sender, *parsed)
    elif kind == relief_commands.DATA_PREFIX and sender.role in REVIEWERS and (pressed := _staff_data(rest)):
        await answer_query(query)
        await relief_commands.press(update, context, sender, *pressed)  # a hardship request's Approve / Decline
    elif kind == INVITE_DATA:
        await press_invite(update, context, sender, rest)
    else:
        await answer_query(query, t("tg_stale", sender))


def _cancel_data(rest: str) -> tuple[int, Outcome] | None:
    """``<visit id>:<outcome>`` of a /cancel button; None for anything else (forged or garbled data)."""
    visit_id, _, outcome = rest.partition(":")
    number = record_id(visit_id)
    if number is None or outcome not in {o.value for o in Outcome}:
        return None
    return number, Outcome(outcome)


def _staff_data(rest: str) -> tuple[str, int] | None:
    """``<action>:<visit id>`` of a supervisor's button; None for forged or garbled data."""
    action, _, visit_id = rest.partition(":")
    number = record_id(visit_id)
    return None if number is None else (action, number)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """/cancel: leave a pending review comment first (the chat's visit goes on); else end the visit."""
    if sender.role in REVIEWERS and await supervisor.cancel_comment(update, context, sender):
        return
    if sender.role in REVIEWERS and await relief_commands.cancel_reason(update, context, sender):
        return
    if sender.role in OFFICERS:
        await officer.cancel(update, context, sender)
    else:
        await start(update, context, sender)


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """A typed message: a supervisor's pending review comment, else an answer to the chat's visit."""
    if sender.role in REVIEWERS and await supervisor.pending_comment(update, context, sender):
        return
    if sender.role in REVIEWERS and await relief_commands.pending_reason(update, context, sender):
        return
    if sender.role == "supervisor":
        await start(update, context, sender)
        return
    await on_input(update, context, sender)


async def set_commands_for(context: ContextTypes.DEFAULT_TYPE, sender: Sender) -> None:
    """Register the command menu of this person's role for their chat (a borrower's: only their own)."""
    if sender.role == "borrower":
        await borrower.set_borrower_menu(context, sender)
        return
    names = COMMANDS.get(sender.role, COMMANDS["stranger"])
    commands = [BotCommand(name, message(f"cmd_{name}", sender.locale)) for name in names]
    try:
        await context.bot.set_my_commands(commands, scope=BotCommandScopeChat(sender.chat_id))
    except TelegramError as exc:
        log.info("could not set commands for chat %s: %s", sender.chat_id, exc)


async def post_init(application: Application) -> None:  # type: ignore[type-arg]
    """On start: the default menu per language, and each known staff member's menu."""
    svc: Services = application.bot_data["services"]
    for locale in LOCALES:
        commands = [BotCommand(n, message(f"cmd_{n}", locale)) for n in COMMANDS["stranger"]]
        language = "zh" if locale == "zh-CN" else "en"
        await application.bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)
    await application.bot.set_my_commands(
        [BotCommand(n, message(f"cmd_{n}", svc.settings.locale)) for n in COMMANDS["stranger"]]
    )
    if application.job_queue is not None:
        deliver_outbox(application)  # alerts, notices, reminders: polled, and at once after a commit
        if svc.settings.digest:
            schedule_digests(application)  # the morning digest, one daily job per officers' zone
        check_promises(application)  # promises to pay: decided and followed up (bot.desk.promises)
        application.job_queue.run_repeating(expire_old_updates, interval=3600, first=3600)
    await forget_old_updates(svc)
    async with svc.sessions() as session:
        users = [u for u in await repo.list_users(session) if u.telegram_id and u.active]
    for user in users:
        locale = user.locale or svc.settings.locale
        names = COMMANDS.get(user.role, COMMANDS["stranger"])
        assert user.telegram_id is not None
        try:
            await application.bot.set_my_commands(
                [BotCommand(n, message(f"cmd_{n}", locale)) for n in names],
                scope=BotCommandScopeChat(user.telegram_id),
            )
        except TelegramError as exc:  # e.g. the person never opened a chat with the bot
            log.info("no command menu for user %s: %s", user.id, exc)
    settle_heap()  # set up: from here on it serves


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure (masked) and tell the user their answers are safe.

    Telegram still unreachable after the retries is no bug of ours: one line, no traceback."""
    error = context.error
    if isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest):
        log.warning("update failed, the Bot API is unreachable: %s", error)
    else:
        log.error("update failed: %s", error, exc_info=error)
    if isinstance(update, Update) and update.callback_query is not None:
        await answer_query(update.callback_query)  # a failed handler must not leave the button spinning
    if isinstance(update, Update) and update.effective_chat is not None:
        svc = services_of(context)
        try:
            await context.bot.send_message(update.effective_chat.id, message("tg_error", locale_of(update, svc)))
        except TelegramError:
            log.warning("could not tell chat %s about the error", update.effective_chat.id)


def locale_of(update: Update, svc: Services) -> str:
    """The language to answer an update in when the sender is not looked up."""
    return _locale(update, svc.settings)


def _locale(update: Update, settings: Settings) -> str:
    user = update.effective_user
    return normalize_locale(user.language_code) if user and user.language_code else settings.locale


def timeout_notice(settings: Settings) -> Callable[[object], Coroutine[Any, Any, None]]:
    """What to do with an update that ran out of time: answer its press, tell the chat it is safe to resend."""

    async def notify(update: object) -> None:
        if not isinstance(update, Update):
            return
        if update.callback_query is not None:
            await answer_query(update.callback_query, at_once=True)
        if update.effective_chat is not None:
            await update.get_bot().send_message(
                update.effective_chat.id, message("tg_timeout", _locale(update, settings))
            )

    return notify


def slow_press_notice(settings: Settings) -> Callable[[object], Coroutine[Any, Any, None]]:
    """A press that waits long for its answer: answer it 'working on it' so it stops spinning."""

    async def notify(update: object) -> None:
        if isinstance(update, Update) and update.callback_query is not None:
            # now, not in a webhook's response: that goes only once the update was handled
            await answer_query(update.callback_query, message("tg_working", _locale(update, settings)), at_once=True)

    return notify


def bot_api_request(settings: Settings) -> AiohttpRequest:
    """The request the bot's Bot API calls go through: a connection for each update worker and then some."""
    wait = settings.telegram_timeout
    return AiohttpRequest(
        max(settings.update_workers * 2, 8),
        connect_timeout=wait, read_timeout=wait, write_timeout=wait, pool_timeout=wait,
        media_write_timeout=max(wait, 30.0),
    )  # fmt: skip


def build_application(svc: Services) -> Application:  # type: ignore[type-arg]
    """The PTB application talking to ``VISITBOT_TELEGRAM_API_URL`` with every handler registered."""
    settings = svc.settings
    if not settings.telegram_token:
        raise ValueError("VISITBOT_TELEGRAM_TOKEN is not set")
    file_url = settings.telegram_file_url or settings.telegram_api_url.replace("/bot", "/file/bot")
    bot = VisitBot(
        settings.telegram_token,
        base_url=settings.telegram_api_url,
        base_file_url=file_url,
        request=bot_api_request(settings),  # every call but long polling's getUpdates
        get_updates_request=HTTPXRequest(connection_pool_size=1),  # what ApplicationBuilder gives it
        rate_limiter=ChatPacedLimiter(),
    )
    builder = (
        ApplicationBuilder()
        .bot(bot)
        .post_init(post_init)
        .concurrent_updates(
            ChatOrderedProcessor(
                workers=settings.update_workers,
                timeout=settings.update_timeout,
                on_timeout=timeout_notice(settings),
                on_slow_press=slow_press_notice(settings),
            )
        )
    )
    application = builder.build()
    application.bot_data["services"] = svc
    officers = OFFICERS
    application.add_handler(CommandHandler("start", guarded(start, (*STAFF, "stranger", "borrower"))))
    application.add_handler(CommandHandler("help", guarded(help_command, (*STAFF, "stranger", "borrower"))))
    application.add_handler(CommandHandler("visit", guarded(officer.visit, officers)))
    application.add_handler(CommandHandler("resume", guarded(resume, (*officers, "borrower"))))
    application.add_handler(CommandHandler("back", guarded(officer.back, (*officers, "borrower"))))
    application.add_handler(CommandHandler("skip", guarded(officer.skip, (*officers, "borrower"))))
    application.add_handler(CommandHandler("cancel", guarded(cancel, STAFF)))
    application.add_handler(CommandHandler("note", guarded(officer.note, officers)))
    application.add_handler(CommandHandler("invite", guarded(borrower.invite, officers)))
    application.add_handler(CommandHandler("reply", guarded(supervisor.reply_to_review, officers)))
    application.add_handler(CommandHandler("correct", guarded(correction_commands.correct, STAFF)))  # after the fact
    application.add_handler(CommandHandler("review", guarded(supervisor.review, REVIEWERS)))
    application.add_handler(CommandHandler("relief", guarded(relief_commands.relief, REVIEWERS)))
    application.add_handler(CommandHandler("explain", guarded(flag_commands.explain, REVIEWERS)))  # a flag explained
    application.add_handler(CommandHandler("comment", guarded(supervisor.comment, REVIEWERS)))
    application.add_handler(CommandHandler("transcript", guarded(supervisor.transcript, STAFF)))
    application.add_handler(CommandHandler("export", guarded(supervisor.export, REVIEWERS)))
    application.add_handler(CommandHandler("resolve", guarded(contact_commands.resolve, REVIEWERS)))
    application.add_handler(CommandHandler("refusals", guarded(contact_commands.refusals, REVIEWERS)))
    application.add_handler(CommandHandler("plan", guarded(plan_commands.plan, officers)))
    application.add_handler(CommandHandler("flag", guarded(plan_commands.flag, officers)))
    application.add_handler(CommandHandler("progress", guarded(plan_commands.progress, REVIEWERS)))
    application.add_handler(CommandHandler("web", guarded(web_link, STAFF)))  # a login link to the web desk
    application.add_handler(CallbackQueryHandler(guarded(buttons, (*STAFF, "borrower"))))
    answers = (filters.TEXT & ~filters.COMMAND) | filters.PHOTO | filters.LOCATION
    application.add_handler(MessageHandler(answers, guarded(typed, (*STAFF, "borrower"))))
    application.add_handler(MessageHandler(filters.ALL, guarded(help_command, (*STAFF, "stranger", "borrower"))))
    application.add_error_handler(on_error)
    return application
