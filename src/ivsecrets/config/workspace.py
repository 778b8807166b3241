"""Each workspace's Intercom settings, and the one check of where its API token may go.

``[workspace.NAME]`` tables give a workspace's platforms, Intercom region or API URL, the
environment variable holding its API token and its app id. The token is sent to the API URL as a
bearer token, so :func:`check_intercom_base_url` (called here when a configuration is loaded, and
by :class:`~ivsecrets.intercom.IntercomClient` for a URL given by hand) is the only rule for where
it may go; the token variable may not name a variable that holds another credential.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ivsecrets.config.model import WorkspaceConfig
from ivsecrets.config.network import is_loopback
from ivsecrets.config.origins import Table
from ivsecrets.environments import Platform
from ivsecrets.errors import ConfigError, closest, quoted

__all__ = [
    "APP_ID_PATTERN",
    "INTERCOM_API_HOSTS",
    "INTERCOM_BASE_URLS",
    "INTERCOM_REGIONS",
    "REFUSED_TOKEN_VARIABLES",
    "TOKEN_VARIABLE_PATTERN",
    "check_intercom_base_url",
    "default_token_variable",
    "workspace_settings",
]

# Intercom app ids are short lower-case alphanumerics (e.g. "abc12def"); others are paste errors.
APP_ID_PATTERN = re.compile(r"^[a-z0-9]{4,16}$")
# Each region's API URL (``intercom_region``); Intercom's docs list these three.
INTERCOM_BASE_URLS: Mapping[str, str] = MappingProxyType(
    {
        "us": "https://api.intercom.io",
        "eu": "https://api.eu.intercom.io",
        "au": "https://api.au.intercom.io",
    }
)
INTERCOM_REGIONS = tuple(INTERCOM_BASE_URLS)
# Where ``intercom_base_url`` may point without ``allow_custom_intercom_host = true``: Intercom's
# API hosts (https only), or this machine (tests, a local fake). The token goes to that host.
INTERCOM_API_HOSTS = ("api.intercom.io", "api.eu.intercom.io", "api.au.intercom.io")
TOKEN_VARIABLE_PATTERN = re.compile(r"\A[A-Z_][A-Z0-9_]*\Z")
# Environment variables that hold some other credential: ``intercom_token_env`` may not name them,
# so that a config cannot send them to a host as the Intercom bearer token. Documented in README.md
# ("Configuration"); the secret variables of the embedded default (IVSECRETS_<PLATFORM>_<WS>) and
# IVSECRETS_CONFIG are refused as well.
REFUSED_TOKEN_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_SECRET_ID",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "CLOUDSDK_AUTH_ACCESS_TOKEN",
        "AZURE_CLIENT_SECRET",
        "ARM_CLIENT_SECRET",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CI_JOB_TOKEN",
        "CI_JOB_JWT",
        "CI_JOB_JWT_V2",
        "CI_REGISTRY_PASSWORD",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "TWINE_PASSWORD",
        "PYPI_TOKEN",
        "DOCKER_PASSWORD",
        "HEROKU_API_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DJANGO_SECRET_KEY",
    }
)
_SECRET_VARIABLE = re.compile(r"\AIVSECRETS_(?:WEB|IOS|ANDROID|CONFIG)(?:_[A-Z0-9_]*)?\Z")


def workspace_settings(
    table: Table, names: tuple[str, ...], platforms: tuple[Platform, ...]
) -> dict[str, WorkspaceConfig]:
    """Each workspace's ``[workspace.NAME]`` table: its platforms and Intercom settings."""
    for name in table.data:
        if name not in names:
            close = closest(name, names) if quoted(name) == repr(name) else []
            raise table.error(
                name,
                f"workspace {quoted(name)} is not in workspaces",
                fix=(f"did you mean {close[0]!r}? " if close else "")
                + f"add {quoted(name)} to workspaces = [...] or remove this table",
            )
    settings = {}
    for name in names:
        ws = table.table(name)
        ws.only(
            "platforms",
            "intercom_region",
            "intercom_token_env",
            "intercom_base_url",
            "allow_custom_intercom_host",
            "app_id",
        )
        region = ws.get("intercom_region", str, "us")
        if region not in INTERCOM_REGIONS:
            raise ws.error(
                "intercom_region",
                f"unknown Intercom region {quoted(region)}",
                fix="one of: " + ", ".join(INTERCOM_REGIONS),
            )
        allow_custom = ws.get("allow_custom_intercom_host", bool, False)
        settings[name] = WorkspaceConfig(
            name=name,
            platforms=ws.get_platforms("platforms", platforms),
            intercom_region=region,
            intercom_token_env=_token_variable(ws, name),
            intercom_base_url=_base_url(ws, allow_custom),
            allow_custom_intercom_host=allow_custom,
            app_id=_app_id(ws),
        )
    return settings


def _app_id(ws: Table) -> str | None:
    app_id = ws.get("app_id", str, "")
    if app_id and not APP_ID_PATTERN.fullmatch(app_id):
        raise ws.error(
            "app_id",
            f"not an Intercom app id: {quoted(app_id)}",
            fix="paste the app id from Intercom's Messenger settings "
            '(4-16 lower-case letters and digits, e.g. app_id = "abc12def")',
        )
    return app_id or None


