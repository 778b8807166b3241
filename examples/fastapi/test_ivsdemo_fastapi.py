"""The FastAPI example through Starlette's TestClient: login, the page, the mobile endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from ivsdemo_fastapi import create_app

Scan = Callable[[Mapping[str, str], str], None]


@pytest.fixture
def client(scan: Scan) -> Iterator[TestClient]:
    def no_secret_in_any_response(response: httpx.Response) -> None:
        response.read()
        scan(dict(response.headers), response.text)

    with TestClient(create_app()) as client:  # runs the lifespan: the startup check
        client.event_hooks["response"].append(no_secret_in_any_response)
        yield client


def log_in(client: TestClient, name: str = "Ada Lovelace") -> None:
    form = {"username": "ada", "password": "lovelace", "name": name}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303


def settings_of(page: str) -> Any:
    found = re.search(r"window\.intercomSettings = (\{.*?\});\n", page)
    return json.loads(found.group(1)) if found else None


def test_wrong_password_does_not_log_in(client: TestClient) -> None:
    response = client.post("/login", data={"username": "ada", "password": "nope"})
    assert "Unknown user" in response.text
    assert client.get("/api/intercom/identity/ios").status_code == 401


def test_the_page_gives_the_messenger_a_jwt_for_the_logged_in_user(
    client: TestClient, platform_secrets: dict[str, str]
) -> None:
    assert settings_of(client.get("/").text) == {"app_id": "demo1234"}
    log_in(client)
    response = client.get("/")
    assert response.headers["cache-control"] == "private"
    settings = settings_of(response.text)
    claims = jwt.decode(settings["intercom_user_jwt"], platform_secrets["web"], ["HS256"])
    assert 3500 < claims["exp"] - time.time() <= 3601
    assert claims["user_id"] == "42" and claims["email"] == "ada@example.com"
    assert "email" not in settings and settings["plan"] == "pro"
    assert client.get("/_demo/intercom-stub.js").status_code == 200


def test_the_mobile_endpoint_signs_with_the_platform_secret(
    client: TestClient, platform_secrets: dict[str, str]
) -> None:
    log_in(client)
    response = client.get("/api/intercom/identity/ios", headers={"X-User-Id": "1"})
    assert response.headers["cache-control"] == "no-store"
    expected = hmac.new(platform_secrets["ios"].encode(), b"42", hashlib.sha256).hexdigest()
    assert response.json()["user_hash"] == expected


def test_logout_ends_the_messenger_session(client: TestClient) -> None:
    log_in(client)
    out = client.post("/logout", follow_redirects=False)
    assert 'intercom-session-demo1234=""' in out.headers["set-cookie"]
    page = client.get("/").text
    assert "i('shutdown');" in page and settings_of(page) == {"app_id": "demo1234"}


def test_the_app_refuses_to_start_without_an_app_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVSECRETS_APP_ID_TEST")
    with pytest.raises(Exception, match="IVSECRETS_APP_ID_TEST"), TestClient(create_app()):
        pass
