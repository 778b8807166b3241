"""A JSON consumer gets JSON on failure too; an unwritable --output is a usage error (issue 20,
item 7)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.schemas import validate


@pytest.mark.parametrize("command", ["status", "fingerprint"])
def test_a_config_error_is_a_json_document(run: Cli, command: str) -> None:
    path = run.write_config('stroe = "env"\n')
    result = run("--config", str(path), command, "--format", "json")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    validate(command, document)
    assert document["environments"] == []
    assert document["exit_code"] == 2
    assert document["error"]["key"] == "stroe"
    assert document["error"]["file"] == str(path)
    assert document["error"]["line"] == 1
    assert "unknown key" in document["error"]["message"]
    assert "did you mean 'store'?" in document["error"]["fix"]
    assert "unknown key" in result.stderr  # the message on stderr, as for every command


def test_a_store_error_is_a_json_document(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVSECRETS_IOS_PROD")
    result = run("fingerprint", "--format", "json")
    assert result.exit_code != 0
    document = json.loads(result.stdout)
    validate("fingerprint", document)
    assert document["exit_code"] == result.exit_code
    assert "IVSECRETS_IOS_PROD" in document["error"]["message"]


@pytest.mark.parametrize("command", ["status", "fingerprint"])
def test_an_option_error_is_a_json_document(run: Cli, command: str) -> None:
    result = run(command, "--format", "json", "--workspace", "staging")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    validate(command, document)
    assert document["error"]["key"] == "--workspace"
    assert document["config"] == "<embedded default>"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
@pytest.mark.parametrize("command", [("verify",), ("scan", ".")])
def test_an_unwritable_output_is_a_usage_error(
    run: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run(*command, "--format", "json", "--output", str(locked / "report.json"))
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 2, result.output
    assert "--output" in result.stderr
    assert "report.json" in result.stderr
    assert "Permission denied" in result.stderr


@pytest.mark.parametrize("command", [("verify",), ("scan", ".")])
@pytest.mark.parametrize("where", ["missing directory", "a directory"])
def test_an_output_that_cannot_be_opened_is_a_usage_error(
    run: Cli, tmp_path: Path, command: tuple[str, ...], where: str
) -> None:
    target = tmp_path / "no" / "such" / "report.json" if where != "a directory" else tmp_path
    result = run(*command, "--format", "json", "--output", str(target))
    assert result.exit_code == 2, result.output
    assert "--output" in result.stderr
    assert str(target) in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "--format", "json", "no-such-path"), "no-such-path"),
        (("scan", "--format", "json", "--no-heuristic", "."), "nothing to look for"),
    ],
)
def test_scan_errors_are_a_json_document(run: Cli, args: tuple[str, ...], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2
    assert message in document["error"]["message"]
    assert document["findings"] == []


def test_a_scan_config_error_is_a_json_document(run: Cli) -> None:
    path = run.write_config("[environments.ios.prod]\nfingerprint = 3\n")
    result = run("--config", str(path), "scan", "--format", "json", ".")
    assert result.exit_code == 2, result.output
    document = json.loads(result.stdout)
    assert document["error"]["file"] == str(path)
    assert document["error"]["key"] == "environments.ios.prod.fingerprint"
