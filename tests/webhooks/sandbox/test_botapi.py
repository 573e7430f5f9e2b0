"""The sandbox's Bot API, driven by a real aiogram ``Bot`` over HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from tests.webhooks.sandbox.conftest import (
    CUSTOMER_BOT,
    CUSTOMER_TOKEN,
    PlainHttpSession,
    Sandbox,
    serve_sandbox,
)
from webhooks.sandbox import SandboxLimits, SandboxState

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=data)]
                         for text, data in buttons]
    )


async def started_chat(sandbox: Sandbox, first_name: str = "Olena"):
    """A user who wrote /start to the customer bot, so the bot may write back."""
    user = await sandbox.user(first_name)
    await user.send("/start")
    return user


async def test_get_me_names_the_bot_by_its_token(sandbox: Sandbox):
    me = await sandbox.bot().get_me()

    assert (me.id, me.is_bot, me.username) == (111, True, CUSTOMER_BOT)


async def test_unknown_well_formed_token_becomes_a_new_bot(sandbox: Sandbox):
    me = await sandbox.bot("222:worker-secret").get_me()

    assert me.username == "bot222"
    async with sandbox.http.get(f"{sandbox.base}/api/bots") as response:
        bots = await response.json()
    assert {"id": 222, "username": "bot222"}.items() <= bots[-1].items()
    assert all("token" not in bot for bot in bots)


async def test_token_with_a_wrong_secret_is_unauthorized(sandbox: Sandbox):
    with pytest.raises(TelegramUnauthorizedError):
        await sandbox.bot("111:another-secret").get_me()


async def test_html_message_with_inline_keyboard_reaches_the_user(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    sent = await bot.send_message(
        user.user_id,
        "<b>Cleaning</b> at <i>10:00</i> &amp; <a href='https://example.com'>map</a>",
        reply_markup=keyboard(("Confirm", "confirm:1"), ("Cancel", "cancel:1")),
    )

    assert sent.text == "Cleaning at 10:00 & map"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 8),
        ("italic", 12, 5),
        ("text_link", 20, 3),
    ]
    seen = await user.wait_for("Cleaning at 10:00")
    assert seen["message_id"] == sent.message_id
    assert seen["reply_markup"]["inline_keyboard"][1][0] == {
        "text": "Cancel", "callback_data": "cancel:1",
    }


async def test_text_over_4096_characters_is_too_long(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.user_id, "я" * 4097)
    # Markup does not count: 4096 characters of text inside tags pass.
    sent = await bot.send_message(user.user_id, "<b>" + "я" * 4096 + "</b>")
    assert len(sent.text) == 4096


async def test_empty_text_is_refused(sandbox: Sandbox):
    user = await started_chat(sandbox)

    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await sandbox.bot().send_message(user.user_id, "<b> </b>")


async def test_callback_data_over_64_bytes_is_button_data_invalid(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.user_id, "Pick", reply_markup=keyboard(("A", "ї" * 33)))
    sent = await bot.send_message(user.user_id, "Pick", reply_markup=keyboard(("A", "x" * 64)))
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "x" * 64


@pytest.mark.parametrize(
    ("markup", "reason"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>bold</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("Price <100 UAH", 'Unsupported start tag "100" at byte offset 6'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_broken_html_is_refused_with_telegrams_reason(
    sandbox: Sandbox, markup: str, reason: str
):
    user = await started_chat(sandbox)

    with pytest.raises(TelegramBadRequest) as refused:
        await sandbox.bot().send_message(user.user_id, markup)

    assert refused.value.message == f"Bad Request: can't parse entities: {reason}"


async def test_same_text_and_markup_again_is_not_modified(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()
    markup = keyboard(("Yes", "yes"))
    sent = await bot.send_message(user.user_id, "<b>Sure?</b>", reply_markup=markup)

    with pytest.raises(TelegramBadRequest) as refused:
        await bot.edit_message_text(
            "<b>Sure?</b>", chat_id=user.user_id, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=user.user_id, message_id=sent.message_id, reply_markup=markup
        )

    assert refused.value.message == (
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message"
    )


async def test_edits_replace_text_and_keyboard_in_the_chat(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()
    sent = await bot.send_message(user.user_id, "Choose", reply_markup=keyboard(("A", "a")))

    edited = await bot.edit_message_text(
        "Chosen <b>A</b>", chat_id=user.user_id, message_id=sent.message_id,
        reply_markup=keyboard(("Undo", "undo")),
    )
    assert edited.edit_date is not None
    seen = await user.wait_for("Chosen A")
    assert seen["edited"] and seen["message_id"] == sent.message_id
    assert seen["reply_markup"]["inline_keyboard"] == [[{"text": "Undo", "callback_data": "undo"}]]

    await bot.edit_message_reply_markup(chat_id=user.user_id, message_id=sent.message_id)
    assert (await user.last_bot_message())["reply_markup"] is None
    # Editing the text without a keyboard removes the keyboard, as in Telegram.
    await bot.edit_message_reply_markup(
        chat_id=user.user_id, message_id=sent.message_id, reply_markup=keyboard(("B", "b"))
    )
    await bot.edit_message_text("Plain", chat_id=user.user_id, message_id=sent.message_id)
    last = await user.last_bot_message()
    assert (last["text"], last["reply_markup"]) == ("Plain", None)


async def test_editing_a_missing_or_users_message_is_refused(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.user_id, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=user.user_id, message_id=1)


async def test_deleted_message_leaves_the_chat(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()
    sent = await bot.send_message(user.user_id, "Temporary")

    assert await bot.delete_message(user.user_id, sent.message_id) is True

    assert [m["text"] for m in await user.messages()] == ["/start"]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.user_id, sent.message_id)


async def test_bot_cannot_write_first_and_unknown_chats_are_not_found(sandbox: Sandbox):
    user = await sandbox.user()
    bot = sandbox.bot()

    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(user.user_id, "Hello")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(42, "Hello")


async def test_blocked_bot_gets_403_until_unblocked(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()
    await user.block()

    with pytest.raises(TelegramForbiddenError) as refused:
        await bot.send_message(user.user_id, "Your order is ready")
    assert refused.value.message == "Forbidden: bot was blocked by the user"

    await user.unblock()
    await bot.send_message(user.user_id, "Your order is ready")
    updates = await bot.get_updates()
    statuses = [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member]
    assert statuses == ["kicked", "member"]


async def test_going_over_the_per_chat_limit_answers_429_with_retry_after(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits(per_chat_per_second=1.0, per_chat_burst=3)
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    for number in range(3):
        await bot.send_message(user.user_id, f"burst {number}")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(user.user_id, "one too many")

    assert refused.value.retry_after == 1
    assert refused.value.message.endswith("Original description: Too Many Requests: retry after 1")
    # Another chat has a budget of its own.
    other = await started_chat(sandbox, "Taras")
    await bot.send_message(other.user_id, "fine")


async def test_going_over_the_overall_limit_answers_429(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits(global_per_second=2.0, global_burst=2)
    users = [await started_chat(sandbox, f"User {n}") for n in range(3)]
    bot = sandbox.bot()

    await bot.send_message(users[0].user_id, "one")
    await bot.send_message(users[1].user_id, "two")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(users[2].user_id, "three")


async def test_limits_can_be_switched_off(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits.off()
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    for number in range(20):
        await bot.send_message(user.user_id, f"message {number}")


async def test_long_poll_waits_for_an_update_and_offset_confirms(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()

    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await user.send("hello")
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates] == ["hello"]

    await user.send("again")
    again = await bot.get_updates(timeout=1)  # not confirmed yet: both come back
    assert [u.message.text for u in again] == ["hello", "again"]
    confirmed = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)
    assert confirmed == []
    assert await bot.get_updates(limit=1) == []


async def test_long_poll_ends_empty_after_its_timeout(sandbox: Sandbox):
    bot = sandbox.bot()

    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 3


async def test_allowed_updates_leaves_other_kinds_out(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await bot.get_updates(allowed_updates=["callback_query"])

    await user.send("ignored")
    sent = await bot.send_message(user.user_id, "Pick", reply_markup=keyboard(("A", "a")))
    await user.press("A")

    updates = await bot.get_updates()
    assert [u.callback_query.message.message_id for u in updates] == [sent.message_id]


async def test_user_photo_can_be_fetched_with_get_file_and_downloaded(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()

    await user.send_photo(PNG_1X1, caption="the stain")
    (update,) = await bot.get_updates()
    photo = update.message.photo[-1]
    assert (photo.width, photo.height, update.message.caption) == (1, 1, "the stain")

    file = await bot.get_file(photo.file_id)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded.read() == PNG_1X1
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nonsense")


async def test_bot_sends_photo_location_and_reply_keyboard(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits.off()
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    photo = await bot.send_photo(
        user.user_id, BufferedInputFile(PNG_1X1, "job.png"), caption="<b>Before</b>"
    )
    assert photo.caption == "Before" and photo.photo[0].file_size == len(PNG_1X1)
    again = await bot.send_photo(user.user_id, photo.photo[-1].file_id)
    assert again.photo[-1].file_id == photo.photo[-1].file_id
    location = await bot.send_location(user.user_id, latitude=50.45, longitude=30.52)
    assert (location.location.latitude, location.location.longitude) == (50.45, 30.52)

    share = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Share phone", request_contact=True)]],
        one_time_keyboard=True, resize_keyboard=True,
    )
    asked = await bot.send_message(user.user_id, "Your phone?", reply_markup=share)
    assert asked.reply_markup is None  # Telegram returns only inline keyboards
    await user.press("Share phone")
    updates = await bot.get_updates()
    contact = updates[-1].message.contact
    assert (contact.user_id, contact.phone_number) == (user.user_id, user.phone_number)
    async with sandbox.http.get(f"{user.base_url}/api/chats/{CUSTOMER_BOT}/{user.user_id}") as r:
        assert (await r.json())["reply_keyboard"] is None  # one-time keyboard hid itself

    await bot.send_message(user.user_id, "Bye", reply_markup=ReplyKeyboardRemove())


async def test_answer_callback_query_shows_a_toast_once(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()
    await bot.send_message(user.user_id, "Pick", reply_markup=keyboard(("Slot 10:00", "slot:10")))
    await user.press("Slot 10:00")
    query = (await bot.get_updates())[-1].callback_query
    assert (query.data, query.from_user.id) == ("slot:10", user.user_id)

    assert await bot.answer_callback_query(query.id, text="Taken, pick another", show_alert=True)

    toast = await user.wait_for("Taken")
    assert (toast["kind"], toast["show_alert"]) == ("toast", True)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


async def test_commands_and_chat_actions(sandbox: Sandbox):
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    await bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.send_chat_action(user.user_id, "typing") is True
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_venue_caption_edit_and_replies(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits.off()
    user = await started_chat(sandbox)
    bot = sandbox.bot()

    venue = await bot.send_venue(
        user.user_id, latitude=50.45, longitude=30.52, title="Office", address="Khreshchatyk 1",
        reply_parameters=ReplyParameters(message_id=1),
    )
    assert venue.venue.title == "Office" and venue.location.latitude == 50.45
    assert venue.reply_to_message.text == "/start"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(user.user_id, "x", reply_parameters=ReplyParameters(message_id=99))

    photo = await bot.send_photo(user.user_id, BufferedInputFile(PNG_1X1, "p.png"), caption="a")
    edited = await bot.edit_message_caption(
        chat_id=user.user_id, message_id=photo.message_id, caption="<i>b</i>"
    )
    assert (edited.caption, edited.photo[-1].file_id) == ("b", photo.photo[-1].file_id)
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("t", chat_id=user.user_id, message_id=photo.message_id)


async def test_stopping_the_server_ends_waiting_long_polls_at_once():
    state = SandboxState()
    server = await serve_sandbox(state)
    base = str(server.make_url("/sandbox"))
    bot = Bot(CUSTOMER_TOKEN, session=PlainHttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await server.close()
        assert await asyncio.wait_for(poll, 5) == []
        assert time.monotonic() - started < 2
    finally:
        await bot.session.close()
