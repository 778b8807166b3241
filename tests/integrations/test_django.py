"""The Django integration through Django's test Client (template tag, view, checks, logout)."""

from __future__ import annotations

import contextlib
import html
import importlib
import json
import re
from collections.abc import Iterator
from typing import Any

import django
import pytest
from django import conf
from django.test import Client
from django.test.utils import override_settings

import ivsecrets
from tests.integrations.conftest import APP_ID, PLATFORM_SECRETS
from tests.integrations.contract import IntegrationContract, MakeWeb, Resp, Web, hmac_hex

SETTINGS: dict[str, Any] = {
    "SECRET_KEY": "test-only-session-signing-key",
    "ALLOWED_HOSTS": ["testserver"],
    "INSTALLED_APPS": [
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
        "ivsecrets.integrations.django",
    ],
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "tests.integrations.django_app.SessionUser",
        "ivsecrets.integrations.django.middleware.IntercomMiddleware",
    ],
    # The API authenticates with bearer tokens only: session users reach the identity endpoint
    # through the middleware's request.user all the same.
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["tests.integrations.django_app.BearerAuthentication"]
    },
    "SESSION_ENGINE": "django.contrib.sessions.backends.signed_cookies",
    "ROOT_URLCONF": "tests.integrations.django_app",
    "DATABASES": {},
    "USE_TZ": True,
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "ivsecrets.integrations.django.context_processors.intercom",
                ]
            },
        }
    ],
}
INTERCOM = {
    "LOADER_URL": "http://127.0.0.1:9/intercom-stub.js?app={app_id}",
    "USER_DATA": "tests.integrations.django_app.user_data",
}


@contextlib.contextmanager
def django_settings(values: dict[str, Any]) -> Iterator[None]:
    """Django is configured once per process; later users override what they need."""
    if not conf.settings.configured:
        conf.settings.configure(**values)
        django.setup()
    with override_settings(**{k: v for k, v in values.items() if k != "DATABASES"}):
        yield


class DjangoWeb(Web):
    def __init__(self) -> None:
        self.client = Client()

    def fresh(self) -> Web:
        return DjangoWeb()

    def request(self, method: str, path: str, **kw: Any) -> Resp:
        extra = {
            f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (kw.get("headers") or {}).items()
        }
        if method == "GET":
            r = self.client.generic(
                "GET",
                path,
                data=kw.get("body") or "",
                content_type="application/json",
                QUERY_STRING="&".join(f"{k}={v}" for k, v in (kw.get("query") or {}).items()),
                **extra,
            )
        else:
            r = self.client.post(path, kw.get("form") or {}, **extra)
        headers = {k.lower(): v for k, v in r.items()}
        cookies = [m.OutputString() for m in r.cookies.values()]
        return Resp(r.status_code, headers, r.content.decode(), cookies)


class TestDjango(IntegrationContract):
    @pytest.fixture
    def make_web(self) -> Iterator[MakeWeb]:
        with contextlib.ExitStack() as stack:

            def make(**options: Any) -> Web:
                intercom = {**INTERCOM, **{k.upper(): v for k, v in options.items()}}
                stack.enter_context(django_settings({**SETTINGS, "IVSECRETS_INTERCOM": intercom}))
                return DjangoWeb()

            yield make


@pytest.fixture
def configured() -> Iterator[None]:
    with django_settings({**SETTINGS, "IVSECRETS_INTERCOM": INTERCOM}):
        yield


