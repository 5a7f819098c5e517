"""Faults through the Bot API double (5xx and 429, hung calls, SIGKILL between commit and send) with
people who recover as people do; the database is the oracle: nothing lost, nothing misfiled, no
button left spinning, nobody stranded. One bot process serves the module (the SIGKILL test restarts it).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from storage import repositories as repo
from storage.db import make_engine, make_sessionmaker
from tests.bot.telegram import fault_oracle as oracle
from tests.bot.telegram.harness import OFFICER_ID, STRANGER_ID, TOKEN, BotProcess, bot_env, cli, prepare, until
from tests.botapi import BotApiDouble, FakeUser
from tests.botapi.people import Intent, Person
from tests.botapi.records import JSON

pytestmark = pytest.mark.asyncio(loop_scope="module")

ADMIN_IDS = (7101, 7102)
BORROWER_IDS = (8201, 8202, 8203)
SPIN_LIMIT = 5.0  # seconds a pressed button may spin before it counts as left spinning
BOT_TIMEOUT = 1.5  # seconds the bot waits for one Bot API call (VISITBOT_TELEGRAM_TIMEOUT), to keep hangs short
UPDATE_TIMEOUT = 3.5  # seconds one update may take in all (VISITBOT_UPDATE_TIMEOUT), well under SPIN_LIMIT
LATENCY_PATIENCE = 15.0  # a person timed for latency waits this long before recovering

PHONE_VISIT = [
    Intent("请问您是", "press:是本人"),
    Intent("还记得吗", "press:记得"),
    Intent("经营状况", "press:好"),
    Intent("另外筹借资金", "press:是"),
    Intent("借了多少", "5万"),
    Intent("从哪里借", "press:银行"),
    Intent("主营业务", "press:否"),
    Intent("用在哪儿", "press:按约定用途使用"),
    Intent("信贷业务种类", "知道经营贷"),
    Intent("介绍给我", "press:否"),
    Intent("有什么需要", "想要续贷"),
    Intent("续贷的打算", "press:是"),
    Intent("聊得顺利", "press:否"),
]
"""An officer's phone visit: two typed answers in a row (products, then needs)."""

CHECK_IN = [
    Intent("您同意开始吗", "press:同意，开始"),
    Intent("经营得怎么样", "press:好"),
    Intent("压力大吗", "press:没有压力"),
    Intent("最近有变动吗", "press:否"),
    Intent("联系电话有变化", "press:否"),
    Intent("有什么需要", "希望利率低一点"),
    Intent("续贷的打算", "press:是"),
    Intent("回个电话", "press:否"),
]
"""A borrower's self-service check-in."""


@dataclass
class Stack:
    """The double, the prepared database and the one bot process of this module."""

    double: BotApiDouble
    env: dict[str, str]
    logs: Path
    bot: BotProcess | None = None

    @property
    def database_url(self) -> str:
        return self.env["VISITBOT_DATABASE_URL"]

    async def start_bot(self, name: str = "bot") -> None:
        """Start the bot and wait until it polls for updates."""
        since = len(self.double.requests)
        self.bot = BotProcess(self.env, self.logs / f"{name}.log")
        await self.double.wait_for_request("getUpdates", since=since, timeout=60)

    async def stop_bot(self) -> None:
        if self.bot is not None:
            await asyncio.to_thread(self.bot.stop)


