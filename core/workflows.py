"""Order workflows: for each kind of order, its statuses, allowed transitions and guards.

Everything here is pure data and pure functions: the callers load an order, describe it as
:class:`OrderFacts`, ask :func:`check_transition` (or :func:`check_editable`) and then write
the change themselves. A refusal is always :class:`core.errors.TransitionRefused` whose message
a user can read in their language.

Three workflows:

``visit`` — a worker comes and does the job on site::

    new → confirmed → assigned → accepted → on_the_way → in_progress ⇄ paused
        → completed → closed

``pickup_delivery`` — dry cleaning, repairs in the workshop::

    new → confirmed → assigned → accepted → on_the_way → picked_up → inspected
        → in_production → ready → out_for_delivery → delivered → closed

  ``inspected`` means the items are recorded with photos and the customer has been asked to
  agree in chat; the customer's answer is a fact (:attr:`OrderFacts.customer_consent`), not a
  status. With consent the workshop starts production; without it (refused, or no answer and
  the manager gives up) the items go back untreated: ``inspected → returning → returned →
  closed``.

``delivery`` — a stop on a water-delivery route::

    new → confirmed → assigned → accepted → on_the_way → delivered → closed

Shared by all three:

* A worker declining an offer sends ``assigned → confirmed``: the order waits for another
  worker. After accepting, only ``accepted → confirmed`` with a reason (``unassign``) frees it.
* Cancelling (a reason is required) is allowed before any work has been done: from ``new``,
  ``confirmed``, ``assigned``, ``accepted`` and also ``on_the_way``. The worker on the way has
  not touched anything yet, and "the customer is not at home" must have an exit. Once work has
  started (``in_progress``, ``picked_up``, ``delivered`` …) an order is not cancelled: a visit
  is completed, items are returned.
* ``completed``/``delivered``/``returned`` lead to ``closed``. Where the company requires a
  manager's confirmation, the order waits for it; where it does not, the order closes by
  itself in the same step (:func:`closes_by_itself`).
* Order details (lines, time, address, comments) can be edited while nobody is on the way:
  ``new``, ``confirmed``, ``assigned``, ``accepted``. A pickup-and-delivery order also stays
  editable in ``picked_up`` and ``inspected``, because the lines are corrected to the items
  actually received before the customer is asked to agree; whoever edits an inspected order
  must ask for consent again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from core.errors import InvalidInput, TransitionRefused
from core.messages import LANGUAGES, render


class WorkflowKind(StrEnum):
    VISIT = "visit"
    PICKUP_DELIVERY = "pickup_delivery"
    DELIVERY = "delivery"


class Status(StrEnum):
    """Every status of every workflow; each workflow uses its own subset."""

    NEW = "new"
    CONFIRMED = "confirmed"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    ON_THE_WAY = "on_the_way"
    IN_PROGRESS = "in_progress"
    PAUSED = "paused"
    COMPLETED = "completed"
    PICKED_UP = "picked_up"
    INSPECTED = "inspected"
    IN_PRODUCTION = "in_production"
    READY = "ready"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    RETURNING = "returning"
    RETURNED = "returned"
    CLOSED = "closed"
    CANCELLED = "cancelled"


def _parse_status(value: Status | str) -> Status | None:
    try:
        return Status(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class OrderFacts:
    """The plain facts about an order that guards read.

    ``customer_consent`` is ``None`` while the customer has not answered. ``pending_change`` is
    extra work waiting for a manager's approval. ``manager_confirmation_required`` is the
    company setting; ``manager_confirmed`` whether a manager confirmed this order's work.
    """

    status: Status
    worker_id: int | None = None
    payment_method: str | None = None
    intake_items: int = 0
    intake_photos: int = 0
    customer_consent: bool | None = None
    pending_change: bool = False
    manager_confirmed: bool = False
    manager_confirmation_required: bool = False

    def __post_init__(self) -> None:
        status = _parse_status(self.status)
        if status is None:
            raise InvalidInput("workflow.unknown_status", field="status", value=self.status)
        object.__setattr__(self, "status", status)


Guard = Callable[[OrderFacts, str | None], str | None]
"""A guard reads the facts and the reason typed with the action; a message key means "no"."""


def worker_assigned(facts: OrderFacts, reason: str | None) -> str | None:
    return None if facts.worker_id is not None else "workflow.no_worker"


def payment_recorded(facts: OrderFacts, reason: str | None) -> str | None:
    method = facts.payment_method
    return None if method and method.strip() else "workflow.payment_not_recorded"


def reason_given(facts: OrderFacts, reason: str | None) -> str | None:
    return None if reason and reason.strip() else "workflow.reason_required"


def intake_recorded(facts: OrderFacts, reason: str | None) -> str | None:
    if facts.intake_items < 1:
        return "workflow.intake_no_items"
    if facts.intake_photos < 1:
        return "workflow.intake_no_photos"
    return None


def customer_consented(facts: OrderFacts, reason: str | None) -> str | None:
    if facts.customer_consent is None:
        return "workflow.consent_pending"
    return None if facts.customer_consent else "workflow.consent_refused"


def consent_not_given(facts: OrderFacts, reason: str | None) -> str | None:
    return "workflow.consent_given" if facts.customer_consent else None


def no_pending_change(facts: OrderFacts, reason: str | None) -> str | None:
    return "workflow.change_pending" if facts.pending_change else None


def manager_confirmed(facts: OrderFacts, reason: str | None) -> str | None:
    if facts.manager_confirmation_required and not facts.manager_confirmed:
        return "workflow.manager_confirmation_missing"
    return None


GUARDS: Mapping[str, Guard] = MappingProxyType(
    {
        "worker_assigned": worker_assigned,
        "payment_recorded": payment_recorded,
        "reason_given": reason_given,
        "intake_recorded": intake_recorded,
        "customer_consented": customer_consented,
        "consent_not_given": consent_not_given,
        "no_pending_change": no_pending_change,
        "manager_confirmed": manager_confirmed,
    }
)

GUARD_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "worker_assigned": ("workflow.no_worker",),
        "payment_recorded": ("workflow.payment_not_recorded",),
        "reason_given": ("workflow.reason_required",),
        "intake_recorded": ("workflow.intake_no_items", "workflow.intake_no_photos"),
        "customer_consented": ("workflow.consent_pending", "workflow.consent_refused"),
        "consent_not_given": ("workflow.consent_given",),
        "no_pending_change": ("workflow.change_pending",),
        "manager_confirmed": ("workflow.manager_confirmation_missing",),
    }
)
"""Every message key each guard may return."""

INPUT_GUARDS: frozenset[str] = frozenset({"reason_given"})
"""Guards about what the user types with the action rather than about the order.

