"""Texts users read, in Ukrainian, Russian and English, keyed by a stable message key.

Errors and events carry a key and parameters; transports render them in the reader's language.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("uk", "ru", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # --- input ---
    "invalid_phone": {
        "en": "“{value}” is not a valid phone number",
        "uk": "«{value}» не є правильним номером телефону",
        "ru": "«{value}» не является правильным номером телефона",
    },
    "invalid_value": {
        "en": "{field}: “{value}” is not valid ({reason})",
        "uk": "{field}: «{value}» не підходить ({reason})",
        "ru": "{field}: «{value}» не подходит ({reason})",
    },
    "invalid_date_range": {
        "en": "the range must start before it ends: {value}",
        "uk": "проміжок має починатися раніше, ніж закінчується: {value}",
        "ru": "промежуток должен начинаться раньше, чем заканчивается: {value}",
    },
    # --- not found ---
    "client_not_found": {
        "en": "no client with phone {phone}",
        "uk": "немає клієнта з телефоном {phone}",
        "ru": "нет клиента с телефоном {phone}",
    },
    "not_found": {
        "en": "{entity} {ref} not found",
        "uk": "{entity} {ref} не знайдено",
        "ru": "{entity} {ref} не найден",
    },
    "address_not_geocoded": {
        "en": "the address “{address}” has no coordinates; an operator must place it on the map",
        "uk": "адреса «{address}» не має координат; оператор має позначити її на мапі",
        "ru": "у адреса «{address}» нет координат; оператор должен отметить его на карте",
    },
    "outside_zones": {
        "en": "we do not serve this place yet ({lat}, {lon})",
        "uk": "ми ще не працюємо в цьому місці ({lat}, {lon})",
        "ru": "мы ещё не работаем в этом месте ({lat}, {lon})",
    },
    "service_not_sold_here": {
        "en": "“{service}” is not offered at this address",
        "uk": "«{service}» не надається за цією адресою",
        "ru": "«{service}» не предоставляется по этому адресу",
    },
    # --- scheduling ---
    "shift_overlap": {
        "en": "the shift {new} overlaps the existing shift {existing}",
        "uk": "зміна {new} перетинається з наявною зміною {existing}",
        "ru": "смена {new} пересекается с существующей сменой {existing}",
    },
    "shift_invalid": {
        "en": "a shift must end after it starts: {value}",
        "uk": "зміна має закінчуватися пізніше, ніж починається: {value}",
        "ru": "смена должна заканчиваться позже, чем начинается: {value}",
    },
    "slot_taken": {
        "en": "the time {start} has just been taken",
        "uk": "час {start} щойно зайняли",
        "ru": "время {start} только что заняли",
    },
    "slot_not_on_grid": {
        "en": "bookings start on the {step}-minute grid; {start} is not on it",
        "uk": "записи починаються кожні {step} хв; {start} не підходить",
        "ru": "записи начинаются каждые {step} мин; {start} не подходит",
    },
    "slot_in_past": {
        "en": "{start} is already in the past",
        "uk": "{start} вже минув",
        "ru": "{start} уже прошло",
    },
    # --- order workflows: statuses ---
    "status.new": {"en": "new", "uk": "нове", "ru": "новый"},
    "status.confirmed": {"en": "confirmed", "uk": "підтверджене", "ru": "подтверждён"},
    "status.assigned": {
        "en": "assigned to a worker",
        "uk": "призначене виконавцю",
        "ru": "назначен исполнителю",
    },
    "status.accepted": {
        "en": "accepted by the worker",
        "uk": "прийняте виконавцем",
        "ru": "принят исполнителем",
    },
    "status.on_the_way": {"en": "on the way", "uk": "в дорозі", "ru": "в пути"},
    "status.in_progress": {"en": "in progress", "uk": "виконується", "ru": "выполняется"},
    "status.paused": {"en": "paused", "uk": "на паузі", "ru": "на паузе"},
    "status.completed": {"en": "completed", "uk": "виконане", "ru": "выполнен"},
    "status.closed": {"en": "closed", "uk": "закрите", "ru": "закрыт"},
    "status.cancelled": {"en": "cancelled", "uk": "скасоване", "ru": "отменён"},
    "status.picked_up": {"en": "picked up", "uk": "речі забрано", "ru": "вещи забраны"},
    "status.inspected": {
        "en": "inspected, awaiting the customer's consent",
        "uk": "речі оглянуто, чекаємо згоди клієнта",
        "ru": "вещи осмотрены, ждём согласия клиента",
    },
    "status.in_production": {"en": "in production", "uk": "в роботі", "ru": "в работе"},
    "status.ready": {"en": "ready", "uk": "готове", "ru": "готов"},
    "status.out_for_delivery": {
        "en": "out for delivery",
        "uk": "доставляється",
        "ru": "доставляется",
    },
    "status.delivered": {"en": "delivered", "uk": "доставлене", "ru": "доставлен"},
    "status.returning": {
        "en": "being returned to the customer",
        "uk": "повертається клієнту",
        "ru": "возвращается клиенту",
    },
    "status.returned": {
        "en": "returned to the customer",
        "uk": "повернуте клієнту",
        "ru": "возвращён клиенту",
    },
    # --- order workflows: actions (after "cannot …") ---
    "action.confirm": {"en": "confirm", "uk": "підтвердити", "ru": "подтвердить"},
    "action.assign": {
        "en": "assign a worker",
        "uk": "призначити виконавця",
        "ru": "назначить исполнителя",
    },
    "action.decline": {"en": "decline", "uk": "відмовитися", "ru": "отказаться"},
    "action.accept": {"en": "accept", "uk": "прийняти", "ru": "принять"},
    "action.unassign": {
        "en": "unassign the worker",
        "uk": "зняти виконавця",
        "ru": "снять исполнителя",
    },
    "action.depart": {"en": "set off", "uk": "вирушити", "ru": "выехать"},
    "action.start": {"en": "start", "uk": "почати", "ru": "начать"},
    "action.pause": {"en": "pause", "uk": "призупинити", "ru": "приостановить"},
    "action.resume": {"en": "resume", "uk": "продовжити", "ru": "продолжить"},
    "action.complete": {"en": "complete", "uk": "завершити", "ru": "завершить"},
    "action.close": {"en": "close", "uk": "закрити", "ru": "закрыть"},
    "action.cancel": {"en": "cancel", "uk": "скасувати", "ru": "отменить"},
    "action.pick_up": {"en": "pick up the items", "uk": "забрати речі", "ru": "забрать вещи"},
    "action.inspect": {
        "en": "finish the inspection",
        "uk": "завершити огляд",
        "ru": "завершить осмотр",
    },
    "action.start_production": {
        "en": "start production",
        "uk": "передати в роботу",
        "ru": "передать в работу",
    },
    "action.finish_production": {
        "en": "mark as ready",
        "uk": "позначити як готове",
        "ru": "отметить как готовый",
    },
    "action.dispatch": {
        "en": "send out for delivery",
        "uk": "відправити на доставку",
        "ru": "отправить на доставку",
    },
    "action.deliver": {"en": "deliver", "uk": "доставити", "ru": "доставить"},
    "action.return_items": {
        "en": "return the items",
        "uk": "повернути речі",
        "ru": "вернуть вещи",
    },
    "action.hand_back": {
        "en": "hand the items back",
        "uk": "віддати речі клієнту",
        "ru": "отдать вещи клиенту",
    },
    # --- order workflows: refusals ---
    "workflow.unknown_kind": {
        "en": "unknown kind of order “{value}”",
        "uk": "невідомий тип замовлення «{value}»",
        "ru": "неизвестный тип заказа «{value}»",
    },
    "workflow.unknown_status": {
        "en": "unknown order status “{value}”",
        "uk": "невідомий статус замовлення «{value}»",
        "ru": "неизвестный статус заказа «{value}»",
    },
    "workflow.not_allowed": {
        "en": "cannot go from “{status_en}” to “{target_en}”",
        "uk": "неможливо перейти зі статусу «{status_uk}» до статусу «{target_uk}»",
        "ru": "невозможно перейти из статуса «{status_ru}» в статус «{target_ru}»",
    },
    "workflow.cancel_too_late": {
        "en": "cannot cancel: the order is already “{status_en}”",
        "uk": "неможливо скасувати: замовлення вже має статус «{status_uk}»",
        "ru": "невозможно отменить: у заказа уже статус «{status_ru}»",
    },
    "workflow.not_editable": {
        "en": "the order can no longer be changed: it is {status_en}",
        "uk": "замовлення вже не можна змінити: його статус — «{status_uk}»",
        "ru": "заказ уже нельзя изменить: его статус — «{status_ru}»",
    },
    "workflow.no_worker": {
        "en": "cannot {action_en}: no worker is set on the order",
        "uk": "неможливо {action_uk}: у замовленні не вказано виконавця",
        "ru": "невозможно {action_ru}: в заказе не указан исполнитель",
    },
    "workflow.payment_not_recorded": {
        "en": "cannot {action_en}: payment method not recorded",
        "uk": "неможливо {action_uk}: не вказано спосіб оплати",
        "ru": "невозможно {action_ru}: не указан способ оплаты",
    },
    "workflow.reason_required": {
        "en": "cannot {action_en}: a reason is required",
        "uk": "неможливо {action_uk}: потрібно вказати причину",
        "ru": "невозможно {action_ru}: нужно указать причину",
    },
    "workflow.intake_no_items": {
        "en": "cannot {action_en}: no items recorded",
        "uk": "неможливо {action_uk}: не записано жодної речі",
        "ru": "невозможно {action_ru}: не записано ни одной вещи",
    },
    "workflow.intake_no_photos": {
        "en": "cannot {action_en}: no photos of the items",
        "uk": "неможливо {action_uk}: немає фото речей",
        "ru": "невозможно {action_ru}: нет фото вещей",
    },
    "workflow.consent_pending": {
        "en": "cannot {action_en}: the customer has not agreed yet",
        "uk": "неможливо {action_uk}: клієнт ще не дав згоди",
        "ru": "невозможно {action_ru}: клиент ещё не дал согласия",
    },
    "workflow.consent_refused": {
        "en": "cannot {action_en}: the customer refused",
        "uk": "неможливо {action_uk}: клієнт відмовився",
        "ru": "невозможно {action_ru}: клиент отказался",
    },
    "workflow.consent_given": {
        "en": "cannot {action_en}: the customer has agreed to the work",
        "uk": "неможливо {action_uk}: клієнт погодився на роботу",
        "ru": "невозможно {action_ru}: клиент согласился на работу",
    },
    "workflow.change_pending": {
        "en": "cannot {action_en}: extra work is waiting for a manager's approval",
        "uk": "неможливо {action_uk}: додаткові роботи чекають на погодження менеджера",
        "ru": "невозможно {action_ru}: дополнительные работы ждут одобрения менеджера",
    },
    "workflow.manager_confirmation_missing": {
        "en": "cannot {action_en}: a manager has not confirmed the work yet",
        "uk": "неможливо {action_uk}: менеджер ще не підтвердив роботу",
        "ru": "невозможно {action_ru}: менеджер ещё не подтвердил работу",
    },
    # --- chat notices (rendered by the outbox sender) ---
    "notice.order_booked": {
        "en": "Order №{number} is booked: {service}, {when}.",
        "uk": "Замовлення №{number} оформлено: {service}, {when}.",
        "ru": "Заказ №{number} оформлен: {service}, {when}.",
    },
    "notice.order_status": {
        "en": "Order №{number}: {status}.",
        "uk": "Замовлення №{number}: {status}.",
        "ru": "Заказ №{number}: {status}.",
    },
    "notice.job_offered": {
        "en": "New job №{number}: {service}, {when}.",
        "uk": "Нове завдання №{number}: {service}, {when}.",
        "ru": "Новое задание №{number}: {service}, {when}.",
    },
    # --- configuration and database ---
    "config_invalid": {
        "en": "{file}: {key}: {reason}",
        "uk": "{file}: {key}: {reason}",
        "ru": "{file}: {key}: {reason}",
    },
    "database_unmigrated": {
        "en": "the database is not migrated ({reason}); run: brigadier migrate",
        "uk": "базу даних не оновлено ({reason}); виконайте: brigadier migrate",
        "ru": "база данных не обновлена ({reason}); выполните: brigadier migrate",
    },
    "database_unreachable": {
        "en": "the database is unreachable: {reason}",
        "uk": "база даних недоступна: {reason}",
        "ru": "база данных недоступна: {reason}",
    },
}


def render(key: str, language: str = "en", /, **params: Any) -> str:
    """The text for ``key`` in ``language`` (English when missing), filled with ``params``."""
    texts = MESSAGES.get(key)
    if texts is None:
        return key if not params else f"{key}: {params}"
    template = texts.get(language) or texts["en"]
    values = {name: _localised(value, language) for name, value in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template


def _localised(value: Any, language: str) -> Any:
    """A parameter given per language (``{"en": ..., "uk": ...}``) becomes that language's text."""
    if isinstance(value, dict) and "en" in value:
        return value.get(language, value["en"])
    return value


WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "uk": ("пн", "вт", "ср", "чт", "пт", "сб", "нд"),
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
}


def per_language(make: Any) -> dict[str, str]:
    """Build a parameter in every language: ``make(language) -> text``."""
    return {language: make(language) for language in LANGUAGES}
