"""Offers pass on when declined or unanswered; nobody left tells the zone's operator."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.booking import book_visit
from core.errors import Conflict, NotFound
from core.geo import Point
from core.invites import create_invite, redeem_invite
from core.models import Channel, Event, OutboxMessage, Role, User, Worker, Zone
from core.offers import (
    DECLINED,
    OFFERED,
    PASSED_ON,
    YOURS,
    accept_offer,
    answer_offer,
    decline_offer,
    expire_offers,
    offer_states,
)
from core.orders import get_order
from core.watch import flag_late_starts
from tests.company import CENTRE, NOW, RULES, kyiv, small_company

TIMEOUT = timedelta(minutes=15)


async def _booked(db, company):
    booking = await book_visit(
        db, client_id=company.client_id, service_id=company.service_id,
        start=kyiv(NOW.date() + timedelta(days=1), 10), now=NOW, rules=RULES,
        channel=Channel.PHONE, point=Point(*CENTRE),
    )
    return booking.order


async def _operator(db, company, telegram_id=777):
    async with db.transaction() as tx:
        user = User(login="op", name="Op", role=Role.OPERATOR, telegram_user_id=telegram_id)
        tx.add(user)
        await tx.flush()
        await tx.execute(update(Zone).where(Zone.id == company.zone_id)
                         .values(responsible_user_id=user.id))
        await tx.execute(update(Worker).values(telegram_user_id=Worker.id + 1000))


async def test_unanswered_offers_pass_on_until_nobody_is_left(db):
    company = await small_company(db, workers=2)
    await _operator(db, company)
    order = await _booked(db, company)
    first = order.worker_id
    assert await expire_offers(db, now=NOW + timedelta(minutes=14), answer_within=TIMEOUT,
                               rules=RULES) == []
    passed = await expire_offers(db, now=NOW + timedelta(minutes=16), answer_within=TIMEOUT,
                                 rules=RULES)
    assert [p.worker_id for p in passed] == [next(w for w in company.worker_ids if w != first)]
    again = await expire_offers(db, now=NOW + timedelta(minutes=40), answer_within=TIMEOUT,
                                rules=RULES)
    assert again[0].worker_id is None and again[0].order.status == "confirmed"
    async with db.transaction() as tx:
        kinds = list(await tx.scalars(select(Event.kind).where(Event.order_id == order.id)))
        told = list(await tx.scalars(select(OutboxMessage.template).where(
            OutboxMessage.chat_id == 777)))
    assert "order.unassignable" in kinds and told == ["notice.order_unassignable"]
    with pytest.raises(Conflict) as refused:
        await accept_offer(db, worker_id=first, order_id=order.id, now=NOW)
    assert "no longer offered" in str(refused.value)


async def test_declined_offer_goes_to_the_next_worker_and_a_second_accept_is_refused(db):
    company = await small_company(db, workers=2)
    order = await _booked(db, company)
    passed = await decline_offer(db, worker_id=order.worker_id, order_id=order.id, now=NOW,
                                 rules=RULES)
    assert passed.worker_id not in (None, order.worker_id)
    await accept_offer(db, worker_id=passed.worker_id, order_id=order.id, now=NOW)
    with pytest.raises(Conflict, match="already accepted"):
        await accept_offer(db, worker_id=passed.worker_id, order_id=order.id, now=NOW)


async def test_offer_timeouts_pass_each_order_once_across_processes(fresh_db):
    company = await small_company(fresh_db, workers=3)
    order = await _booked(fresh_db, company)
    results = await asyncio.gather(*(
        expire_offers(fresh_db, now=NOW + timedelta(minutes=20), answer_within=TIMEOUT,
                      rules=RULES) for _ in range(4)
    ))
    assert sum(len(r) for r in results) == 1
    async with fresh_db.transaction() as tx:
        refused = await tx.scalar(select(Event.id).where(
            Event.order_id == order.id, Event.kind == "order.offer_refused"))
    assert refused is not None


async def test_late_start_is_flagged_once(db):
    company = await small_company(db, workers=1)
    await _operator(db, company)
    order = await _booked(db, company)
    late = kyiv(NOW.date() + timedelta(days=1), 10, 20)
    grace = timedelta(minutes=15)
    assert await flag_late_starts(db, now=late - timedelta(minutes=10), grace=grace,
                                  tz=RULES.tz) == []
    assert await flag_late_starts(db, now=late, grace=grace, tz=RULES.tz) == [order.id]
    assert await flag_late_starts(db, now=late, grace=grace, tz=RULES.tz) == []


async def test_invite_binds_once(db):
    company = await small_company(db, workers=1)
    invite = await create_invite(db, worker=company.worker_ids[0], now=NOW,
                                 lifetime=timedelta(hours=1))
    card = await redeem_invite(db, token=invite.token, telegram_user_id=5, telegram_language="ru",
                               default_language="uk", now=NOW)
    assert (card.telegram_user_id, card.language) == (5, "ru")
    with pytest.raises(Conflict, match="already been used"):
        await redeem_invite(db, token=invite.token, telegram_user_id=6, telegram_language=None,
                            default_language="uk", now=NOW)
    late = await create_invite(db, worker=company.worker_ids[0], now=NOW,
                               lifetime=timedelta(hours=1))
    with pytest.raises(Conflict, match="expired"):
        await redeem_invite(db, token=late.token, telegram_user_id=5, telegram_language=None,
                            default_language="uk", now=NOW + timedelta(hours=2))
    with pytest.raises(NotFound):
        await redeem_invite(db, token="nope", telegram_user_id=5, telegram_language=None,
                            default_language="uk", now=NOW)


async def test_an_answer_reads_back_every_offer_shown_with_it(db):
    company = await small_company(db, workers=2)
    other = company.worker_ids[1]
    await _set_active(db, other, False)  # both offers go to the first worker
    first = await _booked(db, company)
    second = await book_visit(
        db, client_id=company.client_id, service_id=company.service_id,
        start=kyiv(NOW.date() + timedelta(days=1), 14), now=NOW, rules=RULES,
        channel=Channel.PHONE, point=Point(*CENTRE),
    )
    worker = first.worker_id
    assert second.order.worker_id == worker
    shown = [first.id, second.order.id]

    answer = await answer_offer(db, worker_id=worker, order_id=first.id, accept=True, now=NOW,
                                rules=RULES, shown=shown)
    assert answer.number == first.number
    assert [s.state for s in answer.shown] == [YOURS, OFFERED]
    accepted = await get_order(db, order_id=first.id)
    assert [(h.from_status, h.to_status, h.actor) for h in accepted.history[-2:]] == [
        ("confirmed", "assigned", "system"), ("assigned", "accepted", f"worker:{worker}"),
    ]

    await _set_active(db, other, True)
    answer = await answer_offer(db, worker_id=worker, order_id=second.order.id, accept=False,
                                now=NOW, rules=RULES, shown=shown)
    assert [s.state for s in answer.shown] == [YOURS, DECLINED]
    states = await offer_states(db, worker_id=other, order_ids=shown)
    assert [s.state for s in states] == [PASSED_ON, OFFERED]


async def _set_active(db, worker_id, active):
    async with db.transaction() as tx:
        await tx.execute(update(Worker).where(Worker.id == worker_id).values(active=active))