:func:`allowed_targets` skips them: a bot offers "pause" and asks for the reason afterwards.
"""


@dataclass(frozen=True)
class Transition:
    source: Status
    target: Status
    action: str
    guards: tuple[str, ...] = ()

    @property
    def needs_reason(self) -> bool:
        return "reason_given" in self.guards


@dataclass(frozen=True)
class Workflow:
    kind: WorkflowKind
    initial: Status
    statuses: tuple[Status, ...]
    transitions: tuple[Transition, ...]
    editable: frozenset[Status]
    """Statuses in which order details (lines, time, address, comments) may be edited."""
    terminal: frozenset[Status]
    active: frozenset[Status]
    """Statuses in which the order occupies its worker's time: all but cancelled."""

    def __post_init__(self) -> None:
        known = set(self.statuses)
        if len(known) != len(self.statuses):
            raise ValueError(f"{self.kind}: duplicate statuses")
        if self.initial not in known:
            raise ValueError(f"{self.kind}: initial status {self.initial} is not listed")
        for name, subset in (("editable", self.editable), ("terminal", self.terminal),
                             ("active", self.active)):
            if not subset <= known:
                raise ValueError(f"{self.kind}: {name} has unlisted statuses")
        seen: set[tuple[Status, Status]] = set()
        for t in self.transitions:
            if t.source not in known or t.target not in known:
                raise ValueError(f"{self.kind}: {t.source} → {t.target} uses unlisted statuses")
            if (t.source, t.target) in seen:
                raise ValueError(f"{self.kind}: {t.source} → {t.target} is listed twice")
            if t.source in self.terminal:
                raise ValueError(f"{self.kind}: terminal {t.source} has a way out")
            unknown = [g for g in t.guards if g not in GUARDS]
            if unknown:
                raise ValueError(f"{self.kind}: unknown guards {unknown}")
            seen.add((t.source, t.target))

    def transition(self, source: Status | str, target: Status | str) -> Transition | None:
        for t in self.transitions:
            if t.source == source and t.target == target:
                return t
        return None

    def outgoing(self, source: Status | str) -> tuple[Transition, ...]:
        return tuple(t for t in self.transitions if t.source == source)

    def targets(self, source: Status | str) -> tuple[Status, ...]:
        return tuple(t.target for t in self.outgoing(source))


_S = Status  # short name for the tables below


def _t(source: Status, target: Status, action: str, *guards: str) -> Transition:
    return Transition(source=source, target=target, action=action, guards=guards)


def _assignment() -> tuple[Transition, ...]:
    """The common start: confirm, offer to a worker, accept or decline, set off."""
    return (
        _t(_S.NEW, _S.CONFIRMED, "confirm"),
        _t(_S.CONFIRMED, _S.ASSIGNED, "assign", "worker_assigned"),
        _t(_S.ASSIGNED, _S.ACCEPTED, "accept", "worker_assigned"),
        _t(_S.ASSIGNED, _S.CONFIRMED, "decline"),
        _t(_S.ACCEPTED, _S.CONFIRMED, "unassign", "reason_given"),
        _t(_S.ACCEPTED, _S.ON_THE_WAY, "depart", "worker_assigned"),
    )


