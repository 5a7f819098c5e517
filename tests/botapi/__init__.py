"""A local Telegram Bot API double for end-to-end tests of the bot (in-process or as a subprocess).

async with BotApiDouble(token="123:ABC") as double:
    env = {**os.environ, "VISITBOT_TELEGRAM_TOKEN": double.token,
           "VISITBOT_TELEGRAM_API_URL": double.base_url, "VISITBOT_TELEGRAM_FILE_URL": double.base_file_url}
    bot = await asyncio.create_subprocess_exec("visitbot", "bot", env=env)
    user = double.user(user_id=1001, first_name="王")
    await user.send("/start visit-42")
    reply = await user.wait_for_message("您好")
    await user.press("确认")

Faults: `double.fail_next/fail_rate/hang/flood_wait` (tests/botapi/faults.py), `double.spinning()` for presses
left unanswered; `people.Person` answers a plan of `Intent`s and recovers from a quiet chat as a person does.
"""

from .double import BotApiDouble
from .people import Intent, Journey, Person
from .records import (
    ApiRequest,
    BotMessage,
    ButtonNotFound,
    CallbackAnswer,
    DoubleError,
    MessageVersion,
    StoredFile,
    WaitTimeout,
)
from .users import FakeUser

__all__ = [
    "ApiRequest",
    "BotApiDouble",
    "BotMessage",
    "ButtonNotFound",
    "CallbackAnswer",
    "DoubleError",
    "FakeUser",
    "Intent",
    "Journey",
    "MessageVersion",
    "Person",
    "StoredFile",
    "WaitTimeout",
]
