"""The vault store's transport (issue 10, item 21): no token to another host, and warnings about
plaintext or unverified connections. Real HTTP servers on loopback: 127.0.0.1 and 127.0.0.2 are
different hosts."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment
from ivsecrets.errors import StoreError, StoreUnavailableError
from ivsecrets.plugins.vault import VaultProvider
from ivsecrets.testing import SECRET_A

IOS_PROD = Environment.of("ios", "prod")
TOKEN = "hvs.redirect-test-token"


class _Vault(BaseHTTPRequestHandler):
    """Answers as Vault would (token lookup, a KV v1 read), or redirects as ``redirect`` says."""

    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("X-Vault-Token")))
        if self.server.redirect and not self.path.startswith("/moved"):
            self.send_response(307)
            self.send_header("Location", self.server.redirect + "/moved" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.endswith("/auth/token/lookup-self"):
            body: dict[str, Any] = {"data": {"ttl": 0, "renewable": False}}
        else:
            body = {"data": {"value": SECRET_A}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    seen: list[tuple[str, str | None]]
    redirect: str


@pytest.fixture
def http_server() -> Iterator[Any]:
    started: list[_Server] = []

    def start(host: str, redirect: str = "") -> _Server:
        server = _Server((host, 0), _Vault)
        server.seen, server.redirect = [], redirect
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def provider(url: str, **options: object) -> VaultProvider:
    settings = {
        "url": url,
        "kv_version": 1,
        "token_env": "IVS_TEST_REDIRECT_TOKEN",
        "allow_custom_credentials": True,  # a variable of the test's own, and a TEST-NET host
        **options,
    }
    return VaultProvider(StoreConfig("vault", "vault", MappingProxyType(settings)))


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVS_TEST_REDIRECT_TOKEN", TOKEN)


def url(server: _Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def test_a_redirect_to_another_host_is_refused_and_the_token_stays_home(http_server: Any) -> None:
    other = http_server("127.0.0.2")
    vault = http_server("127.0.0.1", redirect=url(other))
    with pytest.raises(StoreUnavailableError, match="redirected to another host") as info:
        provider(url(vault)).load(IOS_PROD, "ivsecrets/prod/ios")
    assert f"127.0.0.2:{other.server_address[1]}" in str(info.value)
    assert other.seen == [], "the token was sent to the host the redirect named"
    assert vault.seen and vault.seen[0][1] == TOKEN


def test_a_redirect_on_the_same_host_is_followed(http_server: Any) -> None:
    vault = http_server("127.0.0.1")
    vault.redirect = url(vault)
    loaded = provider(url(vault)).load(IOS_PROD, "ivsecrets/prod/ios")
    assert loaded.value.reveal() == SECRET_A.encode()
    assert any(path.startswith("/moved") for path, _ in vault.seen)


def _warnings(caplog: pytest.LogCaptureFixture, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if word in r.getMessage()]


def test_plain_http_to_another_host_warns_once_per_store(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = provider("http://192.0.2.1:8200", timeout=0.2)  # TEST-NET-1: never answers
    with caplog.at_level(logging.WARNING, logger="ivsecrets"):
        for _ in range(2):
            with pytest.raises(StoreError):
                store.load(IOS_PROD, "ivsecrets/prod/ios")
            store.reset()  # a rebuilt client (a forked child) does not warn again
    assert len(_warnings(caplog, "plain http")) == 1
    assert "192.0.2.1:8200" in _warnings(caplog, "plain http")[0]


def test_plain_http_to_loopback_does_not_warn(
    http_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    vault = http_server("127.0.0.1")
    with caplog.at_level(logging.WARNING, logger="ivsecrets"):
        provider(url(vault)).load(IOS_PROD, "ivsecrets/prod/ios")
    assert _warnings(caplog, "plain http") == []


def test_verify_false_warns(caplog: pytest.LogCaptureFixture) -> None:
    store = provider("https://127.0.0.1:9", verify=False, timeout=0.2)
    with caplog.at_level(logging.WARNING, logger="ivsecrets"), pytest.raises(StoreError):
        store.load(IOS_PROD, "ivsecrets/prod/ios")
    assert len(_warnings(caplog, "verify = false")) == 1


@pytest.mark.parametrize("missing", ["requests", "hvac"])
def test_without_the_vault_extra_the_cli_names_the_install_line(
    missing: str, tmp_path: Path
) -> None:
    """Without hvac (or requests, which hvac brings) `verify` ends with exit 2 and the install
    line, as aws and gcp do: no traceback."""
    config = tmp_path / "ivsecrets.toml"
    config.write_text('store = "vault"\n\n[stores.vault]\nurl = "http://127.0.0.1:9"\n')
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from ivsecrets.cli import main\n"
        f"sys.argv = ['ivsecrets', '--config', {str(config)!r}, 'verify']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'ivsecrets[vault]'" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) <= 2