def test_system_checks_report_the_workspace_app_id_and_secret(
    configured: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core import checks

    assert checks.run_checks(tags=["ivsecrets"]) == []
    monkeypatch.setenv("IVSECRETS_WORKSPACE", "staging")
    (error,) = checks.run_checks(tags=["ivsecrets"])
    assert error.id == "ivsecrets.E001" and "'staging' is not configured" in error.msg
    monkeypatch.setenv("IVSECRETS_WORKSPACE", "test")
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", "ABC-12")
    (error,) = checks.run_checks(tags=["ivsecrets"])
    assert "IVSECRETS_APP_ID_TEST" in error.msg and "not an Intercom app id" in error.msg
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", "abc12def")
    monkeypatch.delenv("IVSECRETS_WEB_TEST")
    ivsecrets.configure(None)
    (error,) = checks.run_checks(tags=["ivsecrets"])
    assert error.id == "ivsecrets.E003" and "IVSECRETS_WEB_TEST" in error.msg


def test_manage_py_check_runs_the_checks(configured: None) -> None:
    from django.core.management import call_command

    call_command("check", tags=["ivsecrets"])


def test_the_context_processor_gives_the_settings(configured: None) -> None:
    from django.template import engines
    from django.test import RequestFactory

    from tests.integrations.django_app import DemoUser

    request = RequestFactory().get("/")
    request.user = DemoUser("Ada")
    template = engines["django"].from_string("{{ intercom_settings.intercom_user_jwt|length }}")
    assert int(template.render({}, request)) > 100


def test_default_user_data_of_a_contrib_auth_user(configured: None) -> None:
    from django.contrib.auth.models import User

    from ivsecrets.integrations.django import default_user_data

    user = User(pk=7, username="ada", email="ada@example.com", first_name="Ada")
    data = default_user_data(user)
    assert data["user_id"] == "7" and data["email"] == "ada@example.com"
    assert data["name"] == "Ada" and data["created_at"] is not None


def test_the_urls_module_is_includable() -> None:
    assert importlib.import_module("ivsecrets.integrations.django.urls").app_name


def test_the_context_processor_value_goes_through_json_script_and_renders_as_json(
    configured: None,
) -> None:
    from django.contrib.auth.models import AnonymousUser
    from django.template import engines
    from django.test import RequestFactory

    from tests.integrations.django_app import DemoUser

    engine = engines["django"]
    request = RequestFactory().get("/")
    request.user = DemoUser("Ada </script>")
    out = engine.from_string('{{ intercom_settings|json_script:"intercom-settings" }}').render(
        {}, request
    )
    found = re.fullmatch(
        r'<script id="intercom-settings" type="application/json">(.*)</script>', out
    )
    assert found is not None and "</script>" not in found.group(1)
    settings = json.loads(found.group(1))
    assert settings["app_id"] == APP_ID and len(settings["intercom_user_jwt"]) > 100
    attribute = engine.from_string('<div data-s="{{ intercom_settings }}">').render({}, request)
    value = re.fullmatch(r'<div data-s="(.*)">', attribute)
    assert value is not None and '"' not in value.group(1) and "<" not in value.group(1)
    assert json.loads(html.unescape(value.group(1))) == settings
    request.user = AnonymousUser()
    assert json.loads(
        html.unescape(engine.from_string("{{ intercom_settings }}").render({}, request))
    ) == {"app_id": APP_ID}


def test_a_page_without_the_middleware_is_flagged_by_the_checks(configured: None) -> None:
    from django.core import checks

    middleware = [m for m in SETTINGS["MIDDLEWARE"] if "IntercomMiddleware" not in m]
    with override_settings(MIDDLEWARE=middleware):
        (warning,) = checks.run_checks(tags=["ivsecrets"])
    assert warning.id == "ivsecrets.W001" and "IntercomMiddleware" in warning.msg


def test_identity_accepts_a_rest_framework_bearer_token(configured: None) -> None:
    from tests.integrations.django_app import API_TOKEN

    client = Client()
    resp = client.get("/api/intercom/identity/ios", HTTP_AUTHORIZATION=f"Bearer {API_TOKEN}")
    assert resp.status_code == 200 and resp["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["user_id"] == "42" and body["user_hash"] == hmac_hex(PLATFORM_SECRETS["ios"], "42")
    bad = client.get("/api/intercom/identity/ios", HTTP_AUTHORIZATION="Bearer wrong")
    assert bad.status_code == 401 and bad["Cache-Control"] == "no-store"
    assert "user_hash" not in bad.content.decode()
    assert client.get("/api/intercom/identity/ios").status_code == 401
