from __future__ import annotations

import itertools
from collections import deque
from dataclasses import replace

import pytest

from core.errors import InvalidInput, TransitionRefused
from core.messages import LANGUAGES, MESSAGES, render
from core.workflows import (
    GUARD_KEYS,
    GUARDS,
    WORKFLOWS,
    OrderFacts,
    Status,
    WorkflowKind,
    allowed_targets,
    check_editable,
    check_transition,
    closes_by_itself,
    message_keys,
    status_label,
    workflow,
)

S = Status

# Facts under which every guard that reads the order passes.
READY_FACTS = OrderFacts(
    status=S.NEW,
    worker_id=7,
    payment_method="cash",
    intake_items=2,
    intake_photos=3,
    customer_consent=True,
    manager_confirmed=True,
    manager_confirmation_required=True,
)

HAPPY_PATHS = {
    WorkflowKind.VISIT: [
        S.NEW, S.CONFIRMED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.IN_PROGRESS,
        S.PAUSED, S.IN_PROGRESS, S.COMPLETED, S.CLOSED,
    ],
    WorkflowKind.PICKUP_DELIVERY: [
        S.NEW, S.CONFIRMED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.PICKED_UP, S.INSPECTED,
        S.IN_PRODUCTION, S.READY, S.OUT_FOR_DELIVERY, S.DELIVERED, S.CLOSED,
    ],
    WorkflowKind.DELIVERY: [
        S.NEW, S.CONFIRMED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY, S.DELIVERED, S.CLOSED,
    ],
}


def facts(status: Status, **changes: object) -> OrderFacts:
    return replace(READY_FACTS, status=status, **changes)  # type: ignore[arg-type]


def refusal(kind: WorkflowKind | str, f: OrderFacts, target: Status | str,
            reason: str | None = None) -> TransitionRefused:
    with pytest.raises(TransitionRefused) as caught:
        check_transition(kind, f, target, reason=reason)
    return caught.value


# --- happy paths ---


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_happy_path_walks_from_initial_to_closed(kind: WorkflowKind) -> None:
    path = HAPPY_PATHS[kind]
    wf = workflow(kind)
    assert path[0] == wf.initial
    assert path[-1] == S.CLOSED
    for source, target in itertools.pairwise(path):
        t = check_transition(kind, facts(source), target, reason="customer asked")
        assert (t.source, t.target) == (source, target)
    assert set(HAPPY_PATHS[kind]) == set(wf.statuses) - {
        S.CANCELLED, S.RETURNING, S.RETURNED
    }


def test_happy_path_accepts_plain_strings() -> None:
    t = check_transition("visit", facts(S.ON_THE_WAY), "in_progress")
    assert t.action == "start"
    assert t.target is S.IN_PROGRESS


def test_pause_and_resume() -> None:
    t = check_transition(WorkflowKind.VISIT, facts(S.IN_PROGRESS), S.PAUSED, reason="lunch")
    assert t.action == "pause" and t.needs_reason
    assert check_transition(WorkflowKind.VISIT, facts(S.PAUSED), S.IN_PROGRESS).action == "resume"
    assert workflow("visit").targets(S.PAUSED) == (S.IN_PROGRESS,)


def test_pause_needs_a_reason() -> None:
    for reason in (None, "", "   "):
        err = refusal(WorkflowKind.VISIT, facts(S.IN_PROGRESS), S.PAUSED, reason)
        assert str(err) == "cannot pause: a reason is required"


def test_paused_order_cannot_be_completed_directly() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.PAUSED), S.COMPLETED)
    assert str(err) == "cannot go from “paused” to “completed”"
    assert err.params["status"] == "paused" and err.params["target"] == "completed"


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_worker_declining_unassigns(kind: WorkflowKind) -> None:
    t = check_transition(kind, facts(S.ASSIGNED), S.CONFIRMED)
    assert t.action == "decline"
    err = refusal(kind, facts(S.ACCEPTED), S.CONFIRMED)
    assert str(err) == "cannot unassign the worker: a reason is required"
    assert check_transition(kind, facts(S.ACCEPTED), S.CONFIRMED, reason="ill").action == (
        "unassign"
    )


