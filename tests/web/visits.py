"""The visits the browser tests review, walked through the core as any front-end would record them.

Two teams: 城东支行 (the demo's: officers 王磊 and 陈静, supervisor 刘主管) and 城西支行 (supervisor
赵主管 and officer 孙平, who is given one demo borrower). Every visit is a real one — answers, transcript,
flags, a photo in the file store — so the pages show what production would store.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.app import services
from bot.desk import Actor, planning
from bot.desk.files import keep
from bot.settings import Settings
from dialogs.answers import Reply
from dialogs.engine import Event, Skip, Submit
from dialogs.schema import AnswerKind
from storage.models import Borrower, User
from tests.bot import planted
from tests.desks import CALM, RISKY

WEST_TEAM = "城西支行"
WEST_OFFICER_ID = 7004
"""孙平's Telegram id (the other team's officer)."""
WEST_BORROWER = "B006"
"""The demo borrower handed to 孙平."""


def png(width: int = 48, height: int = 32) -> bytes:
    """A small valid PNG (a two-colour stripe), so the browser decodes it (``naturalWidth > 0``)."""
    rows = b"".join(b"\x00" + bytes((200, 60 + y * 4, 40) * width) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PHOTO = png()


@dataclass(frozen=True)
class Planted:
    """What the tests look for: the visits by role, the staff's user ids."""

    risky: int
    """王磊's phone visit to B001 with a high-risk flag."""
    onsite: int
    """王磊's on-site visit to B005 with a photo (the one sent back: 王磊 is on Telegram)."""
    calm: int
    """陈静's calm phone visit to B002 (the one approved)."""
    west: int
    """孙平's visit to B006 (城西支行): never shown to 城东支行's supervisor."""
    user_ids: dict[str, int]
    """Staff's user ids by name: 王磊, 陈静, 孙平 (officers), 刘主管, 赵主管 (supervisors)."""


async def add_west_team(settings: Settings) -> None:
    """孙平 joins 城西支行 (赵主管's team, made by the harness) and takes over one demo borrower."""
    async with planted.transaction(settings.database_url) as session:
        sun = await planted.user(session, "孙平", "officer", WEST_TEAM, telegram_id=WEST_OFFICER_ID)
        borrower = await session.scalar(select(Borrower).where(Borrower.code == WEST_BORROWER))
        assert borrower is not None
        borrower.officer_id = sun.id


async def plan_month(settings: Settings) -> None:
    """This month's plan, as ``visitbot plan YYYY-MM --seed 11`` makes it: the visits then fulfil its entries."""
    async with services(settings) as svc:
        month = svc.clock.now().astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m")
        await planning.make_plan(svc.sessions, svc.settings, svc.clock, month, seed=11)


async def plant(settings: Settings) -> Planted:
    """Record the four visits through the core (after :func:`add_west_team`)."""
    async with planted.transaction(settings.database_url) as session:
        rows = (await session.execute(select(User.name, User.id).where(User.role.in_(("officer", "supervisor"))))).all()
        ids = {name: user_id for name, user_id in rows}
    return Planted(
        risky=await phone_visit(settings, "B001", ids["王磊"], RISKY),
        onsite=await onsite_visit(settings, "B005", ids["王磊"]),
        calm=await phone_visit(settings, "B002", ids["陈静"], CALM),
        west=await phone_visit(settings, WEST_BORROWER, ids["孙平"], CALM),
        user_ids=ids,
    )


async def phone_visit(settings: Settings, code: str, officer_id: int, answers: list[str]) -> int:
    """The phone visit, typed as the officer would (labels; ``/skip``); returns its id."""
    actor = Actor("officer", officer_id)
    async with services(settings) as svc:
        reply = await svc.desk.begin(code, actor=actor, officer_id=officer_id)
        for text in answers:
            event: Event = Skip() if text == "/skip" else Submit(Reply(text=text))
            reply = await svc.desk.act(reply.visit_id, event, actor=actor, said=text)
            assert reply.turn.error is None, (code, text, reply.turn.error)
        assert reply.turn.finished, (code, reply.turn.prompt)
        return reply.visit_id


_PLAIN = {
    AnswerKind.CHOICE: "1",
    AnswerKind.MULTI: "1",
    AnswerKind.YESNO: "否",
    AnswerKind.INTEGER: "3",
    AnswerKind.MONEY: "100000",
    AnswerKind.PERCENT: "10",
    AnswerKind.TEXT: "经营正常，门店在营业",
}


async def onsite_visit(settings: Settings, code: str, officer_id: int) -> int:
    """An on-site visit answered plainly: the first photo given (a real PNG), the others skipped, a location."""
    actor = Actor("officer", officer_id)
    async with services(settings) as svc:
        reply = await svc.desk.begin(code, actor=actor, officer_id=officer_id, script_id="onsite_visit")
        photos = 0
        for _ in range(80):
            if reply.turn.finished:
                return reply.visit_id
            prompt = reply.turn.prompt
            assert prompt is not None, reply.turn
            if prompt.kind is AnswerKind.PHOTO and not photos:
                kept = await keep(svc.desk.files, PHOTO, "premises.png")
                photos += 1
                reply = await svc.desk.act(
                    reply.visit_id, Submit(Reply(photo=kept.key)), actor=actor, said="[photo]", attachment=kept
                )
            elif prompt.kind is AnswerKind.LOCATION:
                reply = await svc.desk.act(
                    reply.visit_id, Submit(Reply(location=(31.2304, 121.4737))), actor=actor, said="[location]"
                )
            elif prompt.can_skip:
                reply = await svc.desk.act(reply.visit_id, Skip(), actor=actor, said="/skip")
            else:
                text = "是" if prompt.kind is AnswerKind.YESNO and prompt.step == "pre_check_licence" else None
                text = text or _PLAIN[prompt.kind]
                reply = await svc.desk.act(reply.visit_id, Submit(Reply(text=text)), actor=actor, said=text)
            assert reply.turn.error is None, (prompt.step, reply.turn.error)
    raise AssertionError("the on-site visit did not end")
