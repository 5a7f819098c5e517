"""Photos given as answers are kept in the file store with the visit, so supervisors see them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.desk import Actor, DeskReply, FixedClock, VisitDesk
from bot.desk.files import FileStore, FileStoreError, KeptFile, LocalFileStore, keep, keep_path
from bot.desk.records import visit_record
from dialogs.answers import Reply
from dialogs.engine import Back, Skip, Submit
from dialogs.schema import AnswerKind
from storage import repositories as repo
from storage.attachments import key_in_use, visit_attachments
from tests.desks import demo_desk

OFFICER = Actor("officer", 1)
JPEG = b"\xff\xd8\xff\xe0" + b"premises" * 100
OTHER = b"\xff\xd8\xff\xe0" + b"stock" * 100


# -- the store ----------------------------------------------------------------------------------
def test_a_local_store_keeps_bytes_under_a_content_key(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path / "files")
    assert isinstance(store, FileStore)
    assert not (tmp_path / "files").exists()  # nothing is made before the first file
    key = store.put(JPEG, "AgACAgUAAx.jpg")
    assert key.endswith(".jpg") and key[:2] == key[3:5]
    assert store.read(key) == JPEG and store.exists(key)
    with store.open(key) as stream:
        assert stream.read() == JPEG
    assert Path(store.path(key)).read_bytes() == JPEG
    assert store.put(JPEG, "again.jpg") == key  # the same photo twice is kept once
    assert store.put(OTHER, "stock.jpg") != key
    assert sorted(p.name for p in (tmp_path / "files").rglob("*") if p.is_file() and p.name.startswith(".part")) == []
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # a missing file is no error


def test_a_key_never_reaches_outside_the_store(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    (tmp_path.parent / "secret.txt").write_text("no")
    for key in ("../secret.txt", "/etc/passwd", "ab/../../secret.txt", ""):
        with pytest.raises(FileStoreError):
            store.read(key)


def test_an_odd_suffix_is_dropped_and_a_huge_file_refused(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    assert "." not in store.put(JPEG, "photo.<script>").split("/")[1]
    with pytest.raises(FileStoreError, match="too large"):
        store.put(b"x" * (20 * 1024 * 1024 + 1), "big.jpg")


def test_a_store_that_cannot_write_says_so(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(FileStoreError, match="cannot keep"):
        LocalFileStore(blocked).put(JPEG, "x.jpg")


async def test_keep_runs_off_the_loop_and_reports_what_the_row_needs(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    kept = await keep(store, bytearray(JPEG), "photos/file_3.jpg", source_ref="AgACAgUAAx")
    assert kept.size == len(JPEG) and len(kept.sha256) == 64 and kept.content_type == "image/jpeg"
    assert kept.source_ref == "AgACAgUAAx" and store.read(kept.key) == JPEG
    picture = tmp_path / "shop.png"
    picture.write_bytes(OTHER)
    copied = keep_path(store, picture)
    assert copied.key.endswith(".png") and copied.source_ref == str(picture)
    assert store.read(copied.key) == OTHER


# -- a photo answer on the desk -----------------------------------------------------------------
@pytest.fixture
async def desk(sqlite_url: str, tmp_path: Path) -> AsyncIterator[VisitDesk]:
    clock = FixedClock("2026-11-23T10:00:00+08:00")  # a Monday morning in Beijing
    async with demo_desk(sqlite_url, clock=clock, files_dir=str(tmp_path / "kept")) as made:
        yield made


def _answer_for(reply: DeskReply) -> Submit | Skip:
    prompt = reply.turn.prompt
    assert prompt is not None
    if prompt.can_skip:
        return Skip()
    kind = prompt.kind
    text = {
        AnswerKind.CHOICE: "1",
        AnswerKind.MULTI: "1",
        AnswerKind.YESNO: "n" if prompt.step != "pre_check_licence" else "y",
        AnswerKind.INTEGER: "3",
        AnswerKind.MONEY: "1000",
        AnswerKind.PERCENT: "10",
        AnswerKind.TEXT: "正常",
    }[kind]
    return Submit(Reply(text=text))


async def to_photo_step(desk: VisitDesk) -> DeskReply:
    """Start an on-site visit and answer plainly until it asks for the first photo."""
    reply = await desk.begin("B002", actor=OFFICER, officer_id=1, script_id="onsite_visit", channel="onsite")
    for _ in range(80):
        prompt = reply.turn.prompt
        assert prompt is not None, reply.turn
        if prompt.kind is AnswerKind.PHOTO:
            return reply
        reply = await desk.act(reply.visit_id, _answer_for(reply), actor=OFFICER, said="…")
        assert reply.turn.error is None, reply.turn.error
    raise AssertionError("no photo question")


async def send_photo(desk: VisitDesk, visit_id: int, data: bytes, ref: str) -> tuple[DeskReply, KeptFile]:
    kept = await keep(desk.files, data, f"{ref}.jpg", source_ref=ref)
    reply = await desk.act(visit_id, Submit(Reply(photo=kept.key)), actor=OFFICER, said="[photo]", attachment=kept)
    return reply, kept


async def test_a_photo_answer_is_kept_with_the_visit(desk: VisitDesk, tmp_path: Path) -> None:
    at_photo = await to_photo_step(desk)
    step = at_photo.turn.prompt.step if at_photo.turn.prompt else ""
    reply, kept = await send_photo(desk, at_photo.visit_id, JPEG, "AgACAgUAAxkBAAIB")
    assert reply.turn.error is None and reply.turn.prompt is not None and reply.turn.prompt.step != step
    assert (tmp_path / "kept" / kept.key).read_bytes() == JPEG
    async with desk.sessions() as session:
        visit = await repo.load_visit(session, at_photo.visit_id)
        assert visit is not None
        record = await visit_record(session, visit)
    assert record["attachments"] == [
        {
            "id": record["attachments"][0]["id"],  # the attachment row's id (the web desk's /visits/<id>/files/<id>)
            "step": step,
            "kind": "photo",
            "key": kept.key,
            "size": len(JPEG),
            "sha256": kept.sha256,
            "content_type": "image/jpeg",
            "at": "2026-11-23T02:00:00+00:00",
        }
    ]
    answer = next(a for a in record["answers"] if a["step"] == step)
    assert answer["value"] == {"file": kept.key} and answer["answered_by"] == "officer"
    notes = [m["text"] for m in record["transcript"] if m["direction"] == "note"]
    assert any("照片已保存" in n and kept.key in n for n in notes), notes
    assert desk.files.read(record["attachments"][0]["key"]) == JPEG  # a supervisor can open it


async def test_a_withdrawn_photo_answer_drops_its_attachment(desk: VisitDesk) -> None:
    at_photo = await to_photo_step(desk)
    _, first = await send_photo(desk, at_photo.visit_id, JPEG, "first")
    await desk.act(at_photo.visit_id, Back(), actor=OFFICER, said="/back")
    _, second = await send_photo(desk, at_photo.visit_id, OTHER, "second")
    async with desk.sessions() as session:
        rows = await visit_attachments(session, at_photo.visit_id)
        assert [r.store_key for r in rows] == [second.key]
        assert not await key_in_use(session, first.key) and await key_in_use(session, second.key)


async def test_a_photo_not_recorded_writes_no_attachment(desk: VisitDesk) -> None:
    """A photo for an earlier question (expect_step) is refused; no row points at its file."""
    at_photo = await to_photo_step(desk)
    kept = await keep(desk.files, JPEG, "late.jpg")
    reply = await desk.act(
        at_photo.visit_id, Submit(Reply(photo=kept.key)), actor=OFFICER, said="[photo]", attachment=kept,
        expect_step="receiver",
    )  # fmt: skip
    assert reply.stale
    async with desk.sessions() as session:
        assert list(await visit_attachments(session, at_photo.visit_id)) == []


def test_the_default_store_is_the_settings_folder(tmp_path: Path) -> None:
    from bot.settings import Settings
    from dialogs.catalog import ScriptCatalog

    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", files_dir=str(tmp_path / "x"))
    made = VisitDesk(None, ScriptCatalog(), settings)  # type: ignore[arg-type]
    assert isinstance(made.files, LocalFileStore) and made.files.root == tmp_path / "x"
    assert os.fspath(made.files.root) == str(tmp_path / "x")


async def test_a_photo_path_typed_on_the_console_is_copied_into_the_store(desk: VisitDesk, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from bot.console import ConsoleVisit

    picture = tmp_path / "shop.jpg"
    picture.write_bytes(JPEG)
    out = io.StringIO()
    console = ConsoleVisit(desk, code="B002", locale="zh-CN", out=Console(file=out, width=200))
    plain = {AnswerKind.CHOICE: "1", AnswerKind.MULTI: "1", AnswerKind.YESNO: "n", AnswerKind.INTEGER: "3"}
    plain |= {AnswerKind.MONEY: "1000", AnswerKind.PERCENT: "10", AnswerKind.TEXT: "正常"}
    sent: list[str] = []

    def read() -> str:
        if console.kind is AnswerKind.PHOTO:
            if sent:
                return "/quit"
            sent.append(str(picture))
            return str(picture)
        assert console.kind is not None
        return plain[console.kind]

    started = await desk.begin("B002", actor=OFFICER, officer_id=1, script_id="onsite_visit", channel="onsite")
    await console.run(started, 1, read)
    shown = out.getvalue()
    assert "请输入图片文件的路径" in shown  # the console says how to give a photo there …
    async with desk.sessions() as session:
        rows = await visit_attachments(session, started.visit_id)
    assert len(rows) == 1 and rows[0].source_ref == str(picture)
    assert desk.files.read(rows[0].store_key) == JPEG  # … and keeps a copy, not the path


def test_the_photo_re_ask_names_no_console_path() -> None:
    from dialogs.i18n import message

    for locale in ("zh-CN", "en"):
        text = message("answer_photo_needed", locale)
        assert "路径" not in text and "path" not in text and "console" not in text and "控制台" not in text


async def test_a_telegram_photo_is_downloaded_into_the_store(tmp_path: Path) -> None:
    """The photo's bytes come from Telegram (getFile, then the file URL), not only its file_id."""
    from types import SimpleNamespace

    from telegram import Bot

    from bot.telegram.common import Sender
    from bot.telegram.visits import _keep_photo
    from tests.bot.telegram.harness import TOKEN
    from tests.botapi import BotApiDouble

    store = LocalFileStore(tmp_path / "kept")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        user = double.user(8401, "王磊")
        async with Bot(TOKEN, base_url=double.base_url, base_file_url=double.base_file_url) as bot:
            await user.send_photo(JPEG)
            updates = await bot.get_updates(timeout=5)
            message = updates[-1].message
            assert message is not None and message.photo
            services = SimpleNamespace(desk=SimpleNamespace(files=store))
            context = SimpleNamespace(bot=bot, application=SimpleNamespace(bot_data={"services": services}))
            sender = Sender(user.user_id, user.chat_id, "zh-CN", None, None)
            kept = await _keep_photo(context, sender, message.photo[-1].file_id)  # type: ignore[arg-type]
            assert kept is not None and store.read(kept.key) == JPEG
            assert kept.source_ref == message.photo[-1].file_id and kept.key.endswith(".jpg")
            lost = await _keep_photo(context, sender, "no-such-file")  # type: ignore[arg-type]
            assert lost is None
            told = await user.wait_for_message("照片没能保存")
            assert "再发送一次" in (told.text or "")
