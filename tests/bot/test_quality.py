"""Visits that cannot be faked (形式化): each quality flag on a visit walked through the desk, its figures in the
visit's record, and an honest visit (and an honest stable borrower) raising none."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import event, select, update

from bot.desk import Actor, FixedClock, VisitDesk
from bot.desk.corrections import CorrectionDesk
from bot.desk.evidence import evidence_lines
from bot.desk.files import keep, photo_hash
from bot.desk.quality import distance_km
from bot.desk.records import visit_record
from dialogs.answers import Reply
from dialogs.engine import Event, Skip, Submit
from dialogs.schema import AnswerKind
from storage import repositories as repo
from storage.attachments import visit_attachments
from storage.models import Borrower, User, Visit
from storage.web import rank_for_review, rank_of
from tests.desks import CALM, demo_desk

WANG = Actor("officer", 1)  # 王磊: B001, B003, B005, B007 are his
CHEN = Actor("officer", 2)  # 陈静: B002, B004, B006, B008
HOME = (31.2304, 121.4737)  # where B001 lives (the demo borrowers are all within 500 m of it)
FAR_TOWN = (31.6800, 121.4737)  # 50 km north, where B003 lives
STRICT = {  # the production floors (the suite's environment turns the speed check off)
    "quality_min_answer_seconds": 3.0,
    "quality_min_visit_seconds": 60.0,
}

PHONE_HONEST = [
    "是本人",
    "记得",
    "一般",
    "否",
    "否",
    "按约定用途使用",
    "经营贷和信用贷",
    "想了解续贷",
    "否",
    "否",
    "否",
]
"""A phone visit answered with thought: some second options, two answers typed in."""
PHONE_FIRST = ["1", "1", "1", "是", "10000", "1", "是", "无", "1", "无", "无", "是", "是", "是", "是"]
"""Every button the first one (是 for yes/no), the typed answers a token."""


def picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A shop front of coloured blocks: each seed a different picture."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256),) * 3)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        fill = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle((x, y, x + rng.randrange(20, 120), y + rng.randrange(20, 90)), fill=fill)
    return image


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


SHOP = jpeg(picture(1))
SHOP_AGAIN = jpeg(picture(1).resize((200, 150)), quality=60)  # the same photo, resized and re-encoded
OTHER_SHOP = jpeg(picture(2))
THIRD_SHOP = jpeg(picture(3))


@dataclass
class Walked:
    visit_id: int
    flags: dict[str, dict[str, Any]]
    """The visit's live quality flags by code: their record entries (severity, evidence …)."""
    record: dict[str, Any]


@pytest.fixture
async def clock() -> FixedClock:
    return FixedClock("2026-11-23T09:00:00+08:00")  # a Monday morning in Beijing


@pytest.fixture
async def desk(database_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[VisitDesk]:
    async with demo_desk(database_url, clock=clock, files_dir=str(tmp_path / "kept"), **STRICT) as made:
        async with made.sessions() as session, session.begin():  # addresses on file, as the loan book has them
            for code, (lat, lon) in (("B001", HOME), ("B003", FAR_TOWN)):
                await session.execute(update(Borrower).where(Borrower.code == code).values(latitude=lat, longitude=lon))
        yield made


async def walked(desk: VisitDesk, visit_id: int) -> Walked:
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, visit_id)
        assert visit is not None
        record = await visit_record(session, visit)
    flags = {f["code"]: f for f in record["flags"] if f["kind"] == "quality"}
    return Walked(visit_id, flags, record)


async def phone_visit(
    desk: VisitDesk, clock: FixedClock, code: str, answers: list[str], *, seconds: float, actor: Actor = WANG
) -> Walked:
    """The phone visit answered ``answers``, each ``seconds`` after the question before."""
    reply = await desk.begin(code, actor=actor, officer_id=actor.user_id)
    for text in answers:
        clock.advance(seconds=seconds)
        event: Event = Skip() if text == "/skip" else Submit(Reply(text=text))
        reply = await desk.act(reply.visit_id, event, actor=actor, said=text)
        assert reply.turn.error is None, (text, reply.turn.error)
    assert reply.turn.finished
    return await walked(desk, reply.visit_id)


