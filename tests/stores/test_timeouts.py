"""Every store honours the command's overall ``--timeout``, and a store discovers its
credentials once (issue 10, item 14). Real servers: a local TCP server that accepts connections
and never answers, moto, and GCP without any credentials."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivsecrets.cli import cli
from ivsecrets.cli.app import DEFAULT_TIMEOUT, State
from ivsecrets.provider import LazyClient


class Hanging:
    """Accepts TCP connections on 127.0.0.1 and never answers; closes them all at the end."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        #: Set once a request's first bytes arrived: its sender now waits for the answer.
        self.requested = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        try:
            if conn.recv(1):
                self.requested.set()
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    server = Hanging()
    yield server
    server.close()  # the reads given up on see the connection end, and their threads finish


def run(tmp_path: Path, config: str, *args: str) -> tuple[Result, float]:
    path = tmp_path / "ivsecrets.toml"
    path.write_text(config)
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["--config", str(path), *args], catch_exceptions=False)
    return result, time.monotonic() - started


STORES = {
    "aws": 'plugin = "aws"\nregion = "us-east-1"\nendpoint_url = "http://127.0.0.1:{port}"\n',
    "vault": 'plugin = "vault"\nurl = "http://127.0.0.1:{port}"\ntoken_env = "IVS_T_TOKEN"\n'
    "allow_custom_credentials = true\n",
    "gcp": 'plugin = "gcp"\nproject = "p"\nendpoint = "127.0.0.1:{port}"\ninsecure = true\n',
}


@pytest.mark.parametrize("plugin", sorted(STORES))
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_hanging_store_is_given_up_on_at_the_timeout(
    plugin: str,
    where: str,
    hanging: Hanging,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IVS_T_TOKEN", "hvs.not-a-real-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    config = f'store = "{plugin}"\n[stores.{plugin}]\n' + STORES[plugin].format(port=hanging.port)
    timeout = ["--timeout", "1.5"]
    args = [*timeout, "verify"] if where == "before" else ["verify", *timeout]
    result, elapsed = run(tmp_path, config, *args, "--format", "json")
    assert result.exit_code == 3, result.output
    assert elapsed < 6, f"{plugin} took {elapsed:.1f} s with --timeout 1.5"
    messages = {
        check["message"]
        for env in json.loads(result.output)["environments"]
        for check in env["checks"]
        if check["name"] == "resolves"
    }
    # Either the SDK's own timeout, capped to the budget, or the overall deadline ended it.
    assert all(re.search("time|unreachable|could not be reached", m) for m in messages), messages


def test_the_default_timeout_is_well_under_a_minute() -> None:
    assert State().timeout == DEFAULT_TIMEOUT <= 30
    help_text = CliRunner().invoke(cli, ["verify", "--help"]).output
    assert "--timeout SECONDS" in help_text


def test_gcp_without_credentials_discovers_them_once_per_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(home / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server either
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    config = 'store = "gcp"\n[stores.gcp]\nplugin = "gcp"\nproject = "p"\n'
    # A tool run earlier in the process (import-linter configures logging) may have disabled the
    # loggers that existed then; the count below needs google.auth's.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("google.auth"):
            logging.getLogger(name).disabled = False
    with caplog.at_level(logging.DEBUG, logger="google.auth"):
        result, _ = run(tmp_path, config, "verify")
    assert result.exit_code == 3, result.output
    assert result.output.count("no usable Google credentials") == 6
    discoveries = [r for r in caplog.records if "explicit credentials" in r.getMessage()]
    assert len(discoveries) == 1


def test_a_failed_client_build_is_not_retried_within_the_backoff() -> None:
    calls = 0

    def build() -> object:
        nonlocal calls
        calls += 1
        raise RuntimeError("no credentials")

    client: LazyClient[object] = LazyClient(build)
    for _ in range(6):
        with pytest.raises(RuntimeError, match="no credentials"):
            client.get()
    assert calls == 1
    client.reset()  # a forked child, or a closed store: try again
    with pytest.raises(RuntimeError):
        client.get()
    assert calls == 2


@pytest.mark.parametrize("plugin", ["aws", "vault"])
def test_ctrl_c_ends_a_command_waiting_on_a_hanging_store_at_once(
    plugin: str, hanging: Hanging, tmp_path: Path
) -> None:
    """SIGINT while `verify` waits on a store ends it at once with exit 130 and one line, not
    after the overall timeout with exit 1 ("a check failed")."""
    config = tmp_path / "ivsecrets.toml"
    store = STORES[plugin].format(port=hanging.port)
    config.write_text(f'store = "{plugin}"\n[stores.{plugin}]\n{store}')
    env = {
        **os.environ,
        "IVS_T_TOKEN": "hvs.not-a-real-token",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    command = [sys.executable, "-c", "from ivsecrets.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "--config", str(config), "--timeout", "30", "verify"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        # Once the request arrived, the command is blocked on the answer.
        assert hanging.requested.wait(20), "the command never reached the store"
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert elapsed < 3, f"took {elapsed:.1f} s after SIGINT"
    assert "Traceback" not in stderr and stderr.strip().splitlines() == ["ivsecrets: interrupted"]
