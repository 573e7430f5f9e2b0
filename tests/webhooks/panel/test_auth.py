"""Logging in and out, sessions, CSRF, login throttling and roles, over real HTTP."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from urllib.parse import unquote

from core.models import Role
from tests.clock import ManualClock
from tests.webhooks.panel.conftest import Staff, add_user, logged_in, panel_config, serving


async def test_login_sets_a_protected_cookie_and_logout_ends_the_session(fresh_db):
    await add_user(fresh_db, "olha", extension="101")
    async with serving(fresh_db) as server:
        staff = Staff(server)
        try:
            await staff.get("/panel/login")
            async with staff.http.post(staff.url("/panel/login"), allow_redirects=False, data={
                "login": "olha", "password": "correct horse battery", "csrf_token": staff.csrf,
            }) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/panel/"
                cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie
            assert "SameSite=Lax" in cookie
            assert "Path=/panel" in cookie
            assert "Secure" not in cookie  # plain http here; https sets it
            status, body = await staff.get("/panel/")
            assert status == 200 and "Hello, Olha" in body
            old_cookie = dict(staff.http.cookie_jar.filter_cookies(server.make_url("/panel/")))

            status, body = await staff.post("/panel/logout", {})
            assert status == 200 and "You have logged out." in body
            status, body = await staff.get("/panel/", follow=False)
            assert status == 303
        finally:
            await staff.close()

        # The cookie from before logging out no longer opens the panel.
        replay = Staff(server)
        try:
            replay.http.cookie_jar.update_cookies(
                {name: morsel.value for name, morsel in old_cookie.items()},
                server.make_url("/panel/"),
            )
            async with replay.http.get(replay.url("/panel/"), allow_redirects=False) as response:
                assert response.status == 303
                assert response.headers["Location"].startswith("/panel/login")
        finally:
            await replay.close()


async def test_pages_need_a_login_and_return_there_after_it(fresh_db):
    await add_user(fresh_db, "olha")
    async with serving(fresh_db) as server:
        staff = Staff(server)
        try:
            async with staff.http.get(staff.url("/panel/calls"), allow_redirects=False) as answer:
                assert answer.status == 303
                assert unquote(answer.headers["Location"]) == "/panel/login?next=/panel/calls"
            await staff.get("/panel/login?next=%2Fpanel%2Fcalls")
            status, body = await staff.post("/panel/login", {
                "login": "olha", "password": "correct horse battery", "next": "/panel/calls",
            })
            assert status == 200 and "Call-back tasks" in body
        finally:
            await staff.close()


async def test_wrong_password_and_unknown_login_get_the_same_answer(fresh_db):
    await add_user(fresh_db, "olha")
    async with serving(fresh_db) as server:
        staff = Staff(server)
        try:
            wrong = await staff.login("olha", "not the password")
            unknown = await staff.login("nobody", "not the password")
            for status, body in (wrong, unknown):
                assert status == 401
                assert "неправильний логін або пароль" in body  # the company's language
            status, _ = await staff.get("/panel/", follow=False)
            assert status == 303
        finally:
            await staff.close()


async def test_login_is_refused_after_too_many_failures_until_the_window_passes(fresh_db):
    await add_user(fresh_db, "olha")
    clock = ManualClock(datetime.now(UTC))
    config = panel_config(BRIGADIER__PANEL__LOGIN_ATTEMPTS="3",
                          BRIGADIER__PANEL__LOGIN_WINDOW_MINUTES="10")
    async with serving(fresh_db, clock=clock, config=config) as server:
        staff = Staff(server)
        try:
            for _ in range(3):
                status, _ = await staff.login("olha", "guess")
                assert status == 401
            status, body = await staff.login("olha")  # even the right password
            assert status == 429
            assert "забагато невдалих спроб; спробуйте ще раз за 10 хв" in body
            assert "неправильний логін" not in body
            status, body = await staff.login("someone-else", "guess")  # says nothing new
            assert status == 401

            clock.advance(minutes=11)
            status, body = await staff.login("olha")
            assert status == 200 and "Hello, Olha" in body
        finally:
            await staff.close()


async def test_guesses_sent_together_cannot_outrun_the_failure_limit(fresh_db):
    await add_user(fresh_db, "olha")
    config = panel_config(BRIGADIER__PANEL__LOGIN_ATTEMPTS="3",
                          BRIGADIER__PANEL__LOGIN_WINDOW_MINUTES="10")
    async with serving(fresh_db, config=config) as server:
        guessers = [Staff(server) for _ in range(8)]
        try:
            for staff in guessers:
                await staff.get("/panel/login")
            answers = await asyncio.gather(*(
                staff.post("/panel/login", {"login": "olha", "password": f"guess {n}"})
                for n, staff in enumerate(guessers)
            ))
            assert sorted(status for status, _ in answers) == [401] * 3 + [429] * 5
        finally:
            for staff in guessers:
                await staff.close()


async def test_a_form_without_the_csrf_token_is_refused(fresh_db):
    await add_user(fresh_db, "olha")
    async with serving(fresh_db) as server, logged_in(server, "olha") as staff:
        status, body = await staff.post("/panel/logout", {}, csrf=False)
        assert status == 403
        assert "the form has expired" in body
        status, body = await staff.post("/panel/logout", {"csrf_token": "forged"}, csrf=False)
        assert status == 403
        status, _ = await staff.get("/panel/")
        assert status == 200  # still logged in
        login_form = Staff(server)
        try:
            status, _ = await login_form.post(
                "/panel/login", {"login": "olha", "password": "correct horse battery"},
                csrf=False,
            )
            assert status == 403
        finally:
            await login_form.close()


async def test_roles_see_only_what_they_may(fresh_db):
    from core.cards import create_client

    await add_user(fresh_db, "maria", role=Role.MANAGER)
    await add_user(fresh_db, "stepan", role=Role.STOREKEEPER)
    client = await create_client(
        fresh_db, phone="0671234567", region="UA", name="Secret Client", language="uk",
    )
    async with serving(fresh_db) as server:
        async with logged_in(server, "maria") as manager:
            status, body = await manager.get(f"/panel/clients/{client.id}")
            assert status == 200 and "Secret Client" in body
            assert "Repeat last order" not in body
            status, body = await manager.get("/panel/clients/new")
            assert status == 403 and "your role does not allow this" in body
            status, body = await manager.post(f"/panel/clients/{client.id}/repeat", {})
            assert status == 403
            async with manager.http.get(manager.url("/panel/ws")) as response:
                assert response.status == 403
        async with logged_in(server, "stepan") as storekeeper:
            status, body = await storekeeper.get(f"/panel/clients/{client.id}")
            assert status == 403
            assert "Secret Client" not in body
            assert "+380" not in body
            status, _ = await storekeeper.get("/panel/calls")
            assert status == 403


async def test_unknown_pages_answer_a_readable_404_in_the_users_language(fresh_db):
    await add_user(fresh_db, "olha", language="uk")
    async with serving(fresh_db) as server, logged_in(server, "olha") as staff:
        status, body = await staff.get("/panel/no-such-page")
        assert status == 404 and "Сторінку не знайдено" in body
        status, body = await staff.get("/panel/clients/999999")
        assert status == 404 and "не знайдено" in body
        assert "Traceback" not in body
        status, body = await staff.post("/panel/language", {"language": "ru"})
        assert status == 200 and re.search(r'<html lang="ru">', body)