def test_assign_needs_a_worker() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.CONFIRMED, worker_id=None), S.ASSIGNED)
    assert str(err) == "cannot assign a worker: no worker is set on the order"


# --- cancelling ---


@pytest.mark.parametrize("kind", list(WorkflowKind))
@pytest.mark.parametrize("status", [S.NEW, S.CONFIRMED, S.ASSIGNED, S.ACCEPTED, S.ON_THE_WAY])
def test_cancel_allowed_early(kind: WorkflowKind, status: Status) -> None:
    t = check_transition(kind, facts(status), S.CANCELLED, reason="customer changed plans")
    assert t.action == "cancel"
    err = refusal(kind, facts(status), S.CANCELLED)
    assert str(err) == "cannot cancel: a reason is required"


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (WorkflowKind.VISIT, S.IN_PROGRESS),
        (WorkflowKind.VISIT, S.PAUSED),
        (WorkflowKind.VISIT, S.COMPLETED),
        (WorkflowKind.VISIT, S.CLOSED),
        (WorkflowKind.PICKUP_DELIVERY, S.PICKED_UP),
        (WorkflowKind.PICKUP_DELIVERY, S.IN_PRODUCTION),
        (WorkflowKind.DELIVERY, S.DELIVERED),
        (WorkflowKind.DELIVERY, S.CANCELLED),
    ],
)
def test_cancel_refused_late(kind: WorkflowKind, status: Status) -> None:
    err = refusal(kind, facts(status), S.CANCELLED, reason="too late")
    assert err.key == "workflow.cancel_too_late"
    assert str(err) == f"cannot cancel: the order is already “{status_label(status)}”"
    assert status_label(status, "uk") in err.message("uk")


def test_cancel_refused_in_progress_reads_well() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.IN_PROGRESS), S.CANCELLED, reason="x")
    assert str(err) == "cannot cancel: the order is already “in progress”"
    assert err.message("uk") == "неможливо скасувати: замовлення вже має статус «виконується»"
    assert err.message("ru") == "невозможно отменить: у заказа уже статус «выполняется»"


# --- guards ---


def test_complete_without_payment_method_is_refused_readably() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.IN_PROGRESS, payment_method=None), S.COMPLETED)
    assert isinstance(err, TransitionRefused)
    assert err.code == "transition_refused"
    assert err.key == "workflow.payment_not_recorded"
    assert str(err) == "cannot complete: payment method not recorded"
    assert err.message("en") == "cannot complete: payment method not recorded"
    for language in ("uk", "ru"):
        text = err.message(language)
        assert text not in (err.message("en"), err.key)
        assert "{" not in text
    assert err.message("uk") == "неможливо завершити: не вказано спосіб оплати"
    assert err.message("ru") == "невозможно завершить: не указан способ оплаты"
    assert err.params["status"] == "in_progress"
    assert err.params["target"] == "completed"
    assert err.params["action"] == "complete"


def test_blank_payment_method_counts_as_missing() -> None:
    err = refusal(WorkflowKind.DELIVERY, facts(S.ON_THE_WAY, payment_method="  "), S.DELIVERED)
    assert str(err) == "cannot deliver: payment method not recorded"


def test_complete_refused_while_extras_wait_for_approval() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.IN_PROGRESS, pending_change=True), S.COMPLETED)
    assert str(err) == "cannot complete: extra work is waiting for a manager's approval"


def test_close_needs_manager_confirmation_only_when_required() -> None:
    unconfirmed = facts(S.COMPLETED, manager_confirmed=False)
    err = refusal(WorkflowKind.VISIT, unconfirmed, S.CLOSED)
    assert str(err) == "cannot close: a manager has not confirmed the work yet"
    relaxed = replace(unconfirmed, manager_confirmation_required=False)
    assert check_transition(WorkflowKind.VISIT, relaxed, S.CLOSED).action == "close"


