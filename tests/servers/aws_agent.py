"""A local AWS Secrets Manager Agent for tests: ours, implementing the agent's documented HTTP API.

It is not AWS's agent (a Rust binary we cannot install here). It implements what the agent's
README documents and the ``aws-agent`` store relies on: ``GET /secretsmanager/get`` with
``secretId`` and optionally ``versionStage``, ``versionId`` or ``refreshNow=true``; the SSRF token
in ``X-Aws-Parameters-Secrets-Token`` (a request without it, or with another token, gets 403);
answers in ``GetSecretValue``'s JSON shape, AWS errors relayed as 400 with their ``__type``; and a
cache of ``ttl`` seconds per (secretId, versionStage, versionId) shared by every client and
refreshed once per expiry however many clients ask at the same time, in front of moto's Secrets
Manager, so tests can count the calls that reach the store.

Fixture ``aws_agent``: a running :class:`AgentServer` (``.url``, ``.token``, ``.token_file``,
``.store_calls``, ``.store_log``, ``.requests``, ``.ttl``, ``.outage()``), on a free 127.0.0.1
port, stopped after the test.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.servers.aws import aws_boto_session

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


class AgentServer:
    """The agent's HTTP API over a boto3 client (moto)."""

    def __init__(self, client: Any, token: str, token_file: Path, ttl: float = 300.0) -> None:
        self.client = client
        self.token = token
        self.token_file = token_file
        self.ttl = ttl
        self.store_calls = 0  # GetSecretValue calls that reached Secrets Manager
        self.requests = 0  # HTTP requests answered
        self.store_log: list[tuple[float, tuple[str, str, str]]] = []  # (when, entry) per call
        self._cache: dict[tuple[str, str, str], tuple[float, bytes]] = {}
        self._entry_locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._lock = threading.Lock()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet; and a URL is no place for a secret anyway

            def do_GET(self) -> None:
                status, body = agent.answer(self.path, self.headers.get(TOKEN_HEADER))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        """Stop answering for the block (connections are refused); it listens again on the same
        port after it, with its cache and moto's data as they were."""
        address, handler = self.server.server_address, self.server.RequestHandlerClass
        self.stop()
        try:
            yield
        finally:
            self.server = ThreadingHTTPServer(address[:2], handler)
            self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self._thread.start()

    def answer(self, path: str, token: str | None) -> tuple[int, bytes]:
        with self._lock:
            self.requests += 1
        if token != self.token:
            return 403, b'{"__type":"AccessDeniedException","message":"Bad Token"}'
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        if parts.path != "/secretsmanager/get" or "secretId" not in query:
            return 400, b'{"__type":"ValidationException","message":"missing secretId"}'
        key = (query["secretId"], query.get("versionStage", ""), query.get("versionId", ""))
        with self._lock:
            entry_lock = self._entry_locks.setdefault(key, threading.Lock())
        # One refresh per entry at a time: requests that find it expired together wait for it.
        with entry_lock:
            return self._answer(key, query)

    def _answer(self, key: tuple[str, str, str], query: dict[str, str]) -> tuple[int, bytes]:
        stage, version = key[1], key[2]
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now < cached[0] and query.get("refreshNow") != "true":
                return 200, cached[1]
        kwargs: dict[str, str] = {"SecretId": query["secretId"]}
        if version:
            kwargs["VersionId"] = version
        kwargs["VersionStage"] = stage or ("" if version else "AWSCURRENT")
        if not kwargs["VersionStage"]:
            del kwargs["VersionStage"]
        with self._lock:
            self.store_calls += 1
            self.store_log.append((now, key))
        try:
            response = self.client.get_secret_value(**kwargs)
        except Exception as err:  # relayed as the agent does: the AWS error type, status 400
            code = getattr(err, "response", {}).get("Error", {}).get("Code", "InternalFailure")
            return 400, json.dumps({"__type": code, "message": "relayed"}).encode()
        document = {
            k: response[k]
            for k in ("ARN", "Name", "VersionId", "SecretString", "VersionStages")
            if k in response
        }
        if "SecretBinary" in response:
            document["SecretBinary"] = base64.b64encode(response["SecretBinary"]).decode()
        if "CreatedDate" in response:
            document["CreatedDate"] = response["CreatedDate"].timestamp()
        body = json.dumps(document).encode()
        with self._lock:
            self._cache[key] = (now + self.ttl, body)
        return 200, body


@pytest.fixture
def aws_agent(moto_server: str, tmp_path: Path) -> Iterator[AgentServer]:
    """Our agent on a free port over moto; its SSRF token is in ``token_file``."""
    token = "agent-token-" + str(time.monotonic_ns())
    token_file = tmp_path / "awssmatoken"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    client = aws_boto_session().client("secretsmanager", endpoint_url=moto_server)
    agent = AgentServer(client, token, token_file)
    yield agent
    agent.stop()


__all__ = ["TOKEN_HEADER", "AgentServer"]
