from datetime import UTC, datetime, timedelta

from telephony.binotel.parse import completed_event
from tests.telephony.pbx import (
    BINOTEL_SECRET,
    NOW,
    PAYLOAD_KEYS,
    call_events,
    calls,
    fixture,
    known_client,
    nothing_recorded,
    pbx_config,
    serving,
    tasks,
)

URL = f"/pbx/binotel/{BINOTEL_SECRET}"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def post(client, name, url=URL, **kw):
    headers = {"Content-Type": "application/json"} if name.endswith(".json") else FORM
    response = await client.post(url, data=fixture("binotel", name), headers=headers, **kw)
    return response.status, await response.json()


async def test_call_settings_name_the_caller_and_link_their_card(fresh_db):
    olena, _ = await known_client(fresh_db)
    async with serving(fresh_db) as client:
        status, body = await post(client, "api_call_settings.txt")
        base = str(client.make_url("")).rstrip("/")
    assert status == 200
    assert body == {"customerData": {
        "name": "Olena Kovalenko",
        "linkToCrmUrl": f"{base}/panel/clients/{olena}",
        "linkToCrmTitle": "Картка клієнта",
    }}
    assert await nothing_recorded(fresh_db)  # asked before ringing: no call id yet


async def test_call_settings_link_the_public_address_and_say_nothing_of_strangers(fresh_db):
    olena, _ = await known_client(fresh_db)
    config = pbx_config(BRIGADIER__TELEPHONY__PUBLIC_BASE_URL="https://brig.example")
    async with serving(fresh_db, config) as client:
        _, known = await post(client, "api_call_settings.txt")
        stranger = await client.post(URL, data={"requestType": "apiCallSettings",
                                                "externalNumber": "0931112233"})
        assert stranger.status == 200 and await stranger.json() == {}
    assert known["customerData"]["linkToCrmUrl"] == f"https://brig.example/panel/clients/{olena}"


async def test_a_call_rings_is_answered_and_hangs_up(fresh_db):
    olena, _ = await known_client(fresh_db)
    async with serving(fresh_db) as client:
        for name in ("received_the_call.txt", "answered_the_call.txt", "hangup_the_call.txt",
                     "hangup_the_call.txt"):
            assert await post(client, name) == (200, {"status": "success"})
    (call,) = await calls(fresh_db)
    assert (call.provider, call.provider_call_id) == ("binotel", "5123456789")
    assert (call.caller, call.client_id, call.line) == ("+380671234567", olena, "0443334455")
    assert (call.state, call.outcome, call.duration_seconds) == ("ended", "answered", 64)
    assert call.extension == "901" and call.answered_at == NOW
    found = await call_events(fresh_db)
    assert [kind for kind, _ in found] == ["call.ringing", "call.answered", "call.ended"]
    assert all(set(payload) == PAYLOAD_KEYS for _, payload in found)
    assert found[0][1]["client_name"] == "Olena Kovalenko"
    assert await tasks(fresh_db) == []


async def test_a_missed_call_reported_twice_makes_one_call_back_task(fresh_db):
    async with serving(fresh_db) as client:
        for _ in range(2):  # Binotel repeats apiCallCompleted until it hears success
            assert await post(client, "api_call_completed_missed.txt") == (
                200, {"status": "success"})
    (call,) = await calls(fresh_db)
    assert (call.caller, call.client_id, call.outcome) == ("+380501112233", None, "missed")
    assert call.ended_at == datetime.fromtimestamp(1772439304 + 25, UTC)
    (task,) = await tasks(fresh_db)
    assert (task.phone, task.state, task.call_id) == ("+380501112233", "open", call.id)
    ((kind, payload),) = await call_events(fresh_db)
    assert kind == "call.missed" and payload["callback_task_id"] == task.id


async def test_a_completed_call_in_json_keeps_its_recording_link(fresh_db):
    olena, _ = await known_client(fresh_db)
    async with serving(fresh_db) as client:
        assert await post(client, "api_call_completed_answered.json") == (
            200, {"status": "success"})
    (call,) = await calls(fresh_db)
    assert (call.client_id, call.outcome, call.duration_seconds) == (olena, "answered", 64)
    assert call.recording_url == "https://my.binotel.ua/?module=history&subject=5123456792"
    assert call.answered_at == datetime.fromtimestamp(1772439304 + 6, UTC)


async def test_a_wrong_secret_or_source_is_refused_and_records_nothing(fresh_db):
    async with serving(fresh_db) as client:
        status, body = await post(client, "received_the_call.txt", url="/pbx/binotel/guess")
        assert (status, body["error"]) == (403, "forbidden")
    config = pbx_config(BRIGADIER__TELEPHONY__ALLOWED_IPS='["194.88.218.114", "45.91.130.0/24"]')
    async with serving(fresh_db, config) as client:
        status, _ = await post(client, "received_the_call.txt")
        assert status == 403
    assert await nothing_recorded(fresh_db)


async def test_an_unconfigured_binotel_refuses_everything(fresh_db):
    config = pbx_config(BRIGADIER__SECRETS__BINOTEL_SECRET="")
    async with serving(fresh_db, config) as client:
        for guess in ("x", "None", "%20"):
            status, _ = await post(client, "received_the_call.txt", url=f"/pbx/binotel/{guess}")
            assert status == 403
    assert await nothing_recorded(fresh_db)


async def test_malformed_requests_get_400_and_record_nothing(fresh_db):
    async with serving(fresh_db) as client:
        for data in ({"requestType": "receivedTheCall", "externalNumber": "0671234567"},
                     {"requestType": "somethingElse", "generalCallID": "1"},
                     {"generalCallID": "1"},
                     {"requestType": "hangupTheCall", "generalCallID": "1", "billsec": "lots"}):
            response = await client.post(URL, data=data)
            assert response.status == 400, data
            assert (await response.json())["error"] == "invalid_input"
        response = await client.post(URL, data=b"{not json", headers={
            "Content-Type": "application/json"})
        assert response.status == 400
    assert await nothing_recorded(fresh_db)


def test_a_completed_call_ends_when_binotel_says_not_when_it_retries():
    fields = {"requestType": "apiCallCompleted", "callDetails[generalCallID]": "7",
              "callDetails[startTime]": "1772439304", "callDetails[waitsec]": "5",
              "callDetails[billsec]": "10", "callDetails[disposition]": "VM-SUCCESS",
              "callDetails[callType]": "1", "callDetails[externalNumber]": "0671234567"}
    event = completed_event(fields, now=NOW + timedelta(hours=30))
    assert event.at == datetime.fromtimestamp(1772439304 + 15, UTC)
    assert (event.outcome, event.direction.value) == ("voicemail", "outbound")
