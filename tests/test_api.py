"""get_hasher's caches and configure() (issue 10, item 24); the errors importable from ivsecrets."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import ivsecrets
import ivsecrets.api
from ivsecrets import Platform, get_hasher, user_hash
from ivsecrets.config import parse_config
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C


@pytest.fixture
def embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The environment-variable default, whatever config the checkout around the tests holds."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_A)


def spellings(count: int) -> list[tuple[str, str]]:
    """``count`` different spellings of ios/prod: case, surrounding spaces."""
    cases = [
        ("".join(p), "".join(w))
        for p in itertools.product(*zip("ios", "IOS", strict=True))
        for w in itertools.product(*zip("prod", "PROD", strict=True))
    ]
    found = []
    for pad in itertools.count():
        for platform, workspace in cases:
            found.append((" " * (pad % 7) + platform, workspace + " " * (pad // 7)))
            if len(found) == count:
                return found
    raise AssertionError("unreachable")


@pytest.mark.usefixtures("embedded_default")
def test_get_hasher_caches_only_canonical_environments() -> None:
    hasher = get_hasher("ios", "prod")
    variants = spellings(20_000)
    assert len(set(variants)) == 20_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for platform, workspace in variants:
            assert get_hasher(platform, workspace) is hasher
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert list(ivsecrets.api._HASHERS) == [("ios", "prod")]
    assert list(ivsecrets.api.default_secrets()._hashers) == [("ios", "prod")]
    assert grown < 100_000, f"{grown} bytes kept for 20,000 spellings of one environment"
    # The enum and its value are the same key: both take the fast path.
    assert get_hasher(Platform.ios, "prod") is hasher


def test_secrets_hasher_caches_only_canonical_environments(
    secrets_of: Callable[..., ivsecrets.Secrets],
) -> None:
    config = parse_config('workspaces = ["prod"]\n')
    secrets = secrets_of(config)
    hasher = secrets.hasher("web", "prod")
    for platform, workspace in spellings(2_000):
        assert secrets.hasher(platform.replace("ios", "web").replace("IOS", "WEB"), workspace)
    assert secrets.hasher(" WEB", "Prod ") is hasher
    assert len(secrets._hashers) <= 3  # at most one per configured environment


@pytest.mark.usefixtures("embedded_default")
def test_a_kept_hasher_follows_the_new_default(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = get_hasher("ios", "prod")
    assert kept.user_hash(user_id="42") == user_hash(SECRET_A, user_id="42")
    old = ivsecrets.api.default_secrets()

    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_B)
    ivsecrets.configure(None)  # closes the old default, whose cache still holds SECRET_A

    assert "ios/prod" in repr(kept)
    assert kept.user_hash(user_id="42") == user_hash(SECRET_B, user_id="42")
    assert kept.fingerprint == ivsecrets.fingerprint(SECRET_B)
    assert kept.verify(user_hash(SECRET_B, email="a@example.com"), email="a@example.com")
    assert ivsecrets.api.default_secrets() is not old
    assert get_hasher("ios", "prod").user_hash(user_id="42") == kept.user_hash(user_id="42")

    # Then to a Secrets the caller built, and to one more after that: it keeps following.
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_C)
    ivsecrets.configure(ivsecrets.Secrets(parse_config('workspaces = ["prod"]\n')))
    assert kept.messenger_jwt(user_id="1") == ivsecrets.api.default_secrets().hasher(
        "ios", "prod"
    ).messenger_jwt(user_id="1")
    assert kept.fingerprint == ivsecrets.fingerprint(SECRET_C)
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRET_A)
    ivsecrets.configure(None)
    assert kept.user_hash(user_id="42") == user_hash(SECRET_A, user_id="42")


@pytest.mark.usefixtures("embedded_default")
def test_a_kept_hasher_of_an_environment_the_new_default_lacks_says_so() -> None:
    kept = get_hasher("ios", "prod")
    kept.user_hash(user_id="1")
    ivsecrets.configure(parse_config('workspaces = ["test"]\n'))
    with pytest.raises(ivsecrets.ConfigError, match="ios/prod is not configured"):
        kept.user_hash(user_id="1")


#: The errors a caller handles, as the README's "Errors" paragraph lists them (issue 18, item 10).
CALLER_ERRORS = (
    "IVSecretsError",
    "ConfigError",
    "IdentifierError",
    "StoreError",
    "SecretNotFoundError",
    "AccessDeniedError",
    "StoreUnavailableError",
    "StoreThrottledError",
    "StaleSecretError",
    "InvalidSecretError",
    "RotationError",
)


def test_the_errors_a_caller_handles_import_from_ivsecrets() -> None:
    import ivsecrets.errors
    from ivsecrets import (  # noqa: F401  (the import itself is the test)
        AccessDeniedError,
        InvalidSecretError,
        RotationError,
        SecretNotFoundError,
        StaleSecretError,
        StoreUnavailableError,
    )

    for name in CALLER_ERRORS:
        assert getattr(ivsecrets, name) is getattr(ivsecrets.errors, name), name
        assert name in dir(ivsecrets)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("**Errors**") :].split("\n\n")[0]
    assert {n for n in CALLER_ERRORS if f"`{n}`" in paragraph} == set(CALLER_ERRORS) - {
        "StoreError"  # the README names it as "Store errors"
    }


def test_the_errors_load_on_first_use_only() -> None:
    """`import ivsecrets` stays light: the error module is loaded when an error is asked for."""
    code = (
        "import sys, ivsecrets\n"
        "print('ivsecrets.errors' in sys.modules)\n"
        "from ivsecrets import SecretNotFoundError\n"
        "print('ivsecrets.errors' in sys.modules, SecretNotFoundError.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["False", "True ivsecrets.errors"]
