"""What `rotate` says about the new secret's whitespace and about a pin it breaks (issue 10)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ivsecrets import fingerprint
from ivsecrets.config import CacheSettings, load_config
from ivsecrets.testing import SECRET_C
from ivsecrets.verification import verify
from tests.cli.conftest import Cli
from tests.cli.test_rotation_cli import invoke, rotate_cli  # noqa: F401  (the fixture)
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.aws import SIX_SECRETS

Setup = tuple[Path, FakeIntercomAPI]


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_from_file_accepts_one_line_ending(
    rotate_cli: Setup,  # noqa: F811
    tmp_path: Path,
    ending: str,
) -> None:
    config, _ = rotate_cli
    source = tmp_path / "new-secret.txt"
    source.write_bytes((SECRET_C + ending).encode())
    result = invoke(config, "rotate", "web", "test", "--from-file", str(source))
    assert result.exit_code == 0, result.output
    assert fingerprint(SECRET_C) in result.output


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("  " + SECRET_C + "\n", "leading whitespace"),
        ("\t" + SECRET_C, "leading whitespace"),
        (SECRET_C + "  \n", "trailing whitespace"),
        (SECRET_C + "\n\n", "more than one line ending"),
        (SECRET_C + " ", "trailing whitespace"),
    ],
    ids=["spaces-before", "tab-before", "spaces-after", "two-newlines", "space-after"],
)
def test_from_file_whitespace_message_says_what_is_wrong(
    rotate_cli: Setup,  # noqa: F811
    tmp_path: Path,
    content: str,
    said: str,
) -> None:
    config, _ = rotate_cli
    source = tmp_path / "new-secret.txt"
    source.write_bytes(content.encode())
    result = invoke(config, "rotate", "web", "test", "--from-file", str(source))
    assert result.exit_code == 1, result.output
    assert said in result.output
    assert "(a trailing newline?)" not in result.output
    assert "one line ending is accepted" in result.output
    assert SECRET_C not in result.output


def test_rotate_warns_that_a_pin_now_fails_and_how_to_update_it(
    rotate_cli: Setup,  # noqa: F811
) -> None:
    config, _ = rotate_cli
    old = fingerprint(next(v for e, v in SIX_SECRETS.items() if str(e) == "ios/prod"))
    config.write_text(config.read_text() + f'\n[environments.ios.prod]\nfingerprint = "{old}"\n')
    result = invoke(config, "rotate", "ios", "prod", input=SECRET_C + "\n")
    assert result.exit_code == 0, result.output
    assert f"the pin {old}" in result.output and "now fails" in result.output
    new = fingerprint(SECRET_C)
    assert f'fingerprint = "{new}"' in result.output and "[environments.ios.prod]" in result.output
    assert f"ivsecrets --config {config} fingerprint" in result.output
    assert "--update-config" in result.output
    assert invoke(config, "verify").exit_code == 1  # what the warning warned about
    # Following the hint makes verify pass again.
    text = config.read_text().replace(f'fingerprint = "{old}"', f'fingerprint = "{new}"')
    config.write_text(text)
    assert invoke(config, "verify").exit_code == 0


def test_rotate_with_update_config_does_not_warn(rotate_cli: Setup) -> None:  # noqa: F811
    config, _ = rotate_cli
    old = fingerprint(next(v for e, v in SIX_SECRETS.items() if str(e) == "web/prod"))
    config.write_text(config.read_text() + f'\n[environments.web.prod]\nfingerprint = "{old}"\n')
    result = invoke(config, "rotate", "web", "prod", "--update-config", input=SECRET_C + "\n")
    assert result.exit_code == 0, result.output
    assert "now fails" not in result.output
    assert invoke(config, "verify").exit_code == 0


def _rotation_warning(config: Path, env: str) -> str:
    result = invoke(config, "verify", "--format", "json")
    assert result.exit_code == 0, result.output
    (found,) = (e for e in json.loads(result.stdout)["environments"] if e["environment"] == env)
    warnings = [c["message"] for c in found["checks"] if c["name"] == "rotation"]
    assert len(warnings) == 1, found
    return warnings[0]


def test_verify_warns_about_a_promoted_but_unfinished_rotation_with_its_due_date(
    rotate_cli: Setup,  # noqa: F811
) -> None:
    config, _ = rotate_cli
    old = fingerprint(next(v for e, v in SIX_SECRETS.items() if str(e) == "android/test"))
    before = datetime.now(timezone.utc)
    assert invoke(config, "rotate", "android", "test", input=SECRET_C + "\n").exit_code == 0
    message = _rotation_warning(config, "android/test")
    assert f"the previous secret {old} is still accepted" in message
    assert "'ivsecrets rotate android test --finish'" in message
    due = datetime.strptime(message.split(" after ")[1][:23], "%Y-%m-%d %H:%M:%S UTC")
    grace = CacheSettings().ttl + CacheSettings().max_stale
    expected = before.replace(tzinfo=None, microsecond=0) + timedelta(seconds=grace)
    assert abs((due - expected).total_seconds()) <= 5, (due, expected)
    # After the finish the warning is gone.
    finish = invoke(config, "rotate", "android", "test", "--finish", "--grace", "0")
    assert finish.exit_code == 0, finish.output
    result = invoke(config, "verify", "--format", "json")
    assert "still accepted" not in result.stdout


def test_verify_says_when_the_finish_is_overdue(
    rotate_cli: Setup,  # noqa: F811
) -> None:
    config, _ = rotate_cli
    assert invoke(config, "rotate", "web", "prod", input=SECRET_C + "\n").exit_code == 0
    later = datetime.now(timezone.utc) + timedelta(days=2)
    report = verify(load_config(config), platforms=["web"], workspaces=["prod"], now=later)
    (env,) = report.environments
    (warning,) = [c for c in env.checks if c.name == "rotation"]
    assert warning.status.value == "warn"
    assert "the grace period ended" in warning.message and "--finish' now" in warning.message


def test_verify_warns_about_a_live_previous_secret_in_a_read_only_store(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD_PREVIOUS", SECRET_C)
    result = run("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    (found,) = (
        e for e in json.loads(result.stdout)["environments"] if e["environment"] == "web/prod"
    )
    (warning,) = [c for c in found["checks"] if c["name"] == "rotation"]
    assert warning["status"] == "warn"
    assert f"the previous secret {fingerprint(SECRET_C)} is still accepted" in warning["message"]
    assert "remove it from store 'env'" in warning["message"]
