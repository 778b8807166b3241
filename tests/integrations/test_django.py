"""The Django integration through Django's test Client (template tag, view, checks, logout)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import django
import pytest
from django import conf
from django.test import Client
from django.test.utils import override_settings

import ivsecrets
from tests.integrations.contract import IntegrationContract, MakeWeb, Resp, Web

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
    ],
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
