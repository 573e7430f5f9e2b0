"""Client cards: one client's, and several read together for calls ringing at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.booking import book_visit
from core.cards import client_overview, client_overviews, create_client
from core.db import Database
from core.errors import NotFound
from core.geo import Point
from core.models import Channel
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)


async def test_cards_read_together_match_each_read_alone(db: Database):
    company = await small_company(db, workers=3)
    second = await create_client(
        db, phone="+380501112233", region="UA", name="Taras", language="en",
        address="Khreshchatyk 1",
    )
    quiet = await create_client(db, phone="+380661112233", region="UA", name="Ivan", language="uk")
    booked = []
    for day in range(4):
        for client_id in (company.client_id, second.id):
            booking = await book_visit(
                db, client_id=client_id, service_id=company.service_id,
                start=kyiv(MONDAY + timedelta(days=day), 10 + 2 * (client_id % 2)), now=NOW,
                rules=RULES, channel=Channel.PHONE, point=HERE, address_text="Somewhere 5",
            )
            booked.append((client_id, booking.order.id))

    cards = await client_overviews(
        db, client_ids=[second.id, company.client_id, quiet.id, 999_999, second.id],
        last_orders=3,
    )

    assert set(cards) == {company.client_id, second.id, quiet.id}  # an unknown id left out
    for client_id in (company.client_id, second.id):
        newest = [order for owner, order in reversed(booked) if owner == client_id][:3]
        assert [o.id for o in cards[client_id].last_orders] == newest
        assert cards[client_id] == await client_overview(db, client_id=client_id, last_orders=3)
    assert cards[second.id].name == "Taras"
    assert cards[second.id].phones == ("+380501112233",)
    assert cards[second.id].addresses[0].text == "Khreshchatyk 1"
    assert cards[second.id].last_orders[0].services[0]["en"] == "Cleaning"
    assert cards[quiet.id].last_orders == ()
    assert await client_overviews(db, client_ids=[]) == {}
    with pytest.raises(NotFound):
        await client_overview(db, client_id=999_999)
