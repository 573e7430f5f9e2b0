"""The user's side of the sandbox: the JSON API, the test driver and the chat page's HTML."""

from __future__ import annotations

import pytest

from tests.clock import ManualClock
from tests.company import NOW
from tests.telegram_user import TelegramUser
from tests.webhooks.sandbox.conftest import CUSTOMER_BOT, CUSTOMER_TOKEN, Sandbox
from tests.webhooks.sandbox.test_botapi import PNG_1X1, keyboard


async def post(sandbox: Sandbox, path: str, body: object) -> tuple[int, object]:
    async with sandbox.http.post(sandbox.base + path, json=body) as response:
        return response.status, await response.json()


async def get(sandbox: Sandbox, path: str) -> tuple[int, object]:
    async with sandbox.http.get(sandbox.base + path) as response:
        return response.status, await response.json()


async def test_users_get_ids_from_100000001_unless_given(sandbox: Sandbox):
    first = await post(sandbox, "/api/users", {"first_name": "Olena", "language_code": "uk"})
    second = await post(sandbox, "/api/users", {"first_name": "Taras", "username": "taras"})
    chosen = await post(sandbox, "/api/users", {"id": 777, "first_name": "Ivan"})

    assert first == (200, {
        "id": 100000001, "first_name": "Olena", "last_name": None, "username": None,
        "language_code": "uk", "phone_number": "+380500000001",
    })
    assert second[1]["id"] == 100000002
    assert chosen[1]["id"] == 777
    assert (await post(sandbox, "/api/users", {"first_name": "X", "language_code": "de"}))[0] == 400
    assert (await post(sandbox, "/api/users", {"last_name": "no first"}))[0] == 400


async def test_unknown_bot_or_user_is_404_naming_what_exists(sandbox: Sandbox):
    status, body = await get(sandbox, "/api/chats/nobody_bot/100000001/messages")
    assert status == 404
    assert "@test_customer_bot" in body["error"]

    status, body = await get(sandbox, f"/api/chats/{CUSTOMER_BOT}/5/messages")
    assert status == 404
    assert "POST /sandbox/api/users" in body["error"]


