"""A minimal Flask app with Flask-Login and the Intercom Messenger served by ivsecrets.

Run: ``python examples/flask/run.py``, then log in as ada / lovelace on http://127.0.0.1:8000.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from ivsecrets.integrations.flask import Intercom, intercom_logout

STUB = Path(__file__).resolve().parents[2] / "intercom-stub.js"
DEMO_PASSWORD = "lovelace"  # the demo user's password, shown on the login page


class DemoUser(UserMixin):
    """The one hard-coded demo user; its display name is chosen at login."""

    def __init__(self, name: str) -> None:
        self.id = "42"
        self.name = name
        self.email = "ada@example.com"


def user_data(user: DemoUser) -> dict[str, Any]:
    """What the Messenger is told about the user (custom attribute: plan)."""
    return {
        "user_id": user.id,
        "email": user.email,
        "name": user.name,
        "created_at": 1_700_000_000,
        "plan": "pro",
    }


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("IVSDEMO_SESSION_KEY") or secrets.token_hex(32),
        # The local stub shows what the Messenger would get; point it at Intercom to use the
        # real one: IVSDEMO_LOADER_URL=https://widget.intercom.io/widget/{app_id}
        IVSECRETS_INTERCOM_LOADER_URL=os.environ.get(
            "IVSDEMO_LOADER_URL", "/_demo/intercom-stub.js"
        ),
    )
    login_manager = LoginManager(app)
    login_manager.login_view = "login"

    @login_manager.user_loader
    def load_user(user_id: str) -> DemoUser | None:
        return DemoUser(session.get("demo_name", "Ada Lovelace")) if user_id == "42" else None

    Intercom(app, user_data=user_data, url_prefix="/api")

    @app.get("/")
    def index() -> str:
        return render_template("index.html", user=current_user)

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            if (
                request.form.get("username") == "ada"
                and request.form.get("password") == DEMO_PASSWORD
            ):
                session["demo_name"] = request.form.get("name") or "Ada Lovelace"
                login_user(DemoUser(session["demo_name"]))
                return redirect(url_for("index"))
            error = "Unknown user or wrong password."
        return render_template("login.html", error=error, password=DEMO_PASSWORD)

    @app.post("/logout")
    def logout() -> Response:
        logout_user()
        session.pop("demo_name", None)
        return intercom_logout(redirect(url_for("index")))

    @app.get("/_demo/intercom-stub.js")
    def intercom_stub() -> Response:
        return Response(STUB.read_text(), mimetype="text/javascript")

    return app
