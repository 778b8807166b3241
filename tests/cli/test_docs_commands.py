"""Every ``ivsecrets`` command line the docs show runs, against a local store (issue 10, item 1).

The lines are extracted from the fenced code blocks of README.md, docs/**/*.md and
terraform/**/*.md, from the ``run:``/``script:`` steps of terraform/**/*.yml, and from the header
the Terraform modules write into ``ivsecrets_config``. Each runs in-process, as the docs write it,
in a directory holding the config files the line names: on the environment-variable store
(``IVSECRETS_<PLATFORM>_<WORKSPACE>``), or on moto with the Intercom fake when it rotates.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ivsecrets.cli import cli
from ivsecrets.testing import SECRET_C
from tests.cli.conftest import Cli
from tests.cli.schemas import check_output

REPO = Path(__file__).resolve().parents[2]

#: ``ivsecrets`` as a command word (also by path, /opt/ivsecrets/bin/ivsecrets), then its arguments;
#: not the package name after pip install / from / import.
COMMAND = re.compile(
    r"(?<![\w./'\"-])(?<!install )(?<!from )(?<!import )(?:/[\w.-]+(?:/[\w.-]+)*/)?ivsecrets"
    r"[ \t]+(?P<args>[^\n]*)"
)
SUBCOMMANDS = {
    "verify", "status", "fingerprint", "hash", "jwt", "diagnose", "rotate", "rollback", "init",
    "finish", "abort", "settle",
}  # fmt: skip
#: The commands that change a store: the environment store is read-only, so they run on moto.
ROTATION_COMMANDS = {"rotate", "finish", "abort", "settle", "rollback"}

#: Placeholders the docs use, and what stands for them here.
PLACEHOLDERS = {
    "<this file>": "ivsecrets.toml",
    "rotate ...": "rotate web test --from-file new-secret.txt",
}

#: Lines whose documented outcome is not exit 0, with the reason.
EXPECTED_EXIT: dict[str, tuple[int, str]] = {}

#: Lines that cannot run here, with the reason. Keep it empty where possible.
CANNOT_RUN: dict[str, str] = {}


@dataclass(frozen=True)
class DocCommand:
    file: str
    line: int
    text: str  # as written, after the executable's name

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def _commands_in(line: str) -> Iterator[str]:
    code = re.split(r"(?:^|\s)#", line, maxsplit=1)[0]  # a shell or YAML comment
    for found in COMMAND.finditer(code):
        args = re.split(r"\s(?:&&|\|\||;|\|)\s", found.group("args"))[0].strip()
        if args.split(maxsplit=1)[:1] and (args.split()[0] in SUBCOMMANDS or args.startswith("-")):
            yield args


def _markdown(path: Path) -> Iterator[tuple[int, str]]:
    fence: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip() or "text"
            continue
        if fence is not None and fence not in ("python", "py", "toml", "hcl"):
            yield number, line


def _yaml_steps(path: Path) -> Iterator[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()

    def walk(node: object, key: str | None) -> Iterator[str]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, str(k))
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, key)
        elif isinstance(node, str) and key in ("run", "script", "before_script", "after_script"):
            yield from node.splitlines()

    for step in walk(yaml.safe_load(text), None):
        if not step.strip():
            continue
        number = next(i for i, line in enumerate(lines, start=1) if step.strip() in line)
        yield number, step


def _terraform_headers(path: Path) -> Iterator[tuple[int, str]]:
    """The comment lines of the TOML a module writes (HCL strings that start with ``#``)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if found := re.search(r'"#\s*([^"]*)"', line):
            yield number, found.group(1)


def doc_commands() -> list[DocCommand]:
    sources = [
        (REPO / "README.md", _markdown),
        *((p, _markdown) for p in sorted((REPO / "docs").rglob("*.md"))),
        *((p, _markdown) for p in sorted((REPO / "terraform").rglob("*.md"))),
        *((p, _yaml_steps) for p in sorted((REPO / "terraform").rglob("*.yml"))),
        *((p, _terraform_headers) for p in sorted((REPO / "terraform").rglob("outputs.tf"))),
    ]
    found = []
    for path, lines in sources:
        if ".terraform" in path.parts:
            continue
        for number, line in lines(path):
            for args in _commands_in(line):
                found.append(DocCommand(str(path.relative_to(REPO)), number, args))
    return found


DOC_COMMANDS = doc_commands()


def test_the_extraction_finds_the_lines_the_issue_named() -> None:
    files = {c.file for c in DOC_COMMANDS}
    assert {
        "README.md",
        "terraform/README.md",
        "terraform/examples/pipeline/github-actions.yml",
        "terraform/examples/pipeline/gitlab-ci.yml",
        "terraform/modules/aws/README.md",
        "terraform/modules/gcp/README.md",
        "terraform/modules/vault/README.md",
        "terraform/modules/aws/outputs.tf",
    } <= files, files
    assert "verify --config ivsecrets.toml" in {c.text for c in DOC_COMMANDS}
    assert len(DOC_COMMANDS) >= 20
    assert not [c.id for c in DOC_COMMANDS if c.id in CANNOT_RUN and c.text not in CANNOT_RUN]


def _argv(command: DocCommand) -> list[str]:
    text = command.text
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    assert "<" not in text and "..." not in text, (
        f"{command.id}: '{command.text}' has a placeholder; add it to PLACEHOLDERS"
    )
    return shlex.split(text)


def _config_paths(argv: list[str]) -> list[str]:
    paths = ["ivsecrets.toml"]
    paths += [b for a, b in itertools.pairwise(argv) if a == "--config"]
    return paths


@pytest.mark.parametrize("command", DOC_COMMANDS, ids=[c.id for c in DOC_COMMANDS])
def test_documented_command_runs(
    command: DocCommand, run: Cli, request: pytest.FixtureRequest
) -> None:
    if command.text in CANNOT_RUN:
        pytest.skip(CANNOT_RUN[command.text])
    argv = _argv(command)
    store = _store_for(command, argv)
    if store == "env":
        config_text = 'store = "env"   # IVSECRETS_<PLATFORM>_<WORKSPACE>\n'
    else:
        config_text = _six_on(store, request)
        (run.workdir / "new-secret.txt").write_text(SECRET_C + "\n")
    for name in _config_paths(argv):
        path = run.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_text)
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    check_output(argv, result.stdout)
    expected, why = EXPECTED_EXIT.get(command.text, (0, "documented to succeed"))
    assert result.exit_code == expected, (
        f"{command.id}: 'ivsecrets {command.text}' exited {result.exit_code}, expected "
        f"{expected} ({why}):\n{result.output}"
    )
    if "--output" in argv:
        assert (run.workdir / argv[argv.index("--output") + 1]).stat().st_size > 0


def _store_for(command: DocCommand, argv: list[str]) -> str:
    """The store a line needs: the one its Terraform module or example is for; else moto for a
    rotation (the environment store is read-only); else the environment store."""
    parts = Path(command.file).parts
    if parts[0] == "terraform" and len(parts) > 2 and parts[2] in ("aws", "gcp", "vault"):
        return parts[2]
    subcommand = next(a for a in argv if a in SUBCOMMANDS)
    return "aws" if subcommand in ROTATION_COMMANDS else "env"


def _six_on(store: str, request: pytest.FixtureRequest) -> str:
    """Six secrets on the store's test server; each workspace's Intercom API on the fake."""
    six = request.getfixturevalue(f"{store}_six")
    intercom = request.getfixturevalue("intercom_api")
    monkeypatch = request.getfixturevalue("monkeypatch")
    for workspace in ("TEST", "PROD"):
        monkeypatch.setenv(f"IVSECRETS_INTERCOM_TOKEN_{workspace}", intercom.token)
    return str(six.config_text) + "".join(
        f'\n[workspace.{ws}]\nintercom_base_url = "{intercom.base_url}"\n'
        for ws in ("test", "prod")
    )