async def test_each_kind_of_user_message_reaches_the_bot(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user("Olena", last_name="Koval", language_code="uk")

    text = await user.send("/start ref_42")
    contact = await user.share_contact("+380671234567")
    location = await user.share_location(50.45, 30.52)
    photo = await user.send_photo(PNG_1X1)
    sticker = await user.send_sticker()

    assert text["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert text["from"] == {"id": user.user_id, "is_bot": False, "first_name": "Olena",
                            "last_name": "Koval", "language_code": "uk"}
    assert contact["contact"] == {"phone_number": "+380671234567", "first_name": "Olena",
                                  "last_name": "Koval", "user_id": user.user_id}
    assert location["location"] == {"latitude": 50.45, "longitude": 30.52}
    assert photo["photo"][0]["width"] == 1
    assert sticker["sticker"]["emoji"] == "👍"
    updates = await bot.get_updates()
    assert [u.message.message_id for u in updates] == [1, 2, 3, 4, 5]
    assert updates[1].message.contact.user_id == user.user_id
    assert updates[4].message.sticker is not None


async def test_someone_elses_contact_carries_their_id_or_none(sandbox: Sandbox):
    user = await sandbox.user()

    card = await user.share_contact("+380501112233", first_name="Petro", user_id=None)

    assert card["contact"] == {"phone_number": "+380501112233", "first_name": "Petro"}


async def test_bad_user_input_is_refused_with_a_reason(sandbox: Sandbox):
    await sandbox.user()
    path = f"/api/chats/{CUSTOMER_BOT}/100000001/messages"

    assert (await post(sandbox, path, {"text": "  "}))[0] == 400
    assert (await post(sandbox, path, {"location": {"latitude": 91, "longitude": 0}}))[0] == 400
    assert (await post(sandbox, path, {"photo_base64": "@@@"}))[0] == 400
    status, body = await post(sandbox, path, {"voice": True})
    assert status == 400 and "text, contact, location" in body["error"]


async def test_transcript_shows_both_sides_after_edits_and_deletions(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await user.send("hi")
    first = await bot.send_message(user.user_id, "one", reply_markup=keyboard(("A", "a")))
    second = await bot.send_message(user.user_id, "two")
    await bot.edit_message_text("one, edited", chat_id=user.user_id, message_id=first.message_id)
    await bot.delete_message(user.user_id, second.message_id)

    transcript = await user.messages()
    assert [(m["message_id"], m["from_bot"], m["text"], m["edited"]) for m in transcript] == [
        (1, False, "hi", False),
        (2, True, "one, edited", True),
    ]
    assert await user.messages(after_id=1) == transcript[1:]
    assert set(transcript[0]) >= {"message_id", "from_bot", "text", "caption", "reply_markup",
                                  "location", "photo", "edited", "date"}


async def test_press_finds_the_button_on_the_last_keyboard_and_says_what_exists(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await user.send("/start")
    await bot.send_message(user.user_id, "Old", reply_markup=keyboard(("Old button", "old")))
    await bot.send_message(user.user_id, "New", reply_markup=keyboard(("Yes", "yes"), ("No", "no")))

    answer = await user.press("No")
    with pytest.raises(AssertionError, match=r"no button 'Old button'.*\['Yes', 'No'\]"):
        await user.press("Old button")

    updates = await bot.get_updates()
    assert updates[-1].callback_query.id == answer["callback_query_id"]
    assert updates[-1].callback_query.data == "no"


async def test_wait_for_names_what_arrived_when_nothing_matches(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await user.send("/start")
    await bot.send_message(user.user_id, "Welcome", reply_markup=keyboard(("Book", "book")))

    with pytest.raises(AssertionError) as timed_out:
        await user.wait_for("Goodbye", timeout=0.2)

    assert "no bot message matching 'Goodbye' within 0.2s" in str(timed_out.value)
    assert "#2 message: 'Welcome' buttons ['Book']" in str(timed_out.value)


async def test_wait_for_returns_each_new_message_once_and_in_order(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await user.send("/start")
    await bot.send_message(user.user_id, "Step 1")
    await bot.send_message(user.user_id, "Step 2")

    assert (await user.wait_for("Step"))["text"] == "Step 1"
    assert (await user.wait_for("Step"))["text"] == "Step 2"
    with pytest.raises(AssertionError):
        await user.wait_for("Step", timeout=0.1)


async def test_page_escapes_what_bots_and_users_write(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user('<img src=x onerror="alert(1)">')
    await user.send('<script>alert("user")</script>')
    await bot.send_message(
        user.user_id,
        "&lt;script&gt;alert(1)&lt;/script&gt; <b>bold</b>",
        reply_markup=keyboard(('"><svg onload=alert(1)>', 'x"><b>')),
    )

    async with sandbox.http.get(f"{sandbox.base}/chat/{CUSTOMER_BOT}/{user.user_id}") as page:
        html = await page.text()

    assert "<script>alert" not in html
    assert "<img src=x" not in html and "<svg" not in html
    assert "&lt;script&gt;alert(&quot;user&quot;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <b>bold</b>" in html
    assert 'data-callback="x&#34;&gt;&lt;b&gt;"' in html


async def test_sandbox_root_redirects_to_the_index(sandbox: Sandbox):
    async with sandbox.http.get(sandbox.base, allow_redirects=False) as response:
        assert (response.status, response.headers["Location"]) == (302, "/sandbox/")
    async with sandbox.http.get(sandbox.base + "/") as response:
        assert response.status == 200
        assert "@test_customer_bot" in await response.text()


async def test_driver_accepts_the_server_root_as_base(sandbox: Sandbox):
    user = await TelegramUser.create(sandbox.http, sandbox.url, CUSTOMER_BOT, "Root")

    assert user.base_url == sandbox.base
    assert (await user.send("hi"))["text"] == "hi"


async def test_reply_keyboard_buttons_send_text_or_share_location(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user(location=(50.41, 30.62))
    await user.send("/start")
    await sandbox.http.post(
        f"{sandbox.base}/bot{CUSTOMER_TOKEN}/sendMessage",
        json={"chat_id": user.user_id, "text": "Where?", "reply_markup": {"keyboard": [
            [{"text": "Here", "request_location": True}], ["Type the address"],
        ]}},
    )
    assert await user.reply_keyboard() == ["Here", "Type the address"]

    await user.press("Here")
    await user.press("Type the address")

    updates = await bot.get_updates()
    assert (updates[-2].message.location.latitude, updates[-2].message.location.longitude) == (
        50.41, 30.62,
    )
    assert updates[-1].message.text == "Type the address"
    assert await user.reply_keyboard() == ["Here", "Type the address"]  # not one-time


async def test_blocked_user_writing_again_restarts_the_bot(sandbox: Sandbox):
    bot = sandbox.bot()
    user = await sandbox.user()
    await user.send("/start")
    await user.block()

    await user.send("/start")

    kinds = [u.event_type for u in await bot.get_updates()]
    assert kinds == ["message", "my_chat_member", "my_chat_member", "message"]
    assert (await user.chat())["blocked"] is False


async def test_the_index_lists_the_chats_to_pick_up_the_latest_first(sandbox: Sandbox):
    clock = sandbox.state.clock = ManualClock(NOW)
    bot = sandbox.bot()
    quiet = await sandbox.user("Quiet")
    older = await sandbox.user("Olena", last_name="Koval")
    newer = await sandbox.user("<b>Taras</b>")
    await older.send("hello")
    await bot.send_message(older.user_id, "Welcome!\nSecond line")
    clock.advance(seconds=60)
    await newer.send_photo(PNG_1X1)
    known = sandbox.state.add_known_user(sandbox.state.bot_named(CUSTOMER_BOT), id=700_000_001,
                                         name="Known Client")

    async with sandbox.http.get(sandbox.base + "/") as response:
        page = await response.text()

    chats = page[page.index('id="chats"'):page.index("Open a chat")]
    links = [f"/sandbox/chat/{CUSTOMER_BOT}/{user}" for user in
             (newer.user_id, older.user_id, known.id)]
    assert [chats.index(link) for link in links] == sorted(chats.index(link) for link in links)
    assert f"<h3>@{CUSTOMER_BOT}</h3>" in chats
    assert "&lt;b&gt;Taras&lt;/b&gt;" in chats and "<b>Taras" not in chats
    assert "[photo]" in chats
    assert "Olena Koval" in chats and "2 messages" in chats and "Welcome!" in chats
    assert "Second line" not in chats
    assert "Known Client" in chats and "0 messages" in chats
    assert f"/{quiet.user_id}\"" not in chats
