"""The provider base's checks on what a store returns (issue 10, items 18 and 23)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import ivsecrets
from ivsecrets.config import parse_config
from ivsecrets.errors import InvalidSecretError
from ivsecrets.provider import Fetched
from ivsecrets.testing import SECRET_A, SECRET_B

JSON_REFERENCE = 'workspaces = ["prod"]\nreference = "IVSECRETS_{PLATFORM}_{WORKSPACE}#ios"\n'


@pytest.fixture
def load_ios_prod(
    monkeypatch: pytest.MonkeyPatch, secrets_of: Callable[..., ivsecrets.Secrets]
) -> Callable[[str], object]:
    def load(value: str) -> object:
        monkeypatch.setenv("IVSECRETS_IOS_PROD", value)
        return secrets_of(parse_config(JSON_REFERENCE)).load("ios", "prod")

    return load


@pytest.mark.parametrize("depth", [100_000, 1_000_000])
def test_a_json_secret_nested_too_deeply_is_an_invalid_secret(
    load_ios_prod: Callable[[str], object], depth: int
) -> None:
    with pytest.raises(InvalidSecretError, match="nested too deeply"):
        load_ios_prod("[" * depth + json.dumps(SECRET_A))


def test_a_json_secret_with_a_lone_surrogate_is_an_invalid_secret(
    load_ios_prod: Callable[[str], object],
) -> None:
    with pytest.raises(InvalidSecretError, match="lone surrogate"):
        load_ios_prod('{"ios": "\\ud800' + SECRET_A + '"}')


def test_json_errors_keep_no_document(load_ios_prod: Callable[[str], object]) -> None:
    """A JSONDecodeError holds the whole document in .doc: it must not be chained at all."""
    for value in ('{"ios": "' + SECRET_A, json.dumps({"web": SECRET_B})):
        with pytest.raises(InvalidSecretError) as caught:
            load_ios_prod(value)
        assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_fetched_does_not_show_its_value() -> None:
    fetched = Fetched(value=SECRET_A, version="v1")
    assert SECRET_A not in repr(fetched) and SECRET_A not in str(fetched)
    assert "v1" in repr(fetched)
    assert SECRET_A[:8] not in repr(Fetched(value=SECRET_A.encode()))
