"""Issue 10 item 7: the configuration is found from any subdirectory, up to the repository root."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from ivsecrets import ConfigError, get_hasher, load_config
from ivsecrets.secret import fingerprint
from tests.cli.conftest import SECRETS, run, six_env_secrets  # noqa: F401 (fixtures)

FILE_STORE_CONFIG = """
workspaces = ["prod"]
platforms = ["ios"]
store = "env"
reference = "MOVED_{PLATFORM}_{WORKSPACE}"
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root (it holds .git) with a nested working directory, entered."""
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    (tmp_path / ".git").mkdir()
    deep = tmp_path / "services" / "api"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    return tmp_path


def test_load_config_searches_upward(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo / "ivsecrets.toml").write_text('workspaces = ["prod"]\n')
    with caplog.at_level(logging.INFO, logger="ivsecrets"):
        config = load_config()
    assert config.workspaces == ("prod",)
    assert config.path is not None and config.path.resolve() == (repo / "ivsecrets.toml").resolve()
    assert any(
        r.levelno == logging.INFO and "ivsecrets.toml" in r.getMessage() for r in caplog.records
    )


def test_nearest_directory_wins_and_ivsecrets_toml_before_pyproject(repo: Path) -> None:
    (repo / "ivsecrets.toml").write_text('workspaces = ["top"]\n')
    services = repo / "services"
    (services / "pyproject.toml").write_text('[tool.ivsecrets]\nworkspaces = ["mid"]\n')
    assert load_config().workspaces == ("mid",)
    (services / "ivsecrets.toml").write_text('workspaces = ["midfile"]\n')
    assert load_config().workspaces == ("midfile",)


def test_pyproject_without_the_table_is_passed_over(repo: Path) -> None:
    (repo / "services" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (repo / "pyproject.toml").write_text('[tool.ivsecrets]\nworkspaces = ["root"]\n')
    assert load_config().workspaces == ("root",)


def test_search_stops_at_the_repository_root(repo: Path, caplog: pytest.LogCaptureFixture) -> None:
    (repo.parent / "ivsecrets.toml").write_text('workspaces = ["outside"]\n')
    try:
        with caplog.at_level(logging.INFO, logger="ivsecrets"):
            config = load_config()
    finally:
        (repo.parent / "ivsecrets.toml").unlink()
    assert config.source == "<embedded default>"
    assert any(
        r.levelno == logging.INFO and "embedded default" in r.getMessage() for r in caplog.records
    )


def test_pyproject_errors_name_the_full_key(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.ivsecrets]\n[tool.ivsecrets.cache]\nttl = "5m"\n')
    with pytest.raises(ConfigError) as info:
        load_config()
    assert info.value.key == "tool.ivsecrets.cache.ttl"
    assert info.value.file is not None and info.value.file.endswith("pyproject.toml")
    assert "[tool.ivsecrets.cache.ttl]" in str(info.value)


def test_pyproject_unknown_environment_names_the_full_key(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.ivsecrets]\nworkspaces = ["prod"]\n')
    with pytest.raises(ConfigError) as info:
        load_config().environment("ios", "staging")
    assert info.value.key == "tool.ivsecrets.workspaces"


def test_get_hasher_finds_the_file(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "ivsecrets.toml").write_text(FILE_STORE_CONFIG)
    monkeypatch.setenv("MOVED_IOS_PROD", SECRETS["IOS_PROD"])
    monkeypatch.setenv("IVSECRETS_IOS_PROD", SECRETS["IOS_TEST"])
    assert get_hasher("ios", "prod").fingerprint == fingerprint(SECRETS["IOS_PROD"])


def test_verify_finds_the_file(
    run: Callable[..., Result],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "ivsecrets.toml").write_text(FILE_STORE_CONFIG)
    deep = tmp_path / "services" / "api"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    monkeypatch.setenv("MOVED_IOS_PROD", SECRETS["IOS_PROD"])
    result = run("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    assert '"ios/prod"' in result.output
    assert "web/test" not in result.output
