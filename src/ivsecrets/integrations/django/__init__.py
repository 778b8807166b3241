"""Django integration: a template tag, a context processor, the identity view, checks, logout.

Add ``"ivsecrets.integrations.django"`` to ``INSTALLED_APPS``, then
``{% load ivsecrets_intercom %}`` and ``{% intercom_messenger %}`` in the base template (the
``request`` context processor must be on),
``"ivsecrets.integrations.django.middleware.IntercomMiddleware"`` in ``MIDDLEWARE``
(``Cache-Control: private`` on pages carrying a signed user),
``path("api/", include("ivsecrets.integrations.django.urls"))`` for the mobile identity endpoint,
and ``intercom_logout(request, response)`` in the logout view. Settings (all optional)
in ``IVSECRETS_INTERCOM``: ``WORKSPACE`` (default ``$IVSECRETS_WORKSPACE``), ``MODE`` (``"jwt"``
or ``"user_hash"``), ``SIGNED_USER_FIELDS``, ``EXPIRES_IN`` (seconds a JWT
lasts, default 3600, signed afresh on every page and endpoint call), ``LOADER_URL``,
``USER_DATA`` (a callable or its dotted path, taking the user and returning user_id, email,
name, created_at and custom attributes), ``COOKIE_DOMAIN``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ivsecrets.integrations.messenger import (
    DEFAULT_EXPIRES_IN,
    DEFAULT_LOADER_URL,
    SHUTDOWN_SESSION_KEY,
    Messenger,
    UserData,
    missing_extra,
    session_cookie_name,
)

try:
    # The module, not its lazy `settings`: doctest collection probes module globals, and
    # touching unconfigured settings raises.
    from django import conf as django_conf
    from django.utils.module_loading import import_string
except ImportError as err:  # pragma: no cover - exercised without the extra only
    raise missing_extra("django", "django") from err

__all__ = [
    "current_user_data",
    "default_user_data",
    "intercom_logout",
    "mark_private",
    "messenger",
    "user_data_of",
]

#: Set on a request whose response carries a signed user (read by the IntercomMiddleware).
PRIVATE_ATTRIBUTE = "_ivsecrets_intercom_private"


def _options() -> dict[str, Any]:
    return dict(getattr(django_conf.settings, "IVSECRETS_INTERCOM", {}))


def messenger() -> Messenger:
    """The Messenger the settings describe (built per call: cheap; honours override_settings)."""
    options = _options()
    expires = options.get("EXPIRES_IN", DEFAULT_EXPIRES_IN)
    return Messenger(
        workspace=options.get("WORKSPACE"),
        mode=options.get("MODE", "jwt"),
        signed_user_fields=tuple(options.get("SIGNED_USER_FIELDS", ("email", "name"))),
        expires_in=None if expires is None else float(expires),
        loader_url=options.get("LOADER_URL", DEFAULT_LOADER_URL),
        cookie_domain=options.get("COOKIE_DOMAIN"),
    )


def default_user_data(user: Any) -> UserData:
    """user_id (the primary key), email, name and created_at of a ``django.contrib.auth`` user."""
    full_name = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return {
        "user_id": str(user.pk),
        "email": getattr(user, "email", None) or None,
        "name": full_name or user.get_username(),
        "created_at": getattr(user, "date_joined", None),
    }


def _user_data_function() -> Callable[[Any], UserData]:
    function = _options().get("USER_DATA", default_user_data)
    if isinstance(function, str):
        function = import_string(function)
    return function  # type: ignore[no-any-return]


def user_data_of(user: Any) -> UserData | None:
    """The Messenger fields of ``user`` (None for an anonymous or missing user)."""
    if user is None or not user.is_authenticated:
        return None
    return _user_data_function()(user)


def current_user_data(request: Any) -> UserData | None:
    """The logged-in user's data from ``request.user``, else None.

    ``request.user`` as Django's ``AuthenticationMiddleware`` or any other middleware sets it.
    """
    return user_data_of(getattr(request, "user", None))


def mark_private(request: Any) -> None:
    """Have the IntercomMiddleware send ``Cache-Control: private`` with this response."""
    setattr(request, PRIVATE_ATTRIBUTE, True)


def intercom_logout(request: Any, response: Any) -> Any:
    """End the Messenger session: call in the logout view, after ``django.contrib.auth.logout``.

    The next page queues ``Intercom('shutdown')``; the ``intercom-session-<app_id>`` cookie is
    cleared on ``response`` now. Returns ``response``.
    """
    current = messenger()
    if hasattr(request, "session"):
        request.session[SHUTDOWN_SESSION_KEY] = True
    response.delete_cookie(session_cookie_name(current.app_id()), domain=current.cookie_domain)
    return response
