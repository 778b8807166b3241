"""The HTTP transport under the Intercom client: one ``http.client`` connection per request.

Injected into :class:`~ivsecrets.intercom.client.IntercomClient` (``transport=``), so tests can put
faults exactly where they happen: before sending, after sending with the answer lost.
"""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

__all__ = ["HTTPResponse", "Transport", "TransportError", "http_client_transport"]


@dataclass(frozen=True)
class HTTPResponse:
    """A raw HTTP response; header names lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class TransportError(Exception):
    """No HTTP response. ``sent`` is False only when the request surely never reached the server."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class Transport(Protocol):
    """Sends one request; raises :class:`TransportError` when there is no response."""

    def __call__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,
    ) -> HTTPResponse: ...


def http_client_transport(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
) -> HTTPResponse:
    """The default transport: one ``http.client`` connection per request, no redirects.

    A fresh connection each time keeps "did it reach Intercom?" answerable: a failure while
    connecting means not sent; a reused keep-alive connection could fail either way. Redirects are
    not followed, so the token never goes to another host. ``HTTPS_PROXY``/``NO_PROXY`` are honoured
    through a CONNECT tunnel.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        proxy = _https_proxy(host)
        if proxy is None:
            conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPSConnection(
                proxy.hostname or "", proxy.port or 8080, timeout=timeout, context=context
            )
            tunnel_headers = {}
            if proxy.username is not None:
                user_pass = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
                tunnel_headers["Proxy-Authorization"] = (
                    "Basic " + base64.b64encode(user_pass.encode()).decode()
                )
            conn.set_tunnel(host, parts.port or 443, headers=tunnel_headers)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as err:
            raise TransportError(f"could not connect: {type(err).__name__}", sent=False) from err
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as err:
            raise TransportError(f"no response: {type(err).__name__}", sent=True) from err
        return HTTPResponse(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def _https_proxy(host: str) -> SplitResult | None:
    proxy = urllib.request.getproxies().get("https")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")
