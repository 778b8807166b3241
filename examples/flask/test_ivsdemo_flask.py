"""The Flask example through Flask's test client: login, the page, the mobile endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import jwt
import pytest
from flask import Response
from flask.testing import FlaskClient

from ivsdemo_flask import create_app

Scan = Callable[[Mapping[str, str], str], None]


@pytest.fixture
def client(scan: Scan) -> FlaskClient:
    app = create_app()

    @app.after_request
    def no_secret_in_any_response(response: Response) -> Response:
        scan(dict(response.headers), response.get_data(as_text=True))
        return response

    return app.test_client()


def log_in(client: FlaskClient, name: str = "Ada Lovelace") -> None:
    form = {"username": "ada", "password": "lovelace", "name": name}
    assert client.post("/login", data=form).status_code == 302


def settings_of(page: str) -> Any:
    found = re.search(r"window\.intercomSettings = (\{.*?\});\n", page)
    return json.loads(found.group(1)) if found else None


def test_wrong_password_does_not_log_in(client: FlaskClient) -> None:
    form = {"username": "ada", "password": "nope"}
    assert "Unknown user" in client.post("/login", data=form).get_data(as_text=True)
    assert client.get("/api/intercom/identity/ios").status_code == 401


def test_the_page_gives_the_messenger_a_jwt_for_the_logged_in_user(
    client: FlaskClient, platform_secrets: dict[str, str]
) -> None:
    assert settings_of(client.get("/").get_data(as_text=True)) == {"app_id": "demo1234"}
    log_in(client)
    response = client.get("/")
    assert "private" in response.headers["Cache-Control"]
    page = response.get_data(as_text=True)
    settings = settings_of(page)
    claims = jwt.decode(settings["intercom_user_jwt"], platform_secrets["web"], ["HS256"])
    assert 3500 < claims["exp"] - time.time() <= 3601
    assert claims["user_id"] == "42" and claims["email"] == "ada@example.com"
    assert "email" not in settings and settings["plan"] == "pro"
    assert '"/_demo/intercom-stub.js"' in page
    assert client.get("/_demo/intercom-stub.js").status_code == 200


def test_the_mobile_endpoint_signs_with_the_platform_secret(
    client: FlaskClient, platform_secrets: dict[str, str]
) -> None:
    log_in(client)
    response = client.get("/api/intercom/identity/ios?user_id=1")
    body = response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    expected = hmac.new(platform_secrets["ios"].encode(), b"42", hashlib.sha256).hexdigest()
    assert body["user_id"] == "42" and body["user_hash"] == expected


def test_logout_ends_the_messenger_session(client: FlaskClient) -> None:
    log_in(client)
    out = client.post("/logout")
    assert "intercom-session-demo1234=;" in out.headers["Set-Cookie"]
    page = client.get("/").get_data(as_text=True)
    assert "i('shutdown');" in page and settings_of(page) == {"app_id": "demo1234"}


def test_intercom_check_command() -> None:
    result = create_app().test_cli_runner().invoke(args=["intercom-check"])
    assert result.exit_code == 0, result.output