ONSITE = {
    AnswerKind.CHOICE: "2",
    AnswerKind.MULTI: "1,2",
    AnswerKind.YESNO: "否",
    AnswerKind.INTEGER: "6",
    AnswerKind.MONEY: "20000",
    AnswerKind.PERCENT: "15",
    AnswerKind.TEXT: "门店正常营业，库存充足",
}


async def onsite_visit(
    desk: VisitDesk,
    clock: FixedClock,
    code: str,
    *,
    photo: bytes,
    where: tuple[float, float],
    actor: Actor = WANG,
    seconds: float = 8,
) -> Walked:
    """The on-site visit answered with care (``seconds`` per answer), ``photo`` of the premises, located ``where``."""
    reply = await desk.begin(code, actor=actor, officer_id=actor.user_id, script_id="onsite_visit", channel="onsite")
    while not reply.turn.finished:
        prompt = reply.turn.prompt
        assert prompt is not None
        clock.advance(seconds=seconds)
        kept = None
        if prompt.kind is AnswerKind.PHOTO:
            if prompt.can_skip:
                event: Event = Skip()
            else:
                kept = await keep(desk.files, photo, f"{prompt.step}.jpg")
                event = Submit(Reply(photo=kept.key))
        elif prompt.kind is AnswerKind.LOCATION:
            event = Submit(Reply(location=where))
        elif prompt.step == "pre_check_licence":
            event = Submit(Reply(text="是"))
        else:
            event = Submit(Reply(text=ONSITE[prompt.kind]))
        reply = await desk.act(reply.visit_id, event, actor=actor, said="…", attachment=kept)
        assert reply.turn.error is None, (prompt.step, reply.turn.error)
    return await walked(desk, reply.visit_id)


def lines(flag: dict[str, Any], locale: str = "zh-CN") -> list[str]:
    return evidence_lines("quality", flag["code"], flag["evidence"], locale)


# -- silent on honest work --------------------------------------------------------------------------------------
async def test_honest_visits_raise_no_quality_flag(desk: VisitDesk, clock: FixedClock) -> None:
    phone = await phone_visit(desk, clock, "B001", PHONE_HONEST, seconds=12)
    assert phone.flags == {}, phone.flags
    # a stable borrower a month later: the same choices, nothing typed in (the typed answers skipped): no copy
    clock.advance(days=30)
    stable = await phone_visit(desk, clock, "B001", CALM, seconds=10)
    again = await phone_visit(desk, clock, "B001", CALM, seconds=10)
    assert stable.flags == {} and again.flags == {}, again.flags
    # on site at the address, a photo of its own; another borrower's premises with another photo, two hours on
    # and 50 km away (by car); a third one with a third photo
    clock.advance(days=1)
    first = await onsite_visit(desk, clock, "B001", photo=SHOP, where=(HOME[0] + 0.001, HOME[1]))
    clock.advance(hours=2)
    later = await onsite_visit(desk, clock, "B003", photo=OTHER_SHOP, where=FAR_TOWN)
    other = await onsite_visit(desk, clock, "B002", photo=THIRD_SHOP, where=HOME, actor=CHEN)
    assert (first.flags, later.flags, other.flags) == ({}, {}, {})
    assert all(a["answered_at"] for a in first.record["answers"])