def _token_variable(ws: Table, workspace: str) -> str:
    """``intercom_token_env``: a variable name, and not one that holds another credential."""
    default = default_token_variable(workspace)
    name = ws.get("intercom_token_env", str, default)
    if not TOKEN_VARIABLE_PATTERN.fullmatch(name):
        raise ws.error(
            "intercom_token_env",
            f"{quoted(name)} is not an environment variable name "
            "(upper-case letters, digits and '_', not starting with a digit)",
            fix=f'intercom_token_env = "{default}"',
        )
    if name in REFUSED_TOKEN_VARIABLES or _SECRET_VARIABLE.fullmatch(name):
        raise ws.error(
            "intercom_token_env",
            f"{name} holds another credential or secret; ivsecrets would send its value to "
            "Intercom's API as the bearer token",
            fix=f'keep the Intercom API token in a variable of its own, e.g. "{default}"',
        )
    return name


def default_token_variable(workspace: str) -> str:
    """The variable a workspace's API token is read from when ``intercom_token_env`` is unset.

    >>> default_token_variable("prod-eu")
    'IVSECRETS_INTERCOM_TOKEN_PROD_EU'
    """
    return f"IVSECRETS_INTERCOM_TOKEN_{workspace.upper().replace('-', '_')}"


def api_base_url(workspace: WorkspaceConfig) -> str:
    """The base URL of the workspace's Intercom API: ``intercom_base_url``, else its region's
    host. ConfigError for a region with no host."""
    base_url = workspace.intercom_base_url or INTERCOM_BASE_URLS.get(workspace.intercom_region)
    if base_url is None:
        raise ConfigError(
            f"unknown Intercom region {workspace.intercom_region!r}",
            key=f"workspace.{workspace.name}.intercom_region",
            fix="one of: " + ", ".join(INTERCOM_BASE_URLS),
        )
    return base_url


def _base_url(ws: Table, allow_custom: bool) -> str | None:
    url = ws.get("intercom_base_url", str, "")
    if not url:
        return None
    key = "intercom_base_url"
    check_intercom_base_url(url, allow_custom=allow_custom, file=ws.file_of(key), key=ws.path(key))
    return url


_EXAMPLE = 'e.g. intercom_base_url = "https://api.eu.intercom.io"'


def check_intercom_base_url(
    url: str, *, allow_custom: bool = False, file: str | None = None, key: str | None = None
) -> None:
    """ConfigError unless a workspace's API token may be sent to ``url``.

    Allowed: Intercom's API hosts over https on port 443, or this machine (http or https, any
    port); with ``allow_custom`` (``allow_custom_intercom_host = true``) any host over https. Never
    a user name or password, a query or a fragment. ``file`` and ``key`` locate the URL in the
    error; the message shows the URL with any user name and password replaced by ``***``.
    """
    parts = None
    with contextlib.suppress(ValueError):  # raised below, outside a handler: nothing chained
        parts = urlsplit(url)
    if parts is None:  # unparsed, so not shown: it may hold a password
        raise ConfigError(
            "the Intercom API base URL is not a valid URL (an invalid host)",
            file=file,
            key=key,
            fix=_EXAMPLE,
        )
    found = _url_problem(parts, allow_custom, key)
    if found is not None:
        problem, fix = found
        raise ConfigError(
            f"the Intercom API base URL {_shown_url(parts)!r} {problem}",
            file=file,
            key=key,
            fix=fix,
        )


def _url_problem(parts: SplitResult, allow_custom: bool, key: str | None) -> tuple[str, str] | None:
    """What makes the URL unfit to receive the token, and the fix; None if it is fit."""
    try:
        port = parts.port
    except ValueError:
        return "is not a valid URL (an invalid port or host)", _EXAMPLE
    host = (parts.hostname or "").lower()
    local = is_loopback(host)
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http or https URL with a host", _EXAMPLE
    if parts.username is not None or parts.password is not None:
        return (
            "carries a user name or password, which is never sent (the token goes in the "
            "Authorization header, read from intercom_token_env)",
            "remove the 'user:password@' part",
        )
    if parts.query or parts.fragment:
        return "must not carry a query or a fragment", "remove the part from '?' or '#'"
    if port == 0:
        return "has port 0, not a port a server listens on", "a port 1-65535"
    if host in INTERCOM_API_HOSTS and not allow_custom:
        if parts.scheme != "https":
            return "must use https: Intercom's API is reached over https", "use https://"
        if port not in (None, 443):
            return f"names port {port}, which Intercom's API has not", "leave out the port"
    elif not local and not allow_custom:
        table = f"[{key.rpartition('.')[0]}]" if key and "." in key else "the workspace"
        return (
            f"is not one of Intercom's API hosts ({', '.join(INTERCOM_API_HOSTS)}) or this "
            "machine; the API token would be sent to it",
            "use intercom_region, or an Intercom host; for a proxy of your own also set "
            f"allow_custom_intercom_host = true in {table}",
        )
    if parts.scheme != "https" and not local:
        return (
            "uses plain http: the API token would cross the network unencrypted",
            "use https:// (plain http only to this machine)",
        )
    return None


def _shown_url(parts: SplitResult) -> str:
    """A URL for messages: any user name or password replaced by ``***``."""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=("***@" if "@" in parts.netloc else "") + netloc))
