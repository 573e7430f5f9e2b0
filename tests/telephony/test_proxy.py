"""Behind a reverse proxy: the PBX allow-list and the links the PBX shows use the client's side
of the proxy, a forged X-Forwarded-For passes nothing, and a request around the proxy is
refused."""

import pytest

from core.errors import ConfigError
from tests.telephony.binotel.test_views import URL
from tests.telephony.pbx import (
    calls,
    fixture,
    known_client,
    nothing_recorded,
    pbx_config,
    serving,
)

BINOTEL = "194.88.218.114"
ALLOWED = f'["{BINOTEL}"]'


async def post(client, name, headers):
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    response = await client.post(URL, data=fixture("binotel", name), headers=headers)
    return response.status, await response.json()


async def test_the_allow_list_sees_the_address_the_proxy_reports(fresh_db):
    config = pbx_config(BRIGADIER__HTTP__TRUSTED_PROXIES='["127.0.0.1"]',
                        BRIGADIER__TELEPHONY__ALLOWED_IPS=ALLOWED)
    async with serving(fresh_db, config) as client:
        status, _ = await post(client, "received_the_call.txt",
                               headers={"X-Forwarded-For": "203.0.113.9"})
        assert status == 403
        assert await nothing_recorded(fresh_db)
        status, _ = await post(client, "received_the_call.txt",
                               headers={"X-Forwarded-For": BINOTEL})
        assert status == 200
    assert len(await calls(fresh_db)) == 1


async def test_the_card_link_uses_the_public_scheme_and_host(fresh_db):
    olena, _ = await known_client(fresh_db)
    config = pbx_config(BRIGADIER__HTTP__TRUSTED_PROXIES='["127.0.0.0/8"]')
    async with serving(fresh_db, config) as client:
        status, body = await post(client, "api_call_settings.txt", headers={
            "X-Forwarded-For": BINOTEL, "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "crm.example.com",
        })
    assert status == 200
    assert body["customerData"]["linkToCrmUrl"] == f"https://crm.example.com/panel/clients/{olena}"


async def test_without_a_trusted_proxy_a_forged_forwarded_for_passes_nothing(fresh_db):
    config = pbx_config(BRIGADIER__TELEPHONY__ALLOWED_IPS=ALLOWED)
    async with serving(fresh_db, config) as client:
        status, _ = await post(client, "received_the_call.txt",
                               headers={"X-Forwarded-For": BINOTEL})
    assert status == 403
    assert await nothing_recorded(fresh_db)


async def test_a_request_around_the_proxy_is_refused_but_health_answers(fresh_db):
    config = pbx_config(BRIGADIER__HTTP__TRUSTED_PROXIES='["10.0.0.1"]')
    async with serving(fresh_db, config) as client:
        response = await client.post(URL, data=b"requestType=receivedTheCall",
                                     headers={"X-Forwarded-For": BINOTEL})
        assert response.status == 400
        assert "proxy" in (await response.json())["message"]
        health = await client.get("/healthz")
        assert health.status == 200
    assert await nothing_recorded(fresh_db)


def test_a_proxy_that_is_not_an_address_is_refused_at_start():
    with pytest.raises(ConfigError, match=r"http\.trusted_proxies"):
        pbx_config(BRIGADIER__HTTP__TRUSTED_PROXIES='["proxy.local"]')
