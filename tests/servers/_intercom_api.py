"""A stateful fake of Intercom's ``/secure_mode_secrets`` API, held to its OpenAPI description.

Every request the fake handles and every response it sends is validated with openapi-core against
``shared/intercom/secure_mode_secrets.openapi.yaml`` (``$IVSECRETS_INTERCOM_OPENAPI`` overrides the
path), so the fake cannot drift from Intercom's description. A validation failure is recorded, the
client gets a 500, and :meth:`FakeIntercomAPI.check` (run by the fixture's teardown) fails the test.
Responses the description does not list (429, 5xx, 404 outside delete) are validated against its
``error`` schema, the body Intercom sends with every error.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import itertools
import json
import os
import secrets
import socket
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import Headers, ImmutableMultiDict

OPERATIONS = ("list", "create", "delete")
PLATFORMS = ("web", "ios", "android")
SPEC_NAME = "secure_mode_secrets.openapi.yaml"
# The shared research copy is authoritative; the vendored copy (tests/data, MIT, from Intercom's
# public OpenAPI repository) lets a clone without ../shared run, and a test keeps the two equal.
SHARED_SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "intercom" / SPEC_NAME
VENDORED_SPEC = Path(__file__).resolve().parents[1] / "data" / SPEC_NAME
SPEC_PATH = Path(
    os.environ.get("IVSECRETS_INTERCOM_OPENAPI")
    or (SHARED_SPEC if SHARED_SPEC.is_file() else VENDORED_SPEC)
)
# The description lists only Intercom's hosts; this entry (added in memory, the file is untouched)
# lets the fake's URL match. Everything else is validated exactly as published.
LOCAL_SERVER = {
    "url": "http://127.0.0.1:{port}",
    "description": "ivsecrets test fake",
    "variables": {"port": {"default": "80"}},
}


@functools.lru_cache(maxsize=1)
def _description() -> tuple[OpenAPI, OAS30Validator]:
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(
            f"Intercom OpenAPI description not found at {SPEC_PATH}; "
            "set IVSECRETS_INTERCOM_OPENAPI to its path"
        )
    data = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    local = copy.deepcopy(data)
    local["servers"] = [*data["servers"], LOCAL_SERVER]
    error_schema = data["components"]["schemas"]["error"]
    return OpenAPI.from_dict(local), OAS30Validator(error_schema)


# --- state ----------------------------------------------------------------------------------------


@dataclass
class StoredSecret:
    """One secret as Intercom holds it, including its value (the fake knows it; tests may ask)."""

    id: str
    name: str
    secret: str
    supports_web: bool
    supports_ios: bool
    supports_android: bool
    created_at: int
    deleted_at: int | None = None

    def metadata(self) -> dict[str, Any]:
        return {
            "type": "identity_verification_secret",
            "id": self.id,
            "name": self.name,
            "supports_android": self.supports_android,
            "supports_ios": self.supports_ios,
            "supports_web": self.supports_web,
            "created_at": self.created_at,
        }

    def supports(self, platform: str) -> bool:
        return bool(getattr(self, f"supports_{platform}"))


class IntercomState:
    """The workspace's secrets, live and soft-deleted. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.secrets: dict[str, StoredSecret] = {}
        self._ids = itertools.count(101)
        self.clock = lambda: int(time.time())

    def add(
        self,
        name: str = "Legacy secret",
        *,
        web: bool = False,
        ios: bool = False,
        android: bool = False,
        secret: str | None = None,
        created_at: int | None = None,
    ) -> StoredSecret:
        """Create a secret as Intercom would (also used to seed a test's starting state)."""
        with self.lock:
            stored = StoredSecret(
                id=str(next(self._ids)),
                name=name,
                secret=secret or base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
                supports_web=web,
                supports_ios=ios,
                supports_android=android,
                created_at=self.clock() if created_at is None else created_at,
            )
            self.secrets[stored.id] = stored
            return stored

    def live(self) -> list[StoredSecret]:
        """Secrets not deleted, oldest first."""
        with self.lock:
            return [s for s in self.secrets.values() if s.deleted_at is None]

    def get(self, secret_id: str) -> StoredSecret | None:
        with self.lock:
            return self.secrets.get(secret_id)

    def delete(self, secret_id: str) -> bool:
        """Soft-delete; False when unknown or already deleted."""
        with self.lock:
            stored = self.secrets.get(secret_id)
            if stored is None or stored.deleted_at is not None:
                return False
            stored.deleted_at = self.clock()
            return True


