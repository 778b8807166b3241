"""How the ``vault`` store talks to Vault: never sending its token where it should not go.

hvac follows redirects, and requests strips only ``Authorization`` on a cross-host redirect, so a
redirect to another host would receive ``X-Vault-Token``: :func:`same_host_only` refuses it. And a
token sent over plain http or to an unverified server is warned about.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ivsecrets.config import is_loopback
from ivsecrets.errors import StoreUnavailableError

if TYPE_CHECKING:
    import requests

__all__ = ["same_host_only", "warn_if_unprotected"]

log = logging.getLogger("ivsecrets")


def warn_if_unprotected(store: str, url: str, *, verify: bool) -> None:
    """Warn when the token would cross a network unprotected (the caller warns once per store)."""
    parts = urlsplit(url)
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        log.warning(
            "store '%s': Vault at %s is reached over plain http: its token and the secrets "
            "cross the network unencrypted; use https",
            store,
            parts.netloc,
        )
    if not verify:
        log.warning(
            "store '%s': verify = false: Vault's TLS certificate is not checked, so anyone "
            "on the path can pose as Vault and receive its token; set ca_cert instead",
            store,
        )


def same_host_only(session: requests.Session) -> requests.Session:
    """``session``, made to refuse a redirect to another host.

    hvac follows redirects, and requests strips only ``Authorization`` on a cross-host redirect:
    ``X-Vault-Token`` would go to whichever host a redirect names. The hook runs before requests
    follows a redirect, for every response of the session.
    """
    if _refuse_cross_host_redirect not in session.hooks["response"]:
        session.hooks["response"].append(_refuse_cross_host_redirect)
    return session


def _another_host(old: str, new: str) -> bool:
    """Whether a redirect leaves the host (and port) it came from; http to https is not."""
    a, b = urlsplit(old), urlsplit(new)
    ports = {"http": 80, "https": 443}
    port_a, port_b = a.port or ports.get(a.scheme), b.port or ports.get(b.scheme)
    upgrade = (a.scheme, port_a, b.scheme, port_b) == ("http", 80, "https", 443)
    return a.hostname != b.hostname or (port_a != port_b and not upgrade)


def _refuse_cross_host_redirect(response: requests.Response, **_: Any) -> None:
    if not response.is_redirect:
        return
    import requests

    target = requests.compat.urljoin(response.url, response.headers["location"])
    if _another_host(response.url, target):
        response.close()
        raise StoreUnavailableError(
            f"Vault at {urlsplit(response.url).netloc} redirected to another host "
            f"({urlsplit(target).netloc}); refused, so that its token is not sent there: set "
            "url to the address that answers (the active node or its load balancer)"
        )
