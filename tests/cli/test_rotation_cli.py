"""`ivsecrets rotate` / `rollback` through click, on moto, with the Intercom fake."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivsecrets import fingerprint
from ivsecrets.cli import cli
from ivsecrets.testing import SECRET_C
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.aws import AwsSix


@pytest.fixture
def rotate_cli(
    aws_six: AwsSix, intercom_api: FakeIntercomAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, FakeIntercomAPI]:
    config = tmp_path / "ivsecrets.toml"
    config.write_text(
        aws_six.config_text
        + "".join(
            f'\n[workspace.{ws}]\nintercom_base_url = "{intercom_api.base_url}"\n'
            for ws in ("test", "prod")
        )
    )
    monkeypatch.setenv("IVSECRETS_INTERCOM_TOKEN_PROD", intercom_api.token)
    return config, intercom_api


def invoke(config: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config), *args], input=input, catch_exceptions=False
    )


def test_rotate_from_intercom_finish_and_status(rotate_cli: tuple[Path, FakeIntercomAPI]) -> None:
    config, intercom = rotate_cli
    result = invoke(config, "rotate", "ios", "prod", "--from-intercom", "--update-config")
    assert result.exit_code == 0, result.output
    assert "ios/prod: rotated; current secret ivfp1:" in result.output
    assert "pinned ios/prod" in result.output
    created = intercom.state.live()
    assert len(created) == 1 and created[0].supports_ios and not created[0].supports_web
    assert created[0].secret not in result.output
    assert invoke(config, "verify").exit_code == 0  # the pin written matches
    finish = invoke(config, "rotate", "ios", "prod", "--finish")
    assert finish.exit_code == 1 and "grace period is not over" in finish.output
    finish = invoke(config, "rotate", "ios", "prod", "--finish", "--grace", "0")
    assert finish.exit_code == 0, finish.output
    assert "retired the previous version" in finish.output
    again = invoke(config, "rotate", "ios", "prod", "--finish", "--grace", "0")
    assert "nothing-to-finish" in again.output


def test_rotate_from_stdin_then_rollback(rotate_cli: tuple[Path, FakeIntercomAPI]) -> None:
    config, _ = rotate_cli
    result = invoke(config, "rotate", "web", "test", input=SECRET_C + "\n")
    assert result.exit_code == 0, result.output
    assert fingerprint(SECRET_C) in result.output and SECRET_C not in result.output
    back = invoke(config, "rollback", "web", "test")
    assert back.exit_code == 0 and "rolled-back" in back.output
    refused = invoke(config, "rotate", "web", "test", input="  padded-secret-value-000000  \n")
    assert refused.exit_code == 1 and "whitespace" in refused.output


def test_abort_and_usage_errors(rotate_cli: tuple[Path, FakeIntercomAPI]) -> None:
    config, _ = rotate_cli
    assert invoke(config, "rotate", "ios", "prod", "--abort").output.startswith(
        "ios/prod: nothing-to-abort"
    )
    both = invoke(config, "rotate", "ios", "prod", "--from-intercom", "--finish")
    assert both.exit_code == 2
    grace = invoke(config, "rotate", "ios", "prod", "--grace", "5", input="x")
    assert grace.exit_code == 2
    empty = invoke(config, "rotate", "ios", "prod", input="")
    assert empty.exit_code == 2 and "no new secret" in empty.output
    # A new value never comes from argv: there is no option or argument that takes one.
    assert invoke(config, "rotate", "ios", "prod", SECRET_C).exit_code == 2


def test_update_config_keeps_a_commented_header(rotate_cli: tuple[Path, FakeIntercomAPI]) -> None:
    config, _ = rotate_cli
    text = config.read_text() + (
        "\n[environments.web.test]   # pinned by the deploy pipeline\n"
        'fingerprint = "ivfp1:0000000000000000"\n'
    )
    config.write_text(text)
    config.chmod(0o600)
    result = invoke(config, "rotate", "web", "test", "--update-config", input=SECRET_C + "\n")
    assert result.exit_code == 0, result.output
    written = config.read_text()
    assert written.count("[environments.web.test]") == 1 and "# pinned by the deploy" in written
    assert f'fingerprint = "{fingerprint(SECRET_C)}"' in written
    assert config.stat().st_mode & 0o777 == 0o600
    from ivsecrets.config import parse_config

    parse_config(written, str(config))  # it loads


def test_force_flags(
    rotate_cli: tuple[Path, FakeIntercomAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = rotate_cli
    assert invoke(config, "rotate", "ios", "prod", "--from-intercom").exit_code == 0
    again = invoke(config, "rotate", "ios", "prod", "--from-intercom")
    assert again.exit_code == 1 and "finish the rotation in flight first" in again.output, (
        again.output
    )
    assert invoke(config, "rotate", "ios", "prod", "--finish", "--grace", "0").exit_code == 0
    assert invoke(config, "rotate", "ios", "prod", "--from-intercom").exit_code == 0
    monkeypatch.delenv("IVSECRETS_INTERCOM_TOKEN_PROD")  # the previous one came from Intercom
    refused = invoke(config, "rollback", "ios", "prod")
    assert refused.exit_code == 1 and "--force" in refused.output
    forced = invoke(config, "rollback", "ios", "prod", "--force")
    assert forced.exit_code == 0 and "did not check" in forced.output
    assert invoke(config, "rotate", "ios", "prod", "--finish", "--force").exit_code == 2


def test_finish_abort_and_settle_are_commands_that_the_flags_alias(
    rotate_cli: tuple[Path, FakeIntercomAPI],
) -> None:
    config, _ = rotate_cli
    assert invoke(config, "abort", "ios", "prod").output.startswith("ios/prod: nothing-to-abort")
    assert invoke(config, "settle", "ios", "prod").output.startswith("ios/prod: settled")
    assert invoke(config, "rotate", "ios", "prod", "--from-intercom").exit_code == 0
    early = invoke(config, "finish", "ios", "prod")
    assert early.exit_code == 1 and "grace period is not over" in early.output
    alias = invoke(config, "rotate", "ios", "prod", "--finish")
    seconds_left = re.compile(r"\d+ s left")  # a second may pass between the two
    assert seconds_left.sub("", early.output) == seconds_left.sub("", alias.output)
    assert alias.exit_code == early.exit_code
    done = invoke(config, "finish", "ios", "prod", "--grace", "0")
    assert done.exit_code == 0 and "retired the previous version" in done.output
    again = invoke(config, "finish", "ios", "prod", "--grace", "0")
    assert (
        again.output == invoke(config, "rotate", "ios", "prod", "--finish", "--grace", "0").output
    )
    assert "nothing-to-finish" in again.output
    # Each takes only its own options: nothing that starts a rotation.
    for command in ("finish", "abort", "settle"):
        assert invoke(config, command, "ios", "prod", "--from-intercom").exit_code == 2
    assert invoke(config, "abort", "ios", "prod", "--grace", "0").exit_code == 2
