"""FastAPI/Starlette integration: a dependency and a Jinja2Templates context processor for pages,
an ``APIRouter`` for the identity endpoint, a startup check and logout.

The app passes its own ``current_user`` dependency (returning the logged-in user, or None); the
identity never comes from the request itself::

    intercom = Intercom(current_user=optional_user, messenger=Messenger(workspace="prod"))
    app = FastAPI(lifespan=intercom.lifespan, dependencies=[Depends(intercom.dependency)])
    app.add_middleware(PrivateCacheMiddleware)   # Cache-Control: private on signed pages
    app.include_router(intercom.router(prefix="/api"))  # current_user=api_user: the API's auth
    templates = Jinja2Templates("templates", context_processors=[intercom.context_processor])
    # in a template: {{ intercom_messenger() }}
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from ivsecrets.errors import ConfigError
from ivsecrets.integrations.messenger import (
    DEFAULT_EXPIRES_IN,
    SHUTDOWN_SESSION_KEY,
    Messenger,
    UserData,
    identity_response,
    missing_extra,
    session_cookie_name,
)

try:
    from fastapi import APIRouter, Depends, Request
    from fastapi.responses import JSONResponse
    from markupsafe import Markup
    from starlette.responses import Response
except ImportError as err:  # pragma: no cover - exercised without the extra only
    raise missing_extra("fastapi", "fastapi") from err

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "Intercom",
    "MessengerTag",
    "PrivateCacheMiddleware",
    "default_user_data",
]

log = logging.getLogger("ivsecrets.integrations")

_STATE = "ivsecrets_intercom"
#: Scope keys: the PrivateCacheMiddleware is installed; this response carries a signed user.
_MIDDLEWARE = "ivsecrets.intercom.middleware"
_PRIVATE = "ivsecrets.intercom.private"


class PrivateCacheMiddleware:
    """``app.add_middleware(PrivateCacheMiddleware)``: ``Cache-Control: private`` on every
    response whose page carries a signed user (a JWT or a user_hash)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[_MIDDLEWARE] = True

        async def send_private(message: Any) -> None:
            if message["type"] == "http.response.start" and scope.get(_PRIVATE):
                message = {**message, "headers": _private(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, send_private)


def _private(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers with ``private`` added to Cache-Control (and ``public`` taken out)."""
    directives: list[bytes] = []
    kept = []
    for name, value in headers:
        if name.lower() == b"cache-control":
            directives += [d.strip() for d in value.split(b",") if d.strip()]
        else:
            kept.append((name, value))
    directives = [d for d in directives if d.lower() not in (b"public", b"private")]
    return [*kept, (b"cache-control", b", ".join([*directives, b"private"]))]


def default_user_data(user: Any) -> UserData:
    """A mapping as it is; else the ``user_id`` (or ``id``), email, name, created_at attributes."""
    if isinstance(user, dict):
        return user
    return {
        "user_id": getattr(user, "user_id", None) or getattr(user, "id", None),
        "email": getattr(user, "email", None),
        "name": getattr(user, "name", None),
        "created_at": getattr(user, "created_at", None),
    }


class MessengerTag:
    """The Messenger of one request; renders lazily, as ``{{ intercom_messenger() }}``."""

    __slots__ = ("_intercom", "_request", "_user")

    def __init__(self, intercom: Intercom, request: Request, user: Any) -> None:
        self._intercom = intercom
        self._request = request
        self._user = user

    def user_data(self) -> UserData | None:
        if self._user is None:
            return None
        scope = self._request.scope
        scope[_PRIVATE] = True
        if not scope.get(_MIDDLEWARE):
            log.warning(
                "a page carries a signed Intercom user without Cache-Control: private: "
                "add app.add_middleware(PrivateCacheMiddleware)"
            )
        return self._intercom.user_data(self._user)

    def settings(self) -> dict[str, Any]:
        """``window.intercomSettings`` for this request (for single-page apps)."""
        return self._intercom.messenger.settings(self.user_data())

    def __call__(self) -> Markup:
        session = self._request.session if "session" in self._request.scope else None
        nonce = getattr(self._request.state, "csp_nonce", None)
        markup = self._intercom.messenger.render_page(
            self.user_data, session, nonce=str(nonce) if nonce else None
        )
        return Markup(markup)  # noqa: S704 - built by Messenger.snippet, every value JSON-escaped

    def __html__(self) -> str:
        return str(self())


def _not_wired() -> Markup:
    log.warning(
        "intercom_messenger() used on a route without the Intercom dependency: "
        "add Depends(intercom.dependency) to the app or the route"
    )
    return Markup("")


class Intercom:
    """The FastAPI integration. Keeps configuration only; each request's user stays in it.

    ``current_user``: the app's dependency giving the logged-in user or None.
    ``user_data``: maps that user to Messenger fields (default :func:`default_user_data`).
    ``messenger``: the :class:`Messenger` (a JWT lasts ``expires_in``, default an hour, signed
    afresh on every page and endpoint call).
    """

    def __init__(
        self,
        *,
        current_user: Callable[..., Any],
        user_data: Callable[[Any], UserData] = default_user_data,
        messenger: Messenger | None = None,
    ) -> None:
        self.messenger = messenger or Messenger()
        self.current_user = current_user
        self.user_data = user_data

        def dependency(request: Request, user: Any = Depends(current_user)) -> MessengerTag:
            """The Messenger of this request, also kept for the template context processor."""
            tag = MessengerTag(self, request, user)
            setattr(request.state, _STATE, tag)
            return tag

        self.dependency = dependency

    def context_processor(self, request: Request) -> dict[str, Any]:
        """For ``Jinja2Templates(context_processors=[...])``: ``intercom_messenger()``."""
        return {"intercom_messenger": getattr(request.state, _STATE, _not_wired)}

    def router(
        self, prefix: str = "", *, current_user: Callable[..., Any] | None = None
    ) -> APIRouter:
        """An ``APIRouter`` serving ``GET <prefix>/intercom/identity/{platform}``.

        ``current_user``: the dependency that authenticates this endpoint's callers (default the
        pages' one), e.g. the API's bearer-token or OAuth2 dependency for mobile apps.
        """
        router = APIRouter(prefix=prefix)
        current_user = current_user or self.current_user

        @router.get("/intercom/identity/{platform}", name="intercom_identity")
        def identity(platform: str, user: Any = Depends(current_user)) -> JSONResponse:
            """The session user's identity signed with the platform's secret."""
            status, body, headers = identity_response(
                self.messenger, platform, lambda: None if user is None else self.user_data(user)
            )
            return JSONResponse(body, status_code=status, headers=headers)

        return router

    def logout(self, request: Request, response: Response) -> Response:
        """End the Messenger session: the next page queues ``Intercom('shutdown')`` (needs
        SessionMiddleware) and the ``intercom-session-<app_id>`` cookie is cleared now."""
        if "session" in request.scope:
            request.session[SHUTDOWN_SESSION_KEY] = True
        response.delete_cookie(
            session_cookie_name(self.messenger.app_id()), domain=self.messenger.cookie_domain
        )
        return response

    def check(self) -> None:
        """Raise ConfigError when the workspace, its app_id or the web secret is not usable."""
        self.messenger.check()

    def startup_check(self) -> None:
        """Raise ConfigError on a configuration problem; only warn when the store cannot be
        read (a slow or briefly unreachable store must not stop the app: pages leave the
        Messenger out until it answers)."""
        problems = self.messenger.problems()
        for problem in problems:
            if problem.code == "ivsecrets.E003":
                log.warning("%s: %s (%s)", problem.code, problem.message, problem.hint)
        fatal = [p for p in problems if p.code != "ivsecrets.E003"]
        if fatal:
            raise ConfigError("; ".join(p.message for p in fatal), fix=fatal[0].hint or None)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """``FastAPI(lifespan=intercom.lifespan)``: refuse to start on a configuration problem,
        warn when the store is unreachable (see :meth:`startup_check`)."""
        self.startup_check()
        yield
