"""Views of the Django demo and its one hard-coded user.

The integration reads only ``request.user``; with ``django.contrib.auth`` and a database it works
the same way. Here a middleware sets ``request.user`` from the session, so the demo needs no
database.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from ivsecrets.integrations.django import intercom_logout

STUB = Path(__file__).resolve().parents[2] / "intercom-stub.js"
DEMO_PASSWORD = "lovelace"  # the demo user's password, shown on the login page


class DemoUser:
    """The one hard-coded demo user; its display name is chosen at login."""

    is_authenticated = True
    pk = 42
    email = "ada@example.com"
    date_joined = datetime(2023, 11, 14, tzinfo=timezone.utc)

    def __init__(self, name: str) -> None:
        self.name = name

    def get_username(self) -> str:
        return "ada"

    def get_full_name(self) -> str:
        return self.name


def user_data(user: DemoUser) -> dict[str, Any]:
    """What the Messenger is told about the user (custom attribute: plan)."""
    return {
        "user_id": user.pk,
        "email": user.email,
        "name": user.get_full_name(),
        "created_at": user.date_joined,
        "plan": "pro",
    }


class DemoAuthenticationMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        name = request.session.get("demo_name")
        request.user = DemoUser(name) if name is not None else AnonymousUser()
        return self.get_response(request)


def index(request: Any) -> HttpResponse:
    return render(request, "index.html")


def login(request: Any) -> HttpResponse:
    error = None
    if request.method == "POST":
        if request.POST.get("username") == "ada" and request.POST.get("password") == DEMO_PASSWORD:
            request.session.cycle_key()
            request.session["demo_name"] = request.POST.get("name") or "Ada Lovelace"
            return redirect("index")
        error = "Unknown user or wrong password."
    return render(request, "login.html", {"error": error, "password": DEMO_PASSWORD})


@require_POST
def logout(request: Any) -> HttpResponse:
    request.session.flush()
    return intercom_logout(request, redirect("index"))  # type: ignore[no-any-return]


def intercom_stub(request: Any) -> HttpResponse:
    return HttpResponse(STUB.read_text(), content_type="text/javascript")
