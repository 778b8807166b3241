"""What a new user ran into at the command line (issue 20, item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ivsecrets import user_hash
from ivsecrets.config import parse_config
from ivsecrets.errors import ConfigError
from tests.cli.conftest import SECRETS, Cli

REPO = Path(__file__).resolve().parents[2]


def test_python_dash_m_ivsecrets_runs_the_command(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVSECRETS_")}
    env["IVSECRETS_IOS_PROD"] = "bar"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "ivsecrets", "hash", "ios", "prod", "--user-id", "baz"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == user_hash("bar", user_id="baz")
    usage = subprocess.run(
        [sys.executable, "-m", "ivsecrets", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Usage: ivsecrets " in usage.stdout, usage.stdout + usage.stderr


def test_a_mistyped_command_gets_a_did_you_mean(run: Cli) -> None:
    result = run("verfy")
    assert result.exit_code == 2
    assert "Did you mean 'verify'?" in result.stderr
    assert "Did you mean" not in run("xyzzy").stderr


def test_a_mistyped_top_level_key_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'store'\?"):
        parse_config('stroe = "env"\n', "x.toml")


def test_a_mistyped_workspace_gets_a_did_you_mean(run: Cli) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'prod'\?"):
        parse_config('[environments.ios.prdo]\nreference = "x"\n', "x.toml")
    with pytest.raises(ConfigError, match=r"did you mean 'prod'\?"):
        parse_config('[workspace.prdo]\nregion = "eu"\n', "x.toml")
    result = run("hash", "ios", "prdo", "--user-id", "1")
    assert result.exit_code == 2
    assert "did you mean 'prod'?" in result.stderr


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_bad_ivsecrets_config_variable_is_named_not_the_option(
    run: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "nowhere.toml" if kind == "missing" else tmp_path
    monkeypatch.setenv("IVSECRETS_CONFIG", str(target))
    result = run("verify")
    assert result.exit_code == 2, result.output
    assert "IVSECRETS_CONFIG" in result.stderr
    assert "--config" not in result.stderr
    # Given on the command line, the option is the one named.
    monkeypatch.delenv("IVSECRETS_CONFIG")
    result = run("--config", str(target), "verify")
    assert result.exit_code == 2
    assert "--config" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("hash", "web", "test"),
        ("diagnose", "ios", "prod", "--user-hash", "0" * 64),
    ],
)
def test_cli_messages_name_the_user_id_flag(run: Cli, args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "--user-id" in result.stderr
    assert "user_id" not in result.stderr


@pytest.mark.parametrize("command", ["status", "fingerprint"])
def test_status_and_fingerprint_take_platform_and_workspace(run: Cli, command: str) -> None:
    result = run(command, "--format", "json", "--platform", "ios", "--workspace", "prod")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["environments"]
    assert [row["environment"] for row in rows] == ["ios/prod"]
    both = run(command, "--format", "json", "--workspace", "test")
    assert len(json.loads(both.stdout)["environments"]) == 3
    bad = run(command, "--workspace", "prdo")
    assert bad.exit_code == 2
    assert "--workspace" in bad.stderr
    assert "did you mean 'prod'?" in bad.stderr


def test_verify_rejects_upper_case_hex_on_mobile_as_diagnose_does(
    run: Cli, six_env_secrets: dict[str, str]
) -> None:
    import ivsecrets

    for platform in ("ios", "android", "web"):
        hasher = ivsecrets.get_hasher(platform, "prod")
        good = hasher.user_hash(user_id="42")
        assert hasher.verify(good, user_id="42")
        # Mobile SDKs accept only lower-case hex (DESIGN.md); the web Messenger either.
        assert hasher.verify(good.upper(), user_id="42") is (platform == "web")
        diagnosed = run(
            "diagnose", platform, "prod", "--user-id", "42", "--user-hash", good.upper()
        )
        assert (diagnosed.exit_code == 0) is (platform == "web"), diagnosed.output
    assert SECRETS