@pytest.mark.parametrize(
    ("kind", "finished"),
    [
        (WorkflowKind.VISIT, S.COMPLETED),
        (WorkflowKind.PICKUP_DELIVERY, S.DELIVERED),
        (WorkflowKind.PICKUP_DELIVERY, S.RETURNED),
        (WorkflowKind.DELIVERY, S.DELIVERED),
    ],
)
def test_a_finished_order_closes_by_itself_unless_a_manager_must_confirm(
    kind: WorkflowKind, finished: Status
) -> None:
    relaxed = facts(finished, manager_confirmed=False, manager_confirmation_required=False)
    assert closes_by_itself(kind, relaxed)
    assert not closes_by_itself(kind, replace(relaxed, manager_confirmation_required=True))
    assert not closes_by_itself(kind, replace(relaxed, status=S.ON_THE_WAY))
    assert not closes_by_itself(kind, replace(relaxed, status=S.CLOSED))


def test_production_refused_without_consent() -> None:
    kind = WorkflowKind.PICKUP_DELIVERY
    err = refusal(kind, facts(S.INSPECTED, customer_consent=None), S.IN_PRODUCTION)
    assert str(err) == "cannot start production: the customer has not agreed yet"
    err = refusal(kind, facts(S.INSPECTED, customer_consent=False), S.IN_PRODUCTION)
    assert str(err) == "cannot start production: the customer refused"
    assert err.message("uk") == "неможливо передати в роботу: клієнт відмовився"


def test_inspection_refused_without_items_or_photos() -> None:
    kind = WorkflowKind.PICKUP_DELIVERY
    err = refusal(kind, facts(S.PICKED_UP, intake_photos=0), S.INSPECTED)
    assert str(err) == "cannot finish the inspection: no photos of the items"
    err = refusal(kind, facts(S.PICKED_UP, intake_items=0, intake_photos=0), S.INSPECTED)
    assert str(err) == "cannot finish the inspection: no items recorded"
    ok = check_transition(kind, facts(S.PICKED_UP, intake_items=1, intake_photos=1), S.INSPECTED)
    assert ok.action == "inspect"


def test_refused_consent_returns_the_items() -> None:
    kind = WorkflowKind.PICKUP_DELIVERY
    refused = facts(S.INSPECTED, customer_consent=False)
    t = check_transition(kind, refused, S.RETURNING, reason="customer refused the price")
    assert t.action == "return_items"
    check_transition(kind, facts(S.RETURNING), S.RETURNED)
    check_transition(kind, facts(S.RETURNED), S.CLOSED)
    err = refusal(kind, facts(S.INSPECTED, customer_consent=True), S.RETURNING, reason="x")
    assert str(err) == "cannot return the items: the customer has agreed to the work"


def test_allowed_targets_shows_only_what_passes_now() -> None:
    kind = WorkflowKind.VISIT
    assert allowed_targets(kind, facts(S.IN_PROGRESS)) == (S.PAUSED, S.COMPLETED)
    no_payment = facts(S.IN_PROGRESS, payment_method=None)
    assert allowed_targets(kind, no_payment) == (S.PAUSED,)
    # Reason guards are asked after the choice, so cancel is offered.
    assert S.CANCELLED in allowed_targets(kind, facts(S.NEW))
    assert allowed_targets(kind, facts(S.CLOSED)) == ()
    assert allowed_targets("pickup_delivery", facts(S.INSPECTED, customer_consent=None)) == (
        S.RETURNING,
    )
    assert allowed_targets("pickup_delivery", facts(S.INSPECTED)) == (S.IN_PRODUCTION,)


