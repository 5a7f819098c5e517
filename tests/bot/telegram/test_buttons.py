"""Buttons record once: double presses and stale buttons; every press is answered; message hygiene."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import func, select

from bot.telegram.render import MAX_CALLBACK_BYTES, encode, one_message, split_text, visible_length
from dialogs.catalog import ScriptCatalog
from dialogs.schema import AnswerKind
from storage.db import make_engine
from storage.models import Answer
from tests.bot.telegram.harness import OFFICER_ID, cli, running
from tests.botapi import BotApiDouble
from tests.botapi.markup import render_text
from tests.botapi.people import prompt_of

RECORDED = "已记录"
STALE = "未重复记录"
MARKUP = "<b>x</b> & co"


async def answer_rows(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(Answer))).scalar_one())
    finally:
        await engine.dispose()


async def test_double_presses_and_stale_buttons_record_once(
    double: BotApiDouble, env: dict[str, str], tmp_path: Path
) -> None:
    officer = double.user(OFFICER_ID, "王磊")
    presses: list[str] = []
    async with running(env, tmp_path / "bot.log") as bot:
        await officer.send("/visit B001")
        identity = await officer.wait_for_message("请问您是", timeout=30)
        # The same button twice in quick succession: the second press records nothing and says so.
        presses += [await officer.press("是本人", identity), await officer.press("是本人", identity)]
        first, second = [await officer.wait_for_answer(q) for q in presses]
        assert first.text == RECORDED
        assert second.text is not None and STALE in second.text
        # The pressed question shows its answer, and the next question (with its own buttons) under it.
        introduction = await officer.wait_for_message("还记得吗")
        assert introduction.message_id == identity.message_id and "✅ 是本人" in (introduction.text or "")
        assert "不是本人" not in str(introduction.buttons), "the answered question's buttons are gone"

        # A button of the old question (its keyboard is gone, but Telegram clients may still send
        # it): another option of it must not end the visit as a wrong party.
        not_self = dict(b for row in identity.buttons for b in row)["不是本人"]
        assert not_self is not None
        presses.append(await officer.press_data(not_self, identity.message_id))
        stale = await officer.wait_for_answer(presses[-1])
        assert stale.text is not None and STALE in stale.text
        # A forged press for a visit this chat is not on, and for a step that does not exist.
        for data in ("a:99:identity:self", "a:1:nowhere:x", "zz"):
            presses.append(await officer.press_data(data, introduction.message_id))
            refused = await officer.wait_for_answer(presses[-1])
            assert refused.text is not None and STALE in refused.text

        # Two different options of the current question at once: only the first counts.
        presses += [await officer.press("记得", introduction), await officer.press("不记得", introduction)]
        first, second = [await officer.wait_for_answer(q) for q in presses[-2:]]
        assert first.text == RECORDED
        assert second.text is not None and STALE in second.text
        for question, choice in (("经营状况", "好"), ("另外筹借资金", "否"), ("主营业务", "否")):
            await officer.wait_for_message(question)
            presses.append(await officer.press(choice))
        loan_use = await officer.wait_for_message("用在哪儿")
        presses += [await officer.press("按约定用途使用"), await officer.press("按约定用途使用", loan_use)]

        # A typed answer shows in the officer's own message: the question is left as it was, the next one
        # comes in a new message.
        products = await officer.wait_for_message("信贷业务种类")
        await officer.send(MARKUP)
        needs = await officer.wait_for_message("需要")
        assert needs.message_id > products.message_id and not needs.edits
        assert products.message_id == loan_use.message_id, "the pressed loan-use question showed it"
        # Typed answers are borrower-supplied: where the bot shows one (here, taken back with the needs
        # question's undo button), it shows literally, never as markup, and fits one message.
        long_answer = (MARKUP + ' "<&>" ' * 100)[:500]  # at the question's length limit; six times longer escaped
        await officer.send(long_answer)
        renewal = await officer.wait_for_message("续贷的打算")
        presses.append(await officer.press("↩ 撤回上一题", renewal))
        undone = await officer.wait_for_message(lambda m: m.message_id == renewal.message_id and bool(m.edits))
        assert long_answer in (undone.text or "") and "已撤回" in (undone.text or ""), "shown literally, in place"
        assert "需要" in str(prompt_of(undone)) and undone.buttons, "the needs question asked again, in place"
        await officer.send(long_answer)
        for question, choice in (("续贷的打算", "是"), ("介绍给我", "否"), ("聊得顺利", "否")):
            await officer.wait_for_message(question)
            presses.append(await officer.press(choice))
        await officer.wait_for_message("回访结束")
        for query in presses:
            await officer.wait_for_answer(query)
        await asyncio.to_thread(bot.stop)
    assert "Traceback" not in bot.output(), bot.output()

    record = json.loads(await asyncio.to_thread(cli, env, "visits", "show", "1", "--json"))
    assert record["outcome"] == "completed"
    steps = [a["step"] for a in record["answers"]]
    assert steps == [
        "identity", "introduction", "business_status", "other_borrowing", "changes", "loan_use", "products",
        "needs", "renewal", "referral", "rapport",
    ]  # fmt: skip
    assert record["answers"][1]["value"] == "remembers"
    assert record["answers"][6]["raw"] == MARKUP and record["answers"][7]["raw"] == long_answer
    assert await answer_rows(env["VISITBOT_DATABASE_URL"]) == len(steps) + 1  # and the needs answer taken back

    # Every press was answered exactly once, so no button kept spinning.
    answers = [r.params["callback_query_id"] for r in double.calls("answerCallbackQuery") if r.status == 200]
    assert sorted(answers) == sorted(presses)
    # Every message and keyboard the bot sent fits Telegram's limits.
    for message in officer.messages:
        for version in message.versions:
            assert visible_length(version.source or "") <= 4096
            for row in (version.reply_markup or {}).get("inline_keyboard", []):
                assert len(row[0]["callback_data"].encode()) <= MAX_CALLBACK_BYTES


def test_every_shipped_button_fits_in_callback_data() -> None:
    """Callback data of every button of every shipped script, for a ten-digit visit id, fits 64 bytes."""
    catalog = ScriptCatalog()
    checked = 0
    for script_id in catalog.ids:
        for step in catalog.latest(script_id).compiled.steps.values():
            if step.ask is None:
                continue
            values = [o.id for o in step.ask.options] + ["yes", "no", "=", "back", "skip"]
            kind = "m" if step.ask.kind is AnswerKind.MULTI else "a"
            for value in values:
                assert len(encode(kind, 9_999_999_999, step.id, value).encode()) <= MAX_CALLBACK_BYTES
                checked += 1
    assert checked > 100


def test_long_html_is_split_into_valid_pieces() -> None:
    """Long texts are split at ≤ 4096 visible characters, never inside a tag or an entity."""
    texts = [
        "<i>回访 #1</i>\n\n" + "\n".join(f"<b>{i}</b> " + "说" * 70 for i in range(200)),
        "问题\n✅ <b>" + "&lt;&amp;&gt;" * 3000 + "</b>",
        "<b>" + "x" * 9000 + "</b>\n\n<i>end</i>",
        "a\n" * 5000,
    ]
    for text in texts:
        pieces = split_text(text)
        assert len(pieces) > 1
        seen = "".join(render_text(piece, "HTML", limit=4096) for piece in pieces)  # Telegram's parser
        whole = render_text(text, "HTML", limit=10**6)
        assert seen.replace("\n", "") == whole.replace("\n", "")
    assert split_text("<b>短</b>") == ["<b>短</b>"]


def test_the_answer_and_the_next_question_go_in_one_message_while_telegram_would_take_it() -> None:
    """What a press edits its message into: one text while Telegram's limit (visible characters, markup
    not counted) allows it, else None (the next question goes in a message of its own)."""
    question, answered = "<b>问题</b>：您的生意最近怎么样？", "问\n✅ <b>好的</b>"
    assert one_message(answered, "", question) == f"{answered}\n\n{question}"
    markup_heavy = "<b>x</b>" * 700  # 4,900 characters of source, 700 shown
    assert one_message(markup_heavy) == markup_heavy
    assert one_message("y" * 4096) == "y" * 4096 and one_message("y" * 4097) is None
    assert one_message("说" * 2000, "&amp;" * 2095) is None  # 2,000 + 2 + 2,095 shown
    assert one_message("说" * 2000, "&amp;" * 2094) is not None
