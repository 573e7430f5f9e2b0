from urllib.parse import parse_qsl
from xml.etree import ElementTree

from core.models import Role, User
from telephony.twilio.auth import signature, url_variants
from tests.telephony.pbx import (
    PAYLOAD_KEYS,
    TWILIO_TOKEN,
    call_events,
    calls,
    fixture,
    known_client,
    nothing_recorded,
    pbx_config,
    serving,
    tasks,
)

FORM = "application/x-www-form-urlencoded"
PUBLIC = "https://brig.example"


def test_the_signature_matches_twilios_algorithm():
    fields = [("CallSid", "CA1"), ("From", "+15551234567"), ("To", "+15557654321")]
    assert signature("12345", "https://example.com/voice/incoming", fields) == (
        "Xp0n/co3hBFwKTXy2WXrbdO2s38=")
    assert url_variants("https://example.com/voice") == (
        "https://example.com/voice", "https://example.com:443/voice")
    assert url_variants("https://example.com:443/voice?a=1") == (
        "https://example.com:443/voice?a=1", "https://example.com/voice?a=1")


async def post(client, path, name, *, base=None, token=TWILIO_TOKEN, body=None):
    body = body if body is not None else fixture("twilio", name)
    url = (base or str(client.make_url("")).rstrip("/")) + path
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature(token, url, fields)}
    response = await client.post(path, data=body, headers=headers)
    return response.status, response.content_type, await response.text()


async def operators(db):
    async with db.transaction() as tx:
        tx.add_all([
            User(login="desk", name="Desk", role=Role.OPERATOR, extension="+12025550143"),
            User(login="mobile", name="Mobile", role=Role.DISPATCHER, extension="(213) 555-0110"),
            User(login="boss", name="Boss", role=Role.MANAGER, extension="+14155550199"),
            User(login="gone", name="Gone", role=Role.OPERATOR, extension="+13125550100",
                 active=False),
        ])


async def test_an_incoming_call_pops_the_card_and_rings_the_operators_phones(fresh_db):
    olena, _ = await known_client(fresh_db, phone="+14155552671")
    await operators(fresh_db)
    config = pbx_config(BRIGADIER__COMPANY__PHONE_REGION="US",
                        BRIGADIER__TELEPHONY__PUBLIC_BASE_URL=PUBLIC)
    async with serving(fresh_db, config) as client:
        status, content_type, twiml = await post(client, "/pbx/twilio/voice", "voice.txt",
                                                 base=PUBLIC)
        assert (status, content_type) == (200, "text/xml")
        response = ElementTree.fromstring(twiml)
        (dial,) = response
        assert (response.tag, dial.tag, dial.get("action")) == (
            "Response", "Dial", f"{PUBLIC}/pbx/twilio/dial")
        assert [n.text for n in dial] == ["+12025550143", "+12135550110"]
        assert {n.get("statusCallback") for n in dial} == {f"{PUBLIC}/pbx/twilio/status"}
        for path, name in (("/pbx/twilio/status", "status_leg_answered.txt"),
                           ("/pbx/twilio/dial", "dial_completed.txt")):
            status, _, text = await post(client, path, name, base=PUBLIC)
            assert status in (200, 204), text
    (call,) = await calls(fresh_db)
    assert (call.provider_call_id, call.caller, call.client_id) == (
        "CA9f1e2d3c4b5a69788796a5b4c3d2e1f0", "+14155552671", olena)
    assert (call.state, call.outcome, call.extension, call.duration_seconds) == (
        "ended", "answered", "+12025550143", 64)
    found = await call_events(fresh_db)
    assert [k for k, _ in found] == ["call.ringing", "call.answered", "call.ended"]
    assert all(set(p) == PAYLOAD_KEYS for _, p in found)
    assert found[0][1]["client_name"] == "Olena Kovalenko"


async def test_nobody_to_ring_means_busy_and_a_missed_call_is_called_back(fresh_db):
    config = pbx_config(BRIGADIER__COMPANY__PHONE_REGION="US")
    async with serving(fresh_db, config) as client:
        status, _, twiml = await post(client, "/pbx/twilio/voice", "voice_other_caller.txt")
        assert status == 200
        assert ElementTree.fromstring(twiml)[0].tag == "Reject"
        status, _, twiml = await post(client, "/pbx/twilio/dial", "dial_no_answer.txt")
        assert ElementTree.fromstring(twiml)[0].tag == "Hangup"
        (task,) = await tasks(fresh_db)
        assert (task.phone, task.state) == ("+13125550188", "open")
        status, _, _ = await post(client, "/pbx/twilio/status", "status_outbound_completed.txt")
        assert status == 204
    missed, back = await calls(fresh_db)
    assert (missed.outcome, back.direction, back.outcome) == ("missed", "outbound", "answered")
    (task,) = await tasks(fresh_db)
    assert (task.state, task.closed_by_call_id) == ("done", back.id)


async def test_a_signature_for_another_url_token_or_body_is_refused(fresh_db):
    async with serving(fresh_db) as client:
        own = str(client.make_url("")).rstrip("/")
        https = own.replace("http", "https")
        for kwargs in ({"token": "guess"}, {"base": PUBLIC}, {"base": https}):
            status, _, text = await post(client, "/pbx/twilio/voice", "voice.txt", **kwargs)
            assert status == 403, text
        body = fixture("twilio", "voice.txt")
        url = own + "/pbx/twilio/voice"
        good = signature(TWILIO_TOKEN, url, parse_qsl(body.decode(), keep_blank_values=True))
        forged = body.replace(b"%2B14155552671", b"%2B13125550188")
        response = await client.post("/pbx/twilio/voice", data=forged, headers={
            "Content-Type": FORM, "X-Twilio-Signature": good})
        assert response.status == 403
        response = await client.post("/pbx/twilio/voice", data=body,
                                     headers={"Content-Type": FORM})
        assert response.status == 403
    async with serving(fresh_db, pbx_config(BRIGADIER__SECRETS__TWILIO_AUTH_TOKEN="")) as client:
        assert (await post(client, "/pbx/twilio/voice", "voice.txt"))[0] == 403
    assert await nothing_recorded(fresh_db)


async def test_behind_a_proxy_only_the_public_url_is_accepted(fresh_db):
    config = pbx_config(BRIGADIER__TELEPHONY__PUBLIC_BASE_URL=PUBLIC)
    async with serving(fresh_db, config) as client:
        status, _, _ = await post(client, "/pbx/twilio/voice", "voice.txt")
        assert status == 403
        assert await nothing_recorded(fresh_db)
        status, _, _ = await post(client, "/pbx/twilio/voice", "voice.txt",
                                  base=PUBLIC.replace("brig.example", "brig.example:443"))
        assert status == 200
    assert len(await calls(fresh_db)) == 1


async def test_malformed_requests_get_400_and_record_nothing(fresh_db):
    async with serving(fresh_db) as client:
        status, _, text = await post(client, "/pbx/twilio/voice", "", body=b"From=%2B14155552671")
        assert status == 400 and "CallSid" in text
        status, _, _ = await post(client, "/pbx/twilio/dial", "",
                                  body=b"CallSid=CA1&DialCallStatus=completed&DialCallDuration=x")
        assert status == 400
        response = await client.post("/pbx/twilio/voice", json={"CallSid": "CA1"})
        assert response.status == 400
    assert await nothing_recorded(fresh_db)