# --- editing ---


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_editing_allowed_before_anyone_sets_off(kind: WorkflowKind) -> None:
    for status in (S.NEW, S.CONFIRMED, S.ASSIGNED, S.ACCEPTED):
        check_editable(kind, status)


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (WorkflowKind.VISIT, S.ON_THE_WAY),
        (WorkflowKind.VISIT, S.IN_PROGRESS),
        (WorkflowKind.VISIT, S.CLOSED),
        (WorkflowKind.PICKUP_DELIVERY, S.IN_PRODUCTION),
        (WorkflowKind.PICKUP_DELIVERY, S.DELIVERED),
        (WorkflowKind.DELIVERY, S.ON_THE_WAY),
        (WorkflowKind.DELIVERY, S.CANCELLED),
    ],
)
def test_editing_refused_after_work_started(kind: WorkflowKind, status: Status) -> None:
    with pytest.raises(TransitionRefused) as caught:
        check_editable(kind, status)
    assert caught.value.key == "workflow.not_editable"
    assert str(caught.value) == f"the order can no longer be changed: it is {status_label(status)}"


def test_editing_refused_in_progress_reads_well() -> None:
    with pytest.raises(TransitionRefused) as caught:
        check_editable("visit", "in_progress")
    assert str(caught.value) == "the order can no longer be changed: it is in progress"
    assert caught.value.message("ru") == "заказ уже нельзя изменить: его статус — «выполняется»"


def test_pickup_items_are_corrected_until_consent() -> None:
    check_editable(WorkflowKind.PICKUP_DELIVERY, S.PICKED_UP)
    check_editable(WorkflowKind.PICKUP_DELIVERY, S.INSPECTED)


# --- unknown kinds and statuses ---


def test_unknown_kind() -> None:
    for call in (
        lambda: workflow("laundromat"),
        lambda: check_transition("laundromat", facts(S.NEW), S.CONFIRMED),
        lambda: allowed_targets("laundromat", facts(S.NEW)),
        lambda: check_editable("laundromat", S.NEW),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert caught.value.field == "workflow"
        assert str(caught.value) == "unknown kind of order “laundromat”"


def test_unknown_target_status() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.NEW), "teleported")
    assert err.key == "workflow.unknown_status"
    assert str(err) == "unknown order status “teleported”"
    assert err.message("uk") == "невідомий статус замовлення «teleported»"


def test_status_of_another_workflow_is_not_allowed() -> None:
    err = refusal(WorkflowKind.VISIT, facts(S.ON_THE_WAY), S.DELIVERED)
    assert str(err) == "cannot go from “on the way” to “delivered”"
    assert err.message("uk") == "неможливо перейти зі статусу «в дорозі» до статусу «доставлене»"


def test_unknown_status_in_facts_and_edit() -> None:
    with pytest.raises(InvalidInput) as caught:
        OrderFacts(status="teleported")  # type: ignore[arg-type]
    assert caught.value.field == "status"
    assert OrderFacts(status="new").status is S.NEW  # type: ignore[arg-type]
    with pytest.raises(TransitionRefused) as refused:
        check_editable("visit", "teleported")
    assert refused.value.key == "workflow.unknown_status"


# --- the tables as graphs ---


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_every_status_is_reachable_and_has_a_way_out(kind: WorkflowKind) -> None:
    wf = WORKFLOWS[kind]
    assert wf.kind is kind
    reached = {wf.initial}
    queue = deque([wf.initial])
    while queue:
        for target in wf.targets(queue.popleft()):
            if target not in reached:
                reached.add(target)
                queue.append(target)
    assert reached == set(wf.statuses)
    assert wf.terminal == {S.CLOSED, S.CANCELLED}
    for status in wf.statuses:
        if status in wf.terminal:
            assert wf.targets(status) == ()
            continue
        assert wf.targets(status), f"{kind}: {status} has no way out"
        # and the way out leads somewhere final
        seen, stack = {status}, [status]
        while stack:
            for target in wf.targets(stack.pop()):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        assert seen & wf.terminal, f"{kind}: {status} never ends"


