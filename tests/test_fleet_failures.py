"""Failing closed without storms: a hanging store, 64 threads, fork while a client is built."""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ivsecrets import Secrets, StaleSecretError
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.hashing import user_hash
from ivsecrets.plugins.aws import AwsProvider
from tests.servers.aws import AwsSix, aws_boto_session, aws_config_text

IOS_PROD = Environment.of("ios", "prod")


class HangingProxy:
    """A TCP proxy to moto that, once ``hang()`` is called, accepts and never answers."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit("//", 1)[1].split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hanging = False
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        with self.lock:
            self.hanging = True
            for sock in self.open:  # connections kept alive by the client stop answering too
                with contextlib.suppress(OSError):
                    sock.close()
            self.open.clear()

    def close(self) -> None:
        self.listener.close()
        self.hang()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
                if self.hanging:
                    continue  # accepted, never answered
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:
            client.close()
            return
        with self.lock:
            self.open.append(upstream)
        pair = {client: upstream, upstream: client}
        try:
            while True:
                ready, _, _ = select.select(list(pair), [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.close()


@pytest.fixture
def proxy(aws_six: AwsSix) -> Iterator[HangingProxy]:
    server = HangingProxy(aws_six.endpoint_url)
    yield server
    server.close()


def test_past_max_stale_a_hanging_store_gets_one_call_per_backoff_and_no_reader_waits_long(
    aws_six: AwsSix, proxy: HangingProxy
) -> None:
    timeout, backoff = 1.0, 2.0
    text = aws_config_text(
        proxy.url,
        f"ttl = 0.3\nmax_stale = 0.3\njitter = 0\nbackoff_base = {backoff}\n"
        f"backoff_max = {backoff}\n",
    ).replace(
        "[stores.aws]\n",
        f"[stores.aws]\nconnect_timeout = {timeout}\nread_timeout = {timeout}\nmax_attempts = 1\n",
    )
    config = parse_config(text, "hang.toml")
    provider = AwsProvider(config.stores["aws"], session=aws_boto_session())
    calls: list[float] = []
    provider.client().meta.events.register(
        "before-call.secretsmanager.*", lambda **_: calls.append(time.monotonic())
    )
    secrets = Secrets(config, providers={"aws": provider})
    hasher = secrets.hasher("ios", "prod")
    expected = user_hash(aws_six.secrets[IOS_PROD], user_id="1")
    try:
        assert hasher.user_hash(user_id="1") == expected
        proxy.hang()
        time.sleep(0.8)  # past ttl + max_stale
        calls.clear()
        started = time.monotonic()
        slowest: list[float] = []
        served: list[int] = []
        run_for = 5.0

        def reader() -> None:
            worst = 0.0
            while time.monotonic() - started < run_for:
                t0 = time.monotonic()
                try:
                    assert hasher.user_hash(user_id="1") == expected
                    served.append(1)
                except StaleSecretError:
                    pass
                worst = max(worst, time.monotonic() - t0)
                time.sleep(0.01)
            slowest.append(worst)

        threads = [threading.Thread(target=reader) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        secrets.close()
    elapsed = time.monotonic() - started
    # One call per back-off interval (each call hangs for `timeout`, then backs off).
    assert len(calls) <= int(elapsed / (backoff + timeout)) + 2, len(calls)
    for earlier, later in itertools.pairwise(calls):
        assert later - earlier >= backoff + timeout - 0.1, calls
    assert max(slowest) < timeout + 0.6, f"a reader waited {max(slowest):.2f}s"
    assert not served, "never a stale secret past max_stale"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_children_forked_while_a_thread_builds_the_client_do_not_hang(aws_six: AwsSix) -> None:
    provider = AwsProvider(aws_six.config.stores["aws"])  # builds its own session and client
    secrets = Secrets(aws_six.config, providers={"aws": provider})
    hasher = secrets.hasher("ios", "prod")
    expected = user_hash(aws_six.secrets[IOS_PROD], user_id="1")
    stop = threading.Event()

    def build_clients() -> None:
        while not stop.is_set():
            provider.reset()
            provider.client()

    builder = threading.Thread(target=build_clients, daemon=True)
    builder.start()
    children = []
    try:
        for _ in range(10):
            time.sleep(0.03)
            pid = os.fork()
            if pid == 0:  # child: never return into pytest
                code = 1
                try:
                    signal.alarm(20)
                    code = 0 if hasher.user_hash(user_id="1") == expected else 2
                finally:
                    os._exit(code)
            children.append(pid)
    finally:
        stop.set()
        builder.join(timeout=10)
    hung, codes = _reap(children, deadline=time.monotonic() + 30)
    secrets.close()
    assert not hung, f"{len(hung)} of 10 children hung"
    assert codes == [0] * 10, codes


def _reap(pids: list[int], deadline: float) -> tuple[list[int], list[Any]]:
    codes: dict[int, int] = {}
    while len(codes) < len(pids) and time.monotonic() < deadline:
        for pid in pids:
            if pid not in codes:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes[pid] = os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    hung = [pid for pid in pids if pid not in codes]
    for pid in hung:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return hung, [codes.get(pid) for pid in pids]