async def add_admins(database_url: str) -> None:
    """Admins (who may visit any borrower) for scenarios that need more than one officer's chat."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for index, admin in enumerate(ADMIN_IDS):
                await repo.upsert_user(session, telegram_id=admin, name=f"管理员{index}", role="admin", team=None)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    folder = tmp_path_factory.mktemp("faults")
    async with BotApiDouble(token=TOKEN, bot_username="visit_test_bot") as double:
        env = bot_env(
            f"sqlite+aiosqlite:///{folder / 'bot.db'}",
            double.base_url,
            VISITBOT_TELEGRAM_TIMEOUT=str(BOT_TIMEOUT),
            VISITBOT_UPDATE_TIMEOUT=str(UPDATE_TIMEOUT),
        )
        await asyncio.to_thread(prepare, env)
        await add_admins(env["VISITBOT_DATABASE_URL"])
        stack = Stack(double, env, folder)
        await stack.start_bot()
        try:
            yield stack
        finally:
            await stack.stop_bot()


@pytest.fixture(autouse=True)
def clear_faults(stack: Stack) -> Iterator[None]:
    """Each scenario arms its own faults."""
    stack.double.faults.fired.clear()
    yield
    stack.double.clear_failures()


async def invite(stack: Stack, code: str) -> str:
    """A fresh invite token for a borrower (the CLI asks the double for the bot's name: off the loop)."""
    link = (await asyncio.to_thread(cli, stack.env, "invite", code)).strip()
    return link.split("start=", 1)[1]


def officer_person(user: FakeUser, code: str, *, budget: float = 40.0, patience: float = 3.0) -> Person:
    """An officer who, when the chat goes quiet, sends /resume and taps this borrower's visit."""
    return Person(user, PHONE_VISIT, recover=("/resume",), resume_hint=code, budget=budget, patience=patience)


def borrower_person(user: FakeUser, token: str, *, budget: float = 40.0, patience: float = 3.0) -> Person:
    """A borrower who, when the chat goes quiet, opens the invite link again."""
    return Person(user, CHECK_IN, recover=(f"/start {token}",), budget=budget, patience=patience)


async def problems_of(stack: Stack, person: Person, code: str, script_id: str) -> list[str]:
    """What the record and the chat got wrong for this person (see fault_oracle)."""
    return await oracle.problems_of(stack.double, stack.database_url, person, code, script_id, spin_limit=SPIN_LIMIT)


def report(person: Person, problems: list[str], stack: Stack) -> str:
    return oracle.report(person, problems, stack.double)


async def test_three_visits_at_once_through_ten_percent_bad_gateways(stack: Stack) -> None:
    """(a) ~10 % 502s on sendMessage and editMessageText (seeded per chat) and on answerCallbackQuery,
    while an officer and two admins run phone visits at the same time."""
    people = []
    visits = ((OFFICER_ID, "王磊", "B001"), (ADMIN_IDS[0], "管理员0", "B008"), (ADMIN_IDS[1], "管理员1", "B002"))
    for user_id, name, code in visits:
        user = stack.double.user(user_id, name)
        for method in ("sendMessage", "editMessageText"):
            stack.double.fail_rate(method, 0.1, 502, seed=user_id, chat_id=user.chat_id)
        people.append((officer_person(user, code), code))
    stack.double.fail_rate("answerCallbackQuery", 0.1, 502, seed=8)
    # "phone" names the script: B008 is overdue, so a bare /visit would ask which script to follow
    await asyncio.gather(*(person.start(f"/visit {code} phone") for person, code in people))
    for person, code in people:
        problems = await problems_of(stack, person, code, "officer_phone_visit")
        problems += [f"false error shown: {text!r}" for text in oracle.false_errors(person.user)]
        assert not problems, report(person, problems, stack)
    assert len(stack.double.faults_fired) >= 5, "the seeds made too few calls fail"
    print("presses:", stack.double.callback_tally(), "faults:", len(stack.double.faults_fired))


def nth_call(n: int) -> Callable[[JSON], bool]:
    """A `when` predicate true on the n-th call it is asked about (1-based)."""
    calls = itertools.count(1)
    return lambda _params: next(calls) == n


async def test_each_method_fails_with_a_5xx_and_a_429(stack: Stack) -> None:
    """(a) Every Bot API method a visit uses answers once 500 and once 429 (retry_after=1), at
    different points of the visit: nobody sees an error, nothing is lost or misfiled."""
    admin = stack.double.user(ADMIN_IDS[0], "管理员0")
    for offset, method in enumerate(("sendMessage", "editMessageText", "answerCallbackQuery", "getUpdates")):
        chat = admin.chat_id if method in ("sendMessage", "editMessageText") else None
        stack.double.fail_next(method, status=500, chat_id=chat, when=nth_call(2 + offset))
        # a visit sends only its first question and those after typed answers (a press edits): the 4th send
        later = 4 if method == "sendMessage" else 7 + offset
        stack.double.fail_next(method, status=429, retry_after=1, chat_id=chat, when=nth_call(later))
    person = officer_person(admin, "B006")
    await person.start("/visit B006")
    problems = await problems_of(stack, person, "B006", "officer_phone_visit")
    problems += [f"false error shown: {text!r}" for text in oracle.false_errors(admin)]
    assert not problems, report(person, problems, stack)
    fired = {(f.method, f.fault) for f in stack.double.faults_fired}
    assert len(fired) == 8, f"not every fault fired: {sorted(fired)}"


async def test_a_retyped_answer_never_lands_on_an_unseen_question(stack: Stack) -> None:
    """(a) The answer is committed and shown ✅, the next question (also typed) fails to send: the
    officer types the answer again. It must not be recorded for the question they never saw."""
    officer = stack.double.user(OFFICER_ID, "王磊")
    stack.double.fail_next(
        "sendMessage", status=502, times=4, chat_id=OFFICER_ID, when=lambda p: "您最近有什么需要" in str(p.get("text"))
    )
    person = officer_person(officer, "B003")
    await person.start("/visit B003")
    problems = await problems_of(stack, person, "B003", "officer_phone_visit")
    assert not problems, report(person, problems, stack)


async def test_borrower_is_not_stranded_by_a_bad_gateway_after_an_answer(stack: Stack) -> None:
    """(b) The answer is committed, then sending the next question fails: the borrower must get the
    question again (by any input or by opening the link again), never 'already used' for good."""
    token = await invite(stack, "B006")
    borrower = stack.double.user(BORROWER_IDS[0], "借款人甲")
    stack.double.fail_next(
        "sendMessage", status=502, times=5, chat_id=borrower.chat_id, when=lambda p: "压力大吗" in str(p.get("text"))
    )
    person = borrower_person(borrower, token, budget=45.0)
    await person.start(f"/start {token}")
    problems = await problems_of(stack, person, "B006", "self_checkin")
    assert not problems, report(person, problems, stack)


async def test_flood_wait_on_one_chat_delays_only_that_chat(stack: Stack) -> None:
    """(c) Telegram answers 429 retry_after=2 for one borrower's chat; an officer in another chat
    carries on at full speed meanwhile, and the borrower finishes once the wait is over."""
    token = await invite(stack, "B008")
    borrower = stack.double.user(BORROWER_IDS[1], "借款人乙")
    officer = stack.double.user(OFFICER_ID, "王磊")
    slow = borrower_person(borrower, token, budget=50.0, patience=8.0)
    fast = officer_person(officer, "B005", patience=LATENCY_PATIENCE)
    checking_in = asyncio.create_task(slow.start(f"/start {token}"))
    await borrower.wait_for_message("压力大吗", timeout=30)
    window = 2.0
    stack.double.flood_wait(borrower.chat_id, window)
    began = time.monotonic()
    await fast.start("/visit B005")
    await checking_in
    during = [w for at, w in fast.journey.timed_waits if at < began + window]
    print(f"officer's slowest reply during the flood wait: {max(during):.2f}s")
    assert max(during) < 1.0, f"the officer waited {max(during):.1f}s for a reply while another chat was limited"
    assert len(during) >= 3, f"the officer barely acted during the flood wait: {fast.journey.explain()}"
    for person, code, script in ((slow, "B008", "self_checkin"), (fast, "B005", "officer_phone_visit")):
        problems = await problems_of(stack, person, code, script)
        assert not problems, report(person, problems, stack)


async def test_a_hung_send_is_given_up_and_the_visit_goes_on(stack: Stack) -> None:
    """(d) The call showing the next question (the pressed question's edit) hangs for longer than the bot's
    timeout (and is lost); so does a typed answer's next question (a new message)."""
    officer = stack.double.user(OFFICER_ID, "王磊")
    hang = max(BOT_TIMEOUT, 5) + 3.0  # past the bot's timeout (and PTB's default 5 s read timeout)
    stack.double.hang("editMessageText", hang, chat_id=OFFICER_ID, when=lambda p: "经营状况" in str(p.get("text")))
    stack.double.hang("sendMessage", hang, chat_id=OFFICER_ID, when=lambda p: "从哪里借" in str(p.get("text")))
    person = officer_person(officer, "B007", budget=60.0)
    await person.start("/visit B007")
    problems = await problems_of(stack, person, "B007", "officer_phone_visit")
    assert not problems, report(person, problems, stack)
    assert {f.method for f in stack.double.faults_fired if f.fault == "hang"} == {"editMessageText", "sendMessage"}


async def test_a_hung_database_is_given_up_on_and_the_visit_goes_on(stack: Stack) -> None:
    """(d) While the officer reads a question, the database stops answering writes for longer than one
    update may take; their press is answered and given up on in time, and once the database is back
    the visit goes on whole."""
    officer = stack.double.user(OFFICER_ID, "王磊")
    reading = 1.5
    plan = [Intent(i.question, i.act, pause=reading) if i.question == "经营状况" else i for i in PHONE_VISIT]
    person = Person(officer, plan, recover=("/resume",), resume_hint="B001", budget=40.0)
    last = max((m.message_id for m in officer.events), default=0)
    visiting = asyncio.create_task(person.start("/visit B001"))
    shown = await officer.wait_for_message(lambda m: m.message_id > last and "经营状况" in (m.text or ""), timeout=30)
    deadline = time.monotonic() + 1.0
    while not await oracle.chat_shows(stack.database_url, officer.chat_id, shown.message_id):
        assert time.monotonic() < deadline, "the bot never noted the question's message"
        await asyncio.sleep(0.05)
    database_file = stack.database_url.split("///", 1)[1]
    await asyncio.to_thread(oracle.hold_write_lock, database_file, reading + UPDATE_TIMEOUT + 2.5)
    await visiting
    problems = await problems_of(stack, person, "B001", "officer_phone_visit")
    assert not problems, report(person, problems, stack)
    assert person.journey.timed_waits and max(w for _, w in person.journey.timed_waits) >= 2.0, "nothing hung"


async def test_a_press_behind_a_hung_update_of_its_chat_does_not_spin(stack: Stack) -> None:
    """(d) The database stops answering while the bot is still showing the question after a press (its
    edit held); the officer presses at once, so the press waits behind that hung update of the same chat."""
    officer = stack.double.user(OFFICER_ID, "王磊")
    held = 0.5
    stack.double.hang(
        "editMessageText", held, apply=True, chat_id=officer.chat_id, when=lambda p: "经营状况" in str(p.get("text"))
    )
    person = officer_person(officer, "B003", budget=40.0)
    since = len(stack.double.requests)
    visiting = asyncio.create_task(person.start("/visit B003"))
    await stack.double.wait_for_request(
        "editMessageText", lambda r: r.status is None and "经营状况" in str(r.params.get("text")), since=since,
        timeout=30,
    )  # fmt: skip
    database_file = stack.database_url.split("///", 1)[1]
    await asyncio.to_thread(oracle.hold_write_lock, database_file, held + UPDATE_TIMEOUT + 3.0)
    await visiting
    problems = await problems_of(stack, person, "B003", "officer_phone_visit")
    assert not problems, report(person, problems, stack)


async def kill_between_commit_and_send(stack: Stack, person: Person, first: str, next_question: str) -> None:
    """Run the person's visit; when the bot shows `next_question` (the answer before it committed: a new
    message, or the pressed question's edit), hold that call, SIGKILL the bot, restart it, and let the
    person carry on."""
    chat = person.user.chat_id
    showing = ("sendMessage", "editMessageText")
    for method in showing:
        stack.double.hang(method, 60.0, chat_id=chat, when=lambda p: next_question in str(p.get("text")))
    running = asyncio.create_task(person.start(first))
    await until(
        lambda: any(
            r.method in showing and r.status is None and next_question in str(r.params.get("text"))
            for r in stack.double.requests
        ),
        timeout=30,
    )
    assert stack.bot is not None
    stack.bot.kill()
    stack.double.clear_failures()
    await stack.start_bot(f"restarted-{chat}")
    await running
    if not person.journey.finished:  # the restart may have outlasted the person's first budget
        person.budget = 40.0
        await person.carry_on()


async def test_sigkill_between_commit_and_send_strands_no_officer(stack: Stack) -> None:
    """(e) The answer is committed; the bot is SIGKILLed while it sends the next question. Restarted,
    the officer recovers the way a person would (/resume) and the record is whole."""
    admin = stack.double.user(ADMIN_IDS[0], "管理员0")
    person = officer_person(admin, "B002", budget=20.0)
    await kill_between_commit_and_send(stack, person, "/visit B002", "另外筹借资金")
    problems = await problems_of(stack, person, "B002", "officer_phone_visit")
    assert not problems, report(person, problems, stack)


async def test_sigkill_between_commit_and_send_strands_no_borrower(stack: Stack) -> None:
    """(e) The same for a borrower: after the restart, opening the invite link again (or any input)
    shows the question they are on; the link is not 'already used' while the check-in is open."""
    token = await invite(stack, "B004")
    borrower = stack.double.user(BORROWER_IDS[2], "借款人丙")
    person = borrower_person(borrower, token, budget=20.0)
    await kill_between_commit_and_send(stack, person, f"/start {token}", "最近有变动吗")
    problems = await problems_of(stack, person, "B004", "self_checkin")
    assert not problems, report(person, problems, stack)


async def test_one_chat_flooding_does_not_slow_other_users(stack: Stack) -> None:
    """(f) A stranger sends 300 messages at once; an officer's visit meanwhile is answered promptly."""
    stranger = stack.double.user(STRANGER_ID, "路人")
    admin = stack.double.user(ADMIN_IDS[1], "管理员1")
    for index in range(300):
        await stranger.send(f"在吗 {index}")
    person = officer_person(admin, "B004", patience=LATENCY_PATIENCE)
    await person.start("/visit B004")
    problems = await problems_of(stack, person, "B004", "officer_phone_visit")
    assert not problems, report(person, problems, stack)
    slowest = max(w for _, w in person.journey.timed_waits)
    assert slowest < 2.0, f"the officer waited {slowest:.1f}s for a reply behind another chat's flood"
