"""The policy for options that bear a credential: where a store's credentials may be sent, and
which environment variables and files they may be read from.

Whoever edits the configuration file chooses these values, and the process sends what they name
with its own credentials: ``token_env = "AWS_SECRET_ACCESS_KEY"`` and a ``url`` of theirs would
send that variable to their server. So by default a value must be the store's conventional one,
and a URL or endpoint must be reached over https unless it is this machine; the store's
``allow_custom_credentials = true`` lifts both (docs: README, "The config file is code").

An option declares what it bears with ``Option(credential=..., conventional=...)``:

- ``"url"``: a URL that receives credentials (``http://`` only to a loopback host);
  ``conventional``: host names it may point at, a leading dot for a domain and its subdomains
  (empty: any host over https);
- ``"endpoint"``: the same for ``host[:port]`` (the SDK adds TLS);
- ``"variable"``: the name of an environment variable holding a credential; ``conventional``:
  the names allowed;
- ``"file"``: the path of a file holding a credential; ``conventional``: the paths allowed, one
  ending in ``/`` for any file directly inside that directory.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from ivsecrets.config import StoreConfig, is_loopback

if TYPE_CHECKING:
    from ivsecrets.provider.options import Option

__all__ = [
    "CREDENTIAL_KINDS",
    "ESCAPE",
    "check_credentials",
    "credential_problem",
    "declares_escape",
]

CREDENTIAL_KINDS = ("url", "endpoint", "variable", "file")
#: The option that lifts the policy for one store.
ESCAPE = "allow_custom_credentials"


def check_credentials(
    store: StoreConfig, options: Mapping[str, Option], settings: Mapping[str, Any]
) -> None:
    """ConfigError (naming the file, the key and the fix) for the first option the
    configuration sets against the policy; defaults are the plugin's own conventional choice."""
    custom = bool(settings.get(ESCAPE))
    for name in store.options:
        found = options[name].credential_problem(settings[name])
        if found is None:
            continue
        problem, fix, escapable = found
        if escapable and custom:
            continue
        if escapable:
            table = (store.error(name, "").key or "").rpartition(".")[0]
            fix += (
                "; or, if whoever may edit this file is trusted with the credentials, "
                f"set {ESCAPE} = true in [{table}]"
            )
        raise store.error(name, problem, fix=fix)


def declares_escape(plugin: str, options: Mapping[str, Option]) -> None:
    """TypeError unless a plugin with credential options declares ``allow_custom_credentials``."""
    if ESCAPE not in options and any(option.credential for option in options.values()):
        raise TypeError(
            f"{plugin} declares credential options: declare {ESCAPE} too "
            "(ivsecrets.provider.options.ALLOW_CUSTOM_CREDENTIALS)"
        )


def credential_problem(
    kind: str, conventional: tuple[str, ...], value: str
) -> tuple[str, str, bool] | None:
    """What makes ``value`` unfit for an option of this kind: the problem, the fix, and whether
    ``allow_custom_credentials`` would accept it (False: it is invalid either way). None: fit.

    >>> credential_problem("variable", ("VAULT_TOKEN",), "VAULT_TOKEN") is None
    True
    >>> credential_problem("url", (), "http://127.0.0.1:8200") is None
    True
    >>> credential_problem("url", (), "http://vault.example")[2]
    True
    """
    if not value:
        return None  # unset: the plugin's default (or the SDK's environment) applies
    if kind == "variable":
        if value in conventional:
            return None
        return (
            f"{value!r} is not one of the variables conventionally holding this credential "
            f"({', '.join(conventional)}): the configuration would choose which of this "
            "process's environment variables is sent to the store",
            "use " + " or ".join(conventional),
            True,
        )
    if kind == "file":
        if _file_allowed(value, conventional):
            return None
        return (
            f"{value!r} is not one of the files conventionally holding this credential "
            f"({', '.join(_shown_path(p) for p in conventional)}): the configuration would "
            "choose which file of this machine is sent to the store",
            "use " + " or ".join(_shown_path(p) for p in conventional),
            True,
        )
    return _address_problem(kind, conventional, value)


def _file_allowed(value: str, conventional: tuple[str, ...]) -> bool:
    path = posixpath.normpath(value)  # no way out of an allowed directory through ".."
    for allowed in conventional:
        if allowed.endswith("/"):
            head, _, name = path.rpartition("/")
            if head + "/" == allowed and name:
                return True
        elif path == allowed:
            return True
    return False


def _shown_path(path: str) -> str:
    return path + "<file>" if path.endswith("/") else path


def _address_problem(
    kind: str, conventional: tuple[str, ...], value: str
) -> tuple[str, str, bool] | None:
    parts: SplitResult | None = None
    with contextlib.suppress(ValueError):
        parts = urlsplit(value if kind == "url" or "://" in value else "//" + value)
        parts.port  # noqa: B018 - raises ValueError for an invalid port
    example = "https://HOST[:PORT]" if kind == "url" else "HOST[:PORT]"
    if parts is None or not parts.hostname:
        return f"{_shown(value)!r} is not a valid address (no host)", f"use {example}", False
    if kind == "url" and parts.scheme not in ("http", "https"):
        return f"{_shown(value)!r} must be an http or https URL", f"use {example}", False
    host = parts.hostname.lower()
    local = is_loopback(host)
    if conventional and not local and not any(_under(host, c) for c in conventional):
        return (
            f"{host!r} is not one of the hosts of this store's service "
            f"({', '.join(conventional)}) or this machine: the store's credentials would be "
            "sent to it",
            "leave it out to use the service's own endpoint, or name one of those hosts",
            True,
        )
    if parts.scheme == "http" and not local:
        return (
            f"{_shown(value)!r} uses plain http to another machine: the store's credentials "
            "would cross the network unencrypted",
            "use https:// (plain http only to this machine: localhost, 127.0.0.1, [::1])",
            True,
        )
    return None


def _under(host: str, allowed: str) -> bool:
    return host.endswith(allowed) if allowed.startswith(".") else host == allowed


def _shown(value: str) -> str:
    """An address for messages: any ``user:password@`` replaced by ``***@``."""
    scheme, sep, rest = value.rpartition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    return scheme + sep + netloc + slash + path
