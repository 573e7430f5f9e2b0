"""Our AMI listener against a small AMI server speaking the real framing over TCP."""

import asyncio
import contextlib

import pytest

from core.errors import ConfigError
from telephony.asterisk import listener
from telephony.asterisk.parse import extension_of
from telephony.base import PbxContext
from tests.clock import ManualClock
from tests.telephony.pbx import (
    NOW,
    PAYLOAD_KEYS,
    call_events,
    calls,
    eventually,
    fixture,
    known_client,
    pbx_config,
    tasks,
)

PASSWORD = "s3cret"


class FakeAmi:
    """Banner, login check, then each session's scripted events; closes after a session's script
    when asked, so the listener must reconnect."""

    def __init__(self, sessions, *, password=PASSWORD):
        self.sessions = list(sessions)
        self.password = password
        self.logins = []
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def close(self):
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader, writer):
        writer.write(b"Asterisk Call Manager/5.0.6\r\n")
        login = await listener.read_message(reader)
        self.logins.append(login)
        accepted = login.get("Secret") == self.password and login.get("Action") == "Login"
        writer.write(listener.encode({
            "Response": "Success" if accepted else "Error",
            "ActionID": login.get("ActionID", ""),
            "Message": "Authentication accepted" if accepted else "Authentication failed",
        }))
        if accepted and self.sessions:
            script, close = self.sessions.pop(0)
            writer.write(b"Event: FullyBooted\r\nPrivilege: system,all\r\n\r\n")
            writer.write(script.replace(b"\n", b"\r\n"))
            await writer.drain()
            if not close:
                with contextlib.suppress(ConnectionError):
                    await reader.read()
        await writer.drain()
        writer.close()


def context(db, port, **env):
    config = pbx_config(BRIGADIER__TELEPHONY__AMI_ENABLED="true",
                        BRIGADIER__TELEPHONY__AMI_PORT=str(port),
                        BRIGADIER__SECRETS__AMI_PASSWORD=PASSWORD, **env)
    return PbxContext(config=config, database=lambda: db, clock=ManualClock(NOW))


def test_the_extension_is_read_from_the_channel_name():
    assert extension_of("PJSIP/101-0000002b") == "101"
    assert extension_of("SIP/operator-7-00000001") == "operator-7"
    assert extension_of("Local") is None


async def test_an_answered_and_a_missed_call_are_followed_across_a_reconnect(fresh_db):
    olena, _ = await known_client(fresh_db)
    ami = FakeAmi([
        (fixture("asterisk", "inbound_answered.txt"), True),  # then the connection drops
        (fixture("asterisk", "internal_call.txt") + fixture("asterisk", "inbound_missed.txt"),
         False),
    ])
    port = await ami.start()
    try:
        async with listener.running(context(fresh_db, port), first_wait=0.05) as ami_listener:
            async def both_ended():
                found = await calls(fresh_db)
                return len(found) == 2 and all(c.state == "ended" for c in found)

            await eventually(both_ended)
            assert ami_listener.sessions == 2
    finally:
        await ami.close()
    assert ami.logins[0] == {"Action": "Login", "ActionID": "brigadier-login",
                             "Username": "brigadier", "Secret": PASSWORD, "Events": "call"}
    answered, missed = await calls(fresh_db)
    assert (answered.provider, answered.provider_call_id) == ("asterisk", "1767254400.84")
    assert (answered.caller, answered.client_id, answered.line) == (
        "+380671234567", olena, "0443334455")
    assert (answered.outcome, answered.extension) == ("answered", "101")
    assert (missed.caller, missed.outcome, missed.client_id) == ("+380501112233", "missed", None)
    found = await call_events(fresh_db)
    assert [(k, p["extension"]) for k, p in found] == [
        ("call.ringing", None), ("call.ringing", "101"), ("call.ringing", "102"),
        ("call.answered", "101"), ("call.ended", "101"),
        ("call.ringing", None), ("call.ringing", "101"), ("call.missed", "101"),
    ]
    assert all(set(p) == PAYLOAD_KEYS for _, p in found)
    (task,) = await tasks(fresh_db)
    assert (task.phone, task.call_id) == ("+380501112233", missed.id)


async def test_a_refused_login_records_nothing_and_keeps_trying(fresh_db):
    ami = FakeAmi([(fixture("asterisk", "inbound_missed.txt"), False)], password="other")
    port = await ami.start()
    try:
        async with listener.running(context(fresh_db, port), first_wait=0.05,
                                    longest_wait=0.1) as ami_listener:
            async def tried_thrice():
                return len(ami.logins) >= 3

            await eventually(tried_thrice)
            assert not ami_listener.logged_in.is_set()
    finally:
        await ami.close()
    assert await calls(fresh_db) == []


async def test_a_listener_started_before_asterisk_connects_once_it_is_up(fresh_db):
    ami = FakeAmi([(fixture("asterisk", "inbound_missed.txt"), False)])
    port = await ami.start()
    await ami.close()  # nothing listens on the port yet
    ctx = context(fresh_db, port)
    async with listener.running(ctx, first_wait=0.05, longest_wait=0.2) as ami_listener:
        await asyncio.sleep(0.3)
        assert ami_listener.sessions == 0
        ami.server = await asyncio.start_server(ami._serve, "127.0.0.1", port)
        try:
            async def recorded():
                return len(await calls(fresh_db)) == 1 and (await calls(fresh_db))[0].ended_at

            await eventually(recorded)
        finally:
            await ami.close()


def test_the_password_must_be_set():
    config = pbx_config(BRIGADIER__TELEPHONY__AMI_ENABLED="true")
    ctx = PbxContext(config=config, database=lambda: None, clock=ManualClock(NOW))
    with pytest.raises(ConfigError, match="ami_password"):
        listener.AmiListener(ctx, first_wait=1, longest_wait=1)
