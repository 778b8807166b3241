"""``ivsecrets verify``: the deploy gate, with table, JSON, JUnit and GitHub output."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any

import click

from ivsecrets.cli.app import State, cli, format_option, pass_state

if TYPE_CHECKING:
    from ivsecrets.config import WorkspaceConfig
    from ivsecrets.verification import VerifyReport

FORMATS = ("table", "json", "junit", "github")


@cli.command()
@click.option(
    "--platform",
    "platforms",
    multiple=True,
    metavar="PLATFORM",
    help="Only this platform (repeatable): web, ios, android.",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    metavar="WORKSPACE",
    help="Only this workspace (repeatable).",
)
@format_option(
    *FORMATS,
    help="Output: a table, one JSON document, JUnit XML for CI "
    "test reports, or GitHub Actions annotations.",
)
@click.option(
    "--output",
    "-o",
    type=click.File("w"),
    default="-",
    help="Write the report here instead of standard output.",
)
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
    from ivsecrets.verification import verify as run_verify

    report = run_verify(
        state.config,
        secrets=state.secrets,
        platforms=platforms,
        workspaces=workspaces,
        intercom=None if no_intercom else _intercom_lister,
    )
    if output_format == "json":
        output.write(report.to_json() + "\n")
    elif output_format == "junit":
        output.write(junit(report) + "\n")
    elif output_format == "github":
        output.write(github(report))
    else:
        _table(state, report, output)
    raise SystemExit(report.exit_code)


def _intercom_lister(workspace: WorkspaceConfig) -> Any:
    """The workspace's Intercom secrets, or None when no API token is set for it."""
    import os

    if not os.environ.get(workspace.intercom_token_env):
        return None
    from ivsecrets.intercom import IntercomClient

    client = IntercomClient.from_workspace(workspace)
    return client.list()


def _table(state: State, report: VerifyReport, output: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(
        file=output,
        no_color=not state.color,
        highlight=False,
        width=None if output.isatty() else 160,
    )
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
        title=f"ivsecrets verify ({report.source})",
        title_justify="left",
    )
    for env in report.environments:
        problems = [
            f"{c.name}: {c.message}"
            for c in env.checks
            if c.status.value in ("fail", "error", "warn")
        ]
        passed = ", ".join(c.name for c in env.checks if c.status.value == "ok")
        table.add_row(
            str(env.environment),
            f"{env.store}:{env.reference}" if env.store else "-",
            env.fingerprint or "-",
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
                lines.append(f"::{level} title={_escape(title, True)}::{_escape(check.message)}")
    summary = report.as_dict()["summary"]
    lines.append(
        f"::notice title=ivsecrets verify::{summary['ok']} ok, {summary['warn']} "
        f"warnings, {summary['fail']} failed, {summary['error']} unreadable"
    )
    return "\n".join(lines) + "\n"


def _escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
