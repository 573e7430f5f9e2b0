"""Any Bot API client works, not only aiogram: form, JSON, query-string and multipart calls."""

from __future__ import annotations

import json

import aiohttp

from tests.webhooks.sandbox.conftest import CUSTOMER_TOKEN, Sandbox
from tests.webhooks.sandbox.test_botapi import PNG_1X1
from webhooks.sandbox import SandboxLimits


async def call(sandbox: Sandbox, method: str, token: str = CUSTOMER_TOKEN, **request):
    url = f"{sandbox.base}/bot{token}/{method}"
    async with sandbox.http.post(url, **request) as response:
        return response.status, await response.json()


async def test_form_encoded_call_with_reply_markup_as_a_json_string(sandbox: Sandbox):
    user = await sandbox.user()
    await user.send("/start")
    markup = {"inline_keyboard": [[{"text": "Рахунок", "callback_data": "bill:7"}]]}

    status, body = await call(
        sandbox,
        "sendMessage",
        data={"chat_id": str(user.user_id), "text": "Ваш <b>рахунок</b>", "parse_mode": "HTML",
              "reply_markup": json.dumps(markup)},
    )

    assert status == 200 and body["ok"] is True
    result = body["result"]
    assert (result["text"], result["reply_markup"]) == ("Ваш рахунок", markup)
    assert result["from"] == {
        "id": 111, "is_bot": True, "first_name": "test_customer_bot",
        "username": "test_customer_bot",
    }
    assert result["chat"]["type"] == "private"


async def test_json_body_with_nested_objects(sandbox: Sandbox):
    user = await sandbox.user()
    await user.send("/start")

    status, body = await call(
        sandbox,
        "sendMessage",
        json={"chat_id": user.user_id, "text": "Pick a day",
              "reply_markup": {"keyboard": [["Today", {"text": "Tomorrow"}]]}},
    )

    assert status == 200
    assert "reply_markup" not in body["result"]  # reply keyboards are not echoed
    await user.press("Tomorrow")
    assert (await user.messages())[-1]["text"] == "Tomorrow"


async def test_query_string_call_and_method_names_in_any_case(sandbox: Sandbox):
    url = f"{sandbox.base}/bot{CUSTOMER_TOKEN}/GETME"
    async with sandbox.http.get(url) as response:
        body = await response.json()

    assert body["ok"] and body["result"]["username"] == "test_customer_bot"


async def test_refusals_are_telegram_shaped(sandbox: Sandbox):
    assert await call(sandbox, "getMe", token="not-a-token") == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert await call(sandbox, "sendTelepathy") == (
        404, {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert await call(sandbox, "sendMessage", data={"text": "x"}) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat_id is empty"},
    )
    assert await call(sandbox, "sendMessage", data={"chat_id": "1", "text": "x",
                                                    "reply_markup": "{oops"}) == (
        400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )


async def test_bad_reply_markup_json_is_refused(sandbox: Sandbox):
    user = await sandbox.user()
    await user.send("/start")

    status, body = await call(
        sandbox, "sendMessage",
        data={"chat_id": str(user.user_id), "text": "x", "reply_markup": "{oops"},
    )

    assert (status, body["description"]) == (
        400, "Bad Request: can't parse reply keyboard markup JSON object",
    )


async def test_too_many_requests_carries_retry_after_in_parameters(sandbox: Sandbox):
    sandbox.state.limits = SandboxLimits(per_chat_per_second=0.5, per_chat_burst=1)
    user = await sandbox.user()
    await user.send("/start")
    data = {"chat_id": user.user_id, "text": "hi"}

    assert (await call(sandbox, "sendMessage", json=data))[0] == 200
    status, body = await call(sandbox, "sendMessage", json=data)

    assert status == 429
    assert body == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }


async def test_multipart_upload_under_the_field_name_and_download(sandbox: Sandbox):
    user = await sandbox.user()
    await user.send("/start")
    form = aiohttp.FormData()
    form.add_field("chat_id", str(user.user_id))
    form.add_field("caption", "receipt")
    form.add_field("photo", PNG_1X1, filename="receipt.png", content_type="image/png")

    status, body = await call(sandbox, "sendPhoto", data=form)

    assert status == 200, body
    file_id = body["result"]["photo"][-1]["file_id"]
    _, file = await call(sandbox, "getFile", json={"file_id": file_id})
    path = file["result"]["file_path"]
    async with sandbox.http.get(f"{sandbox.base}/file/bot{CUSTOMER_TOKEN}/{path}") as response:
        assert (response.status, await response.read()) == (200, PNG_1X1)
    async with sandbox.http.get(f"{sandbox.base}/file/bot{CUSTOMER_TOKEN}/photos/x.png") as missing:
        assert missing.status == 404
