"""``ivsecrets verify``: the deploy gate, with table, JSON, JUnit and GitHub output."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ivsecrets.cli.app import (
    State,
    cli,
    cli_message,
    environment_filter_options,
    format_option,
    output_option,
    pass_state,
)
from ivsecrets.cli.output import annotation, markup, report_console
from ivsecrets.errors import ConfigError, IVSecretsError

if TYPE_CHECKING:
    from ivsecrets.verification import VerifyReport

FORMATS = ("table", "json", "junit", "github")


@cli.command()
@environment_filter_options
@format_option(
    *FORMATS,
    help="Output: a table, one JSON document, JUnit XML for CI "
    "test reports, or GitHub Actions annotations.",
)
@output_option
@click.option(
    "--no-intercom",
    is_flag=True,
    help="Skip the Intercom API check even where a token is available.",
)
@pass_state
def verify(
    state: State,
    platforms: tuple[str, ...],
    workspaces: tuple[str, ...],
    output_format: str,
    output: Any,
    no_intercom: bool,
) -> None:
    """Prove each environment reads its correct, distinct secret (exit 0/1/2/3).

    Checks per environment: configured, resolves in its store with this runtime's credentials,
    plausible shape, distinct from every other environment, matches its pinned fingerprint and
    recorded hashes, and its Intercom secret still exists; warns on rotations in flight and old
    secrets. Never prints a secret.
    """
    from ivsecrets.verification import list_intercom_secrets
    from ivsecrets.verification import verify as run_verify

    try:
        report = run_verify(
            state.config,
            secrets=state.secrets,
            platforms=platforms,
            workspaces=workspaces,
            intercom=None if no_intercom else list_intercom_secrets,
        )
    except ConfigError as err:
        # A pipeline parsing the report gets the error in its own format too; the message on
        # stderr and exit code 2 follow as for every command.
        if output_format == "json":
            output.write(json.dumps(config_error_document(err), indent=2) + "\n")
        elif output_format == "junit":
            output.write(config_error_junit(err) + "\n")
        elif output_format == "github":
            output.write(config_error_github(err))
        raise
    if output_format == "json":
        output.write(report.to_json() + "\n")
    elif output_format == "junit":
        output.write(junit(report) + "\n")
    elif output_format == "github":
        output.write(github(report))
    else:
        _table(state, report, output)
    raise SystemExit(report.exit_code)


def _table(state: State, report: VerifyReport, output: Any) -> None:
    """The report as a rich table. Every string from config, stores or checks is escaped: it is
    data, never markup (a message naming ``[stores.file]`` must show as written)."""
    from rich.table import Table

    console = report_console(state, output)
    marks = {
        "ok": "[green]✓ ok[/]",
        "warn": "[yellow]! warn[/]",
        "fail": "[red]✗ fail[/]",
        "error": "[red]✗ error[/]",
        "skip": "[dim]- skip[/]",
    }
    table = Table(
        "environment",
        "store:reference",
        "fingerprint",
        "result",
        "details",
        title=markup(f"ivsecrets verify ({report.source})"),
        title_justify="left",
    )
    for env in report.environments:
        problems = [
            markup(f"{c.name}: {c.message}")
            for c in env.checks
            if c.status.value in ("fail", "error", "warn")
        ]
        passed = markup(", ".join(c.name for c in env.checks if c.status.value == "ok"))
        table.add_row(
            markup(str(env.environment)),
            markup(f"{env.store}:{env.reference}") if env.store else "-",
            markup(env.fingerprint or "-"),
            marks[env.status.value],
            "\n".join(problems) or f"[dim]{passed}[/]",
        )
    if not state.quiet:
        console.print(table)
    summary = report.as_dict()["summary"]
    verdict = {
        0: "[green]verified[/]",
        1: "[red]FAILED[/]",
        3: "[red]INCOMPLETE: a store could not be read[/]",
    }[report.exit_code]
    if not state.quiet or report.exit_code:
        console.print(
            f"{verdict}: {summary['ok']} ok, {summary['warn']} warnings, "
            f"{summary['fail']} failed, {summary['error']} unreadable"
        )


def junit(report: VerifyReport) -> str:
    """The report as JUnit XML: one test case per environment and check."""
    cases = [(env, check) for env in report.environments for check in env.checks]
    suite = ET.Element(
        "testsuite",
        name="ivsecrets verify",
        tests=str(len(cases)),
        failures=str(sum(c.status.value == "fail" for _, c in cases)),
        errors=str(sum(c.status.value == "error" for _, c in cases)),
        skipped=str(sum(c.status.value == "skip" for _, c in cases)),
    )
    for env, check in cases:
        case = ET.SubElement(
            suite, "testcase", classname=f"ivsecrets.{env.environment}", name=check.name
        )
        if check.status.value in ("fail", "error"):
            tag = "failure" if check.status.value == "fail" else "error"
            ET.SubElement(case, tag, message=check.message).text = check.message
        elif check.status.value == "skip":
            ET.SubElement(case, "skipped", message=check.message)
        elif check.status.value == "warn":
            ET.SubElement(case, "system-out").text = f"warning: {check.message}"
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def github(report: VerifyReport) -> str:
    """The report as GitHub Actions workflow commands (annotations)."""
    lines = []
    for env in report.environments:
        for check in env.checks:
            level = {"fail": "error", "error": "error", "warn": "warning"}.get(check.status.value)
            if level:
                title = f"ivsecrets verify {env.environment} {check.name}"
                title = annotation(title, property=True)
                lines.append(f"::{level} title={title}::{annotation(check.message)}")
    summary = report.as_dict()["summary"]
    lines.append(
        f"::notice title=ivsecrets verify::{summary['ok']} ok, {summary['warn']} "
        f"warnings, {summary['fail']} failed, {summary['error']} unreadable"
    )
    return "\n".join(lines) + "\n"


# -- configuration errors in the machine-readable formats -----------------------------------------


def config_error_document(err: ConfigError) -> dict[str, Any]:
    """The JSON document for a configuration error: the report's shape, no environments."""
    from ivsecrets.verification import SCHEMA_VERSION

    file, line = error_location(err)
    return {
        "schema_version": SCHEMA_VERSION,
        "config": err.file,
        "exit_code": 2,
        "error": {
            "message": err.problem,
            "file": file,
            "line": line,
            "key": err.key,
            "fix": err.fix,
        },
        "summary": {"ok": 0, "warn": 0, "fail": 0, "error": 0, "skip": 0},
        "environments": [],
    }


