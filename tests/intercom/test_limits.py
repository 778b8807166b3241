"""The Intercom client's bounds and base-URL rules (issue 10, items 19, 20 and 23).

Slow and oversized answers come from a real local HTTP server (raw sockets, so it can drip a
byte at a time or announce a 400 MiB body); the rest runs against the Intercom fake.
"""

from __future__ import annotations

import contextlib
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import pytest

from ivsecrets.config import WorkspaceConfig
from ivsecrets.environments import Platform
from ivsecrets.errors import ConfigError, IntercomAPIError
from ivsecrets.intercom import IntercomClient, IntercomUnavailableError, RetryPolicy
from ivsecrets.intercom.transport import HTTPResponse, http_client_transport
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.intercom import FAST_RETRY


class RawServer:
    """A loopback server answering every connection with ``answer(sock)`` in a thread."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.sent = 0
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            with contextlib.suppress(OSError):  # the client gave up: what the tests want
                self.answer(conn)

    def send(self, conn: socket.socket, data: bytes) -> None:
        if self._stop.is_set():
            raise OSError("stopped")
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[RawServer, socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[RawServer, socket.socket], None]) -> RawServer:
        server: RawServer
        server = RawServer(lambda conn: answer(server, conn))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def client_for(base_url: str, **options: object) -> IntercomClient:
    settings: dict[str, object] = {"workspace": "test", "retry": FAST_RETRY}
    settings.update(options)
    return IntercomClient("token-for-limits-test", base_url=base_url, **settings)  # type: ignore[arg-type]


# --- item 20: an overall deadline per call ------------------------------------------------------


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_server_dripping_a_byte_every_1_5_s_fails_at_the_deadline(
    raw_server: Callable[..., RawServer], where: str
) -> None:
    def drip(server: RawServer, conn: socket.socket) -> None:
        body = b'{"type": "list", "data": []}'
        answer = HEAD % len(body) + body
        start = answer.index(b"\r\n\r\n") + 4 if where == "body" else 0
        server.send(conn, answer[:start])
        for i in range(start, len(answer)):
            time.sleep(1.5)
            server.send(conn, answer[i : i + 1])

    server = raw_server(drip)
    client = client_for(server.base_url, timeout=2.0)
    started = time.monotonic()
    with pytest.raises(IntercomUnavailableError, match="within the 2 s timeout"):
        client.list()
    elapsed = time.monotonic() - started
    assert elapsed < 3.5, f"the call ran {elapsed:.1f} s with timeout=2"


def test_retries_and_their_waits_stay_within_the_deadline(intercom_api: FakeIntercomAPI) -> None:
    intercom_api.fail_next("list", 503, times=6)
    client = IntercomClient(
        intercom_api.token,
        base_url=intercom_api.base_url,
        retry=RetryPolicy(attempts=6, backoff_base=1.0, backoff_max=2.0),
        timeout=1.5,
    )
    started = time.monotonic()
    with pytest.raises(IntercomUnavailableError, match="timeout"):
        client.list()
    assert time.monotonic() - started < 2.5


def test_a_retry_after_beyond_the_deadline_is_not_waited(intercom_api: FakeIntercomAPI) -> None:
    intercom_api.fail_next("list", 429, retry_after=5)
    waits: list[float] = []
    client = IntercomClient(
        intercom_api.token, base_url=intercom_api.base_url, timeout=2.0, sleep=waits.append
    )
    with pytest.raises(IntercomAPIError, match="retry after 5s"):
        client.list()
    assert waits == []


# --- item 20: a response size limit -------------------------------------------------------------


def test_a_400_mib_body_is_refused_unread(raw_server: Callable[..., RawServer]) -> None:
    def huge(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, HEAD % (400 << 20))
        block = b" " * (1 << 20)
        for _ in range(32):  # more than the limit, far less than announced
            server.send(conn, block)

    server = raw_server(huge)
    with pytest.raises(IntercomAPIError, match="over the 1048576-byte limit") as caught:
        client_for(server.base_url).list()
    assert not isinstance(caught.value, IntercomUnavailableError)  # an answer: not retried
    assert server.connections == 1
    assert server.sent < 16 << 20


def test_a_body_without_length_is_read_up_to_the_limit_only(
    raw_server: Callable[..., RawServer],
) -> None:
    def endless(server: RawServer, conn: socket.socket) -> None:
        server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        block = b"[" * (1 << 20)
        for _ in range(32):
            server.send(conn, block)

    server = raw_server(endless)
    client = client_for(server.base_url, max_response_bytes=256 << 10)
    with pytest.raises(IntercomAPIError, match="over the 262144-byte limit"):
        client.list()
    assert server.sent < 16 << 20


# --- item 19: only Intercom's hosts get the token -----------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.intercom.io",
        "https://api.eu.intercom.io/",
        "https://api.au.intercom.io",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "https://[::1]:8443",
    ],
)
def test_intercom_and_loopback_hosts_are_accepted(url: str) -> None:
    assert IntercomClient("tok", base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "https://collector.example",
        "https://api.intercom.io.evil.example",
        "https://intercom.io",
        "https://169.254.169.254/latest",
    ],
)
def test_other_hosts_need_the_explicit_setting(url: str) -> None:
    with pytest.raises(ConfigError, match="not one of Intercom's API hosts") as caught:
        IntercomClient("tok", base_url=url)
    assert "allow_custom_intercom_host" in str(caught.value)
    workspace = WorkspaceConfig(
        "prod", (Platform.web,), intercom_token_env="T", intercom_base_url=url
    )
    with pytest.raises(ConfigError, match="not one of Intercom's API hosts") as caught:
        IntercomClient.from_workspace(workspace, {"T": "tok"})
    assert caught.value.key == "workspace.prod.intercom_base_url"

    assert IntercomClient("tok", base_url=url, allow_custom_host=True).base_url == url
    allowing = WorkspaceConfig(
        "prod",
        (Platform.web,),
        intercom_token_env="T",
        intercom_base_url=url,
        allow_custom_intercom_host=True,
    )
    assert IntercomClient.from_workspace(allowing, {"T": "tok"}).base_url == url
    with pytest.raises(ConfigError, match="base URL"):  # still https only
        IntercomClient("tok", base_url=url.replace("https", "http"), allow_custom_host=True)


def test_the_base_urls_userinfo_never_shows() -> None:
    url = "https://admin:pw-0123456789@api.intercom.io"
    with pytest.raises(ConfigError) as caught:
        IntercomClient("tok", base_url=url, allow_custom_host=True)
    assert "pw-0123456789" not in str(caught.value) and "admin" not in str(caught.value)
    assert "***@api.intercom.io" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        IntercomClient("tok", base_url="http://admin:pw-0123456789@collector.example")
    assert "pw-0123456789" not in str(caught.value)


# --- item 23: configuration mistakes are ConfigErrors, not ValueError or UnicodeEncodeError ----


@pytest.mark.parametrize("url", ["https://api.intercom.io:99999", "http://127.0.0.1:-1"])
def test_a_port_out_of_range_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="invalid port"):
        IntercomClient("tok", base_url=url, workspace="prod")


@pytest.mark.parametrize("token", ["tok-\u2603-0123456789", "tok-é-0123456789", "tok\x00abc"])
def test_a_token_a_header_cannot_carry_is_a_config_error(token: str) -> None:
    with pytest.raises(ConfigError, match="visible ASCII") as caught:
        IntercomClient(token, workspace="prod")
    assert "0123456789" not in str(caught.value)
    with pytest.raises(ConfigError, match="visible ASCII"):
        IntercomClient.from_workspace(
            WorkspaceConfig("prod", (Platform.web,), intercom_token_env="T"), {"T": token}
        )


# --- item 18: the token travels redacted ---------------------------------------------------------


def test_the_token_travels_as_headers_whose_repr_is_redacted(intercom_api: FakeIntercomAPI) -> None:
    seen: list[Mapping[str, str]] = []

    def keeping(
        method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HTTPResponse:
        seen.append(headers)
        return http_client_transport(method, url, headers, body, timeout)

    IntercomClient(intercom_api.token, base_url=intercom_api.base_url, transport=keeping).list()
    [headers] = seen
    assert headers["Authorization"] == f"Bearer {intercom_api.token}"  # what is sent
    for shown in (repr(headers), str(headers), f"{headers}", repr(list(headers.items())[1:])):
        assert intercom_api.token not in shown
    assert "'Authorization': '<redacted>'" in repr(headers)
    with pytest.raises(TypeError):
        pickle.dumps(headers)
