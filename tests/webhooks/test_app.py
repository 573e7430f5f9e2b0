import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from core.config import load_config
from core.db import Database, create_engine
from core.migrate import head_revision, upgrade
from webhooks.app import create_app


@asynccontextmanager
async def serving(db: Database | None, environ: dict[str, str] | None = None
                  ) -> AsyncIterator[TestClient]:
    config = load_config(environ=environ or {})
    client = TestClient(TestServer(create_app(config, db)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def health(db: Database | None, environ: dict[str, str] | None = None):
    async with serving(db, environ) as client:
        response = await client.get("/healthz")
        return response.status, response.content_type, await response.text()


async def test_migrated_database_is_healthy(fresh_db):
    async with serving(fresh_db) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {
            "status": "ok", "database": "ok", "engine": fresh_db.dialect,
        }


async def test_unmigrated_database_answers_503_saying_to_migrate(tmp_path):
    db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    try:
        async with serving(db) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            body = await response.json()
    finally:
        await db.dispose()
    assert body["status"] == "unavailable"
    assert "brigadier migrate" in body["database"]
    assert "empty" in body["database"]


async def test_database_behind_the_code_answers_503_naming_both_revisions(tmp_path):
    db = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"))
    try:
        await upgrade(db, "0001")
        async with serving(db) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            body = await response.json()
    finally:
        await db.dispose()
    assert f"at 0001, code expects {head_revision()}" in body["database"]
    assert "brigadier migrate" in body["database"]


async def test_unreachable_postgresql_answers_503_with_a_reason_and_no_traceback():
    db = Database(create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing"))
    try:
        status, content_type, text = await health(db)
    finally:
        await db.dispose()
    assert status == 503
    assert content_type == "application/json"
    assert "Traceback" not in text
    body = json.loads(text)
    assert body["status"] == "unavailable"
    assert "127.0.0.1" in body["database"]  # the reason says where it tried
    assert "\n" not in body["database"]


async def test_the_app_opens_the_configured_database_itself(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
    db = Database(create_engine(url))
    await upgrade(db)
    await db.dispose()
    status, _, text = await health(None, {"BRIGADIER__DATABASE__URL": url})
    assert status == 200, text
    missing = f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}"
    status, _, text = await health(None, {"BRIGADIER__DATABASE__URL": missing})
    assert status == 503 and "brigadier migrate" in text