_CANCELLABLE = (_S.NEW, _S.CONFIRMED, _S.ASSIGNED, _S.ACCEPTED, _S.ON_THE_WAY)
_EDITABLE = (_S.NEW, _S.CONFIRMED, _S.ASSIGNED, _S.ACCEPTED)


def _cancel(sources: Iterable[Status]) -> tuple[Transition, ...]:
    return tuple(_t(source, _S.CANCELLED, "cancel", "reason_given") for source in sources)


def _workflow(
    kind: WorkflowKind,
    statuses: tuple[Status, ...],
    transitions: tuple[Transition, ...],
    editable: Iterable[Status],
) -> Workflow:
    return Workflow(
        kind=kind,
        initial=_S.NEW,
        statuses=statuses,
        transitions=transitions,
        editable=frozenset(editable),
        terminal=frozenset({_S.CLOSED, _S.CANCELLED}),
        active=frozenset(statuses) - {_S.CANCELLED},
    )


VISIT = _workflow(
    WorkflowKind.VISIT,
    statuses=(_S.NEW, _S.CONFIRMED, _S.ASSIGNED, _S.ACCEPTED, _S.ON_THE_WAY, _S.IN_PROGRESS,
              _S.PAUSED, _S.COMPLETED, _S.CLOSED, _S.CANCELLED),
    transitions=(
        *_assignment(),
        _t(_S.ON_THE_WAY, _S.IN_PROGRESS, "start"),
        _t(_S.IN_PROGRESS, _S.PAUSED, "pause", "reason_given"),
        _t(_S.PAUSED, _S.IN_PROGRESS, "resume"),
        _t(_S.IN_PROGRESS, _S.COMPLETED, "complete", "payment_recorded", "no_pending_change"),
        _t(_S.COMPLETED, _S.CLOSED, "close", "manager_confirmed"),
        *_cancel(_CANCELLABLE),
    ),
    editable=_EDITABLE,
)

PICKUP_DELIVERY = _workflow(
    WorkflowKind.PICKUP_DELIVERY,
    statuses=(_S.NEW, _S.CONFIRMED, _S.ASSIGNED, _S.ACCEPTED, _S.ON_THE_WAY, _S.PICKED_UP,
              _S.INSPECTED, _S.IN_PRODUCTION, _S.READY, _S.OUT_FOR_DELIVERY, _S.DELIVERED,
              _S.RETURNING, _S.RETURNED, _S.CLOSED, _S.CANCELLED),
    transitions=(
        *_assignment(),
        _t(_S.ON_THE_WAY, _S.PICKED_UP, "pick_up"),
        _t(_S.PICKED_UP, _S.INSPECTED, "inspect", "intake_recorded"),
        _t(_S.INSPECTED, _S.IN_PRODUCTION, "start_production", "customer_consented"),
        _t(_S.INSPECTED, _S.RETURNING, "return_items", "consent_not_given", "reason_given"),
        _t(_S.IN_PRODUCTION, _S.READY, "finish_production", "no_pending_change"),
        _t(_S.READY, _S.OUT_FOR_DELIVERY, "dispatch", "worker_assigned"),
        _t(_S.OUT_FOR_DELIVERY, _S.DELIVERED, "deliver", "payment_recorded", "no_pending_change"),
        _t(_S.DELIVERED, _S.CLOSED, "close", "manager_confirmed"),
        _t(_S.RETURNING, _S.RETURNED, "hand_back", "worker_assigned"),
        _t(_S.RETURNED, _S.CLOSED, "close", "manager_confirmed"),
        *_cancel(_CANCELLABLE),
    ),
    editable=(*_EDITABLE, _S.PICKED_UP, _S.INSPECTED),
)

DELIVERY = _workflow(
    WorkflowKind.DELIVERY,
    statuses=(_S.NEW, _S.CONFIRMED, _S.ASSIGNED, _S.ACCEPTED, _S.ON_THE_WAY, _S.DELIVERED,
              _S.CLOSED, _S.CANCELLED),
    transitions=(
        *_assignment(),
        _t(_S.ON_THE_WAY, _S.DELIVERED, "deliver", "payment_recorded", "no_pending_change"),
        _t(_S.DELIVERED, _S.CLOSED, "close", "manager_confirmed"),
        *_cancel(_CANCELLABLE),
    ),
    editable=_EDITABLE,
)

WORKFLOWS: Mapping[WorkflowKind, Workflow] = MappingProxyType(
    {wf.kind: wf for wf in (VISIT, PICKUP_DELIVERY, DELIVERY)}
)

