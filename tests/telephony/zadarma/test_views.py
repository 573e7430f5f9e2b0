from urllib.parse import parse_qsl

from telephony.zadarma.auth import SIGNED_FIELDS, signature
from tests.telephony.pbx import (
    NOW,
    PAYLOAD_KEYS,
    ZADARMA_SECRET,
    call_events,
    calls,
    fixture,
    known_client,
    nothing_recorded,
    pbx_config,
    serving,
    tasks,
)

URL = "/pbx/zadarma"
FORM = "application/x-www-form-urlencoded"


def signed(body: bytes, secret: str = ZADARMA_SECRET) -> str:
    fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    return signature(secret, "".join(fields.get(n, "") for n in SIGNED_FIELDS[fields["event"]]))


async def notify(client, name, *, sign=signed):
    body = fixture("zadarma", name)
    headers = {"Content-Type": FORM}
    if sign is not None:
        headers["Signature"] = sign(body)
    response = await client.post(URL, data=body, headers=headers)
    return response.status, await response.text()


def test_the_signature_is_base64_of_the_hex_digest():
    text = "380671234567" + "380443334455" + "2026-03-02 10:15:04"
    expected = "YmQzOWQ5ODYzMTIxNWI0Mzg3MDgwOWQxOWIwMTJiOTI0MDdjMjc0MQ=="
    assert signature("test-secret", text) == expected


async def test_the_url_check_echoes_zd_echo(fresh_db):
    async with serving(fresh_db) as client:
        response = await client.get(URL, params={"zd_echo": "a81f3c2"})
        assert response.status == 200 and await response.text() == "a81f3c2"
        assert response.content_type == "text/plain"
        response = await client.get(URL, params={"zd_echo": "<script>"})
        assert response.status == 400
        assert (await client.get(URL)).status == 400


async def test_a_call_starts_rings_an_extension_is_answered_and_ends(fresh_db):
    olena, _ = await known_client(fresh_db)
    async with serving(fresh_db) as client:
        status, body = await notify(client, "notify_start.txt")
        assert status == 200 and body == '{"caller_name": "Olena Kovalenko"}'
        for name in ("notify_internal.txt", "notify_answer.txt", "notify_end.txt",
                     "notify_record.txt", "notify_end.txt"):
            assert await notify(client, name) == (200, "")
    (call,) = await calls(fresh_db)
    assert (call.provider, call.provider_call_id) == ("zadarma", "in_3f2a9c1d")
    assert (call.caller, call.client_id, call.line) == ("+380671234567", olena, "380443334455")
    assert (call.state, call.outcome, call.duration_seconds) == ("ended", "answered", 64)
    assert call.extension == "101" and call.answered_at == NOW
    found = await call_events(fresh_db)
    assert [k for k, _ in found] == ["call.ringing", "call.ringing", "call.answered", "call.ended"]
    assert [p["extension"] for _, p in found] == [None, "101", "101", "101"]
    assert all(set(p) == PAYLOAD_KEYS for _, p in found)


async def test_a_missed_call_is_called_back_from_the_pbx(fresh_db):
    async with serving(fresh_db) as client:
        assert await notify(client, "notify_end_missed.txt") == (200, "")
        (task,) = await tasks(fresh_db)
        assert (task.phone, task.state) == ("+380501112233", "open")
        for name in ("notify_out_start.txt", "notify_out_end.txt"):
            assert await notify(client, name) == (200, "")
    (task,) = await tasks(fresh_db)
    missed, back = await calls(fresh_db)
    assert (missed.outcome, missed.callback_task_id) == ("missed", task.id)
    assert (back.direction, back.caller, back.outcome) == ("outbound", "+380501112233", "answered")
    assert (task.state, task.closed_by_call_id) == ("done", back.id)
    kinds = [k for k, _ in await call_events(fresh_db)]
    assert kinds == ["call.missed", "call.ringing", "call.ended"]


async def test_forged_or_unsigned_notifications_are_refused_and_record_nothing(fresh_db):
    async with serving(fresh_db) as client:
        for sign in (None, lambda body: signed(body, "guessed-secret"),
                     lambda body: "vTnZhjEhW0OHCAnRmwErkkB8J0E="):  # base64 of raw bytes
            status, body = await notify(client, "notify_start.txt", sign=sign)
            assert status == 403, body
        tampered = fixture("zadarma", "notify_start.txt").replace(b"380671234567", b"380501112233")
        response = await client.post(URL, data=tampered, headers={
            "Content-Type": FORM, "Signature": signed(fixture("zadarma", "notify_start.txt"))})
        assert response.status == 403
    async with serving(fresh_db, pbx_config(BRIGADIER__SECRETS__ZADARMA_SECRET="")) as client:
        assert (await notify(client, "notify_start.txt"))[0] == 403
    assert await nothing_recorded(fresh_db)


async def test_malformed_notifications_get_400_and_record_nothing(fresh_db):
    async with serving(fresh_db) as client:
        body = b"event=NOTIFY_START&call_start=2026-03-02+10%3A15%3A04&caller_id=380671234567"
        response = await client.post(URL, data=body, headers={
            "Content-Type": FORM, "Signature": signed(body)})
        assert response.status == 400  # no pbx_call_id
        assert (await response.json())["error"] == "invalid_input"
        body = b"event=NOTIFY_SMS&caller_id=1"
        response = await client.post(URL, data=body, headers={
            "Content-Type": FORM, "Signature": "x"})
        assert response.status == 403  # an event we cannot verify is not accepted
    assert await nothing_recorded(fresh_db)
