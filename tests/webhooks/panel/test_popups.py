"""Call popups over the websocket: who gets them, what they show, how they change."""

from __future__ import annotations

from sqlalchemy import text

from core.cards import create_client
from core.db import Database, create_engine
from core.models import Role
from tests.webhooks.panel.conftest import (
    add_user,
    logged_in,
    no_frame,
    panel_config,
    ring,
    serving,
)


async def test_a_ringing_call_pops_only_for_the_operator_whose_extension_rings(fresh_db):
    await add_user(fresh_db, "olha", extension="101")
    await add_user(fresh_db, "petro", extension="102")
    client = await create_client(
        fresh_db, phone="0671234567", region="UA", name="<i>Olena</i>", language="uk",
        address="Khreshchatyk 1",
    )
    async with serving(fresh_db) as server, logged_in(server, "olha") as olha, \
            logged_in(server, "petro") as petro:
        await olha.connect()
        await petro.connect()
        call_id, _ = await ring(fresh_db, "0671234567", extension="101")
        frame = await olha.frame_for(call_id)
        assert frame["type"] == "popup" and frame["state"] == "ringing"
        assert "&lt;i&gt;Olena&lt;/i&gt;" in frame["html"] and "<i>" not in frame["html"]
        assert "Khreshchatyk 1" in frame["html"]
        assert "+380 67 123 4567" in frame["html"]
        assert f'href="/panel/clients/{client.id}"' in frame["html"]

        # Petro's first frame is his own call: he was never shown Olha's.
        second, _ = await ring(fresh_db, "0671234567", extension="102")
        assert (await petro.frame_for(second))["type"] == "popup"
        await no_frame(olha)


async def test_every_operator_gets_a_call_whose_extension_is_nobodys(fresh_db):
    await add_user(fresh_db, "olha", extension="101")
    await add_user(fresh_db, "petro", extension="102")
    await add_user(fresh_db, "maria", role=Role.MANAGER, extension="103")
    async with serving(fresh_db) as server, logged_in(server, "olha") as olha, \
            logged_in(server, "petro") as petro:
        await olha.connect()
        await petro.connect()
        for extension in ("999", None):
            call_id, _ = await ring(fresh_db, "+380501112233", extension=extension)
            for operator in (olha, petro):
                frame = await operator.frame_for(call_id)
                assert frame["type"] == "popup"
                # An unknown number: the new-client form with the number filled in.
                assert 'name="phone" type="tel" value="+380501112233"' in frame["html"]
                assert "Unknown number" in frame["html"]


async def test_answered_and_ended_update_the_popups(fresh_db):
    await add_user(fresh_db, "olha", extension="101")
    await add_user(fresh_db, "petro", extension="102", language="uk")
    async with serving(fresh_db) as server, logged_in(server, "olha") as olha, \
            logged_in(server, "petro") as petro:
        await olha.connect()
        await petro.connect()
        call_id, pbx_id = await ring(fresh_db, "0671234567")
        for operator in (olha, petro):
            assert (await operator.frame_for(call_id))["type"] == "popup"

        await ring(fresh_db, "0671234567", extension="102", kind="answered", call=pbx_id)
        answered = await olha.frame_for(call_id)
        assert answered == {"type": "call", "call_id": call_id, "state": "answered",
                            "text": "Answered by ext. 102", "close": False}
        assert (await petro.frame_for(call_id))["text"] == "Відповів внутр. 102"

        await ring(fresh_db, "0671234567", kind="ended", call=pbx_id, outcome="answered")
        assert (await olha.frame_for(call_id))["close"] is True  # answered elsewhere: goes
        ended = await petro.frame_for(call_id)
        assert ended["state"] == "ended" and ended["close"] is False  # his call: it stays

        missed, missed_pbx = await ring(fresh_db, "0671234567")
        await olha.frame_for(missed)
        await petro.frame_for(missed)
        await ring(fresh_db, "0671234567", kind="ended", call=missed_pbx)
        frame = await olha.frame_for(missed)
        assert frame["state"] == "missed"
        assert frame["text"] == "Missed: a call-back task was created"


async def test_a_call_the_pbx_reports_here_pops_once(fresh_db):
    """The process that records the call pushes its popup itself; reading the event back from
    the database later must not push it again."""
    await add_user(fresh_db, "olha", extension="101")
    config = panel_config(BRIGADIER__SECRETS__BINOTEL_SECRET="pbx-secret")
    async with serving(fresh_db, config=config) as server, logged_in(server, "olha") as olha:
        await olha.connect()
        form = {"requestType": "receivedTheCall", "generalCallID": "g1", "callType": "0",
                "externalNumber": "0671234567", "internalNumber": "101"}
        async with olha.http.post(olha.url("/pbx/binotel/pbx-secret"), data=form) as answer:
            assert answer.status == 200
        frame = await olha.frame()
        assert (frame["type"], frame["state"]) == ("popup", "ringing")
        assert "+380 67 123 4567" in frame["html"]
        await no_frame(olha, seconds=0.5)


async def test_a_call_recorded_by_another_process_pops_here(fresh_db):
    """Two app instances with their own engines and hubs: the writer is not the server."""
    await add_user(fresh_db, "olha", extension="101")
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    other = Database(create_engine(url))
    try:
        async with serving(fresh_db) as server, serving(other) as _second, \
                logged_in(server, "olha") as olha:
            await olha.connect()
            call_id, _ = await ring(other, "0671234567", extension="101")
            frame = await olha.frame_for(call_id)
            assert frame["type"] == "popup"
    finally:
        await other.dispose()


async def test_a_known_caller_still_pops_when_the_card_cannot_be_read(fresh_db):
    await add_user(fresh_db, "olha", extension="101")
    client = await create_client(
        fresh_db, phone="0671234567", region="UA", name="Olena", language="uk",
        address="Khreshchatyk 1",
    )
    async with serving(fresh_db) as server, logged_in(server, "olha") as olha:
        await olha.connect()
        # The card's read fails (its addresses table is gone); matching the caller does not.
        async with fresh_db.transaction() as tx:
            await tx.execute(text("ALTER TABLE addresses RENAME TO addresses_away"))
        try:
            call_id, _ = await ring(fresh_db, "0671234567", extension="101")
            frame = await olha.frame_for(call_id)
        finally:
            async with fresh_db.transaction() as tx:
                await tx.execute(text("ALTER TABLE addresses_away RENAME TO addresses"))
    assert frame["type"] == "popup" and "+380 67 123 4567" in frame["html"]
    assert "the card could not be loaded just now" in frame["html"]
    assert f'href="/panel/clients/{client.id}"' in frame["html"]
    assert "name=\"phone\"" not in frame["html"]  # not offered as a new client
