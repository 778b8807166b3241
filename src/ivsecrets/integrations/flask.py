"""Flask integration: ``Intercom(app)`` adds the ``intercom_messenger()`` Jinja global, the
identity blueprint, the ``flask intercom-check`` command and :func:`intercom_logout`.

The user is Flask-Login's ``current_user`` unless the app passes ``user_loader`` (a function
returning the logged-in user, or None). Settings, all optional, in ``app.config``:
``IVSECRETS_WORKSPACE`` (default ``$IVSECRETS_WORKSPACE``), ``IVSECRETS_INTERCOM_MODE``
(``"jwt"`` or ``"user_hash"``), ``IVSECRETS_INTERCOM_SIGNED_USER_FIELDS``,
``IVSECRETS_INTERCOM_EXPIRES_IN`` (seconds a JWT lasts, default 3600, signed afresh on every
page and endpoint call),
``IVSECRETS_INTERCOM_LOADER_URL``, ``IVSECRETS_INTERCOM_COOKIE_DOMAIN``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ivsecrets.api import Secrets
from ivsecrets.errors import IdentifierError
from ivsecrets.integrations.messenger import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_LOADER_URL,
    SHUTDOWN_SESSION_KEY,
    Messenger,
    UserData,
    identity_response,
    missing_extra,
    session_cookie_name,
)

try:
    import click
    from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, session
    from flask.cli import with_appcontext
    from markupsafe import Markup
except ImportError as err:  # pragma: no cover - exercised without the extra only
    raise missing_extra("flask", "flask") from err

__all__ = ["EXTENSION", "Intercom", "default_user_data", "intercom_logout"]

EXTENSION = "ivsecrets_intercom"
_PRIVATE = "ivsecrets_intercom_private"


def default_user_data(user: Any) -> UserData:
    """user_id (the ``id`` attribute), and email/name/created_at attributes of a user.

    Not ``get_id()``: Flask-Login recommends making that a session token (changed to log a user
    out everywhere), which must neither reach the browser nor name the user at Intercom.
    """
    user_id = getattr(user, "id", None)
    if user_id is None:
        raise IdentifierError(
            f"the user ({type(user).__name__}) has no id attribute, which the default user data "
            "reads: pass Intercom(app, user_data=lambda user: {'user_id': ..., ...})"
        )
    return {
        "user_id": user_id,
        "email": getattr(user, "email", None),
        "name": getattr(user, "name", None),
        "created_at": getattr(user, "created_at", None),
    }


def _flask_login_user() -> Any:
    try:
        from flask_login import current_user
    except ImportError as err:
        raise missing_extra("flask", "flask-login") from err
    return current_user if current_user.is_authenticated else None


def _refuse_session_token(user: Any, data: UserData) -> None:
    """IdentifierError when the user_id is the user's session token (a ``get_id()`` that is not
    its ``id``)."""
    user_id, get_id = data.get("user_id"), getattr(user, "get_id", None)
    if user_id is None or get_id is None or getattr(user, "id", None) is None:
        return
    token = get_id()
    if token != str(user.id) and str(user_id) == str(token):
        raise IdentifierError(
            "the user_id is the user's session token (Flask-Login's get_id(), which differs from "
            "its id): return a stable id, such as user.id, from user_data"
        )


class Intercom:
    """The Flask extension. Holds only what the app passed in; the user is read per request.

    ``user_loader``: returns the logged-in user or None (default: Flask-Login's current_user).
    ``user_data``: maps that user to Messenger fields (default: :func:`default_user_data`).
    ``url_prefix``: where the identity endpoint is mounted (``<prefix>/intercom/identity/<p>``).
    ``secrets``: a ``Secrets`` instead of the default behind ``ivsecrets.get_hasher``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        user_loader: Callable[[], Any] | None = None,
        user_data: Callable[[Any], UserData] = default_user_data,
        url_prefix: str = "",
        secrets: Secrets | None = None,
    ) -> None:
        self.user_loader = user_loader or _flask_login_user
        self.user_data = user_data
        self.url_prefix = url_prefix
        self.secrets = secrets
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the Jinja global, the identity blueprint and the check command on ``app``."""
        app.extensions[EXTENSION] = self
        app.jinja_env.globals["intercom_messenger"] = self.render
        blueprint = Blueprint("ivsecrets_intercom", __name__)
        blueprint.add_url_rule(
            "/intercom/identity/<platform>", "identity", self.identity_view, methods=["GET"]
        )
        app.register_blueprint(blueprint, url_prefix=self.url_prefix or None)
        app.cli.add_command(check_command)
        app.after_request(_private_when_signed)

    def messenger(self) -> Messenger:
        """The Messenger ``current_app.config`` describes (built per call: config changes show)."""
        config = current_app.config
        expires = config.get("IVSECRETS_INTERCOM_EXPIRES_IN", DEFAULT_EXPIRES_IN)
        if isinstance(expires, timedelta):
            expires = expires.total_seconds()
        return Messenger(
            workspace=config.get("IVSECRETS_WORKSPACE"),
            mode=config.get("IVSECRETS_INTERCOM_MODE", "jwt"),
            signed_user_fields=tuple(
                config.get("IVSECRETS_INTERCOM_SIGNED_USER_FIELDS", ("email", "name"))
            ),
            expires_in=None if expires is None else float(expires),
            loader_url=config.get("IVSECRETS_INTERCOM_LOADER_URL", DEFAULT_LOADER_URL),
            secrets=self.secrets,
            cookie_domain=config.get("IVSECRETS_INTERCOM_COOKIE_DOMAIN"),
        )

    def current_user_data(self) -> UserData | None:
        """The logged-in user's Messenger fields, or None for an anonymous visitor.

        IdentifierError when the user_id is the user's session token.
        """
        user = self.user_loader()
        if user is None:
            return None
        data = self.user_data(user)
        _refuse_session_token(user, data)
        return data

    def _page_user_data(self) -> UserData | None:
        data = self.current_user_data()
        if data is not None:
            setattr(g, _PRIVATE, True)  # Cache-Control: private on this response
        return data

    def render(self) -> Markup:
        """The Jinja global ``{{ intercom_messenger() }}``: settings and loader for this request."""
        nonce = g.get("csp_nonce") or getattr(request, "csp_nonce", None)
        markup = self.messenger().render_page(
            self._page_user_data, session, nonce=str(nonce) if nonce else None
        )
        return Markup(markup)  # noqa: S704 - built by Messenger.snippet, every value JSON-escaped

    def identity_view(self, platform: str) -> Response:
        """``GET <prefix>/intercom/identity/<platform>``; the identity comes from the session."""
        status, body, headers = identity_response(
            self.messenger(), platform, self.current_user_data
        )
        response = jsonify(body)
        response.status_code = status
        response.headers.update(headers)
        return response


def _private_when_signed(response: Response) -> Response:
    """``Cache-Control: private`` on a response that carries a signed user."""
    if g.get(_PRIVATE):
        response.cache_control.public = False
        response.cache_control.private = True
    return response


def _extension() -> Intercom:
    try:
        extension: Intercom = current_app.extensions[EXTENSION]
    except KeyError:
        raise RuntimeError("ivsecrets Intercom extension not set up: call Intercom(app)") from None
    return extension


def intercom_logout(response: Response) -> Response:
    """End the Messenger session: call in the logout view (after ``logout_user()``).

    The next page queues ``Intercom('shutdown')``; the ``intercom-session-<app_id>`` cookie is
    cleared on ``response`` now.
    """
    messenger = _extension().messenger()
    if current_app.secret_key:  # no sessions without one: the cookie is still cleared
        session[SHUTDOWN_SESSION_KEY] = True
    response.delete_cookie(session_cookie_name(messenger.app_id()), domain=messenger.cookie_domain)
    return response


@click.command("intercom-check")
@with_appcontext
def check_command() -> None:
    """Check the configuration, the served workspace, its app_id and the web secret."""
    problems = _extension().messenger().problems()
    for problem in problems:
        hint = f" (hint: {problem.hint})" if problem.hint else ""
        click.echo(f"{problem.code}: {problem.message}{hint}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo("Intercom Messenger integration: OK")