@pytest.mark.parametrize("kind", list(WorkflowKind))
def test_table_shape(kind: WorkflowKind) -> None:
    wf = WORKFLOWS[kind]
    pairs = [(t.source, t.target) for t in wf.transitions]
    assert len(pairs) == len(set(pairs))
    assert wf.initial is S.NEW
    assert wf.active == set(wf.statuses) - {S.CANCELLED}
    assert {S.COMPLETED, S.CLOSED} & set(wf.statuses) <= wf.active
    assert wf.editable <= set(wf.statuses)
    assert wf.editable.isdisjoint(wf.terminal)
    for t in wf.transitions:
        assert set(t.guards) <= set(GUARDS)
        assert wf.transition(t.source, t.target) is t
    assert wf.transition(S.CLOSED, S.NEW) is None


# --- messages ---


def test_every_message_key_exists_in_every_language() -> None:
    keys = message_keys()
    assert {f"status.{s}" for s in Status} <= keys
    for key in keys:
        assert key in MESSAGES, key
        for language in LANGUAGES:
            assert MESSAGES[key].get(language), f"{key} has no {language} text"
        assert MESSAGES[key]["uk"] != MESSAGES[key]["en"], key
        assert MESSAGES[key]["ru"] != MESSAGES[key]["en"], key


def test_guards_return_only_their_declared_keys() -> None:
    assert set(GUARDS) == set(GUARD_KEYS)
    variations = itertools.product(
        (None, 1), (None, "", "card"), (0, 1), (0, 1), (None, False, True),
        (False, True), (False, True), (False, True),
    )
    seen: dict[str, set[str]] = {name: set() for name in GUARDS}
    for worker, pay, items, photos, consent, pending, confirmed, required in variations:
        f = OrderFacts(
            status=S.NEW, worker_id=worker, payment_method=pay, intake_items=items,
            intake_photos=photos, customer_consent=consent, pending_change=pending,
            manager_confirmed=confirmed, manager_confirmation_required=required,
        )
        for name, guard in GUARDS.items():
            for reason in (None, " ", "why"):
                key = guard(f, reason)
                if key is not None:
                    seen[name].add(key)
    for name, keys in seen.items():
        assert keys == set(GUARD_KEYS[name]), name


def test_every_refusal_renders_fully_in_every_language() -> None:
    """Force every guard of every transition to refuse and render the result everywhere."""
    failing = OrderFacts(status=S.NEW, intake_items=0, customer_consent=None,
                         pending_change=True, manager_confirmation_required=True)
    rendered = 0
    for kind, wf in WORKFLOWS.items():
        for t in wf.transitions:
            for name in t.guards:
                f = replace(failing, status=t.source)
                if name == "consent_not_given":
                    f = replace(f, customer_consent=True)
                if name == "intake_recorded":
                    f = replace(f, intake_items=1)  # the photo message this time
                passing = {
                    "worker_assigned": {"worker_id": 1},
                    "payment_recorded": {"payment_method": "cash"},
                    "intake_recorded": {"intake_items": 1, "intake_photos": 1},
                    "customer_consented": {"customer_consent": True},
                    "no_pending_change": {"pending_change": False},
                    "manager_confirmed": {"manager_confirmed": True},
                }
                for other in t.guards:
                    if other != name and other in passing:
                        f = replace(f, **passing[other])  # type: ignore[arg-type]
                reason = None if name == "reason_given" else "because"
                err = refusal(kind, f, t.target, reason)
                assert err.key in GUARD_KEYS[name]
                texts = {language: err.message(language) for language in LANGUAGES}
                for language, text in texts.items():
                    assert "{" not in text and text != err.key, (language, text)
                assert len(set(texts.values())) == len(LANGUAGES), texts
                assert texts["en"].startswith(f"cannot {render('action.' + t.action)}: ")
                rendered += 1
    assert rendered > 20


def test_status_labels_in_every_language() -> None:
    assert status_label(S.IN_PROGRESS) == "in progress"
    assert status_label(S.IN_PROGRESS, "uk") == "виконується"
    assert status_label("in_progress", "ru") == "выполняется"
    for status in Status:
        labels = {language: status_label(status, language) for language in LANGUAGES}
        assert all(label and label != f"status.{status}" for label in labels.values())
        assert labels["uk"] != labels["en"] and labels["ru"] != labels["en"]
