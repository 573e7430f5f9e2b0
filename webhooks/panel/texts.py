"""The panel's own texts in Ukrainian, Russian and English (errors come from core.messages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.messages import LANGUAGES

TEXTS: dict[str, dict[str, str]] = {
    "brand": {"en": "Brigadier panel", "uk": "Панель Brigadier", "ru": "Панель Brigadier"},
    "nav.home": {"en": "Desk", "uk": "Робоче місце", "ru": "Рабочее место"},
    "nav.calls": {"en": "Calls", "uk": "Дзвінки", "ru": "Звонки"},
    "nav.new_client": {"en": "New client", "uk": "Новий клієнт", "ru": "Новый клиент"},
    "nav.logout": {"en": "Log out", "uk": "Вийти", "ru": "Выйти"},
    "nav.language": {"en": "Language", "uk": "Мова", "ru": "Язык"},
    "login.title": {
        "en": "Log in to the panel",
        "uk": "Вхід до панелі",
        "ru": "Вход в панель",
    },
    "login.login": {"en": "Login", "uk": "Логін", "ru": "Логин"},
    "login.password": {"en": "Password", "uk": "Пароль", "ru": "Пароль"},
    "login.submit": {"en": "Log in", "uk": "Увійти", "ru": "Войти"},
    "logout.done": {"en": "You have logged out.", "uk": "Ви вийшли.", "ru": "Вы вышли."},
    "home.title": {"en": "Operator's desk", "uk": "Робоче місце оператора",
                   "ru": "Рабочее место оператора"},
    "home.find_phone": {
        "en": "Find a client by phone",
        "uk": "Знайти клієнта за телефоном",
        "ru": "Найти клиента по телефону",
    },
    "home.find": {"en": "Find", "uk": "Знайти", "ru": "Найти"},
    "home.live": {
        "en": "Incoming calls pop up here.",
        "uk": "Вхідні дзвінки з'являються тут.",
        "ru": "Входящие звонки появляются здесь.",
    },
    "home.hello": {"en": "Hello, {name}", "uk": "Вітаємо, {name}", "ru": "Здравствуйте, {name}"},
    "card.title": {"en": "Client №{id}", "uk": "Клієнт №{id}", "ru": "Клиент №{id}"},
    "card.no_name": {"en": "(no name)", "uk": "(без імені)", "ru": "(без имени)"},
    "card.phones": {"en": "Phones", "uk": "Телефони", "ru": "Телефоны"},
    "card.addresses": {"en": "Addresses", "uk": "Адреси", "ru": "Адреса"},
    "card.last_orders": {"en": "Last orders", "uk": "Останні замовлення",
                         "ru": "Последние заказы"},
    "card.no_orders": {"en": "No orders yet", "uk": "Замовлень ще немає",
                       "ru": "Заказов ещё нет"},
    "card.balance": {"en": "Balance", "uk": "Баланс", "ru": "Баланс"},
    "card.bonus": {"en": "Bonus points", "uk": "Бонуси", "ru": "Бонусы"},
    "card.bottles": {"en": "Bottles", "uk": "Бутлі", "ru": "Бутыли"},
    "card.debt": {"en": "Debt", "uk": "Борг", "ru": "Долг"},
    "card.notes": {"en": "Notes", "uk": "Нотатки", "ru": "Заметки"},
    "card.repeat": {
        "en": "Repeat last order",
        "uk": "Повторити останнє замовлення",
        "ru": "Повторить последний заказ",
    },
    "card.open": {"en": "Open the card", "uk": "Відкрити картку", "ru": "Открыть карточку"},
    "order.title": {"en": "Order №{number}", "uk": "Замовлення №{number}",
                    "ru": "Заказ №{number}"},
    "order.client": {"en": "Client", "uk": "Клієнт", "ru": "Клиент"},
    "order.status": {"en": "Status", "uk": "Статус", "ru": "Статус"},
    "order.when": {"en": "Time", "uk": "Час", "ru": "Время"},
    "order.address": {"en": "Address", "uk": "Адреса", "ru": "Адрес"},
    "order.services": {"en": "Services", "uk": "Послуги", "ru": "Услуги"},
    "order.quantity": {"en": "Quantity", "uk": "Кількість", "ru": "Количество"},
    "order.amount": {"en": "Amount", "uk": "Сума", "ru": "Сумма"},
    "order.total": {"en": "Total", "uk": "Разом", "ru": "Итого"},
    "order.payment": {"en": "Payment", "uk": "Оплата", "ru": "Оплата"},
    "order.not_recorded": {"en": "not recorded", "uk": "не вказано", "ru": "не указано"},
    "order.worker": {"en": "Worker", "uk": "Виконавець", "ru": "Исполнитель"},
    "order.comment": {"en": "Comment", "uk": "Коментар", "ru": "Комментарий"},
    "order.history": {"en": "History", "uk": "Історія", "ru": "История"},
    "repeat.title": {
        "en": "Repeat order №{number}",
        "uk": "Повторити замовлення №{number}",
        "ru": "Повторить заказ №{number}",
    },
    "repeat.pick": {"en": "Free starts", "uk": "Вільний час", "ru": "Свободное время"},
    "repeat.confirm": {"en": "Book", "uk": "Записати", "ru": "Записать"},
    "repeat.no_slots": {
        "en": "No free starts in the next {days} days",
        "uk": "Немає вільного часу на найближчі {days} дн.",
        "ru": "Нет свободного времени на ближайшие {days} дн.",
    },
    "repeat.extra_lines": {
        "en": "{count} more service(s) of that order are not copied",
        "uk": "Ще {count} послуг(и) того замовлення не копіюються",
        "ru": "Ещё {count} услуг(и) того заказа не копируются",
    },
    "repeat.booked": {
        "en": "Order №{number} is booked for {when}",
        "uk": "Замовлення №{number} записано на {when}",
        "ru": "Заказ №{number} записан на {when}",
    },
    "repeat.no_address": {
        "en": "no saved address",
        "uk": "немає збереженої адреси",
        "ru": "нет сохранённого адреса",
    },
    "new.title": {"en": "New client", "uk": "Новий клієнт", "ru": "Новый клиент"},
    "new.phone": {"en": "Phone", "uk": "Телефон", "ru": "Телефон"},
    "new.name": {"en": "Name", "uk": "Ім'я", "ru": "Имя"},
    "new.address": {"en": "Address", "uk": "Адреса", "ru": "Адрес"},
    "new.point": {
        "en": "Coordinates (optional)",
        "uk": "Координати (необов'язково)",
        "ru": "Координаты (необязательно)",
    },
    "new.lat": {"en": "Latitude", "uk": "Широта", "ru": "Широта"},
    "new.lon": {"en": "Longitude", "uk": "Довгота", "ru": "Долгота"},
    "new.submit": {"en": "Save the client", "uk": "Зберегти клієнта",
                   "ru": "Сохранить клиента"},
    "new.saved": {"en": "Client saved", "uk": "Клієнта збережено", "ru": "Клиент сохранён"},
    "new.open_existing": {
        "en": "Open client №{client_id}",
        "uk": "Відкрити клієнта №{client_id}",
        "ru": "Открыть клиента №{client_id}",
    },
    "new.point_invalid": {
        "en": "coordinates must be numbers, e.g. 50.45 and 30.52",
        "uk": "координати мають бути числами, напр. 50.45 і 30.52",
        "ru": "координаты должны быть числами, напр. 50.45 и 30.52",
    },
    "popup.call_from": {
        "en": "Call from {caller}",
        "uk": "Дзвінок з {caller}",
        "ru": "Звонок с {caller}",
    },
    "popup.line": {"en": "line {line}", "uk": "лінія {line}", "ru": "линия {line}"},
    "popup.extension": {"en": "ext. {extension}", "uk": "внутр. {extension}",
                        "ru": "внутр. {extension}"},
    "popup.hidden_number": {"en": "a hidden number", "uk": "прихованого номера",
                            "ru": "скрытого номера"},
    "popup.unknown": {
        "en": "Unknown number: a new client?",
        "uk": "Невідомий номер: новий клієнт?",
        "ru": "Неизвестный номер: новый клиент?",
    },
    "popup.ringing": {"en": "Ringing…", "uk": "Дзвонить…", "ru": "Звонит…"},
    "popup.answered_by": {
        "en": "Answered by ext. {extension}",
        "uk": "Відповів внутр. {extension}",
        "ru": "Ответил внутр. {extension}",
    },
    "popup.answered": {"en": "Answered", "uk": "Відповіли", "ru": "Ответили"},
    "popup.ended": {"en": "Call ended", "uk": "Дзвінок завершено", "ru": "Звонок завершён"},
    "popup.missed": {
        "en": "Missed: a call-back task was created",
        "uk": "Пропущений: створено завдання передзвонити",
        "ru": "Пропущен: создана задача перезвонить",
    },
    "popup.close": {"en": "Close", "uk": "Закрити", "ru": "Закрыть"},
    "calls.title": {"en": "Calls", "uk": "Дзвінки", "ru": "Звонки"},
    "calls.all": {"en": "All calls", "uk": "Усі дзвінки", "ru": "Все звонки"},
    "calls.missed_only": {"en": "Missed only", "uk": "Лише пропущені",
                          "ru": "Только пропущенные"},
    "calls.at": {"en": "Time", "uk": "Час", "ru": "Время"},
    "calls.caller": {"en": "Caller", "uk": "Хто дзвонив", "ru": "Кто звонил"},
    "calls.client": {"en": "Client", "uk": "Клієнт", "ru": "Клиент"},
    "calls.state": {"en": "State", "uk": "Стан", "ru": "Состояние"},
    "calls.extension": {"en": "Ext.", "uk": "Внутр.", "ru": "Внутр."},
    "calls.duration": {"en": "Duration", "uk": "Тривалість", "ru": "Длительность"},
    "calls.recording": {"en": "Recording", "uk": "Запис", "ru": "Запись"},
    "calls.none": {"en": "No calls", "uk": "Дзвінків немає", "ru": "Звонков нет"},
    "calls.tasks": {"en": "Call-back tasks", "uk": "Передзвонити", "ru": "Перезвонить"},
    "calls.no_tasks": {"en": "No open call-back tasks", "uk": "Немає відкритих завдань",
                       "ru": "Нет открытых задач"},
    "calls.note": {"en": "Note", "uk": "Примітка", "ru": "Примечание"},
    "calls.called_back": {"en": "Called back", "uk": "Передзвонили", "ru": "Перезвонили"},
    "calls.task_closed": {"en": "Task closed", "uk": "Завдання закрито",
                          "ru": "Задача закрыта"},
    "state.ringing": {"en": "ringing", "uk": "дзвонить", "ru": "звонит"},
    "state.answered": {"en": "answered", "uk": "відповіли", "ru": "отвечен"},
    "state.ended": {"en": "ended", "uk": "завершено", "ru": "завершён"},
    "state.missed": {"en": "missed", "uk": "пропущений", "ru": "пропущен"},
    "payment.cash": {"en": "cash", "uk": "готівка", "ru": "наличные"},
    "payment.card_to_worker": {"en": "card to the worker", "uk": "карткою виконавцю",
                               "ru": "картой исполнителю"},
    "payment.terminal": {"en": "terminal", "uk": "термінал", "ru": "терминал"},
    "payment.online": {"en": "online", "uk": "онлайн", "ru": "онлайн"},
    "payment.bank_transfer": {"en": "bank transfer", "uk": "банківський переказ",
                              "ru": "банковский перевод"},
    "error.title": {"en": "Something went wrong", "uk": "Щось пішло не так",
                    "ru": "Что-то пошло не так"},
    "error.not_found": {"en": "Page not found", "uk": "Сторінку не знайдено",
                        "ru": "Страница не найдена"},
    "error.forbidden": {"en": "Access denied", "uk": "Доступ заборонено",
                        "ru": "Доступ запрещён"},
    "error.unexpected": {
        "en": "An unexpected error happened and was logged. Please try again.",
        "uk": "Сталася непередбачена помилка, її записано в журнал. Спробуйте ще раз.",
        "ru": "Произошла непредвиденная ошибка, она записана в журнал. Попробуйте ещё раз.",
    },
    "error.back": {"en": "Back to the desk", "uk": "Повернутися до робочого місця",
                   "ru": "Вернуться на рабочее место"},
}


def text(key: str, language: str, /, **params: Any) -> str:
    """The panel text for ``key`` in ``language`` (English when missing), filled in."""
    texts = TEXTS.get(key)
    if texts is None:
        return key
    template = texts.get(language) or texts["en"]
    return template.format(**params) if params else template


def translator(language: str) -> Callable[..., str]:
    lang = language if language in LANGUAGES else "en"

    def translate(key: str, /, **params: Any) -> str:
        return text(key, lang, **params)

    return translate
