"""The worker bot over HTTP through the sandbox: joining, schedule, offers, the job to payment,
intake with the customer's consent, water delivery, late starts and bad input."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.db import Database
from core.extras import approve_change
from core.models import Client, DialogState, OrderChange, OrderPhoto, Unit, Worker
from core.orders import get_order
from tests.bots.conftest import eventually
from tests.bots.flows import tap
from tests.bots.worker_flows import WorkerApp, worker_app
from tests.company import NOW

PHOTO = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
async def app(fresh_db: Database, tmp_path) -> AsyncIterator[WorkerApp]:
    async for running in worker_app(fresh_db, workers__check_seconds="0.05",
                                    workers__photo_folder=f'"{tmp_path}"'):
        yield running


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


async def status_of(app: WorkerApp, order_id: int) -> str:
    return (await get_order(app.db, order_id=order_id)).status


async def test_job_from_invite_to_earnings(app: WorkerApp):
    ivan, petro = await app.worker(0, "Ivan"), await app.worker(1, "Petro")
    customer = await app.linked_customer()

    # Schedule: a Saturday shift is added; an overlap names both intervals.
    await tap(ivan, "⏰ Schedule")
    await ivan.wait_for("Your working hours")
    await tap(ivan, "➕ Weekly hours")
    await tap(ivan, "Sat")
    await ivan.send("9-14")
    await ivan.wait_for("Sat 09:00–14:00")
    await tap(ivan, "➕ Weekly hours")
    await tap(ivan, "Mon")
    await ivan.send("10-12")
    refused = await ivan.wait_for("overlaps")
    assert "Mon 10:00–12:00" in refused["text"] and "Mon 09:00–18:00" in refused["text"]

    # The offer reaches the best worker; declining passes it to the next one.
    order_id = await app.book()
    offer = await ivan.wait_for("New job №10001")
    assert "km from the previous job" in offer["text"]
    await tap(ivan, "❌ Decline")
    await ivan.wait_for("You declined job №10001")
    await petro.wait_for("New job №10001")
    await tap(petro, "✅ Accept")
    await petro.wait_for("Job №10001 is yours")
    assert await status_of(app, order_id) == "accepted"

    # The day of the job: on the way (the customer hears it), start, an extra approved.
    app.clock.set(NOW + timedelta(days=1, hours=2, minutes=50))
    await tap(petro, "🚗 On the way")
    await customer.wait_for("the worker is on the way")
    await tap(petro, "▶️ Start")
    await petro.wait_for("in progress")
    await tap(petro, "➕ Extra work")
    await tap(petro, "Cleaning — 1,500 UAH")
    await petro.wait_for("How many")
    await petro.send("1")
    await petro.wait_for("waits for a manager's approval")
    async with app.db.transaction() as tx:
        change_id = await tx.scalar(select(OrderChange.id))
    await approve_change(app.db, change_id=change_id, user_id=app.manager_id, now=app.clock.now())
    await customer.wait_for("The new total is 3,000")
    await petro.wait_for("extra work added")

    # Completing asks core first, which refuses without a payment method.
    await petro.send("/menu")
    await tap(petro, "📋 Today")
    await tap(petro, "№10001 10:00")
    await tap(petro, "🏁 Complete")
    await petro.wait_for("payment method not recorded")
    assert await status_of(app, order_id) == "in_progress"
    await tap(petro, "💵 Cash")
    await tap(petro, "The full amount")
    await petro.wait_for("Tips")
    await petro.send("100")
    await tap(petro, "None")
    await petro.wait_for("Job completed")
    order = await get_order(app.db, order_id=order_id)
    assert (order.status, order.payment_method, order.total) == ("closed", "cash", 300000)

    await petro.send("/menu")
    await tap(petro, "💰 Earnings")
    earnings = await petro.wait_for("Your earnings")
    assert "№10001" in earnings["text"] and "This week: 1,300 UAH" in earnings["text"]


async def test_intake_waits_for_the_customers_consent(app: WorkerApp):
    await _take_items_in_with_consent(app)


async def _take_items_in_with_consent(app: WorkerApp, *, agree: bool = True):
    """A dry-cleaning order from the offer to production: items recorded with a photo, then
    the customer agrees in the customer bot (or, ``agree=False``, refuses and the order stays
    inspected)."""
    ivan = await app.worker(0)
    customer = await app.linked_customer()
    service_id = await app.service("dry_cleaning", "pickup_delivery")
    order_id = await app.book(service_id)
    await ivan.wait_for("New job")
    await tap(ivan, "✅ Accept")
    await tap(ivan, "🚗 On the way")
    await tap(ivan, "📦 Items picked up")
    card = await ivan.wait_for("picked up")
    assert "📝 Finish inspection" not in str(card["reply_markup"])  # nothing recorded yet
    await tap(ivan, "➕ Add item")
    await ivan.send("Blue wool coat")
    await ivan.wait_for("defects")
    await ivan.send("stain on the left sleeve")
    await ivan.wait_for("send photos")
    await ivan.send("here it is")  # text where a photo is expected
    await ivan.wait_for("Please send a photo")
    await ivan.send_photo(PHOTO)
    await ivan.wait_for("Photo saved (1)")
    await tap(ivan, "✅ Done")
    await tap(ivan, "📝 Finish inspection")
    await ivan.wait_for("asked to agree")
    assert await status_of(app, order_id) == "inspected"
    question = await customer.wait_for("Blue wool coat — stain on the left sleeve")
    assert "Do you agree" in question["text"]
    if not agree:
        await tap(customer, "❌ I do not agree")
        await customer.wait_for("We will return the items of order №10001 untreated")
        await ivan.wait_for("the customer refused; the items are to be returned")
        assert await status_of(app, order_id) == "inspected"
        return ivan, customer, order_id
    await tap(customer, "✅ I agree")
    await customer.wait_for("goes to work")
    await ivan.wait_for("the customer agreed")
    assert await status_of(app, order_id) == "in_production"
    async with app.db.transaction() as tx:
        kept = await tx.scalar(select(OrderPhoto.path).where(OrderPhoto.order_id == order_id))
    assert kept.startswith(app.config.workers.photo_folder)
    assert _read(kept) == PHOTO
    return ivan, customer, order_id


async def test_refused_items_go_back_untreated_and_the_order_closes(app: WorkerApp):
    ivan, customer, order_id = await _take_items_in_with_consent(app, agree=False)
    app.clock.set(NOW + timedelta(days=1, hours=2))  # the day of the pickup
    await ivan.send("/menu")
    await tap(ivan, "📋 Today")
    await tap(ivan, "№10001 10:00")
    card = await ivan.wait_for(lambda m: "↩️ Take the items back" in str(m.get("reply_markup")))
    assert "✅ Items ready" not in str(card["reply_markup"])  # no production without consent
    await tap(ivan, "↩️ Take the items back")
    await ivan.wait_for("The customer has been told the items are coming back.")
    await customer.wait_for("Order №10001: being returned to the customer")
    assert await status_of(app, order_id) == "returning"

    await tap(ivan, "🏁 Items returned")  # nothing to pay: no payment is asked
    done = await ivan.wait_for("The untreated items are back with the customer.")
    assert "— closed" in done["text"]
    order = await get_order(app.db, order_id=order_id)
    worker = f"worker:{app.company.worker_ids[0]}"
    assert [(h.to_status, h.actor, h.reason) for h in order.history[-3:]] == [
        ("returning", worker, "The customer did not agree to the terms"),
        ("returned", worker, ""),
        ("closed", "system", ""),
    ]
    # A stale "Take the items back" from the earlier card: a clear refusal, nothing changes.
    await _press(ivan, card, "↩️ Take the items back")
    await ivan.wait_for("cannot go from “closed”")
    assert await status_of(app, order_id) == "closed"


async def test_ready_items_go_back_to_the_customer_and_the_order_closes(app: WorkerApp):
    ivan, customer, order_id = await _take_items_in_with_consent(app)

    # Two days after the pickup the items are still the worker's: today's list carries them.
    app.clock.set(NOW + timedelta(days=3, hours=2))
    await ivan.send("/menu")
    await tap(ivan, "📋 Today")
    day = await ivan.wait_for("Jobs for 03.12.2026")
    assert "01.12 10:00–11:00 №10001 Dry_Cleaning — in production" in day["text"]
    await tap(ivan, "№10001 10:00")
    card = await ivan.wait_for(lambda m: "✅ Items ready" in str(m.get("reply_markup")))
    assert "🚚 Out for delivery" not in str(card["reply_markup"])
    await tap(ivan, "✅ Items ready")
    await ivan.wait_for("The items are ready; the customer has been told")
    await customer.wait_for("Order №10001: your items are ready")
    assert await status_of(app, order_id) == "ready"

    # The same button again: a clear refusal, nothing changes.
    await _press(ivan, card, "✅ Items ready")
    await ivan.wait_for("cannot go from “ready” to “ready”")
    assert await status_of(app, order_id) == "ready"

    await tap(ivan, "🚚 Out for delivery")
    await ivan.wait_for("the items are on the way")
    await customer.wait_for("the courier is on the way with your items")
    await tap(ivan, "🏁 Handed to the customer")
    await ivan.wait_for("payment method not recorded")
    assert await status_of(app, order_id) == "out_for_delivery"
    await tap(ivan, "💵 Cash")
    await ivan.wait_for("The job total is 50 UAH")
    await ivan.send("fifty")  # text that is no amount
    await ivan.wait_for("Please write an amount")
    await ivan.send("50")
    await tap(ivan, "No tips")
    await tap(ivan, "None")
    done = await ivan.wait_for("The items are back with the customer")
    assert "— closed" in done["text"]

    order = await get_order(app.db, order_id=order_id)
    assert (order.status, order.payment_method) == ("closed", "cash")
    assert [(h.to_status, h.actor) for h in order.history[-4:]] == [
        ("ready", f"worker:{app.company.worker_ids[0]}"),
        ("out_for_delivery", f"worker:{app.company.worker_ids[0]}"),
        ("delivered", f"worker:{app.company.worker_ids[0]}"),
        ("closed", "system"),
    ]
    told = await customer.wait_for("Order №10001: your items are delivered. Total: 50.")
    assert "5 ⭐" in str(told["reply_markup"])
    texts = [m.get("text") or "" for m in await customer.messages() if m["from_bot"]]
    assert not [text for text in texts if "closed" in text]


async def test_driver_delivers_bottles_and_reports_a_breakdown(app: WorkerApp):
    ivan = await app.worker(0)
    async with app.db.transaction() as tx:  # one driver today
        await tx.execute(update(Worker).where(Worker.id == app.company.worker_ids[1])
                         .values(active=False))
    water = await app.service("water", "delivery", Unit.BOTTLE)
    first = await app.book(water, hour=10, quantity=2)
    await ivan.wait_for("New job №10001")
    await tap(ivan, "✅ Accept")
    await ivan.wait_for("is yours")
    second = await app.book(water, hour=13)
    await ivan.wait_for("New job №10002")
    await tap(ivan, "✅ Accept")
    await ivan.wait_for("is yours")
    app.clock.set(NOW + timedelta(days=1, hours=2))
    await ivan.send("/menu")
    await tap(ivan, "🚚 My route")
    route = await ivan.wait_for("Your route today")
    assert route["text"].index("№10001") < route["text"].index("№10002")
    await tap(ivan, "№10001")
    await tap(ivan, "🚗 On the way")
    await tap(ivan, "🚚 Delivered")
    await ivan.send("2")
    await ivan.send("1")
    await tap(ivan, "💵 Cash")
    await ivan.wait_for("The client now holds 1 bottles")
    async with app.db.transaction() as tx:
        assert (await tx.get(Client, app.company.client_id)).bottles == 1
    assert await status_of(app, first) == "closed"  # no manager confirmation required
    await ivan.send("/menu")
    await tap(ivan, "🚚 My route")
    await tap(ivan, "🛠 Break")
    await ivan.send("flat tyre")
    await ivan.wait_for("remaining orders: 10002")
    order = await get_order(app.db, order_id=second)
    assert (order.status, order.worker_id) == ("confirmed", None)


async def test_late_start_is_told_once(app: WorkerApp):
    ivan = await app.worker(0)
    await app.book()
    await ivan.wait_for("New job")
    await tap(ivan, "✅ Accept")
    await ivan.wait_for("is yours")
    app.clock.set(NOW + timedelta(days=1, hours=3, minutes=20))  # 10:20, grace 15 min
    await ivan.wait_for("was due to start at 10:00", timeout=10)
    app.clock.advance(minutes=30)
    await ivan.send("/menu")
    await ivan.wait_for("What would you like")
    messages = await ivan.messages()
    assert sum("was due to start" in (m.get("text") or "") for m in messages) == 1


async def test_bad_input_changes_nothing(app: WorkerApp):
    stranger = await app.customer("Stranger", language_code="en")
    stranger.bot_username = "brigadier_worker_bot"
    await stranger.send("hello")
    await stranger.wait_for("for our staff only")
    await stranger.send("/start not-a-real-token")
    await stranger.wait_for("invite link is not valid")
    async with app.db.transaction() as tx:
        assert await tx.scalar(select(func.count()).select_from(DialogState).where(
            DialogState.key.contains(str(stranger.user_id)))) == 0

    ivan = await app.worker(0)
    order_id = await app.book()
    offer = await ivan.wait_for("New job")
    accept = offer["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await tap(ivan, "✅ Accept")
    await ivan.wait_for("is yours")
    # A second tap on the same Accept: a clear answer, nothing changes.
    await ivan._mark()
    await ivan._request("POST", f"{ivan._chat_path}/callback",
                        {"message_id": offer["message_id"], "data": accept})
    await ivan.wait_for("already accepted job №10001")
    assert await status_of(app, order_id) == "accepted"

    # A photo where text is expected keeps the step.
    await tap(ivan, "🚗 On the way")
    await tap(ivan, "▶️ Start")
    await tap(ivan, "⏸ Pause")
    await ivan.wait_for("Why are you pausing")
    await ivan.send_photo(PHOTO)
    await ivan.wait_for("answer with a text message")
    assert await status_of(app, order_id) == "in_progress"
    await ivan.send("waiting for the customer")
    await ivan.wait_for("paused")

    # A stale button from yesterday: an offer for a job passed on to someone else.
    petro = await app.worker(1, "Petro")
    second = await app.book(hour=14)
    offer = await eventually(lambda: _offer_for(ivan, petro, "10002"))
    declined_by, other = (ivan, petro) if offer[0] is ivan else (petro, ivan)
    stale = offer[1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await tap(declined_by, "❌ Decline")
    await other.wait_for("New job №10002")
    await declined_by._mark()
    await declined_by._request("POST", f"{declined_by._chat_path}/callback",
                               {"message_id": offer[1]["message_id"], "data": stale})
    await declined_by.wait_for("no longer offered to you")
    order = await get_order(app.db, order_id=second)
    assert order.status == "assigned" and order.worker_id != offer[2]


async def _offer_for(ivan, petro, number):
    for user, worker_index in ((ivan, 0), (petro, 1)):
        for message in await user.messages():
            if f"New job №{number}" in (message.get("text") or ""):
                return user, message, worker_index + 1
    return None


async def test_an_offer_passed_on_unanswered_loses_its_buttons_and_says_so(app: WorkerApp):
    ivan, petro = await app.worker(0, "Ivan"), await app.worker(1, "Petro")
    await app.book()
    first, offer, _worker = await eventually(lambda: _offer_for(ivan, petro, "10001"))
    other = petro if first is ivan else ivan

    app.clock.advance(minutes=16)
    await other.wait_for("New job №10001", timeout=10)
    await first.wait_for("there was no answer in time", timeout=10)

    async def redrawn():
        for message in await first.messages():
            if message["message_id"] == offer["message_id"] and not message["reply_markup"]:
                return message
        return None

    message = await eventually(redrawn, timeout=10)
    assert message["text"].startswith("New job №10001")
    assert message["text"].endswith("Job №10001 went to another worker.")


@pytest.fixture
async def patient_app(fresh_db: Database) -> AsyncIterator[WorkerApp]:
    # One message every five seconds per chat, no bursts: offers booked meanwhile wait and go
    # out joined.
    async for running in worker_app(
        fresh_db, outbox__per_chat_per_second="0.2", outbox__per_chat_burst="1"
    ):
        yield running


async def test_offers_waiting_together_arrive_as_one_message_answered_job_by_job(
    patient_app: WorkerApp,
):
    app = patient_app
    ivan = await app.worker(0)
    async with app.db.transaction() as tx:
        await tx.execute(update(Worker).where(Worker.id == app.company.worker_ids[1])
                         .values(active=False))
    orders = [await app.book(hour=hour) for hour in (10, 12, 14)]
    joined = await ivan.wait_for(lambda m: (m["text"] or "").count("New job") >= 2, timeout=15)
    first, second = re.findall(r"New job №(\d+)", joined["text"])[:2]
    buttons = [b["text"] for row in joined["reply_markup"]["inline_keyboard"] for b in row]
    assert {f"✅ Accept №{first}", f"❌ Decline №{first}", f"✅ Accept №{second}",
            f"❌ Decline №{second}"} <= set(buttons)

    # Two quick taps on the same message: each edit starts from where the offers stand.
    await _press(ivan, joined, f"✅ Accept №{first}")
    await _press(ivan, joined, f"❌ Decline №{second}")
    await ivan.wait_for(f"Job №{first} is yours", timeout=10)
    await ivan.wait_for(f"You declined job №{second}", timeout=10)

    async def settled():
        current = next(m for m in await ivan.messages()
                       if m["message_id"] == joined["message_id"])
        return current if f"You declined job №{second}" in current["text"] else None

    edited = await eventually(settled, timeout=10)
    buttons = [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row]
    assert f"📄 Job card №{first}" in buttons
    assert not any(second in b or f"Accept №{first}" in b for b in buttons)
    assert f"Job №{first} is yours." in edited["text"] and edited["text"].count("New job") >= 2
    assert await status_of(app, orders[int(first) - 10001]) == "accepted"
    assert await status_of(app, orders[int(second) - 10001]) == "confirmed"  # nobody is free

    # The old Decline again: the offer is gone, and the toast says so.
    await _press(ivan, joined, f"❌ Decline №{second}")
    await ivan.wait_for("no longer offered to you", timeout=10)

    await _press(ivan, edited, f"📄 Job card №{first}")
    card = await ivan.wait_for(lambda m: "🚗 On the way" in str(m.get("reply_markup")),
                               timeout=10)
    assert f"№{first}" in card["text"]


def _data(message, text: str) -> str:
    return next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
                for b in row if b["text"] == text)


async def _press(user, message, text: str) -> None:
    await user._mark()
    await user._request("POST", f"{user._chat_path}/callback",
                        {"message_id": message["message_id"], "data": _data(message, text)})
