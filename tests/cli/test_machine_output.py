"""What a pipeline parses: schemas, configuration errors in every format, no markup in text.

Issue 10, items 2, 3 and 5.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivsecrets import user_hash
from tests.cli.conftest import SECRETS, Cli
from tests.cli.schemas import DOCUMENTED, validate, validator

BROKEN = '# deploy config\nworkspaces = ["test", "prod"]\n\n[cache]\nttl = "five minutes"\n'


# -- item 5: schema_version and published schemas --------------------------------------------------


@pytest.mark.parametrize("command", DOCUMENTED)
def test_every_json_document_has_a_schema_version_and_a_published_schema(
    run: Cli, command: str
) -> None:
    assert validator(command).schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    result = run(command, "--format", "json")  # the fixture validates against the schema too
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert doc["config"]
    assert len(doc["environments"]) == 6


def test_the_schemas_reject_a_moved_field(run: Cli) -> None:
    doc = json.loads(run("verify", "--format", "json").stdout)
    doc["environments"][0]["result"] = doc["environments"][0].pop("status")
    with pytest.raises(AssertionError, match="status"):
        validate("verify", doc)
    status = json.loads(run("status", "--format", "json").stdout)
    del status["schema_version"]
    with pytest.raises(AssertionError, match="schema_version"):
        validate("status", status)


# -- item 2: a configuration error in every machine-readable format -------------------------------


def test_config_error_as_json_on_stdout(run: Cli) -> None:
    path = run.write_config(BROKEN)
    result = run("verify", "--format", "json")
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 2 and doc["environments"] == []
    assert doc["error"] == {
        "message": doc["error"]["message"],
        "file": str(path.name),
        "line": 5,
        "key": "cache.ttl",
        "fix": doc["error"]["fix"],
    }
    assert "must be a float" in doc["error"]["message"]
    assert "[cache.ttl]" in result.stderr  # the human message is still there


def test_config_error_as_junit_file(run: Cli) -> None:
    run.write_config(BROKEN)
    report = run.workdir / "ivsecrets.xml"
    result = run("verify", "--format", "junit", "--output", str(report))
    assert result.exit_code == 2
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == "1"
    (case,) = suite.iter("testcase")
    error = case.find("error")
    assert error is not None and "[cache.ttl]" in (error.get("message") or "")


def test_config_error_as_github_annotation_on_the_line_of_the_key(run: Cli) -> None:
    run.write_config(BROKEN)
    result = run("verify", "--format", "github")
    assert result.exit_code == 2
    (line,) = result.stdout.splitlines()
    assert line.startswith("::error file=ivsecrets.toml,line=5,title=")
    assert "[cache.ttl]: must be a float" in line


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ('[stores.aws]\nplugin = "aws"\nregoin = "eu-west-1"\n', "stores.aws.regoin", 3),
        ("\n\n[environments.ios.prod]\nfingerprint = 'nope'\n", None, 4),
        ("[cache\nttl = 1\n", None, 1),  # a TOML syntax error carries its own line
    ],
)
def test_github_annotation_finds_the_line(run: Cli, text: str, key: str | None, line: int) -> None:
    run.write_config(text)
    result = run("verify", "--format", "github")
    assert result.exit_code == 2, result.output
    assert f",line={line}," in result.stdout, result.stdout
    if key:
        assert key in result.stdout


def test_config_error_in_pyproject_points_into_pyproject(run: Cli) -> None:
    (run.workdir / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.ivsecrets.cache]\nttl = -1\n'
    )
    result = run("verify", "--format", "github")
    assert result.exit_code == 2, result.output
    assert result.stdout.startswith("::error file=pyproject.toml,line=5,")


def test_usage_errors_are_reported_in_the_format_too(run: Cli) -> None:
    result = run("verify", "--format", "json", "--workspace", "staging")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["key"] == "--workspace" and error["line"] is None
    assert "staging" in error["message"]


def test_missing_config_file_in_json(run: Cli) -> None:
    result = run("verify", "--config", "nope.toml", "--format", "json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error["file"] == "nope.toml" and error["line"] is None


# -- item 3: config text and messages are never markup ---------------------------------------------


def test_store_message_with_square_brackets_shows_as_written(run: Cli) -> None:
    secrets_dir = run.workdir / "secrets"
    secrets_dir.mkdir()
    for name, value in SECRETS.items():
        (secrets_dir / name.lower()).write_text(value)
        os.chmod(secrets_dir / name.lower(), 0o644)
    run.write_config(
        'store = "files"\nreference = "{platform}_{workspace}"\n'
        f'[stores.files]\nplugin = "file"\npath = "{secrets_dir}"\n'
    )
    result = run("verify", "--no-color")
    assert result.exit_code == 3
    flat = " ".join(result.stdout.split())
    assert "allow_insecure_permissions = true in [stores.files]" in flat, result.stdout


def test_pyproject_header_keeps_its_table_name(run: Cli) -> None:
    (run.workdir / "pyproject.toml").write_text('[tool.ivsecrets]\nworkspaces = ["test", "prod"]\n')
    result = run("verify", "--no-color")
    assert result.exit_code == 0, result.output
    assert "ivsecrets verify (pyproject.toml [tool.ivsecrets])" in result.stdout


def test_config_text_cannot_restyle_the_output(run: Cli, tmp_path: Path) -> None:
    email = "[red]boom[/red]@example.com"
    run.write_config(f"""
[[environments.ios.prod.known_hashes]]
email = "{email}"
user_hash = "{user_hash(SECRETS["WEB_PROD"], email="x@example.com")}"
""")
    result = run("verify")
    assert result.exit_code == 1
    assert f"email={email}" in " ".join(result.stdout.split())
    assert "\x1b[" not in result.stdout  # not a terminal: no styling at all
