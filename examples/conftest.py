"""Shared by the example apps' tests: the embedded default with the test secrets, and a scan of
every response, page and log line for secret values."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

import ivsecrets
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C

# The apps themselves are imported by their tests, not collected as doctest modules.
collect_ignore_glob = ["*/ivsdemo_*", "*/manage.py", "*/run.py"]

STUB = Path(__file__).with_name("intercom-stub.js")
APP_ID = "demo1234"
PLATFORM_SECRETS = {"web": SECRET_A, "ios": SECRET_B, "android": SECRET_C}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in PLATFORM_SECRETS.values():
            assert secret not in text, "a secret value reached a response, page or log"


def scan_response(headers: Mapping[str, str], body: str) -> None:
    assert_no_secret(body, *(f"{k}: {v}" for k, v in headers.items()))


@pytest.fixture
def scan() -> Callable[[Mapping[str, str], str], None]:
    """``scan(headers, body)`` fails the test if a secret is in either."""
    return scan_response


@pytest.fixture
def platform_secrets() -> dict[str, str]:
    return dict(PLATFORM_SECRETS)


@pytest.fixture(autouse=True)
def embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The documented setup: no config file, secrets and app id in environment variables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    for platform, secret in PLATFORM_SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{platform.upper()}_TEST", secret)
    monkeypatch.setenv("IVSECRETS_WORKSPACE", "test")
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", APP_ID)
    ivsecrets.configure(None)
    yield
    ivsecrets.configure(None)


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(autouse=True)
def no_secret_in_logs() -> Iterator[None]:
    recorder = _Recorder()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)
    assert_no_secret(*recorder.lines)
