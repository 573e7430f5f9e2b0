"""Our SIP listener with real sipp as the forking PBX, over UDP on ports of each test's own."""

import asyncio
import socket
from pathlib import Path

import pytest

from telephony.base import PbxContext
from telephony.sip import listener, parse
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

HERE = Path(__file__).resolve().parent
SIPP = "/usr/bin/sipp"

pytestmark = pytest.mark.skipif(not Path(SIPP).exists(), reason="sipp is not installed")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def context(db, port, *, answer="busy", delay=0.3):
    config = pbx_config(
        BRIGADIER__TELEPHONY__SIP_ENABLED="true", BRIGADIER__TELEPHONY__SIP_PORT=str(port),
        BRIGADIER__TELEPHONY__SIP_ANSWER=answer,
        BRIGADIER__TELEPHONY__SIP_ANSWER_DELAY_SECONDS=str(delay),
    )
    return PbxContext(config=config, database=lambda: db, clock=ManualClock(NOW))


async def sipp(port, *args):
    """Run one sipp call against our listener; returns its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        SIPP, *args, "-m", "1", "-p", str(free_udp_port()), "-i", "127.0.0.1", "-nostdin",
        "-timeout", "20", "-timeout_error", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd="/tmp",
    )
    output, _ = await process.communicate()
    return process.returncode, output.decode(errors="replace")


async def test_a_forked_invite_rings_then_is_refused_busy_naming_the_asserted_caller(fresh_db):
    olena, _ = await known_client(fresh_db)
    port = free_udp_port()
    async with listener.running(context(fresh_db, port)):
        code, output = await sipp(port, "-sf", str(HERE / "invite_busy_pai.xml"), "-s", "101")
        assert code == 0, output[-2000:]

        async def rang():
            return len(await call_events(fresh_db)) == 1

        await eventually(rang)
    (call,) = await calls(fresh_db)
    assert (call.provider, call.caller, call.client_id) == ("sip", "+380671234567", olena)
    assert (call.extension, call.line, call.state) == ("101", "0443334455", "ringing")
    ((kind, payload),) = await call_events(fresh_db)
    assert kind == "call.ringing" and set(payload) == PAYLOAD_KEYS
    assert payload["client_name"] == "Olena Kovalenko"


async def test_a_cancel_saying_answered_elsewhere_ends_the_call_answered(fresh_db):
    olena, _ = await known_client(fresh_db)
    port = free_udp_port()
    async with listener.running(context(fresh_db, port, delay=10)):
        code, output = await sipp(
            port, "-sf", str(HERE / "cancel_from_answered_elsewhere.xml"), "-s", "102")
        assert code == 0, output[-2000:]

        async def ended():
            return [c.state for c in await calls(fresh_db)] == ["ended"]

        await eventually(ended)
    (call,) = await calls(fresh_db)
    assert (call.caller, call.client_id, call.extension) == ("+380671234567", olena, "102")
    assert call.outcome == "answered"
    assert [k for k, _ in await call_events(fresh_db)] == ["call.ringing", "call.ended"]
    assert await tasks(fresh_db) == []


async def test_a_cancel_without_reason_is_a_missed_call_to_return(fresh_db):
    port = free_udp_port()
    async with listener.running(context(fresh_db, port, answer="decline", delay=10)):
        code, output = await sipp(
            port, "-sf", str(HERE / "cancel_rpid_caller_gave_up.xml"), "-s", "101")
        assert code == 0, output[-2000:]

        async def ended():
            return [c.state for c in await calls(fresh_db)] == ["ended"]

        await eventually(ended)
    (call,) = await calls(fresh_db)
    assert (call.caller, call.client_id, call.outcome) == ("+380501112233", None, "missed")
    assert [k for k, _ in await call_events(fresh_db)] == ["call.ringing", "call.missed"]
    (task,) = await tasks(fresh_db)
    assert (task.phone, task.call_id) == ("+380501112233", call.id)


async def test_a_cancel_crossing_our_refusal_still_ends_the_call(fresh_db):
    port = free_udp_port()
    async with listener.running(context(fresh_db, port, delay=0.3)):
        code, output = await sipp(
            port, "-sf", str(HERE / "cancel_crossing_our_refusal.xml"), "-s", "101")
        assert code == 0, output[-2000:]

        async def ended():
            return [c.state for c in await calls(fresh_db)] == ["ended"]

        await eventually(ended)
    (call,) = await calls(fresh_db)
    assert (call.caller, call.outcome) == ("+380501112233", "missed")
    assert [k for k, _ in await call_events(fresh_db)] == ["call.ringing", "call.missed"]
    (task,) = await tasks(fresh_db)
    assert (task.phone, task.call_id) == ("+380501112233", call.id)


async def test_sipps_standard_uac_is_rung_and_refused_never_answered(fresh_db):
    port = free_udp_port()
    async with listener.running(context(fresh_db, port, answer="decline")):
        code, output = await sipp(port, "-sn", "uac", "-s", "101")
        # The standard client expects a 200; it gets our 603 and counts the call failed.
        assert code == 1, output[-2000:]

        async def rang():
            return len(await calls(fresh_db)) == 1

        await eventually(rang)
    (call,) = await calls(fresh_db)
    assert (call.caller, call.client_id, call.state) == ("sipp", None, "ringing")


async def test_a_source_not_allowed_gets_no_answer_and_records_nothing(fresh_db):
    port = free_udp_port()
    ctx = context(fresh_db, port)
    config = pbx_config(BRIGADIER__TELEPHONY__SIP_PORT=str(port),
                        BRIGADIER__TELEPHONY__ALLOWED_IPS='["10.0.0.2"]')
    ctx = PbxContext(config=config, database=ctx.database, clock=ctx.clock)
    async with listener.running(ctx):
        loop = asyncio.get_running_loop()
        received = loop.create_future()

        class Peer(asyncio.DatagramProtocol):
            def datagram_received(self, data, addr):
                if not received.done():
                    received.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(
            Peer, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", port))
        try:
            transport.sendto(fixture("sip", "invite_pai.txt"))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(asyncio.shield(received), 0.5)
        finally:
            transport.close()
    assert await calls(fresh_db) == []


def test_the_caller_is_read_from_the_most_trusted_header():
    request = parse.parse_request(fixture("sip", "invite_pai.txt"))
    assert request is not None
    assert (request.method, request.call_id, request.cseq) == (
        "INVITE", "6d1e0b2a4f@10.0.0.2", (102, "INVITE"))
    assert parse.caller_of(request) == "+380671234567"
    assert parse.uri_user(request.uri) == "101"
    assert parse.uri_user(request.header("to")) == "0443334455"
    assert request.branch == "z9hG4bK7a1f3"
    hidden = parse.parse_request(
        fixture("sip", "invite_pai.txt").replace(b"CSeq: 102", b"Privacy: id\r\nCSeq: 102"))
    assert parse.caller_of(hidden) == "anonymous"


def test_responses_copy_the_vias_and_mark_where_the_request_came_from():
    request = parse.parse_request(fixture("sip", "invite_pai.txt"))
    text = parse.response(request, 180, source=("10.0.0.2", 5062), to_tag="b7c1e9").decode()
    lines = text.split("\r\n")
    assert lines[0] == "SIP/2.0 180 Ringing"
    assert lines[1] == (
        "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK7a1f3;rport=5062;received=10.0.0.2")
    assert lines[2] == "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKproxy"
    assert "To: <sip:0443334455@10.0.0.9:5070>;tag=b7c1e9" in lines
    assert "Call-ID: 6d1e0b2a4f@10.0.0.2" in lines and "CSeq: 102 INVITE" in lines
    assert text.endswith("Content-Length: 0\r\n\r\n")
    assert parse.reply_address(request, ("10.0.0.2", 5062)) == ("10.0.0.2", 5062)
    assert parse.parse_request(b"SIP/2.0 200 OK\r\n\r\n") is None
    assert parse.parse_request(b"\xff\xfe garbage") is None
