import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.booking import book_visit
from core.clients import get_client, register_client
from core.config import ReferralSettings, load_config
from core.errors import ConfigError, TransitionRefused
from core.geo import Point
from core.jobs import complete_job, start_job
from core.messages import render
from core.models import Channel, Client, Event, OutboxMessage, Referral
from core.offers import accept_offer
from core.orders import change_status
from core.referrals import ReferralStats, record_referral, referral_stats
from tests.company import CENTRE, MONDAY, NOW, RULES, kyiv, small_company

HERE = Point(*CENTRE)
TUESDAY = MONDAY + timedelta(days=1)


async def invited_pair(db, *, referrer_telegram=700, friend_telegram=800, referrer_language="en"):
    """A company, a referrer and the friend they invited; both use the customer bot."""
    company = await small_company(db, workers=2)
    referrer = await register_client(db, phone="+380671110001", region="UA", name="Olena",
                                     language=referrer_language, channel=Channel.TELEGRAM,
                                     telegram_user_id=referrer_telegram)
    friend = await register_client(db, phone="+380671110002", region="UA", name="Taras",
                                   language="uk", channel=Channel.TELEGRAM,
                                   telegram_user_id=friend_telegram)
    assert await record_referral(db, client_id=friend.id, referrer_id=referrer.id, now=NOW)
    return company, referrer.id, friend.id


async def book(db, company, client_id, hour=10):
    booking = await book_visit(db, client_id=client_id, service_id=company.service_id,
                               start=kyiv(TUESDAY, hour), now=NOW, rules=RULES,
                               channel=Channel.TELEGRAM, point=HERE)
    return booking.order


async def finish(db, order_id, **extra):
    for minute, target in enumerate(("accepted", "on_the_way", "in_progress")):
        await change_status(db, order_id=order_id, target=target, actor="worker",
                            now=kyiv(TUESDAY, 10, minute))
    return await change_status(db, order_id=order_id, target="completed", actor="worker",
                               now=kyiv(TUESDAY, 12), payment_method="cash", **extra)


async def points(db, client_id):
    return (await get_client(db, client_id=client_id)).bonus_points


async def reward_notices(db):
    async with db.transaction() as tx:
        event = await tx.scalar(select(Event).where(Event.kind == "referral.rewarded"))
        if event is None:
            return None, []
        rows = await tx.scalars(
            select(OutboxMessage).where(OutboxMessage.event_id == event.id)
            .order_by(OutboxMessage.chat_id)
        )
        return event, [(m.chat_id, render(m.template, m.language, **m.params)) for m in rows]


async def test_the_friends_first_finished_order_rewards_both_once_and_tells_them(db):
    company, referrer_id, friend_id = await invited_pair(db)
    order = await book(db, company, friend_id)
    assert await points(db, referrer_id) == 0

    await finish(db, order.id)

    assert await points(db, referrer_id) == 100
    assert await points(db, friend_id) == 100
    event, notices = await reward_notices(db)
    assert event.order_id == order.id
    assert event.payload == {"client_id": friend_id, "referrer_id": referrer_id,
                             "referrer_points": 100, "friend_points": 100}
    assert notices == [
        (700, "The friend you invited has had their first order done: +100 bonus points for "
              "you. Your bonus points now: 100."),
        (800, "Дякуємо за перше замовлення! Ви прийшли за запрошенням друга — вам нараховано "
              "бонусні бали: +100. Тепер на рахунку: 100."),
    ]
    async with db.transaction() as tx:
        referral = await tx.get(Referral, friend_id)
    assert referral.rewarded_at == kyiv(TUESDAY, 12)
    assert await referral_stats(db, client_id=referrer_id) == ReferralStats(1, 1)


async def test_nothing_is_given_before_the_work_is_done(db):
    company, referrer_id, friend_id = await invited_pair(db)
    order = await book(db, company, friend_id)
    for target in ("accepted", "on_the_way", "in_progress"):
        await change_status(db, order_id=order.id, target=target, actor="worker", now=NOW)
    other = await book(db, company, friend_id, hour=14)
    await change_status(db, order_id=other.id, target="cancelled", actor="client", now=NOW,
                        reason="changed my mind")

    assert (await points(db, referrer_id), await points(db, friend_id)) == (0, 0)
    assert await referral_stats(db, client_id=referrer_id) == ReferralStats(1, 0)
    assert (await reward_notices(db))[0] is None


async def test_a_second_finished_order_or_a_repeated_completion_gives_nothing_more(db):
    company, referrer_id, friend_id = await invited_pair(db)
    first = await book(db, company, friend_id)
    second = await book(db, company, friend_id, hour=14)
    await finish(db, first.id)

    with pytest.raises(TransitionRefused):
        await change_status(db, order_id=first.id, target="completed", actor="worker",
                            now=kyiv(TUESDAY, 13), payment_method="cash")
    await finish(db, second.id)

    assert (await points(db, referrer_id), await points(db, friend_id)) == (100, 100)
    async with db.transaction() as tx:
        rewards = await tx.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "referral.rewarded")
        )
    assert rewards == 1