# -- each flag on a visit that looks made up ---------------------------------------------------------------------
async def test_a_visit_answered_in_seconds_is_too_fast(desk: VisitDesk, clock: FixedClock) -> None:
    fast = await phone_visit(desk, clock, "B001", PHONE_HONEST, seconds=1)
    flag = fast.flags["too_fast"]
    assert flag["severity"] == "medium" and flag["explained"] is None
    evidence = flag["evidence"]
    assert (evidence["answers"], evidence["fast"], evidence["seconds"], evidence["floor"]) == (11, 11, 11.0, 3.0)
    assert lines(flag) == ["11 题中 11 题用时不足 3 秒；全程 11 秒"]
    assert lines(flag, "en") == ["11 of 11 answers came in under 3 s each; the whole visit took 11 s"]
    # each answer just over the floor, but the whole visit under a minute
    brisk = await phone_visit(desk, clock, "B003", PHONE_HONEST, seconds=4)
    assert lines(brisk.flags["too_fast"]) == ["全程 44 秒（不足 60 秒）"]


async def test_every_first_option_is_flagged(desk: VisitDesk, clock: FixedClock) -> None:
    lazy = await phone_visit(desk, clock, "B001", PHONE_FIRST, seconds=10)
    assert set(lazy.flags) == {"all_first"}
    flag = lazy.flags["all_first"]
    assert flag["severity"] == "medium" and flag["evidence"]["answers"] == 11
    assert lines(flag) == ["11 道选择题全部选了第一项"]


async def test_answers_copied_from_the_previous_visit(desk: VisitDesk, clock: FixedClock) -> None:
    before = await phone_visit(desk, clock, "B001", PHONE_HONEST, seconds=12)
    clock.advance(days=30)
    copied = await phone_visit(desk, clock, "B001", PHONE_HONEST, seconds=12)
    assert set(copied.flags) == {"copied_previous"} and before.flags == {}
    evidence = copied.flags["copied_previous"]["evidence"]
    assert evidence["previous"] == {"visit": before.visit_id, "date": "2026-11-23"}
    assert (evidence["answers"], evidence["free_form"]) == (11, 2)
    assert lines(copied.flags["copied_previous"]) == [
        f"11 个回答与 #{before.visit_id}（2026-11-23）完全相同，其中 2 个为填写项"
    ]
    # another borrower's visit with the same answers is not a copy of this one
    assert (await phone_visit(desk, clock, "B003", PHONE_HONEST, seconds=12)).flags == {}
    # a supervisor corrects what the borrower really said: the visit is judged again, the copy flag cleared
    async with desk.sessions() as session:
        boss = (await session.scalars(select(User).where(User.role == "supervisor"))).first()
    assert boss is not None
    await CorrectionDesk(desk).correct(copied.visit_id, "needs", "想申请提额", reason="回听录音", user=boss)
    assert (await walked(desk, copied.visit_id)).flags == {}


async def test_a_photo_reused_for_two_borrowers(desk: VisitDesk, clock: FixedClock) -> None:
    assert photo_hash(SHOP) is not None and photo_hash(b"\xff\xd8\xff\xe0 not a picture") is None
    first = await onsite_visit(desk, clock, "B001", photo=SHOP, where=HOME)
    clock.advance(hours=3)
    reused = await onsite_visit(desk, clock, "B002", photo=SHOP_AGAIN, where=HOME, actor=CHEN)
    assert first.flags == {} and set(reused.flags) == {"photo_reused"}
    flag = reused.flags["photo_reused"]
    assert flag["severity"] == "high"
    (match,) = flag["evidence"]["matches"]
    assert (match["visit"], match["borrower"], match["step"], match["date"]) == (
        first.visit_id, "B001", "photo_site", "2026-11-23",
    )  # fmt: skip
    name = first.record["borrower"]["name"]
    bits = match["bits"]
    assert 0 <= bits <= 3
    shown = f"与 #{first.visit_id}（B001 {name}，2026-11-23）的照片相同" + (f"（差 {bits} 位）" if bits else "")
    assert lines(flag) == [shown]
    async with desk.sessions() as session:
        (kept,) = await visit_attachments(session, reused.visit_id)
    assert kept.phash is not None and len(kept.phash) == 16
    assert [kept.phash_0, kept.phash_1, kept.phash_2, kept.phash_3] == [
        int(kept.phash[i : i + 4], 16) for i in (0, 4, 8, 12)
    ]


