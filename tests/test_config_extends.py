"""Issue 10 item 17: a user-owned configuration extends a generated one, key by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivsecrets import ConfigError, load_config
from ivsecrets.environments import Environment, Platform

GENERATED = """\
# Written by the ivsecrets Terraform module for AWS Secrets Manager.
platforms = ["web", "ios", "android"]
workspaces = ["test", "prod"]
store = "aws"
reference = "ivsecrets-{workspace}-{platform}"

[stores.aws]
plugin = "aws"
region = "eu-west-1"

[cache]
ttl = 300
max_stale = 3600
"""


@pytest.fixture
def deploy(tmp_path: Path) -> Path:
    directory = tmp_path / "deploy"
    directory.mkdir()
    (directory / "generated.toml").write_text(GENERATED)
    return directory


def test_user_file_wins_key_by_key(deploy: Path) -> None:
    user = deploy / "ivsecrets.toml"
    user.write_text(
        """extends = "generated.toml"
workspaces = ["prod"]

[cache]
ttl = 60

[stores.aws]
endpoint_url = "http://127.0.0.1:4566"

[environments.ios.prod]
fingerprint = "ivfp1:0123456789abcdef"
[[environments.ios.prod.known_hashes]]
user_id = "42"
user_hash = "aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597"

[workspace.prod]
intercom_region = "eu"
"""
    )
    config = load_config(user)
    assert config.path == user
    assert config.workspaces == ("prod",)  # arrays are replaced, not merged
    assert config.platforms == (Platform.web, Platform.ios, Platform.android)
    assert config.cache.ttl == 60 and config.cache.max_stale == 3600  # tables merge
    assert dict(config.stores["aws"].options) == {
        "region": "eu-west-1",
        "endpoint_url": "http://127.0.0.1:4566",
    }
    ios = config.environments[Environment(Platform.ios, "prod")]
    assert ios.reference == "ivsecrets-prod-ios"
    assert ios.fingerprint == "ivfp1:0123456789abcdef"
    assert ios.known_hashes[0].user_id == "42"
    assert config.workspace_settings["prod"].intercom_region == "eu"


def test_errors_name_the_file_each_key_came_from(deploy: Path) -> None:
    user = deploy / "ivsecrets.toml"
    user.write_text('extends = "generated.toml"\n[cache]\njitter = 5\n')
    with pytest.raises(ConfigError) as info:
        load_config(user)
    assert info.value.key == "cache.jitter"
    assert Path(info.value.file or "").name == "ivsecrets.toml"

    (deploy / "generated.toml").write_text(GENERATED.replace("ttl = 300", "ttl = -5"))
    user.write_text('extends = "generated.toml"\n[cache]\nmax_stale = 60\n')
    with pytest.raises(ConfigError) as info:
        load_config(user)
    assert info.value.key == "cache.ttl"
    assert Path(info.value.file or "").name == "generated.toml"


def test_store_option_errors_name_the_file_of_the_option(deploy: Path) -> None:
    user = deploy / "ivsecrets.toml"
    user.write_text('extends = "generated.toml"\n[stores.aws]\nendpoint_url = "x"\n')
    config = load_config(user)
    store = config.stores["aws"]
    assert Path(store.error("endpoint_url", "bad").file or "").name == "ivsecrets.toml"
    assert Path(store.error("region", "bad").file or "").name == "generated.toml"


def test_a_chain_of_files(deploy: Path) -> None:
    (deploy / "middle.toml").write_text('extends = "generated.toml"\nworkspaces = ["test"]\n')
    sub = deploy / "team"
    sub.mkdir()
    (sub / "ivsecrets.toml").write_text('extends = "../middle.toml"\n[cache]\nttl = 5\n')
    config = load_config(sub / "ivsecrets.toml")
    assert config.workspaces == ("test",)
    assert config.cache.ttl == 5
    assert config.stores["aws"].options["region"] == "eu-west-1"


def test_cycles_are_refused(deploy: Path) -> None:
    (deploy / "a.toml").write_text('extends = "b.toml"\n')
    (deploy / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match="cycle") as info:
        load_config(deploy / "a.toml")
    assert info.value.key == "extends"
    assert "a.toml" in str(info.value) and "b.toml" in str(info.value)
    (deploy / "self.toml").write_text('extends = "self.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        load_config(deploy / "self.toml")


def test_missing_or_wrong_extends(deploy: Path) -> None:
    user = deploy / "ivsecrets.toml"
    user.write_text('extends = "nosuch.toml"\n')
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(user)
    assert info.value.key == "extends"
    assert info.value.file == str(user)
    user.write_text("extends = 3\n")
    with pytest.raises(ConfigError, match="must be a str") as info:
        load_config(user)
    assert info.value.key == "extends"


def test_extends_in_pyproject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "generated.toml").write_text(GENERATED)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ivsecrets]\nextends = "deploy/generated.toml"\n'
        '[tool.ivsecrets.environments.web.prod]\nfingerprint = "nope"\n'
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.key == "tool.ivsecrets.environments.web.prod.fingerprint"
    assert Path(info.value.file or "").name == "pyproject.toml"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ivsecrets]\nextends = "deploy/generated.toml"\nworkspaces = ["prod"]\n'
    )
    config = load_config()
    assert config.workspaces == ("prod",) and "aws" in config.stores


def test_store_option_keys_follow_their_file_from_a_pyproject(tmp_path: Path) -> None:
    (tmp_path / "generated.toml").write_text(GENERATED)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[tool.ivsecrets]\nextends = "generated.toml"\n'
        '[tool.ivsecrets.stores.aws]\nendpoint_url = "x"\n'
    )
    store = load_config(pyproject).stores["aws"]  # --config pyproject.toml reads its table
    mine = store.error("endpoint_url", "bad")
    assert (Path(mine.file or "").name, mine.key) == (
        "pyproject.toml",
        "tool.ivsecrets.stores.aws.endpoint_url",
    )
    generated = store.error("region", "bad")
    assert (Path(generated.file or "").name, generated.key) == (
        "generated.toml",
        "stores.aws.region",
    )
    pyproject.write_text('[project]\nname = "x"\n')
    with pytest.raises(ConfigError, match=r"no \[tool.ivsecrets\] table"):
        load_config(pyproject)
