"""The Django example through Django's test Client: login, the page, the mobile endpoint, checks."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import django
import jwt
import pytest
from django import conf
from django.test import Client
from django.test.utils import override_settings

from ivsdemo_django import settings as demo_settings

Scan = Callable[[Mapping[str, str], str], None]


@contextlib.contextmanager
def demo_settings_in_force() -> Iterator[None]:
    """Django is configured once per process: configure it, or override what another test set."""
    values = {k: getattr(demo_settings, k) for k in dir(demo_settings) if k.isupper()}
    if not conf.settings.configured:
        conf.settings.configure(**values)
        django.setup()
    with override_settings(**{k: v for k, v in values.items() if k != "DATABASES"}):
        yield


class ScanningClient(Client):
    """Django's test Client, failing the test when a response carries a secret."""

    scan: Scan

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        headers = {k: v for k, v in response.items()}
        cookies = "".join(m.OutputString() for m in response.cookies.values())
        self.scan(headers, response.content.decode() + cookies)
        return response


@pytest.fixture
def client(scan: Scan) -> Iterator[ScanningClient]:
    with demo_settings_in_force():
        client = ScanningClient()
        client.scan = scan
        yield client


def log_in(client: Client, name: str = "Ada Lovelace") -> None:
    form = {"username": "ada", "password": "lovelace", "name": name}
    assert client.post("/login", form).status_code == 302


def settings_of(page: str) -> Any:
    found = re.search(r"window\.intercomSettings = (\{.*?\});\n", page)
    return json.loads(found.group(1)) if found else None


def test_wrong_password_does_not_log_in(client: Client) -> None:
    response = client.post("/login", {"username": "ada", "password": "nope"})
    assert "Unknown user" in response.content.decode()
    assert client.get("/api/intercom/identity/ios").status_code == 401


def test_the_page_gives_the_messenger_a_jwt_for_the_logged_in_user(
    client: Client, platform_secrets: dict[str, str]
) -> None:
    assert settings_of(client.get("/").content.decode()) == {"app_id": "demo1234"}
    log_in(client)
    response = client.get("/")
    assert "private" in response["Cache-Control"]
    settings = settings_of(response.content.decode())
    claims = jwt.decode(settings["intercom_user_jwt"], platform_secrets["web"], ["HS256"])
    assert 3500 < claims["exp"] - time.time() <= 3601
    assert claims["user_id"] == "42" and claims["name"] == "Ada Lovelace"
    assert "email" not in settings and settings["plan"] == "pro"
    assert settings["created_at"] == 1699920000
    assert client.get("/_demo/intercom-stub.js").status_code == 200


def test_the_mobile_endpoint_signs_with_the_platform_secret(
    client: Client, platform_secrets: dict[str, str]
) -> None:
    log_in(client)
    response = client.get("/api/intercom/identity/android", {"user_id": "1"})
    assert response["Cache-Control"] == "no-store"
    expected = hmac.new(platform_secrets["android"].encode(), b"42", hashlib.sha256).hexdigest()
    assert response.json()["user_hash"] == expected


def test_logout_ends_the_messenger_session(client: Client) -> None:
    log_in(client)
    out = client.post("/logout")
    assert out.cookies["intercom-session-demo1234"]["max-age"] == 0
    page = client.get("/").content.decode()
    assert "i('shutdown');" in page and settings_of(page) == {"app_id": "demo1234"}


def test_manage_py_check_passes(client: Client) -> None:
    from django.core.management import call_command

    call_command("check")
