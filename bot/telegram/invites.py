"""The button of an invite the bot sent (:func:`bot.desk.invites.queue_invite`): ``i:<invite id>``.

Pressed in the borrower's own chat (the chat whose id is the borrower's Telegram id), it redeems the
invite as ``/start <token>`` does — used, expired, linked, the check-in begun
(:func:`bot.telegram.borrower.open_invite`). A press from any other chat is refused politely.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram.borrower import open_invite
from bot.telegram.common import Sender, answer_query, t
from bot.telegram.render import record_id
from dialogs.i18n import register
from storage.models import Invite
from storage.self_service import InviteCheck, redeem_invite_id

__all__ = ["press_invite"]

register(
    {
        "tg_invite_not_yours": {
            "zh-CN": "这个邀请是发给另一位客户的，在这里无法使用。如需自助回访，请联系您的客户经理。",
            "en": "This invitation was sent to someone else and cannot be used here. "
            "For a check-in of your own, please ask your loan officer.",
        },
    }
)


async def press_invite(update: Update, context: ContextTypes.DEFAULT_TYPE, sender: Sender, rest: str) -> None:
    """An invite's button: redeem it for the borrower whose own chat this is, else refuse politely."""
    query = update.callback_query
    assert query is not None
    invite_id = record_id(rest)
    if invite_id is None:
        await answer_query(query, t("tg_stale", sender))
        return
    await answer_query(query)

    async def redeem(session: AsyncSession) -> InviteCheck:
        invite = await session.get(Invite, invite_id)
        if invite is None or invite.borrower.telegram_id != sender.chat_id or sender.chat_id != sender.telegram_id:
            return InviteCheck(None, "not_yours")
        return await redeem_invite_id(session, invite_id, telegram_id=sender.telegram_id)

    await open_invite(context, sender, redeem)
