"""The HTTP transport under the Intercom client: one ``http.client`` connection per request.

Injected into :class:`~ivsecrets.intercom.client.IntercomClient` (``transport=``), so tests can put
faults exactly where they happen: before sending, after sending with the answer lost.

A transport answers or raises within ``timeout`` seconds in all (a server that drips its answer a
byte at a time does not stretch it), reads at most :data:`MAX_RESPONSE_BYTES` of a body, and never
lets the bearer token reach a repr, a message or a chained exception: :class:`RequestHeaders` keeps
it as a :class:`~ivsecrets.secret.SecretValue` until the moment it is written to the socket.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import ssl
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from time import monotonic
from typing import Protocol
from urllib.parse import SplitResult, unquote, urlsplit

from ivsecrets.secret import SecretValue

__all__ = [
    "MAX_RESPONSE_BYTES",
    "HTTPResponse",
    "RequestHeaders",
    "ResponseTooLargeError",
    "Transport",
    "TransportError",
    "http_client_transport",
]

#: The largest response body read (Intercom's answers are a few KiB; a list of every secret of a
#: workspace stays far below this).
MAX_RESPONSE_BYTES = 1 << 20
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class HTTPResponse:
    """A raw HTTP response; header names lower-case. The body may hold a new secret (the answer
    to a create), so the repr leaves it out."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)


class RequestHeaders(Mapping[str, str]):
    """Request headers whose ``Authorization`` value stays a SecretValue until it is looked up
    (by the transport, to write it). Its repr, and so any traceback that shows locals, reads
    ``<redacted>`` instead."""

    __slots__ = ("_authorization", "_plain")

    def __init__(self, plain: Mapping[str, str], authorization: SecretValue | None = None) -> None:
        self._plain = dict(plain)
        self._authorization = authorization

    def __getitem__(self, name: str) -> str:
        if name == "Authorization" and self._authorization is not None:
            return self._authorization.reveal().decode("latin-1")
        return self._plain[name]

    def __iter__(self) -> Iterator[str]:
        if self._authorization is not None:
            yield "Authorization"
        yield from self._plain

    def __len__(self) -> int:
        return len(self._plain) + (self._authorization is not None)

    def __repr__(self) -> str:
        shown = {
            name: "<redacted>" if name == "Authorization" else self._plain[name] for name in self
        }
        return f"RequestHeaders({shown})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("request headers carry a token and cannot be pickled")


class TransportError(Exception):
    """No HTTP response. ``sent`` is False only when the request surely never reached the server."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class ResponseTooLargeError(TransportError):
    """The server answered with a body over the size limit; it was not read."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message, sent=True)
        self.status = status


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
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
    *,
    max_body: int = MAX_RESPONSE_BYTES,
) -> HTTPResponse:
    """The default transport: one ``http.client`` connection per request, no redirects.

    A fresh connection each time keeps "did it reach Intercom?" answerable: a failure while
    connecting means not sent; a reused keep-alive connection could fail either way. Redirects are
    not followed, so the token never goes to another host. ``HTTPS_PROXY``/``NO_PROXY`` are honoured
    through a CONNECT tunnel. ``timeout`` bounds the whole exchange: a watchdog shuts the socket
    down when it runs out. A body over ``max_body`` bytes raises :class:`ResponseTooLargeError`.

    Failures are raised unchained: the socket errors underneath hold the bytes that were being
    written, the Authorization header among them.
    """
    deadline = monotonic() + timeout
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
                del user_pass
            conn.set_tunnel(host, parts.port or 443, headers=tunnel_headers)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    failure: TransportError | None = None
    watchdog = threading.Timer(max(0.0, deadline - monotonic()), _shut, (conn,))
    watchdog.daemon = True
    try:
        watchdog.start()
        try:
            conn.connect()
        except OSError as err:
            failure = TransportError(f"could not connect: {type(err).__name__}", sent=False)
        if failure is None:
            try:
                return _exchange(conn, method, target, headers, body, deadline, max_body)
            except ResponseTooLargeError as err:
                failure = ResponseTooLargeError(str(err), status=err.status)
            except (OSError, http.client.HTTPException) as err:
                late = monotonic() >= deadline
                failure = TransportError(
                    f"no complete response within {timeout:g} s"
                    if late
                    else f"no response: {type(err).__name__}",
                    sent=True,
                )
    finally:
        watchdog.cancel()
        conn.close()
    assert failure is not None
    raise failure


def _exchange(
    conn: http.client.HTTPConnection,
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes | None,
    deadline: float,
    max_body: int,
) -> HTTPResponse:
    conn.putrequest(method, target)
    for name in headers:
        conn.putheader(name, headers[name])
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    status = response.status
    length = response.getheader("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > max_body:
        raise ResponseTooLargeError(
            f"HTTP {status} answer of {int(length)} bytes is over the {max_body}-byte limit",
            status=status,
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        if monotonic() >= deadline:
            raise TimeoutError("deadline")
        chunk = response.read(min(_CHUNK, max_body + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_body:
            chunks.clear()
            raise ResponseTooLargeError(
                f"HTTP {status} answer is over the {max_body}-byte limit", status=status
            )
    return HTTPResponse(status, {k.lower(): v for k, v in response.getheaders()}, b"".join(chunks))


def _shut(conn: http.client.HTTPConnection) -> None:
    """The watchdog: end a blocked read when the deadline passes (from another thread)."""
    sock = conn.sock
    if sock is not None:
        # socket.socket's own shutdown, not SSLSocket's, which would unwrap mid-read.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _https_proxy(host: str) -> SplitResult | None:
    proxy = urllib.request.getproxies().get("https")
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")
