"""No command prints a secret value: every command, --help and failure paths, all output scanned."""

from __future__ import annotations

import json

import pytest

from ivsecrets import user_hash
from tests.cli.conftest import SECRETS, Cli

COMMANDS: list[list[str]] = [
    ["--help"],
    ["--version"],
    ["verify", "--help"],
    ["fingerprint", "--help"],
    ["hash", "--help"],
    ["jwt", "--help"],
    ["diagnose", "--help"],
    ["status", "--help"],
    ["init", "--help"],
    ["verify"],
    ["-vv", "verify"],
    ["verify", "--format", "json"],
    ["verify", "--format", "junit"],
    ["verify", "--format", "github"],
    ["fingerprint", "--previous"],
    ["fingerprint", "--format", "json"],
    ["-vv", "hash", "ios", "prod", "--user-id", "42"],
    ["hash", "ios", "prod"],
    ["jwt", "ios", "prod", "--user-id", "42"],
    ["diagnose", "ios", "prod", "--user-hash", "00", "--user-id", "42"],
    [
        "-vv",
        "diagnose",
        "ios",
        "prod",
        "--user-hash",
        user_hash(SECRETS["WEB_PROD"], user_id="42"),
        "--user-id",
        "42",
    ],
    ["status"],
    ["status", "--format", "json"],
    ["hash", "windows", "prod", "--user-id", "1"],
    ["hash", "web", "staging", "--user-id", "1"],
]


def _assert_clean(text: str) -> None:
    for value in SECRETS.values():
        assert value not in text
        assert value[:20] not in text  # not even a prefix
        assert value.encode().hex() not in text


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a)[:40])
def test_command_output_never_contains_a_secret(run: Cli, args: list[str]) -> None:
    result = run(*args)
    _assert_clean(result.output)
    _assert_clean(result.stderr)


def test_failure_paths_never_print_a_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whitespace, JSON wrapping, a duplicate and a secret pasted where a number belongs.
    monkeypatch.setenv("IVSECRETS_IOS_TEST", SECRETS["IOS_TEST"] + "\n")
    monkeypatch.setenv("IVSECRETS_WEB_TEST", json.dumps({"k": SECRETS["WEB_TEST"]}))
    monkeypatch.setenv("IVSECRETS_ANDROID_TEST", SECRETS["WEB_PROD"])
    for args in (
        ["verify"],
        ["-vv", "verify", "--format", "json"],
        ["fingerprint"],
        ["status"],
        ["verify", "--format", "github"],
    ):
        result = run(*args)
        _assert_clean(result.output + result.stderr)
    run.write_config(f'[cache]\nttl = "{SECRETS["IOS_PROD"]}"\n')
    result = run("verify")
    assert result.exit_code == 2
    _assert_clean(result.output + result.stderr)
    run.write_config(f'workspaces = ["{SECRETS["IOS_PROD"]}"]\n')
    result = run("verify")
    assert result.exit_code == 2
    _assert_clean(result.output + result.stderr)
