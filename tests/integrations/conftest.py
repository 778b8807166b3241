"""Fixtures for the framework integration tests: the embedded default with the test secrets, a
store that can be broken, and a scan of every response for secret values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

import ivsecrets
from ivsecrets import Secrets
from ivsecrets.config import parse_config
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C, FakeClock, MemoryStore

# The Django test app imports models, which needs configured settings: not a doctest module.
collect_ignore = ["django_app.py"]

APP_ID = "abc12def"
#: The secret of each platform in the workspace the test apps serve.
PLATFORM_SECRETS = {"web": SECRET_A, "ios": SECRET_B, "android": SECRET_C}
KNOWN_SECRETS = tuple(PLATFORM_SECRETS.values())


def assert_no_secret(*texts: str) -> None:
    """Fail if any response body, header or page carries a secret value."""
    for text in texts:
        for secret in KNOWN_SECRETS:
            assert secret not in text, "a secret value reached a response"


def scan_response(headers: Mapping[str, str], body: str) -> None:
    assert_no_secret(body, *(f"{k}: {v}" for k, v in headers.items()))


@pytest.fixture(autouse=True)
def embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """The embedded default (no config file): secrets and app id from environment variables."""
    monkeypatch.chdir(str(tmp_path))
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    for platform, secret in PLATFORM_SECRETS.items():
        monkeypatch.setenv(f"IVSECRETS_{platform.upper()}_TEST", secret)
    monkeypatch.setenv("IVSECRETS_WORKSPACE", "test")
    monkeypatch.setenv("IVSECRETS_APP_ID_TEST", APP_ID)


FLAKY_CONFIG = f"""
workspaces = ["test"]
store = "mem"
reference = "{{platform}}-{{workspace}}"
[workspace.test]
app_id = "{APP_ID}"
[stores.mem]
plugin = "env"   # replaced by the injected MemoryStore
[stores.mem.cache]
ttl = 0.1
max_stale = 0.2
backoff_base = 0.01
backoff_max = 0.02
"""


class FlakyStore:
    """The default ``Secrets`` on a MemoryStore that a test can take down past max_stale."""

    def __init__(self) -> None:
        self.store = MemoryStore({f"{p}-test": s for p, s in PLATFORM_SECRETS.items()})
        self.clock = FakeClock()
        self.secrets = Secrets(
            parse_config(FLAKY_CONFIG, "flaky.toml"),
            providers={"mem": self.store},
            clock=self.clock,
        )
        ivsecrets.configure(self.secrets)
        for platform in PLATFORM_SECRETS:  # load once, so what follows is a real outage
            self.secrets.hasher(platform, "test").user_hash("warm")

    def break_past_max_stale(self) -> None:
        self.store.down = True
        self.clock.advance(0.45)  # ttl + max_stale + margin


@pytest.fixture
def flaky() -> Iterator[FlakyStore]:
    yield FlakyStore()  # the autouse _fresh_default fixture closes it
