"""Usage and configuration errors exit 2 on every command (issue 10, item 4 and item 12)."""

from __future__ import annotations

import json

import pytest

from ivsecrets import user_hash
from tests.cli.conftest import SECRETS, Cli


@pytest.mark.parametrize(
    "args",
    [
        ("hash", "web", "test"),
        ("diagnose", "ios", "prod", "--user-hash", "0" * 64),
    ],
)
def test_a_missing_identifier_is_a_usage_error(run: Cli, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "--user-id" in result.stderr


def test_an_unknown_workspace_in_verify_is_a_usage_error(run: Cli) -> None:
    result = run("verify", "--workspace", "staging")
    assert result.exit_code == 2, result.output
    assert "workspace 'staging' is not configured" in result.stderr
    assert "--workspace" in result.stderr
    # The known one next to it does not rescue the command: the request itself is wrong.
    assert run("verify", "--workspace", "prod", "--workspace", "staging").exit_code == 2
    assert run("verify", "--workspace", "PROD").exit_code == 0


def test_rotate_on_a_read_only_store_is_a_configuration_error(run: Cli) -> None:
    result = run("rotate", "web", "test", input="ivsN_new0Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9\n")
    assert result.exit_code == 2, result.output
    assert "store 'env' (plugin 'env') is read-only" in result.stderr
    for value in SECRETS.values():
        assert value not in result.output


@pytest.mark.parametrize("given", ["deadbeef", "z" * 64, "0" * 63, "0" * 65])
def test_diagnose_names_a_hash_that_is_not_64_hex_digits(run: Cli, given: str) -> None:
    result = run("diagnose", "ios", "prod", "--user-hash", given, "--user-id", "42")
    assert result.exit_code == 2, result.output
    assert "not 64 hex digits" in result.stderr
    assert "[user_hash]" in result.stderr


def test_diagnose_still_accepts_surrounding_whitespace_and_upper_case(run: Cli) -> None:
    good = user_hash(SECRETS["WEB_PROD"], user_id="42")
    result = run(
        "diagnose",
        "web",
        "prod",
        "--user-hash",
        f" {good.upper()}\n",
        "--user-id",
        "42",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cause"] == "correct"
