"""The framework-neutral core of the integrations: Messenger settings, identities, safe markup.

Every framework adapter does the same three things with a :class:`Messenger`:

- a page gets ``Messenger.settings(user)`` rendered by ``Messenger.snippet(...)``: the app id, and
  for a logged-in user the fields the app's user-data function returns, signed either with an
  ``intercom_user_jwt`` (the default, as Intercom recommends since 2025) or a ``user_hash``;
- the mobile identity endpoint answers with ``identity_response(messenger, platform, user)``;
- system checks report ``Messenger.problems()``.

A ``Messenger`` is an immutable value; the user of a request is always passed in, never kept, so
no request can see another request's user.

Where the app id comes from: ``[workspace.NAME] app_id = "..."`` in the configuration file; on the
embedded default (no configuration file) from ``$IVSECRETS_APP_ID_<WORKSPACE>``. Which workspace a
deployment serves: the adapter's setting, else ``$IVSECRETS_WORKSPACE``.
"""

from __future__ import annotations

import html
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from ivsecrets.api import Secrets, default_secrets, get_hasher
from ivsecrets.config import APP_ID_PATTERN, EMBEDDED_DEFAULT, Config
from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import ConfigError, IdentifierError, IVSecretsError, StoreError
from ivsecrets.hashing import Hasher, identifier

__all__ = [
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_LOADER_URL",
    "SHUTDOWN_SESSION_KEY",
    "IntercomSettings",
    "Messenger",
    "Problem",
    "UserData",
    "identity_response",
    "missing_extra",
    "safe_json",
    "session_cookie_name",
    "user_fields",
]

log = logging.getLogger("ivsecrets.integrations")

DEFAULT_LOADER_URL = "https://widget.intercom.io/widget/{app_id}"
#: A JWT's lifetime unless set: an hour, signed afresh on every page and endpoint call (README,
#: "How long a JWT lasts"), not the session's 14-31 days a token would outlive a logout by.
DEFAULT_EXPIRES_IN = 3600.0
WORKSPACE_ENV_VAR = "IVSECRETS_WORKSPACE"
APP_ID_ENV_TEMPLATE = "IVSECRETS_APP_ID_{WORKSPACE}"
#: The session key a logout helper sets so that the next page ends the Messenger session.
SHUTDOWN_SESSION_KEY = "ivsecrets_intercom_shutdown"
#: Fields the integration writes itself; a user-data function may not return them.
RESERVED_FIELDS = frozenset({"app_id", "user_hash", "intercom_user_jwt"})
UNAVAILABLE = "identity verification is temporarily unavailable"

#: What an app's user-data function returns: user_id, email, name, created_at, custom attributes.
UserData = Mapping[str, Any]

_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def missing_extra(framework: str, package: str) -> ImportError:
    """The ImportError an adapter raises when its framework is not installed."""
    return ImportError(
        f"ivsecrets.integrations.{framework} needs the '{package}' package, which is not "
        f"installed (fix: pip install 'ivsecrets[{framework}]')"
    )


def safe_json(value: Any) -> str:
    """JSON that is safe inside ``<script>``: ``<``, ``>``, ``&``, U+2028/2029 escaped.

    >>> safe_json({"name": "</script><!--"})
    '{"name": "\\\\u003c/script\\\\u003e\\\\u003c!--"}'
    """
    return json.dumps(value, ensure_ascii=False, sort_keys=False).translate(_JSON_ESCAPES)


def session_cookie_name(app_id: str) -> str:
    """The cookie Intercom's Messenger keeps its session in (cleared on logout).

    >>> session_cookie_name("abc12def")
    'intercom-session-abc12def'
    """
    return f"intercom-session-{app_id}"


def user_fields(data: UserData) -> dict[str, Any]:
    """Normalise what a user-data function returned into Messenger fields.

    ``user_id`` becomes a string (Intercom's examples all send one), ``created_at`` a Unix
    timestamp, and empty values are dropped. IdentifierError if neither user_id nor email is
    left, or if a field the integration writes itself (app_id, user_hash, intercom_user_jwt)
    is present.

    >>> user_fields({"user_id": 42, "email": None, "created_at": date(2024, 1, 1), "plan": "pro"})
    {'user_id': '42', 'created_at': 1704067200, 'plan': 'pro'}
    """
    reserved = RESERVED_FIELDS.intersection(data)
    if reserved:
        raise IdentifierError(
            f"user data may not set {', '.join(sorted(reserved))}: ivsecrets adds it itself"
        )
    fields: dict[str, Any] = {}
    for name, value in data.items():
        if value is None or value == "":
            continue
        if name == "user_id":
            value = identifier(user_id=value)
        elif name == "created_at":
            value = _timestamp(value)
        fields[name] = value
    identifier(fields.get("user_id"), fields.get("email"))
    return fields


