"""The Flask integration through Flask's test client, with Flask-Login's current_user."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask, g, render_template_string, request
from flask_login import LoginManager, UserMixin, login_user, logout_user

import ivsecrets
from ivsecrets.integrations.flask import Intercom, intercom_logout
from tests.integrations.conftest import PLATFORM_SECRETS
from tests.integrations.contract import (
    EMAIL_ONLY,
    NONCE,
    RESERVED,
    IntegrationContract,
    MakeWeb,
    Resp,
    Web,
    settings_of,
)

PAGE = "<!doctype html><html><body><h1>Flask</h1>{{ intercom_messenger() }}</body></html>"
LOADER = "http://127.0.0.1:9/intercom-stub.js?app={app_id}"


class User(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = "42"
        self.name = name
        self.email = "ada@example.com"


def user_data(user: User) -> dict[str, Any]:
    if user.name == EMAIL_ONLY:
        return {"email": user.email}
    if user.name == RESERVED:
        return {"user_id": user.id, "user_hash": "mine"}
    return {
        "user_id": user.id,
        "email": user.email,
        "name": user.name,
        "plan": "pro",
        "created_at": 1_700_000_000,
    }


def build_app(**options: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-only-session-key", IVSECRETS_INTERCOM_LOADER_URL=LOADER)
    app.config.update({f"IVSECRETS_INTERCOM_{k.upper()}": v for k, v in options.items()})
    login = LoginManager(app)
    names: dict[str, str] = {}  # per app: the name the demo user logged in with

    @login.user_loader
    def load(user_id: str) -> User | None:
        return User(names["42"]) if user_id == "42" else None

    Intercom(app, user_data=user_data, url_prefix="/api")

    @app.before_request
    def nonce() -> None:
        g.csp_nonce = NONCE

    @app.get("/")
    def page() -> str:
        return render_template_string(PAGE)

    @app.post("/login")
    def do_login() -> str:
        names["42"] = request.form["name"]
        login_user(User(names["42"]))
        return "ok"

    @app.post("/logout")
    def do_logout() -> Any:
        logout_user()
        return intercom_logout(app.make_response("bye"))

    return app


class FlaskWeb(Web):
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def fresh(self) -> Web:
        return FlaskWeb(self.app)

    def request(self, method: str, path: str, **kw: Any) -> Resp:
        r = self.client.open(
            path,
            method=method,
            query_string=kw.get("query"),
            headers=kw.get("headers"),
            data=kw.get("form") if kw.get("form") is not None else kw.get("body"),
        )
        headers = {k.lower(): v for k, v in r.headers.items()}
        return Resp(
            r.status_code, headers, r.get_data(as_text=True), r.headers.getlist("Set-Cookie")
        )


class TestFlask(IntegrationContract):
    @pytest.fixture
    def make_web(self) -> MakeWeb:
        return lambda **options: FlaskWeb(build_app(**options))


def test_intercom_check_command_reports_ok_and_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    app = build_app()
    ok = app.test_cli_runner().invoke(args=["intercom-check"])
    assert ok.exit_code == 0 and "OK" in ok.output
    monkeypatch.delenv("IVSECRETS_APP_ID_TEST")
    bad = app.test_cli_runner().invoke(args=["intercom-check"])
    assert bad.exit_code == 1 and "IVSECRETS_APP_ID_TEST" in bad.output
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", "abc12def")
    monkeypatch.delenv("IVSECRETS_WEB_TEST")
    ivsecrets.configure(None)  # forget the secret the first check loaded
    bad = app.test_cli_runner().invoke(args=["intercom-check"])
    assert bad.exit_code == 1 and "ivsecrets.E003" in bad.output


def test_a_user_loader_replaces_flask_login() -> None:
    app = Flask(__name__)
    app.config.update(IVSECRETS_INTERCOM_MODE="user_hash")
    Intercom(app, user_loader=lambda: {"id": "7"}, user_data=lambda u: {"user_id": u["id"]})

    @app.get("/")
    def page() -> str:
        return render_template_string(PAGE)

    text = app.test_client().get("/").get_data(as_text=True)
    assert '"user_id": "7"' in text and "user_hash" in text


SESSION_TOKEN = "sess-tok-9f8e7d6c"


class TokenUser(UserMixin):
    """Flask-Login's advice: ``get_id()`` returns a session token, so changing it logs out."""

    id = 42
    email = "ada@example.com"

    def get_id(self) -> str:
        return SESSION_TOKEN


def token_app(**kwargs: Any) -> Flask:
    app = Flask(__name__)
    Intercom(app, user_loader=TokenUser, **kwargs)

    @app.get("/")
    def page() -> str:
        return render_template_string(PAGE)

    return app


def test_the_default_user_id_is_the_stable_id_not_the_session_token() -> None:
    text = token_app().test_client().get("/").get_data(as_text=True)
    settings = settings_of(text)
    assert settings is not None and SESSION_TOKEN not in text
    claims = jwt.decode(
        settings["intercom_user_jwt"], PLATFORM_SECRETS["web"], algorithms=["HS256"]
    )
    assert claims["user_id"] == "42"


def test_a_user_id_equal_to_the_session_token_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    app = token_app(user_data=lambda user: {"user_id": user.get_id()})
    resp = app.test_client().get("/")
    assert resp.status_code == 200 and settings_of(resp.get_data(as_text=True)) is None
    assert "session token" in caplog.text and SESSION_TOKEN not in caplog.text