WORKFLOW_KEYS: tuple[str, ...] = (
    "workflow.unknown_kind",
    "workflow.unknown_status",
    "workflow.not_allowed",
    "workflow.cancel_too_late",
    "workflow.not_editable",
)
"""Message keys this module raises itself, besides the guards' keys and the labels."""


def workflow(kind: WorkflowKind | str) -> Workflow:
    try:
        return WORKFLOWS[WorkflowKind(kind)]
    except (ValueError, KeyError):
        raise InvalidInput("workflow.unknown_kind", field="workflow", value=kind) from None


def status_label(status: Status | str, language: str = "en") -> str:
    """The status in human words, e.g. ``in_progress`` → "виконується" in Ukrainian."""
    return render(f"status.{status}", language)


def action_label(action: str, language: str = "en") -> str:
    """The action as an infinitive, e.g. ``complete`` → "завершити" in Ukrainian."""
    return render(f"action.{action}", language)


def message_keys() -> frozenset[str]:
    """Every message key this module may render or raise."""
    keys = set(WORKFLOW_KEYS)
    keys.update(f"status.{status}" for status in Status)
    keys.update(key for guard_keys in GUARD_KEYS.values() for key in guard_keys)
    keys.update(
        f"action.{t.action}" for wf in WORKFLOWS.values() for t in wf.transitions
    )
    return frozenset(keys)


def _labelled(name: str, value: str, label: Callable[[str, str], str]) -> dict[str, str]:
    """``name`` as given plus ``name_<language>`` in human words for every language."""
    params = {name: value}
    params.update({f"{name}_{language}": label(value, language) for language in LANGUAGES})
    return params


def _refused(
    key: str, kind: WorkflowKind, status: Status, target: str, action: str | None = None
) -> TransitionRefused:
    params: dict[str, str] = {"workflow": str(kind)}
    params.update(_labelled("status", str(status), status_label))
    params.update(_labelled("target", target, status_label))
    if action is not None:
        params.update(_labelled("action", action, action_label))
    return TransitionRefused(key, **params)


def _failed_guard(transition: Transition, facts: OrderFacts, reason: str | None,
                  *, skip: frozenset[str] = frozenset()) -> str | None:
    for name in transition.guards:
        if name in skip:
            continue
        key = GUARDS[name](facts, reason)
        if key is not None:
            return key
    return None


def check_transition(
    kind: WorkflowKind | str,
    facts: OrderFacts,
    target: Status | str,
    *,
    reason: str | None = None,
) -> Transition:
    """The transition from ``facts.status`` to ``target`` if the table and its guards allow it.

    Raises :class:`TransitionRefused` for an unknown target, a move the table does not have,
    and a failing guard, e.g. "cannot complete: payment method not recorded".
    """
    wf = workflow(kind)
    wanted = _parse_status(target)
    if wanted is None:
        raise TransitionRefused("workflow.unknown_status", value=str(target),
                                workflow=str(wf.kind), status=str(facts.status))
    found = wf.transition(facts.status, wanted)
    if found is None:
        key = "workflow.not_allowed"
        if wanted is _S.CANCELLED and wanted in wf.statuses:
            key = "workflow.cancel_too_late"
        raise _refused(key, wf.kind, facts.status, wanted)
    failed = _failed_guard(found, facts, reason)
    if failed is not None:
        raise _refused(failed, wf.kind, facts.status, wanted, found.action)
    return found


def allowed_targets(kind: WorkflowKind | str, facts: OrderFacts) -> tuple[Status, ...]:
    """The statuses the order can move to now, for showing only the possible actions.

    Guards about the user's input (a reason) are skipped: they are asked for after the choice.
    """
    wf = workflow(kind)
    return tuple(
        t.target
        for t in wf.outgoing(facts.status)
        if _failed_guard(t, facts, None, skip=INPUT_GUARDS) is None
    )


def closes_by_itself(kind: WorkflowKind | str, facts: OrderFacts) -> bool:
    """Whether the order, as it stands, closes at once without anyone's action: closing is
    the workflow's next step and nobody has to confirm it (the company does not require a
    manager's confirmation, or a manager has confirmed already)."""
    found = workflow(kind).transition(facts.status, _S.CLOSED)
    return found is not None and _failed_guard(found, facts, None) is None


def check_editable(kind: WorkflowKind | str, status: Status | str) -> None:
    """Refuse editing order details (lines, time, address, comments) in ``status``."""
    wf = workflow(kind)
    current = _parse_status(status)
    if current is None:
        raise TransitionRefused("workflow.unknown_status", value=str(status),
                                workflow=str(wf.kind))
    if current not in wf.editable:
        params: dict[str, str] = {"workflow": str(wf.kind)}
        params.update(_labelled("status", str(current), status_label))
        raise TransitionRefused("workflow.not_editable", **params)