async def test_an_onsite_visit_far_from_the_address_on_file(desk: VisitDesk, clock: FixedClock) -> None:
    where = (31.5650, 121.4737)  # 37 km north of B001's address
    far = await onsite_visit(desk, clock, "B001", photo=SHOP, where=where)
    assert set(far.flags) == {"far_location"}
    flag = far.flags["far_location"]
    assert flag["severity"] == "medium"
    km = round(distance_km(*where, *HOME), 1)
    assert flag["evidence"]["km"] == km == 37.2 and flag["evidence"]["address"] == {"lat": HOME[0], "lon": HOME[1]}
    assert lines(flag) == ["距登记地址 37.2 公里"] and lines(flag, "en") == ["37.2 km from the address on file"]
    # a phone visit has no location: nothing to check; a borrower without coordinates is not judged
    async with desk.sessions() as session, session.begin():
        await session.execute(update(Borrower).where(Borrower.code == "B003").values(latitude=None, longitude=None))
    assert (await onsite_visit(desk, clock, "B003", photo=OTHER_SHOP, where=where)).flags == {}


async def test_two_onsite_visits_50_km_apart_five_minutes_apart(desk: VisitDesk, clock: FixedClock) -> None:
    first = await onsite_visit(desk, clock, "B001", photo=SHOP, where=HOME, seconds=6)
    second = await onsite_visit(desk, clock, "B003", photo=OTHER_SHOP, where=FAR_TOWN, seconds=6)
    assert first.flags == {} and set(second.flags) == {"impossible_sequence"}
    flag = second.flags["impossible_sequence"]
    assert flag["severity"] == "high"
    (other,) = flag["evidence"]["others"]
    assert other["visit"] == first.visit_id and other["km"] == 50.0
    assert 3 <= other["minutes"] <= 6 and other["kmh"] > 500
    minutes = f"{other['minutes']:.0f}" if float(other["minutes"]).is_integer() else f"{other['minutes']:.1f}"
    assert lines(flag) == [f"与 #{first.visit_id} 相隔 {minutes} 分钟、50 公里（需时速 {other['kmh']} 公里）"]
    # 陈静 back at the first address minutes later: she was not at the far town, so no sequence of hers
    assert (await onsite_visit(desk, clock, "B002", photo=THIRD_SHOP, where=HOME, actor=CHEN, seconds=6)).flags == {}


async def test_the_last_answer_writes_the_judged_visit_once(desk: VisitDesk, clock: FixedClock) -> None:
    """Finishing a visit the judges flag: its end, its measures and its place in the review queue go in one
    UPDATE of the visit (not one before judging and one after), and a script that asks for no photo reads
    no photos to compare; the flag and the rank are kept all the same."""
    reply = await desk.begin("B001", actor=WANG, officer_id=1)
    engine = desk.sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    for n, text in enumerate(PHONE_HONEST):
        clock.advance(seconds=1)  # far too fast: too_fast holds
        if n == len(PHONE_HONEST) - 1:
            event.listen(engine, "before_cursor_execute", seen)
        try:
            reply = await desk.act(reply.visit_id, Submit(Reply(text=text)), actor=WANG, said=text)
        finally:
            if event.contains(engine, "before_cursor_execute", seen):
                event.remove(engine, "before_cursor_execute", seen)
    assert reply.turn.finished
    visit_updates = [s for s in statements if s.startswith("UPDATE visits")]
    assert len(visit_updates) == 1, visit_updates
    assert "review_rank" in visit_updates[0] and "status" in visit_updates[0]
    assert not [s for s in statements if "FROM attachments" in s], statements
    walked_visit = await walked(desk, reply.visit_id)
    assert set(walked_visit.flags) >= {"too_fast"}
    async with desk.sessions() as session:
        rank = await session.scalar(select(Visit.review_rank).where(Visit.id == reply.visit_id))
        assert rank == await rank_for_review(session, reply.visit_id) != rank_of([])  # as its live flags rank it