def _timestamp(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # naive: taken as UTC, as Django does with USE_TZ off
            return int((value - datetime(1970, 1, 1)).total_seconds())
        return int(value.timestamp())
    if isinstance(value, date):
        midnight = datetime(value.year, value.month, value.day)
        return int((midnight - datetime(1970, 1, 1)).total_seconds())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise IdentifierError(f"created_at must be a datetime or a Unix timestamp, not {value!r}")


class IntercomSettings(dict[str, Any]):
    """``window.intercomSettings``: a dict that prints as :func:`safe_json`, not a Python repr.

    So a template's ``{{ intercom_settings }}`` gives JSON (HTML-escaped by the template, fit for
    a ``data-`` attribute), and ``json_script`` or ``json.dumps`` see a plain dict.
    """

    def __str__(self) -> str:
        return safe_json(dict(self))

    __repr__ = __str__


@dataclass(frozen=True)
class Problem:
    """One thing a system check found wrong, with what to do about it."""

    code: str
    message: str
    hint: str = ""


@dataclass(frozen=True)
class Messenger:
    """How one deployment serves the Intercom Messenger (immutable, shareable across threads).

    ``workspace``: the Intercom workspace this deployment serves (None: ``$IVSECRETS_WORKSPACE``).
    ``mode``: ``"jwt"`` signs the identity and ``signed_user_fields`` into ``intercom_user_jwt``
    and removes them from the client-side settings; ``"user_hash"`` sends the fields in clear with
    a ``user_hash``. ``expires_in``: seconds a JWT is valid, from the page or endpoint call that
    signed it (default :data:`DEFAULT_EXPIRES_IN`, an hour; None: no ``exp``).
    ``loader_url``: the Messenger script, ``{app_id}`` filled in.
    ``secrets``: a ``Secrets`` to use instead of the default behind ``ivsecrets.get_hasher``.
    """

    workspace: str | None = None
    mode: Literal["jwt", "user_hash"] = "jwt"
    signed_user_fields: tuple[str, ...] = ("email", "name")
    expires_in: float | None = DEFAULT_EXPIRES_IN
    loader_url: str = DEFAULT_LOADER_URL
    secrets: Secrets | None = None
    cookie_domain: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("jwt", "user_hash"):
            raise ConfigError(
                f"unknown Messenger mode {self.mode!r}", fix='use "jwt" (default) or "user_hash"'
            )
        if isinstance(self.signed_user_fields, str):
            raise ConfigError(
                "signed_user_fields must be a list of field names, not one string",
                fix='signed_user_fields = ["email", "name"]',
            )
        object.__setattr__(self, "signed_user_fields", tuple(self.signed_user_fields))
        if isinstance(self.expires_in, timedelta):
            object.__setattr__(self, "expires_in", self.expires_in.total_seconds())

    # -- configuration ---------------------------------------------------------------------

    def served_workspace(self) -> str:
        """The workspace this deployment serves; ConfigError if none is set."""
        name = self.workspace or os.environ.get(WORKSPACE_ENV_VAR, "")
        if not name:
            raise ConfigError(
                "no Intercom workspace set for the Messenger integration",
                key=WORKSPACE_ENV_VAR,
                fix=f"set ${WORKSPACE_ENV_VAR} (e.g. prod) or the integration's workspace setting",
            )
        return name.strip().lower()

    def config(self) -> Config:
        """The ivsecrets configuration in use (loaded on first use)."""
        return (self.secrets or default_secrets()).config

    def app_id(self) -> str:
        """The served workspace's Intercom app id; ConfigError naming file and key if unset."""
        config = self.config()
        workspace = self.served_workspace()
        settings = config.workspace_settings.get(workspace)
        if settings is None:
            raise ConfigError(
                f"workspace {workspace!r} is not configured "
                f"(configured: {', '.join(config.workspaces)})",
                file=config.source,
                key="workspaces",
                fix=f"add {workspace!r} to workspaces or serve one of the configured workspaces",
            )
        if settings.app_id:
            return settings.app_id
        variable = Environment.of("web", workspace).expand(APP_ID_ENV_TEMPLATE)
        if config.source != EMBEDDED_DEFAULT:
            raise ConfigError(
                "no Intercom app id for this workspace",
                file=config.source,
                key=f"workspace.{workspace}.app_id",
                fix=f'add app_id = "..." under [workspace.{workspace}]',
            )
        value = os.environ.get(variable, "").strip()
        if not value:
            raise ConfigError(
                "no Intercom app id for this workspace",
                file=config.source,
                key=variable,
                fix=f"set ${variable} to the app id from Intercom's Messenger settings",
            )
        if not APP_ID_PATTERN.match(value):
            raise ConfigError(
                "not an Intercom app id",
                file=config.source,
                key=variable,
                fix="use the app id from Intercom's Messenger settings "
                "(4-16 lower-case letters and digits, e.g. abc12def)",
            )
        return value

    def hasher(self, platform: str | Platform) -> Hasher:
        """The hasher of ``platform`` in the served workspace (never another platform's)."""
        workspace = self.served_workspace()
        if self.secrets is not None:
            return self.secrets.hasher(platform, workspace)
        return get_hasher(platform, workspace)

    # -- payloads --------------------------------------------------------------------------

    def settings(
        self, user: UserData | None, *, expires_in: float | None = None
    ) -> IntercomSettings:
        """``window.intercomSettings`` for a request: the app id, plus the signed user if any.

        Raises ConfigError, IdentifierError, or a StoreError subclass when the web secret
        cannot be read (StaleSecretError past ``max_stale``).
        """
        result = IntercomSettings(app_id=self.app_id())
        if user is None:
            return result
        fields = user_fields(user)
        hasher = self.hasher(Platform.web)
        if self.mode == "user_hash":
            result.update(fields)
            result["user_hash"] = hasher.user_hash(fields.get("user_id"), fields.get("email"))
            return result
        token, _ = self._jwt(hasher, fields, expires_in)
        signed = {"user_id", *self.signed_user_fields}
        result.update((k, v) for k, v in fields.items() if k not in signed)
        result["intercom_user_jwt"] = token
        return result

    def identity(
        self, platform: str | Platform, user: UserData, *, expires_in: float | None = None
    ) -> dict[str, Any]:
        """What the identity endpoint returns: user_id, email, user_hash, jwt, expires_at.

        Signed with ``platform``'s own secret. ``expires_at`` is the JWT's ``exp`` (Unix
        seconds), or None when tokens do not expire.
        """
        fields = user_fields(user)
        hasher = self.hasher(platform)
        token, expires_at = self._jwt(hasher, fields, expires_in)
        result: dict[str, Any] = {"user_id": fields["user_id"]}
        if "email" in fields:
            result["email"] = fields["email"]
        result["user_hash"] = hasher.user_hash(fields["user_id"])
        result["jwt"] = token
        result["expires_at"] = expires_at
        return result

    def _jwt(
        self, hasher: Hasher, fields: Mapping[str, Any], expires_in: float | None
    ) -> tuple[str, int | None]:
        if "user_id" not in fields:
            raise IdentifierError(
                "an Intercom JWT needs a user_id: return one from the user-data function "
                "(or use mode='user_hash' for email-only users)"
            )
        seconds = self.expires_in if expires_in is None else expires_in
        claims = {k: fields[k] for k in self.signed_user_fields if k in fields and k != "user_id"}
        exp = None
        if seconds is not None:
            exp = int(time.time() + seconds)
            claims["exp"] = exp
        return hasher.messenger_jwt(user_id=fields["user_id"], **claims), exp

    def snippet(
        self, settings: Mapping[str, Any], *, nonce: str | None = None, shutdown: bool = False
    ) -> str:
        """The ``<script>`` that sets ``window.intercomSettings`` and loads the Messenger.

        Intercom's installation snippet, with the settings as :func:`safe_json`, the loader URL
        from ``loader_url``, the CSP ``nonce`` on this tag and on the loader it inserts, and
        ``Intercom('shutdown')`` queued first when the previous request logged the user out.
        """
        loader = self.loader_url.replace("{app_id}", str(settings["app_id"]))
        nonce_attr = f' nonce="{html.escape(nonce, quote=True)}"' if nonce else ""
        return (
            f"<script{nonce_attr}>\n"
            f"window.intercomSettings = {safe_json(dict(settings))};\n"
            "(function(){var w=window,d=document,ic=w.Intercom;"
            f"var src={safe_json(loader)},nonce={safe_json(nonce or '')};"
            "if(typeof ic==='function'){"
            + ("ic('shutdown');" if shutdown else "")
            + "ic('reattach_activator');ic('update',w.intercomSettings);return;}"
            "var i=function(){i.c(arguments);};i.q=[];i.c=function(a){i.q.push(a);};w.Intercom=i;"
            + ("i('shutdown');" if shutdown else "")
            + "var l=function(){var s=d.createElement('script');s.async=true;s.src=src;"
            "if(nonce){s.nonce=nonce;}var x=d.getElementsByTagName('script')[0];"
            "x.parentNode.insertBefore(s,x);};"
            "if(d.readyState==='complete'){l();}else{w.addEventListener('load',l,false);}"
            "})();\n</script>"
        )

    def render(
        self,
        user: Callable[[], UserData | None] | UserData | None,
        *,
        nonce: str | None = None,
        shutdown: bool = False,
    ) -> str:
        """The snippet for one request, or "" when identity verification is unavailable.

        A page must not break because the store is down: past ``max_stale`` (or on any store
        error) the Messenger is left out, rather than booted unverified, and a warning is logged.
        So is a user it cannot sign (IdentifierError: an email-only user in JWT mode, user data
        with a reserved key): that user's pages still render. ``user`` may be a function giving
        the user data, so that its errors are caught too.
        """
        settings = self.settings_or_none(user)
        if settings is None:
            return ""
        return self.snippet(settings, nonce=nonce, shutdown=shutdown)

    def settings_or_none(
        self, user: Callable[[], UserData | None] | UserData | None
    ) -> IntercomSettings | None:
        """:meth:`settings`, or None (logged) when the store or the user data fails."""
        try:
            return self.settings(user() if callable(user) else user)
        except (StoreError, IdentifierError) as err:
            log.warning("Intercom Messenger left out of the page: %s", err)
            return None

    def render_page(
        self,
        user: Callable[[], UserData | None] | UserData | None,
        session: Any,
        *,
        nonce: str | None = None,
    ) -> str:
        """:meth:`render` with the logout's shutdown from ``session`` (a framework's session).

        The shutdown flag is taken out of the session only once a snippet carrying it is on the
        page: a page that leaves the Messenger out keeps it for the next one.
        """
        shutdown = session is not None and bool(session.get(SHUTDOWN_SESSION_KEY, False))
        markup = self.render(user, nonce=nonce, shutdown=shutdown)
        if shutdown and markup:
            session.pop(SHUTDOWN_SESSION_KEY, None)
        return markup

    # -- checks ----------------------------------------------------------------------------

    def problems(self) -> list[Problem]:
        """What stops this deployment from serving the Messenger (empty when all is well).

        Loads the configuration, finds the served workspace and its app id, and reads the web
        secret (once, through the cache), as Django's ``manage.py check`` and the Flask and
        FastAPI checks report it.
        """
        try:
            self.config()
            workspace = self.served_workspace()
            self.app_id()
        except ConfigError as err:
            return [Problem("ivsecrets.E001", str(err), err.fix or "")]
        try:
            fingerprint = self.hasher(Platform.web).fingerprint
        except ConfigError as err:
            return [Problem("ivsecrets.E002", str(err), err.fix or "")]
        except StoreError as err:
            return [
                Problem(
                    "ivsecrets.E003",
                    f"the web secret of workspace {workspace!r} cannot be read: {err}",
                    "check the store and its credentials ('ivsecrets verify' tells more)",
                )
            ]
        log.debug("Messenger integration ready: web/%s signs with %s", workspace, fingerprint)
        return []

    def check(self) -> None:
        """Raise ConfigError listing :meth:`problems`, if any (for startup hooks)."""
        found = self.problems()
        if found:
            raise ConfigError("; ".join(p.message for p in found), fix=found[0].hint or None)


def identity_response(
    messenger: Messenger,
    platform: str,
    user: Callable[[], UserData | None] | UserData | None,
    *,
    expires_in: float | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON body and headers of ``GET .../intercom/identity/<platform>``.

    ``user`` is the authenticated user's data from the framework's session (or a function giving
    it), never anything from the request. 404 for a platform that is not one of web/ios/android
    or not configured for the workspace, 401 without a user, 503 (no detail, logged) when the
    platform's secret cannot be read. Every answer carries ``Cache-Control: no-store``.
    """
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if platform not in {p.value for p in Platform}:
        return 404, {"error": "unknown platform"}, headers
    try:
        data = user() if callable(user) else user
    except IdentifierError as err:
        log.warning("Intercom identity for %s unavailable for this user: %s", platform, err)
        return 503, {"error": UNAVAILABLE}, headers
    if data is None:
        return 401, {"error": "authentication required"}, headers
    try:
        body = messenger.identity(platform, data, expires_in=expires_in)
    except ConfigError as err:
        if _platform_not_configured(messenger, platform):
            return 404, {"error": "platform not configured"}, headers
        log.error("Intercom identity endpoint misconfigured: %s", err)
        return 503, {"error": UNAVAILABLE}, {**headers, "Retry-After": "30"}
    except StoreError as err:
        log.warning("Intercom identity for %s unavailable: %s", platform, err)
        return 503, {"error": UNAVAILABLE}, {**headers, "Retry-After": "30"}
    except IdentifierError as err:  # this user cannot be signed: not theirs to fix, no detail
        log.warning("Intercom identity for %s unavailable for this user: %s", platform, err)
        return 503, {"error": UNAVAILABLE}, headers
    return 200, body, headers


def _platform_not_configured(messenger: Messenger, platform: str) -> bool:
    try:
        messenger.config().environment(platform, messenger.served_workspace())
    except IVSecretsError:
        return True
    return False