async def test_a_client_nobody_invited_earns_no_referral_points(db):
    company, referrer_id, _friend_id = await invited_pair(db)
    order = await book(db, company, referrer_id)

    await finish(db, order.id)

    assert await points(db, referrer_id) == 0
    assert (await reward_notices(db))[0] is None


async def test_configured_points_are_given_and_a_side_set_to_zero_gets_nothing(db):
    company, referrer_id, friend_id = await invited_pair(db)
    order = await book(db, company, friend_id)

    await finish(db, order.id, referrals=ReferralSettings(referrer_points=250, friend_points=0))

    assert (await points(db, referrer_id), await points(db, friend_id)) == (250, 0)
    _event, notices = await reward_notices(db)
    assert [chat for chat, _text in notices] == [700]
    assert "+250" in notices[0][1] and "250." in notices[0][1]


async def test_points_add_to_the_balance_already_there(db):
    company, referrer_id, friend_id = await invited_pair(db, referrer_language="ru")
    async with db.transaction() as tx:
        (await tx.get(Client, referrer_id)).bonus_points = 40
    order = await book(db, company, friend_id)

    await finish(db, order.id)

    assert await points(db, referrer_id) == 140
    _event, notices = await reward_notices(db)
    assert notices[0] == (700, "Друг, которого вы пригласили, получил первый выполненный заказ — "
                               "вам начислены бонусные баллы: +100. Теперь на счету: 140.")


async def test_a_referrer_without_the_bot_gets_the_points_without_a_message(db):
    company = await small_company(db)
    friend = await register_client(db, phone="+380671110002", region="UA",
                                   channel=Channel.TELEGRAM, telegram_user_id=800)
    assert await record_referral(db, client_id=friend.id, referrer_id=company.client_id, now=NOW)
    order = await book(db, company, friend.id)

    await finish(db, order.id)

    assert await points(db, company.client_id) == 100
    _event, notices = await reward_notices(db)
    assert [chat for chat, _text in notices] == [800]


async def test_the_worker_completing_the_job_rewards_the_invitation(db):
    company, referrer_id, friend_id = await invited_pair(db)
    order = await book(db, company, friend_id)
    worker_id = order.worker_id
    await accept_offer(db, worker_id=worker_id, order_id=order.id, now=NOW)
    await change_status(db, order_id=order.id, target="on_the_way", actor="worker", now=NOW)
    await start_job(db, worker_id=worker_id, order_id=order.id, now=kyiv(TUESDAY, 10))

    await complete_job(db, worker_id=worker_id, order_id=order.id, now=kyiv(TUESDAY, 12),
                       payment_method="card_to_worker",
                       referrals=ReferralSettings(referrer_points=30, friend_points=20))

    assert (await points(db, referrer_id), await points(db, friend_id)) == (30, 20)


async def test_only_a_new_client_can_be_invited(db):
    company = await small_company(db)
    referrer = await register_client(db, phone="+380671110001", region="UA")
    await book(db, company, company.client_id)

    assert not await record_referral(db, client_id=company.client_id, referrer_id=referrer.id,
                                     now=NOW)
    assert not await record_referral(db, client_id=referrer.id, referrer_id=referrer.id, now=NOW)
    assert not await record_referral(db, client_id=referrer.id, referrer_id=10**6, now=NOW)
    assert await referral_stats(db, client_id=referrer.id) == ReferralStats(0, 0)


async def test_two_orders_finished_at_once_reward_the_invitation_once(fresh_db):
    company, referrer_id, friend_id = await invited_pair(fresh_db)
    first = await book(fresh_db, company, friend_id)
    second = await book(fresh_db, company, friend_id, hour=14)
    for order in (first, second):
        for target in ("accepted", "on_the_way", "in_progress"):
            await change_status(fresh_db, order_id=order.id, target=target, actor="worker",
                                now=NOW)

    await asyncio.gather(*(
        change_status(fresh_db, order_id=order.id, target="completed", actor="worker",
                      now=kyiv(TUESDAY, 16), payment_method="cash")
        for order in (first, second)
    ))

    assert (await points(fresh_db, referrer_id), await points(fresh_db, friend_id)) == (100, 100)
    async with fresh_db.transaction() as tx:
        rewards = await tx.scalar(
            select(func.count()).select_from(Event).where(Event.kind == "referral.rewarded")
        )
    assert rewards == 1


def test_the_points_are_read_from_the_referrals_settings(tmp_path):
    environ = {"BRIGADIER_SECRETS_FILE": str(tmp_path / "absent.toml")}
    assert load_config(environ=environ).referrals == ReferralSettings(100, 100)
    changed = load_config(environ={**environ, "BRIGADIER__REFERRALS__FRIEND_POINTS": "0"})
    assert changed.referrals == ReferralSettings(referrer_points=100, friend_points=0)
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**environ, "BRIGADIER__REFERRALS__REFERRER_POINTS": "-5"})
    assert "referrals.referrer_points" in str(refused.value)
