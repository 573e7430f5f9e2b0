"""The sandbox's sending limits: paid broadcasts skip the free overall limit, not a chat's, and
are counted for what they cost."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramRetryAfter

from tests.webhooks.sandbox.conftest import Sandbox
from webhooks.sandbox import SandboxLimits
from webhooks.sandbox.limits import SendLimiter


async def started_chats(sandbox: Sandbox, count: int) -> list[int]:
    ids = []
    for number in range(count):
        user = await sandbox.user(f"User {number}")
        await user.send("/start")
        ids.append(user.user_id)
    return ids


async def test_paid_broadcasts_pass_the_spent_overall_limit_and_are_counted(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits(global_per_second=2.0, global_burst=2)
    chats = await started_chats(sandbox, 5)
    bot = sandbox.bot()
    await bot.send_message(chats[0], "free one")
    await bot.send_message(chats[1], "free two")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chats[2], "free three")

    for chat_id in chats[2:]:
        await bot.send_message(chat_id, "paid", allow_paid_broadcast=True)

    limiter = sandbox.state.limiter
    bot_id = int(bot.token.split(":")[0])
    assert limiter.paid_sent[bot_id] == 3
    assert limiter.stars_spent(bot_id) == 0.3


async def test_a_paid_broadcast_still_keeps_the_per_chat_limit(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits(per_chat_per_second=1.0, per_chat_burst=1)
    [chat_id] = await started_chats(sandbox, 1)
    bot = sandbox.bot()
    await bot.send_message(chat_id, "paid", allow_paid_broadcast=True)

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(chat_id, "paid again", allow_paid_broadcast=True)
    assert sandbox.state.limiter.paid_sent[int(bot.token.split(":")[0])] == 1


def test_paid_broadcasts_have_their_own_overall_limit():
    limits = SandboxLimits(global_per_second=1.0, global_burst=1, paid_per_second=3.0,
                           paid_burst=3)
    limiter = SendLimiter()
    waits = [limiter.retry_after(limits, 1, chat, 0.0, paid=True) for chat in range(4)]
    assert waits == [0, 0, 0, 1]
    # The free budget was not touched by them.
    assert limiter.retry_after(limits, 1, 99, 0.0) == 0
    assert limiter.stars_spent(1) == 0.3
