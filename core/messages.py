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
    "zone_not_allowed": {
        "en": "you do not work in the zone “{zone}”; ask your manager to add it",
        "uk": "ви не працюєте в зоні «{zone}»; попросіть менеджера її додати",
        "ru": "вы не работаете в зоне «{zone}»; попросите менеджера её добавить",
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
    "notice.route_planned": {
        "en": "Your route for {day}: {count} jobs.\n{stops}",
        "uk": "Ваш маршрут на {day}: завдань — {count}.\n{stops}",
        "ru": "Ваш маршрут на {day}: заданий — {count}.\n{stops}",
    },
    "notice.arrival_window": {
        "en": "Order №{number}: the worker will arrive on {day} between {start} and {end}.",
        "uk": "Замовлення №{number}: виконавець прибуде {day} між {start} і {end}.",
        "ru": "Заказ №{number}: исполнитель приедет {day} между {start} и {end}.",
    },
    "notice.arrival_time": {
        "en": "Order №{number}: the worker will arrive on {day} at {start}.",
        "uk": "Замовлення №{number}: виконавець прибуде {day} о {start}.",
        "ru": "Заказ №{number}: исполнитель приедет {day} в {start}.",
    },
    "notice.job_removed": {
        "en": "Job №{number} ({when}) is no longer yours: the day was re-planned.",
        "uk": "Завдання №{number} ({when}) більше не ваше: день перепланували.",
        "ru": "Задание №{number} ({when}) больше не ваше: день перепланировали.",
    },
    # --- day routes: why an order was left out of the plan ---
    "route.unplaced.no_location": {
        "en": "the address has no place on the map",
        "uk": "адресу не позначено на мапі",
        "ru": "адрес не отмечен на карте",
    },
    "route.unplaced.window_passed": {
        "en": "its time window has already passed",
        "uk": "його часове вікно вже минуло",
        "ru": "его временное окно уже прошло",
    },
    "route.unplaced.no_worker_on_shift": {
        "en": "no worker is on shift that day",
        "uk": "цього дня ніхто не працює",
        "ru": "в этот день никто не работает",
    },
    "route.unplaced.no_skill": {
        "en": "no worker on shift has the skills: {skills}",
        "uk": "ніхто зі зміни не має навичок: {skills}",
        "ru": "ни у кого из смены нет навыков: {skills}",
    },
    "route.unplaced.no_zone": {
        "en": "no worker with the skills works in this zone that day",
        "uk": "цього дня в цій зоні не працює жоден виконавець з потрібними навичками",
        "ru": "в этот день в этой зоне не работает ни один исполнитель с нужными навыками",
    },
    "route.unplaced.blocked": {
        "en": "the only suitable workers are ones the client asked never to send",
        "uk": "підходять лише виконавці, яких клієнт просив не надсилати",
        "ru": "подходят только исполнители, которых клиент просил не присылать",
    },
    "route.unplaced.window_too_tight": {
        "en": "the time window lies outside the shifts of every suitable worker",
        "uk": "часове вікно не вміщується у зміну жодного відповідного виконавця",
        "ru": "временное окно не помещается в смену ни одного подходящего исполнителя",
    },
    "route.unplaced.capacity": {
        "en": "{demand} bottles is more than any suitable vehicle carries",
        "uk": "{demand} бутлів — більше, ніж вміщує будь-яке відповідне авто",
        "ru": "{demand} бутылей — больше, чем вмещает любая подходящая машина",
    },
    "route.unplaced.day_full": {
        "en": "the suitable workers' day is full: no room left in their routes",
        "uk": "день відповідних виконавців заповнений: у маршрутах немає місця",
        "ru": "день подходящих исполнителей заполнен: в маршрутах нет места",
    },
    "route.unplaced.locked_conflict": {
        "en": "accepted by its worker, but it does not fit their shift and other jobs",
        "uk": "прийняте виконавцем, але не вміщується в його зміну й інші завдання",
        "ru": "принят исполнителем, но не помещается в его смену и другие задания",
    },
    "route.plan_stale": {
        "en": "the orders changed after the plan was made ({orders}); plan the day again",
        "uk": "замовлення змінилися після планування ({orders}); сплануйте день ще раз",
        "ru": "заказы изменились после планирования ({orders}); спланируйте день ещё раз",
    },
    "route.proposal_gone": {
        "en": "this plan is no longer kept (applied, or too old); plan the day again",
        "uk": "цей план більше не зберігається (застосований чи застарів); сплануйте день знову",
        "ru": "этот план больше не хранится (применён или устарел); спланируйте день ещё раз",
    },
    # --- the dispatch board: why a job cannot go to that worker then ---
    "board.no_shift": {
        "en": "the worker has no shift that day",
        "uk": "у виконавця цього дня немає зміни",
        "ru": "у исполнителя в этот день нет смены",
    },
    "board.no_skill": {
        "en": "the worker lacks the skills: {skills}",
        "uk": "виконавець не має навичок: {skills}",
        "ru": "у исполнителя нет навыков: {skills}",
    },
    "board.no_zone": {
        "en": "the worker does not work in this order's zone",
        "uk": "виконавець не працює в зоні цього замовлення",
        "ru": "исполнитель не работает в зоне этого заказа",
    },
    "board.blocked": {
        "en": "the client asked never to send this worker",
        "uk": "клієнт просив не надсилати цього виконавця",
        "ru": "клиент просил не присылать этого исполнителя",
    },
    "board.capacity": {
        "en": "{demand} bottles is more than the worker's vehicle carries ({capacity})",
        "uk": "{demand} бутлів — більше, ніж вміщує авто виконавця ({capacity})",
        "ru": "{demand} бутылей — больше, чем вмещает машина исполнителя ({capacity})",
    },
    "board.breaks_window": {
        "en": "a start at {start} breaks the client's booked window {window}",
        "uk": "початок о {start} порушує вікно, обране клієнтом: {window}",
        "ru": "начало в {start} нарушает окно, выбранное клиентом: {window}",
    },
    "board.breaks_shift": {
        "en": "{start}–{end} is outside the worker's shift ({shift})",
        "uk": "{start}–{end} виходить за зміну виконавця ({shift})",
        "ru": "{start}–{end} выходит за смену исполнителя ({shift})",
    },
    "board.shift_zone": {
        "en": "at that time the worker's shift is in another zone",
        "uk": "у цей час зміна виконавця в іншій зоні",
        "ru": "в это время смена исполнителя в другой зоне",
    },
    "board.overlaps": {
        "en": "the worker already has order №{number} at {time}",
        "uk": "у виконавця вже є замовлення №{number} о {time}",
        "ru": "у исполнителя уже есть заказ №{number} в {time}",
    },
    "board.too_close": {
        "en": "no time to drive between this job and order №{number} ({minutes} min)",
        "uk": "немає часу доїхати між цим завданням і замовленням №{number} ({minutes} хв)",
        "ru": "нет времени доехать между этим заданием и заказом №{number} ({minutes} мин)",
    },
    "board.under_way": {
        "en": "order №{number} is {status}: it can no longer be moved",
        "uk": "замовлення №{number} — {status}: його вже не можна перенести",
        "ru": "заказ №{number} — {status}: его уже нельзя перенести",
    },
    "board.other_day": {
        "en": "{value} is another day: the board moves jobs within {day}",
        "uk": "{value} — інший день: дошка переносить завдання в межах {day}",
        "ru": "{value} — другой день: доска переносит задания в пределах {day}",
    },
    "board.taken_meanwhile": {
        "en": "someone else took that time of the worker meanwhile; look at the board again",
        "uk": "цей час виконавця щойно зайняли; перегляньте дошку ще раз",
        "ru": "это время исполнителя только что заняли; посмотрите на доску ещё раз",
    },
    "travel_service_failed": {
        "en": "the travel-time service did not answer: {reason}",
        "uk": "сервіс часу в дорозі не відповів: {reason}",
        "ru": "сервис времени в пути не ответил: {reason}",
    },
    # --- PBX requests ---
    "pbx.refused": {
        "en": "refused: the request did not prove it comes from {provider} ({reason})",
        "uk": "відхилено: запит не довів, що надійшов від {provider} ({reason})",
        "ru": "отклонено: запрос не доказал, что пришёл от {provider} ({reason})",
    },
    "pbx.malformed": {
        "en": "{provider}: the request cannot be used: {field} {reason}",
        "uk": "{provider}: запит не можна використати: {field} {reason}",
        "ru": "{provider}: запрос нельзя использовать: {field} {reason}",
    },
    "pbx.card_link": {"en": "Client card", "uk": "Картка клієнта", "ru": "Карточка клиента"},
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
    # --- staff and the operator panel ---
    "login_failed": {
        "en": "wrong login or password",
        "uk": "неправильний логін або пароль",
        "ru": "неправильный логин или пароль",
    },
    "login_throttled": {
        "en": "too many failed attempts; try again in {minutes} min",
        "uk": "забагато невдалих спроб; спробуйте ще раз за {minutes} хв",
        "ru": "слишком много неудачных попыток; попробуйте снова через {minutes} мин",
    },
    "password_too_short": {
        "en": "the password must have at least {length} characters",
        "uk": "пароль має містити щонайменше {length} символів",
        "ru": "пароль должен содержать не меньше {length} символов",
    },
    "user_exists": {
        "en": "the login “{value}” is already taken",
        "uk": "логін «{value}» уже зайнятий",
        "ru": "логин «{value}» уже занят",
    },
    "csrf_failed": {
        "en": "the form has expired; reload the page and try again",
        "uk": "форма застаріла; оновіть сторінку і спробуйте ще раз",
        "ru": "форма устарела; обновите страницу и попробуйте снова",
    },
    "permission_denied": {
        "en": "your role does not allow this",
        "uk": "ваша роль не дозволяє цього",
        "ru": "ваша роль не позволяет этого",
    },
    "client_exists": {
        "en": "the number {phone} already belongs to client №{client_id}",
        "uk": "номер {phone} уже належить клієнту №{client_id}",
        "ru": "номер {phone} уже принадлежит клиенту №{client_id}",
    },
    "no_last_order": {
        "en": "the client has no order to repeat",
        "uk": "у клієнта немає замовлення, яке можна повторити",
        "ru": "у клиента нет заказа, который можно повторить",
    },
    # --- the customer bot ---
    "foreign_phone": {
        "en": "{value} is not a number of our country ({region}); "
        "please share a local number or call the office",
        "uk": "{value} — номер іншої країни (потрібен {region}); "
        "поділіться місцевим номером або зателефонуйте в офіс",
        "ru": "{value} — номер другой страны (нужен {region}); "
        "поделитесь местным номером или позвоните в офис",
    },
    "text_too_long": {
        "en": "the text is too long: {value} characters, at most {limit}",
        "uk": "текст задовгий: {value} символів, можна щонайбільше {limit}",
        "ru": "текст слишком длинный: {value} символов, можно не больше {limit}",
    },
    "invalid_rating": {
        "en": "a rating is 1 to 5 stars, not {value}",
        "uk": "оцінка — від 1 до 5 зірок, а не {value}",
        "ru": "оценка — от 1 до 5 звёзд, а не {value}",
    },
    "rating_too_early": {
        "en": "order №{number} is not finished yet; rate it once the work is done",
        "uk": "замовлення №{number} ще не виконане; оцініть його після завершення робіт",
        "ru": "заказ №{number} ещё не выполнен; оцените его после завершения работ",
    },
    "already_rated": {
        "en": "order №{number} has already been rated, thank you",
        "uk": "замовлення №{number} вже оцінене, дякуємо",
        "ru": "заказ №{number} уже оценён, спасибо",
    },
    "notice.rate_order": {
        "en": "Order №{number} is completed. Total: {total}. "
        "How did we do? Rate the work from 1 to 5.",
        "uk": "Замовлення №{number} виконане. Сума: {total}. "
        "Як ми впоралися? Оцініть роботу від 1 до 5.",
        "ru": "Заказ №{number} выполнен. Сумма: {total}. "
        "Как мы справились? Оцените работу от 1 до 5.",
    },
    # --- pickup and delivery: the items after production ---
    "notice.items_ready": {
        "en": "Order №{number}: your items are ready. "
        "We will let you know when the courier sets off with them.",
        "uk": "Замовлення №{number}: ваші речі готові. "
        "Ми повідомимо, коли кур'єр вирушить із ними до вас.",
        "ru": "Заказ №{number}: ваши вещи готовы. Мы сообщим, когда курьер выедет с ними к вам.",
    },
    "notice.items_on_the_way": {
        "en": "Order №{number}: the courier is on the way with your items.",
        "uk": "Замовлення №{number}: кур'єр уже везе ваші речі.",
        "ru": "Заказ №{number}: курьер уже везёт ваши вещи.",
    },
    "notice.items_delivered": {
        "en": "Order №{number}: your items are delivered. Total: {total}. "
        "How did we do? Rate the work from 1 to 5.",
        "uk": "Замовлення №{number}: ваші речі доставлено. Сума: {total}. "
        "Як ми впоралися? Оцініть роботу від 1 до 5.",
        "ru": "Заказ №{number}: ваши вещи доставлены. Сумма: {total}. "
        "Как мы справились? Оцените работу от 1 до 5.",
    },
    "notice.order_rescheduled": {
        "en": "Order №{number} is moved: {service}, {when}.",
        "uk": "Замовлення №{number} перенесено: {service}, {when}.",
        "ru": "Заказ №{number} перенесён: {service}, {when}.",
    },
    "notice.job_moved": {
        "en": "Job №{number} is moved: {service}, {when}.",
        "uk": "Завдання №{number} перенесено: {service}, {when}.",
        "ru": "Задание №{number} перенесено: {service}, {when}.",
    },
    # --- the worker bot: joining, offers, the job, the day's watch ---
    "invite_unknown": {
        "en": "this invite link is not valid; ask your manager for a new one",
        "uk": "це посилання-запрошення недійсне; попросіть у менеджера нове",
        "ru": "эта ссылка-приглашение недействительна; попросите у менеджера новую",
    },
    "invite_used": {
        "en": "this invite link has already been used; ask your manager for a new one",
        "uk": "це посилання-запрошення вже використане; попросіть у менеджера нове",
        "ru": "эта ссылка-приглашение уже использована; попросите у менеджера новую",
    },
    "invite_expired": {
        "en": "this invite link expired on {when}; ask your manager for a new one",
        "uk": "термін дії запрошення минув {when}; попросіть у менеджера нове",
        "ru": "срок действия приглашения истёк {when}; попросите у менеджера новое",
    },
    "telegram_taken": {
        "en": "this Telegram account already belongs to another worker",
        "uk": "цей обліковий запис Telegram уже належить іншому виконавцю",
        "ru": "этот аккаунт Telegram уже принадлежит другому исполнителю",
    },
    "offer_gone": {
        "en": "job №{number} is no longer offered to you",
        "uk": "завдання №{number} вам більше не пропонується",
        "ru": "задание №{number} вам больше не предлагается",
    },
    "offer_already_accepted": {
        "en": "you have already accepted job №{number}",
        "uk": "ви вже прийняли завдання №{number}",
        "ru": "вы уже приняли задание №{number}",
    },
    "not_your_job": {
        "en": "job №{number} is not yours",
        "uk": "завдання №{number} не ваше",
        "ru": "задание №{number} не ваше",
    },
    "change_decided": {
        "en": "this change has already been decided",
        "uk": "щодо цієї зміни вже ухвалено рішення",
        "ru": "по этому изменению уже принято решение",
    },
    "consent_not_asked": {
        "en": "order №{number} is not waiting for your answer",
        "uk": "замовлення №{number} не чекає на вашу відповідь",
        "ru": "заказ №{number} не ждёт вашего ответа",
    },
    "notice.job_offer": {
        "en": "New job №{number}: {service}, {when}.\n📍 {where}\n💰 {price}\n"
        "🚗 {distance} km from the previous job",
        "uk": "Нове завдання №{number}: {service}, {when}.\n📍 {where}\n💰 {price}\n"
        "🚗 {distance} км від попереднього завдання",
        "ru": "Новое задание №{number}: {service}, {when}.\n📍 {where}\n💰 {price}\n"
        "🚗 {distance} км от предыдущего задания",
    },
    "notice.offer_expired": {
        "en": "Job №{number}: there was no answer in time, so it went to another worker.",
        "uk": "Завдання №{number}: відповіді вчасно не було, "
        "тож його передано іншому виконавцю.",
        "ru": "Задание №{number}: ответа вовремя не было, "
        "поэтому его передали другому исполнителю.",
    },
    "notice.order_unassignable": {
        "en": "Order №{number} ({when}) has no worker left: everyone declined or is busy. "
        "Please assign it by hand.",
        "uk": "Для замовлення №{number} ({when}) не лишилося виконавців: усі відмовилися "
        "або зайняті. Призначте його вручну.",
        "ru": "Для заказа №{number} ({when}) не осталось исполнителей: все отказались "
        "или заняты. Назначьте его вручную.",
    },
    "notice.worker_on_the_way": {
        "en": "Order №{number}: the worker is on the way and should arrive at about {eta}.",
        "uk": "Замовлення №{number}: виконавець уже в дорозі, прибуде приблизно о {eta}.",
        "ru": "Заказ №{number}: исполнитель уже в пути, приедет примерно в {eta}.",
    },
    "notice.late_start_worker": {
        "en": "Job №{number} was due to start at {when} and has not started. "
        "Start it or call the office.",
        "uk": "Завдання №{number} мало початися о {when}, але не розпочате. "
        "Почніть його або зателефонуйте в офіс.",
        "ru": "Задание №{number} должно было начаться в {when}, но не начато. "
        "Начните его или позвоните в офис.",
    },
    "notice.late_start_operator": {
        "en": "Order №{number}: {worker} has not started the job due at {when}.",
        "uk": "Замовлення №{number}: {worker} не розпочав(ла) роботу, призначену на {when}.",
        "ru": "Заказ №{number}: {worker} не начал(а) работу, назначенную на {when}.",
    },
    "notice.extra_proposed": {
        "en": "Order №{number}: the worker asks to add {service} × {quantity}; with it the "
        "total is {total}. Approve or reject it in the panel, under “To decide”.",
        "uk": "Замовлення №{number}: виконавець просить додати {service} × {quantity}; разом "
        "із цим сума — {total}. Схваліть або відхиліть у панелі, у розділі «На рішення».",
        "ru": "Заказ №{number}: исполнитель просит добавить {service} × {quantity}; вместе "
        "с этим сумма — {total}. Одобрите или отклоните в панели, в разделе «На решение».",
    },
    "notice.awaits_confirmation": {
        "en": "Order №{number} is finished (total {total}) and waits for your confirmation "
        "in the panel, under “To decide”.",
        "uk": "Замовлення №{number} виконано (сума {total}), воно чекає на ваше "
        "підтвердження в панелі, у розділі «На рішення».",
        "ru": "Заказ №{number} выполнен (сумма {total}) и ждёт вашего подтверждения "
        "в панели, в разделе «На решение».",
    },
    "notice.extra_approved": {
        "en": "Order №{number}: extra work added ({service}). The new total is {total}.",
        "uk": "Замовлення №{number}: додано роботи ({service}). Нова сума — {total}.",
        "ru": "Заказ №{number}: добавлены работы ({service}). Новая сумма — {total}.",
    },
    "notice.extra_rejected": {
        "en": "Job №{number}: the extra “{service}” was not approved: {reason}",
        "uk": "Завдання №{number}: додаткову роботу «{service}» не погоджено: {reason}",
        "ru": "Задание №{number}: дополнительную работу «{service}» не одобрили: {reason}",
    },
    "notice.consent_request": {
        "en": "Order №{number}: we have taken your items:\n{items}\n"
        "Do you agree to the work as described?",
        "uk": "Замовлення №{number}: ми забрали ваші речі:\n{items}\n"
        "Чи погоджуєтеся ви на роботу за цим описом?",
        "ru": "Заказ №{number}: мы забрали ваши вещи:\n{items}\n"
        "Согласны ли вы на работу по этому описанию?",
    },
    "notice.consent_given": {
        "en": "Order №{number}: the customer agreed; the items go to production.",
        "uk": "Замовлення №{number}: клієнт погодився; речі передано в роботу.",
        "ru": "Заказ №{number}: клиент согласился; вещи переданы в работу.",
    },
    "notice.consent_refused": {
        "en": "Order №{number}: the customer refused; the items are to be returned.",
        "uk": "Замовлення №{number}: клієнт відмовився; речі треба повернути.",
        "ru": "Заказ №{number}: клиент отказался; вещи нужно вернуть.",
    },
    "notice.route_breakdown": {
        "en": "{worker} cannot continue the route: {reason}. Orders back with you: {orders}.",
        "uk": "{worker} не може продовжити маршрут: {reason}. Замовлення повернуто вам: {orders}.",
        "ru": "{worker} не может продолжить маршрут: {reason}. Заказы возвращены вам: {orders}.",
    },
    # --- invitations: bonus points once the invited friend's first order is done ---
    "notice.referral_rewarded": {
        "en": "The friend you invited has had their first order done: +{points} bonus points "
        "for you. Your bonus points now: {total}.",
        "uk": "Друг, якого ви запросили, отримав перше виконане замовлення — вам нараховано "
        "бонусні бали: +{points}. Тепер на рахунку: {total}.",
        "ru": "Друг, которого вы пригласили, получил первый выполненный заказ — вам начислены "
        "бонусные баллы: +{points}. Теперь на счету: {total}.",
    },
    "notice.referral_welcome": {
        "en": "Thank you for your first order! You came with a friend's invitation: +{points} "
        "bonus points for you. Your bonus points now: {total}.",
        "uk": "Дякуємо за перше замовлення! Ви прийшли за запрошенням друга — вам нараховано "
        "бонусні бали: +{points}. Тепер на рахунку: {total}.",
        "ru": "Спасибо за первый заказ! Вы пришли по приглашению друга — вам начислены "
        "бонусные баллы: +{points}. Теперь на счету: {total}.",
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
