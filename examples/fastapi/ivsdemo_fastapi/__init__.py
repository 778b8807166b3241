"""A minimal FastAPI app with a session login and the Intercom Messenger served by ivsecrets.

Run: ``python examples/fastapi/run.py``, then log in as ada / lovelace on http://127.0.0.1:8002.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.middleware.sessions import SessionMiddleware
from starlette.templating import Jinja2Templates

from ivsecrets.integrations.fastapi import Intercom, PrivateCacheMiddleware
from ivsecrets.integrations.messenger import Messenger

HERE = Path(__file__).resolve().parent
STUB = HERE.parents[1] / "intercom-stub.js"
DEMO_PASSWORD = "lovelace"  # the demo user's password, shown on the login page


def optional_user(request: Request) -> dict[str, Any] | None:
    """The app's own dependency: the logged-in user from the session, or None."""
    name = request.session.get("demo_name")
    if name is None:
        return None
    return {
        "user_id": "42",
        "email": "ada@example.com",
        "name": name,
        "created_at": 1_700_000_000,
        "plan": "pro",
    }


def create_app(mode: Literal["jwt", "user_hash"] = "jwt") -> FastAPI:
    """The demo app; ``mode`` is the Messenger's (a JWT by default, as Intercom recommends)."""
    intercom = Intercom(
        current_user=optional_user,
        # The local stub shows what the Messenger would get; to load the real Messenger:
        # IVSDEMO_LOADER_URL=https://widget.intercom.io/widget/{app_id}
        messenger=Messenger(
            mode=mode, loader_url=os.environ.get("IVSDEMO_LOADER_URL", "/_demo/intercom-stub.js")
        ),
    )
    app = FastAPI(lifespan=intercom.lifespan, dependencies=[Depends(intercom.dependency)])
    app.add_middleware(
        SessionMiddleware,
        secret_key=os.environ.get("IVSDEMO_SESSION_KEY") or secrets.token_hex(32),
    )
    app.add_middleware(PrivateCacheMiddleware)  # Cache-Control: private on signed pages
    app.include_router(intercom.router(prefix="/api"))
    templates = Jinja2Templates(HERE / "templates", context_processors=[intercom.context_processor])

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, user: Any = Depends(optional_user)) -> Response:
        return templates.TemplateResponse(request, "index.html", {"user": user})

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {"password": DEMO_PASSWORD})

    @app.post("/login")
    def login(
        request: Request,
        username: str = Form(""),
        password: str = Form(""),
        name: str = Form(""),
    ) -> Response:
        if username == "ada" and password == DEMO_PASSWORD:
            request.session["demo_name"] = name or "Ada Lovelace"
            return RedirectResponse("/", status_code=303)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"password": DEMO_PASSWORD, "error": "Unknown user or wrong password."},
        )

    @app.post("/logout")
    def logout(request: Request) -> Response:
        request.session.pop("demo_name", None)
        return intercom.logout(request, RedirectResponse("/", status_code=303))

    @app.get("/_demo/intercom-stub.js")
    def intercom_stub() -> Response:
        return PlainTextResponse(STUB.read_text(), media_type="text/javascript")

    return app