def error_fields(err: Exception) -> dict[str, Any]:
    """The ``error`` object of a command's JSON document when an error stopped the command:
    message, and for a configuration error the file, line, key and fix (else null)."""
    if isinstance(err, ConfigError):
        file, line = error_location(err)
        return {"message": err.problem, "file": file, "line": line, "key": err.key, "fix": err.fix}
    if isinstance(err, IVSecretsError):
        message = cli_message(err)
    else:
        message = str(getattr(err, "message", err))  # a ClickException's message
    return {"message": message, "file": None, "line": None, "key": None, "fix": None}


def config_error_junit(err: ConfigError) -> str:
    """JUnit XML with one test case, ``configuration``, in error."""
    suite = ET.Element(
        "testsuite", name="ivsecrets verify", tests="1", failures="0", errors="1", skipped="0"
    )
    case = ET.SubElement(suite, "testcase", classname="ivsecrets.config", name="configuration")
    ET.SubElement(case, "error", message=str(err), type="ConfigError").text = str(err)
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def config_error_github(err: ConfigError) -> str:
    """A GitHub ``::error`` annotation on the file and line of the key, where they are known."""
    file, line = error_location(err)
    props = [f"file={annotation(file, property=True)}"] if file else []
    if file and line:
        props.append(f"line={line}")
    props.append(f"title={annotation('ivsecrets verify configuration', property=True)}")
    return f"::error {','.join(props)}::{annotation(str(err))}\n"


_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")
_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")


def error_location(err: ConfigError) -> tuple[str | None, int | None]:
    """The file a configuration error is in and, when it can be found, the line of its key.

    The key is looked up by reading the TOML line by line (table headers and ``key =`` lines);
    a syntax error carries its line in the message. Either may be None.
    """
    if not err.file:
        return None, None
    file, _, table = err.file.partition(" [")  # "pyproject.toml [tool.ivsecrets]"
    prefix = table.rstrip("]") + "." if table else ""
    path = Path(file)
    if not path.is_file():
        return file, None
    if found := _TOML_POSITION.search(err.problem):
        return file, int(found.group(1))
    if not err.key or err.key.startswith("-"):  # a command-line option, not a key in the file
        return file, None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return file, None
    wanted = {_normal(err.key), _normal(prefix + err.key)}
    return file, _key_line(lines, wanted)


def _key_line(lines: list[str], wanted: set[str]) -> int | None:
    table = ""
    parents: int | None = None  # the nearest header that is a parent of the key, as a fallback
    for number, text in enumerate(lines, start=1):
        if header := _TABLE_HEADER.match(text):
            table = _normal(header.group(1))
            if table in wanted:
                return number
            if parents is None and any(w.startswith(table + ".") for w in wanted):
                parents = number
            continue
        if key := _KEY_LINE.match(text):
            full = f"{table}.{_normal(key.group(1))}" if table else _normal(key.group(1))
            if full in wanted:
                return number
    return parents


def _normal(key: str) -> str:
    """A dotted key without quotes, spaces or list indexes (``known_hashes[0]``)."""
    parts = [p.strip().strip("\"'") for p in key.split(".")]
    return ".".join(re.sub(r"\[\d+\]$", "", p) for p in parts)