# --- faults ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or after) handling one request normally."""

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    after_processing: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    operation: str | None
    method: str
    path: str
    status: int | None  # None: the connection was dropped without an answer


_ERROR_CODES = {
    401: ("unauthorized", "Access Token Invalid"),
    403: ("forbidden", "Access Token does not have the required scopes"),
    404: ("not_found", "Resource Not Found"),
    422: ("parameter_invalid", "Invalid parameters"),
    429: ("rate_limit_exceeded", "Exceeded rate limit of 1000 in 10_seconds"),
}


def error_body(status: int, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    default_code, default_message = _ERROR_CODES.get(status, ("server_error", "Server Error"))
    return {
        "type": "error.list",
        "request_id": str(uuid.uuid4()),
        "errors": [{"code": code or default_code, "message": message or default_message}],
    }


# --- the fake -------------------------------------------------------------------------------------


class FakeIntercomAPI:
    """The fake server: ``base_url``, ``token``, ``state``, fault knobs and request counters."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or "dG9rOnRlc3Q6" + secrets.token_urlsafe(24)
        self.state = IntercomState()
        self.counts: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self._faults: dict[str, deque[Fault]] = {op: deque() for op in OPERATIONS}
        self._stopping = threading.Event()
        self._openapi, self._error_validator = _description()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __repr__(self) -> str:
        return f"FakeIntercomAPI({self.base_url})"

    # lifecycle
    def start(self) -> FakeIntercomAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def check(self) -> None:
        """Raise AssertionError listing every request or response that broke the description."""
        if self.validation_errors:
            raise AssertionError(
                "the Intercom fake saw traffic that does not match the OpenAPI description:\n"
                + "\n".join(self.validation_errors)
            )

    # fault knobs
    def fail_next(
        self,
        operation: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float | str | None = None,
        ratelimit_reset: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``operation`` with ``status`` and an error body
        (429: optional ``Retry-After`` and ``X-RateLimit-Reset`` headers). Nothing is changed."""
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        if ratelimit_reset is not None:
            headers += [
                ("X-RateLimit-Limit", "1000"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(ratelimit_reset)),
            ]
        self._push(operation, Fault(status=status, headers=tuple(headers)), times)

    def drop_next(self, operation: str, *, after_processing: bool = True, times: int = 1) -> None:
        """Close the connection without answering the next ``times`` requests to ``operation``;
        ``after_processing`` first carries the request out (e.g. the secret is created)."""
        self._push(operation, Fault(drop=True, after_processing=after_processing), times)

    def delay_next(self, operation: str, seconds: float, *, times: int = 1) -> None:
        """Wait ``seconds`` before handling the next ``times`` requests (client timeouts)."""
        self._push(operation, Fault(delay=seconds), times)

    def clear_faults(self) -> None:
        with self.state.lock:
            for queue in self._faults.values():
                queue.clear()

    def _push(self, operation: str, fault: Fault, times: int) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {OPERATIONS}")
        with self.state.lock:
            self._faults[operation].extend([fault] * times)

    def _next_fault(self, operation: str) -> Fault | None:
        with self.state.lock:
            queue = self._faults[operation]
            return queue.popleft() if queue else None

    # request handling (called from the server's threads)
    def _route(self, method: str, path: str) -> tuple[str | None, str | None]:
        if path == "/secure_mode_secrets":
            return {"GET": "list", "POST": "create"}.get(method), None
        prefix = "/secure_mode_secrets/"
        if path.startswith(prefix) and "/" not in path[len(prefix) :] and method == "DELETE":
            return "delete", path[len(prefix) :]
        return None, None

    def _handle(self, handler: _Handler) -> None:
        method = handler.command
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        request = _Request(method, self.base_url, url.path, url.query, handler.headers, body)
        operation, secret_id = self._route(method, url.path)
        with self.state.lock:
            self.counts[operation or "unknown"] += 1
            self.counts["total"] += 1
        try:
            self._openapi.validate_request(request)
        except Exception as err:
            self._invalid(f"request {method} {url.path}", err)
            self._send(handler, request, operation, 500, error_body(500), validate=False)
            return
        assert operation is not None  # an unknown route fails validation above
        fault = self._next_fault(operation)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and fault.status is not None:
            self._send(handler, request, operation, fault.status, error_body(fault.status), fault)
            return
        if fault is not None and fault.drop and not fault.after_processing:
            self._drop(handler, operation, request)
            return
        status, payload = self._process(operation, request, secret_id)
        if fault is not None and fault.drop:
            self._drop(handler, operation, request)
            return
        self._send(handler, request, operation, status, payload)

    def _process(
        self, operation: str, request: _Request, secret_id: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        if request.parameters.header.get("Authorization") != f"Bearer {self.token}":
            return 401, error_body(401)
        if operation == "list":
            data = [s.metadata() for s in self.state.live()]
            return 200, {"type": "list", "data": data}
        if operation == "create":
            fields = json.loads(request.body or b"{}")
            flags = {p: fields.get(f"supports_{p}") is True for p in PLATFORMS}
            if not fields.get("name"):
                return 422, error_body(422, message="name is required")
            if not any(flags.values()):
                return 422, error_body(
                    422,
                    message="at least one of supports_android, supports_ios or supports_web "
                    "must be true",
                )
            stored = self.state.add(fields["name"], **flags)
            return 201, {**stored.metadata(), "secret": stored.secret}
        assert secret_id is not None
        if not self.state.delete(secret_id):
            return 404, error_body(
                404,
                code="identity_verification_secret_not_found",
                message="Identity verification secret not found",
            )
        return 204, None

    def _send(
        self,
        handler: _Handler,
        request: _Request,
        operation: str | None,
        status: int,
        payload: dict[str, Any] | None,
        fault: Fault | None = None,
        *,
        validate: bool = True,
    ) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = [("Content-Type", "application/json")] if payload is not None else []
        headers += list(fault.headers if fault else ())
        if validate:
            problem = self._validate_response(request, status, headers, body)
            if problem is not None:
                self._invalid(
                    f"response {status} to {request.method.upper()} {request.path}", problem
                )
                status, body = 500, json.dumps(error_body(500)).encode()
                headers = [("Content-Type", "application/json")]
        with self.state.lock:
            self.requests.append(RecordedRequest(operation, handler.command, request.path, status))
        try:
            handler.send_response(status)
            for name, value in headers:
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            handler.close_connection = True  # the client gave up (timeout); nothing to tell it

    def _validate_response(
        self, request: _Request, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> Exception | None:
        response = _Response(status, headers, body)
        try:
            self._openapi.validate_response(request, response)
        except ResponseNotFound:
            # Not listed for this operation (429, 5xx...): Intercom answers with its error list.
            try:
                self._error_validator.validate(json.loads(body))
            except Exception as err:
                return err
        except Exception as err:
            return err
        return None

    def _drop(self, handler: _Handler, operation: str, request: _Request) -> None:
        with self.state.lock:
            self.requests.append(RecordedRequest(operation, handler.command, request.path, None))
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _invalid(self, what: str, err: BaseException) -> None:
        cause = f" ({err.__cause__})" if err.__cause__ else ""
        with self.state.lock:
            self.validation_errors.append(f"{what}: {type(err).__name__}: {err}{cause}")


class _Request:
    """A request as openapi-core's Request protocol wants it."""

    def __init__(
        self, method: str, host_url: str, path: str, query: str, headers: Any, body: bytes | None
    ) -> None:
        self.method = method.lower()
        self.host_url = host_url
        self.path = path
        self.body = body
        header = Headers(list(headers.items()))
        self.content_type = header.get("Content-Type", "application/octet-stream")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(
                [(k, v) for k, vs in parse_qs(query, keep_blank_values=True).items() for v in vs]
            ),
            header=header,
            cookie=ImmutableMultiDict(),
        )


@dataclass
class _Response:
    status_code: int
    header_list: list[tuple[str, str]]
    data: bytes
    headers: Headers = field(init=False)
    content_type: str = field(init=False)

    def __post_init__(self) -> None:
        self.headers = Headers(self.header_list)
        self.content_type = self.headers.get("Content-Type", "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 drops concurrent connects, which then wait 1 s
    api: FakeIntercomAPI


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            self.server.api._handle(self)
        except Exception as err:  # a bug in the fake must fail the test, not vanish in a thread
            self.server.api._invalid(f"the fake failed on {self.command} {self.path}", err)
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read caplog/capsys for leaks and want no noise
