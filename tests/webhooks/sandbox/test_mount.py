"""The application serves the sandbox at /sandbox in sandbox mode, and only then."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from core.config import load_config
from core.db import Database, create_engine
from core.migrate import upgrade
from webhooks.app import SANDBOX, create_app
from webhooks.sandbox import sandbox_base_url


async def migrated(tmp_path) -> Database:
    db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"))
    await upgrade(db)
    return db


async def test_sandbox_mode_serves_the_bot_api_and_the_chat(tmp_path):
    config = load_config(environ={"BRIGADIER__HTTP__PORT": "8099"})
    db = await migrated(tmp_path)
    app = create_app(config, db)
    app[SANDBOX].add_bot("5:customer", config.telegram.customer_bot_username)
    try:
        async with TestClient(TestServer(app)) as client:
            me = await (await client.post("/sandbox/bot5:customer/getMe")).json()
            bots = await (await client.get("/sandbox/api/bots")).json()
            page = await client.get("/sandbox/")
            assert page.status == 200
    finally:
        await db.dispose()

    assert me["result"]["username"] == "brigadier_customer_bot"
    assert [bot["username"] for bot in bots] == ["brigadier_customer_bot"]
    assert sandbox_base_url(config) == "http://127.0.0.1:8099/sandbox"


async def test_other_modes_have_no_sandbox(tmp_path):
    config = load_config(environ={"BRIGADIER__TELEGRAM__MODE": "polling"})
    db = await migrated(tmp_path)
    app = create_app(config, db)
    try:
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/sandbox/api/bots")).status == 404
    finally:
        await db.dispose()
    assert SANDBOX not in app


def test_configured_sandbox_url_wins():
    config = load_config(environ={"BRIGADIER__TELEGRAM__SANDBOX_URL": "http://tg.local:81/sandbox/"})

    assert sandbox_base_url(config) == "http://tg.local:81/sandbox"
