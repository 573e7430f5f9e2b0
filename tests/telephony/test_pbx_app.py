"""The PBX sub-application and listeners as the whole app mounts and starts them."""

import asyncio
import socket

from aiohttp.test_utils import TestClient, TestServer

from core.db import Database, create_engine
from tests.clock import ManualClock
from tests.telephony.pbx import BINOTEL_SECRET, NOW, fixture, pbx_config
from webhooks.app import create_app
from webhooks.pbx import create_pbx_app


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_the_app_starts_the_enabled_sip_listener_with_itself(fresh_db):
    port = free_udp_port()
    config = pbx_config(BRIGADIER__TELEPHONY__SIP_ENABLED="true",
                        BRIGADIER__TELEPHONY__SIP_PORT=str(port))
    client = TestClient(TestServer(create_app(config, fresh_db, clock=ManualClock(NOW))))
    await client.start_server()
    loop = asyncio.get_running_loop()
    answer = loop.create_future()

    class Peer(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Peer, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", port))
    try:
        options = fixture("sip", "invite_pai.txt").replace(b"INVITE", b"OPTIONS")
        transport.sendto(options)
        reply = await asyncio.wait_for(answer, 5)
        assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    finally:
        transport.close()
        await client.close()


async def test_a_database_outage_answers_503_never_500():
    db = Database(create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing"))
    app = create_pbx_app(pbx_config(), database=lambda: db, clock=ManualClock(NOW))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        response = await client.post(
            f"/binotel/{BINOTEL_SECRET}", data=fixture("binotel", "received_the_call.txt"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 503
        assert (await response.json())["error"] == "unavailable"
        assert "Traceback" not in await response.text()
    finally:
        await client.close()
        await db.dispose()
