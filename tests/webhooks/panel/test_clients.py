"""Client cards, the new-client form and repeating the last order, over real HTTP."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from core.booking import book_visit
from core.cards import create_client
from core.geo import Point
from core.models import Channel, Client, Order
from core.orders import get_order
from tests.clock import ManualClock
from tests.company import CENTRE, NOW, RULES, kyiv, small_company
from tests.webhooks.panel.conftest import add_user, logged_in, serving


async def test_the_card_shows_outside_text_as_text(fresh_db):
    await add_user(fresh_db, "olha")
    client = await create_client(
        fresh_db, phone="067 765 43 21", region="UA", name="<script>alert('name')</script>",
        language="uk", address="Khreshchatyk 1 <img src=x onerror=alert(1)>",
    )
    async with fresh_db.transaction() as tx:
        row = await tx.get(Client, client.id)
        row.notes = "<b>pays late</b> & rings twice"
        row.debt = 12345
    async with serving(fresh_db) as server, logged_in(server, "olha") as staff:
        status, body = await staff.get(f"/panel/clients/{client.id}")
    assert status == 200
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#39;name&#39;)&lt;/script&gt;" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "&lt;b&gt;pays late&lt;/b&gt; &amp; rings twice" in body
    assert "+380 67 765 4321" in body
    assert "123.45" in body


async def test_new_client_form_normalises_the_number_and_refuses_a_known_one(fresh_db):
    await add_user(fresh_db, "olha")
    async with serving(fresh_db) as server, logged_in(server, "olha") as staff:
        status, body = await staff.get("/panel/clients/new?phone=%2B380671112233")
        assert status == 200 and 'value="+380671112233"' in body
        status, body = await staff.post("/panel/clients/new", {
            "phone": "(067) 765-43-21", "name": "Olena", "address": "Sahaidachnoho 5",
            "lat": "50.46", "lon": "30.52",
        })
        assert status == 200 and "Client saved" in body
        async with fresh_db.transaction() as tx:
            client = await tx.scalar(select(Client).where(Client.name == "Olena"))
            assert [p.e164 for p in client.phones] == ["+380677654321"]
            assert client.addresses[0].lat == 50.46

        status, body = await staff.post("/panel/clients/new", {
            "phone": "+38 067 765 43 21", "name": "Someone else",
        })
        assert status == 409
        assert f"already belongs to client №{client.id}" in body
        assert f'href="/panel/clients/{client.id}"' in body

        status, body = await staff.post("/panel/clients/new", {"phone": "12", "name": "X"})
        assert status == 400 and "is not a valid phone number" in body

        status, body = await staff.get("/panel/clients/find?phone=0677654321")
        assert status == 200 and "Sahaidachnoho 5" in body
        status, body = await staff.get("/panel/clients/find?phone=0501234567")
        assert status == 200 and 'value="+380501234567"' in body


async def test_repeat_last_order_books_it_again_through_core(fresh_db):
    company = await small_company(fresh_db, workers=2)
    operator = await add_user(fresh_db, "olha", extension="101")
    first = await book_visit(
        fresh_db, client_id=company.client_id, service_id=company.service_id,
        start=kyiv(NOW.date(), 10), now=NOW, rules=RULES, channel=Channel.TELEGRAM,
        point=Point(*CENTRE), address_text="Volodymyrska 10", quantity=1,
    )
    async with fresh_db.transaction() as tx:
        (await tx.get(Order, first.order.id)).payment_method = "cash"
    clock = ManualClock(NOW)
    async with serving(fresh_db, clock=clock) as server, logged_in(server, "olha") as staff:
        status, body = await staff.get(f"/panel/clients/{company.client_id}")
        assert status == 200 and "Repeat last order" in body
        status, body = await staff.get(f"/panel/clients/{company.client_id}/repeat")
        assert status == 200
        assert "Volodymyrska 10" in body and "cash" in body
        starts = re.findall(r'name="start" value="([^"]+)"', body)
        assert starts, body
        status, body = await staff.post(
            f"/panel/clients/{company.client_id}/repeat",
            {"start": starts[0], "source_order_id": str(first.order.id)},
        )
        assert status == 200, body
        assert "is booked for" in body
        number = re.search(r"Order №(\d+)", body).group(1)
    order = await get_order(fresh_db, order_id=int(number) - 10000)
    assert order.id != first.order.id
    assert order.client_id == company.client_id
    assert order.address_id == first.order.address_id
    assert order.channel == "phone"
    assert order.payment_method == "cash"
    assert order.starts_at == datetime.fromisoformat(starts[0])
    assert order.history[0].actor == f"user:{operator.id}"
    assert order.status == "assigned"


async def test_a_taken_start_offers_the_nearest_free_ones(fresh_db):
    company = await small_company(fresh_db, workers=1)
    await add_user(fresh_db, "olha")
    first = await book_visit(
        fresh_db, client_id=company.client_id, service_id=company.service_id,
        start=kyiv(NOW.date(), 10), now=NOW, rules=RULES, channel=Channel.PHONE,
        point=Point(*CENTRE), address_text="Volodymyrska 10",
    )
    async with serving(fresh_db, clock=ManualClock(NOW)) as server, \
            logged_in(server, "olha") as staff:
        status, body = await staff.post(
            f"/panel/clients/{company.client_id}/repeat",
            {"start": kyiv(NOW.date(), 10).isoformat(), "source_order_id": str(first.order.id)},
        )
    assert status == 409
    assert "has just been taken" in body
    assert re.findall(r'name="start" value="([^"]+)"', body)
