"""The provider base's checks on what a store returns (issue 10, items 18 and 23), on the options
a plugin declares, and the default reference each built-in plugin declares (issue 18, item 6)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest

import ivsecrets
from ivsecrets.config import StoreConfig, parse_config
from ivsecrets.environments import Stage
from ivsecrets.errors import ConfigError, InvalidSecretError
from ivsecrets.provider import (
    Fetched,
    Option,
    Provider,
    Reference,
    config_template,
    installed_plugins,
    load_plugin,
)
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


# -- declared options: choices, bounds, pattern ----------------------------------------------------


class _Declared(Provider):
    plugin = "declared"
    options = {
        "mode": Option(str, "fast", "fast | safe", '"fast"', choices=("fast", "safe"), what="mode"),
        "level": Option(int, 1, "1 or 2", "1", choices=(1, 2)),
        "attempts": Option(int, 3, "attempts", "3", minimum=1, maximum=10),
        "timeout": Option(float, 5.0, "seconds", "5", minimum=0, exclusive_minimum=True),
        "region": Option(str, "", "a region", '"eu-west-1"', pattern=r"[a-z]{2}-[a-z]+-\d"),
    }

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        raise NotImplementedError


def _declared(**options: object) -> _Declared:
    return _Declared(StoreConfig("main", "declared", MappingProxyType(options)))


@pytest.mark.parametrize(
    ("options", "message", "fix"),
    [
        (
            {"mode": "slow"},
            "unknown mode 'slow': must be 'fast' or 'safe'",
            'mode = "fast" | "safe"',
        ),
        ({"level": 3}, "must be 1 or 2, got 3", "level = 1 | 2"),
        ({"attempts": 0}, "must be at least 1, got 0", "attempts = 3"),
        ({"attempts": 11}, "must be at most 10, got 11", "attempts = 3"),
        ({"timeout": 0}, "must be more than 0, got 0", "timeout = 5"),
        ({"timeout": -1.5}, "must be more than 0, got -1.5", "timeout = 5"),
        (
            {"region": "eu-west-1x"},
            "'eu-west-1x' does not match the pattern",
            'region = "eu-west-1"',
        ),
    ],
)
def test_a_value_outside_what_an_option_declares_is_a_config_error(
    options: dict[str, object], message: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _declared(**options)
    assert info.value.key == "stores.main." + next(iter(options))
    assert message in info.value.problem
    assert info.value.fix == fix


def test_values_within_what_options_declare_are_accepted() -> None:
    provider = _declared(mode="safe", level=2, attempts=10, timeout=1, region="us-east-1")
    assert provider.settings == {
        "mode": "safe",
        "level": 2,
        "attempts": 10,
        "timeout": 1.0,
        "region": "us-east-1",
    }


def test_a_pasted_secret_in_a_constrained_option_is_not_echoed() -> None:
    pasted = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"
    for options in ({"mode": pasted}, {"region": pasted}):
        with pytest.raises(ConfigError) as info:
            _declared(**options)
        assert "ivsA_" not in str(info.value)


@pytest.mark.parametrize(
    "declaration",
    [
        {"kind": str, "minimum": 1},
        {"kind": int, "pattern": "[0-9]+"},
        {"kind": str, "pattern": "("},
    ],
)
def test_an_impossible_declaration_fails_when_the_plugin_is_defined(
    declaration: dict[str, Any],
) -> None:
    with pytest.raises((TypeError, re.error)):
        Option(default=None, help="", **declaration)


# -- default references ----------------------------------------------------------------------------


# What the README and the Terraform modules document: module and library agree on secret names.
DOCUMENTED_REFERENCES = {
    "env": "IVSECRETS_{PLATFORM}_{WORKSPACE}",
    "file": "{platform}_{workspace}",
    "aws": "ivsecrets-{workspace}-{platform}",
    "aws-agent": "ivsecrets-{workspace}-{platform}",
    "gcp": "ivsecrets-{workspace}-{platform}",
    "vault": "ivsecrets/{workspace}/{platform}",
}


@pytest.mark.parametrize("plugin", sorted(DOCUMENTED_REFERENCES))
def test_each_built_in_plugin_declares_the_default_reference_of_the_configuration(
    plugin: str,
) -> None:
    assert plugin in installed_plugins()
    assert load_plugin(plugin).default_reference == DOCUMENTED_REFERENCES[plugin]
    environment = parse_config(f'store = "{plugin}"').environment("ios", "prod")
    assert environment.reference == DOCUMENTED_REFERENCES[plugin].format(
        platform="ios", workspace="prod", PLATFORM="IOS", WORKSPACE="PROD"
    )


def test_a_third_party_plugin_s_default_reference_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plugin installed from another package gets its declared default, as built-ins do."""
    from importlib.metadata import EntryPoint

    from ivsecrets.config import plugins

    entry = EntryPoint("acme", "tests.test_provider:AcmeProvider", "ivsecrets.providers")
    monkeypatch.setattr(plugins, "plugin_entry_points", lambda: {"acme": entry})
    config = parse_config('store = "acme"')
    assert config.environment("web", "test").reference == "acme/test/web"


class AcmeProvider(Provider):
    plugin = "acme"
    default_reference = "acme/{workspace}/{platform}"

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        raise NotImplementedError


def test_init_writes_the_plugin_s_default_reference() -> None:
    text = config_template("vault")
    assert 'reference = "ivsecrets/{workspace}/{platform}"' in text
    assert parse_config(text).environment("ios", "prod").reference == "ivsecrets/prod/ios"
