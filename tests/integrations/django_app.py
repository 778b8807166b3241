"""The Django test app: URLconf, views and a session login without a database.

The integration reads only ``request.user``; a middleware sets it from the session here, so the
tests need no database (a real app uses django.contrib.auth the same way).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authentication import BaseAuthentication

from ivsecrets.integrations.django import intercom_logout

NONCE = "n0nce-t3st"
PAGE = (
    "{% load ivsecrets_intercom %}<!doctype html><html><body><h1>Django</h1>"
    "{% intercom_messenger %}</body></html>"
)


class DemoUser:
    is_authenticated = True
    pk = 42
    email = "ada@example.com"

    def __init__(self, name: str) -> None:
        self.name = name

    def get_username(self) -> str:
        return "ada"


def user_data(user: DemoUser) -> dict[str, Any]:
    if user.name == "email-only":  # contract.EMAIL_ONLY
        return {"email": user.email}
    if user.name == "reserved-key":  # contract.RESERVED
        return {"user_id": user.pk, "user_hash": "mine"}
    return {
        "user_id": user.pk,
        "email": user.email,
        "name": user.name,
        "plan": "pro",
        "created_at": 1_700_000_000,
    }


class SessionUser:
    """Sets ``request.user`` from the session, and a CSP nonce as django-csp would."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        name = request.session.get("demo_user")
        request.user = DemoUser(name) if name is not None else AnonymousUser()
        request.csp_nonce = NONCE
        return self.get_response(request)


API_TOKEN = "api-token-7c1d"


class BearerAuthentication(BaseAuthentication):  # type: ignore[misc]
    """A Django REST framework authentication class: ``Authorization: Bearer <token>``."""

    def authenticate(self, request: Any) -> tuple[DemoUser, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer "):
            return None
        if header.removeprefix("Bearer ") != API_TOKEN:
            from rest_framework.exceptions import AuthenticationFailed

            raise AuthenticationFailed("invalid token")
        return DemoUser("Api Ada"), None

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


def page(request: Any) -> HttpResponse:
    return HttpResponse(engines["django"].from_string(PAGE).render({}, request))


@csrf_exempt
def login(request: Any) -> HttpResponse:
    request.session["demo_user"] = request.POST["name"]
    return HttpResponse("ok")


@csrf_exempt
def logout(request: Any) -> HttpResponse:
    request.session.flush()
    return intercom_logout(request, HttpResponse("bye"))  # type: ignore[no-any-return]


urlpatterns = [
    path("", page),
    path("login", login),
    path("logout", logout),
    path("api/", include("ivsecrets.integrations.django.urls")),
]
