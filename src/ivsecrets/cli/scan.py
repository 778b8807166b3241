"""``ivsecrets scan`` (leaked secrets, by fingerprint) and ``ivsecrets config-check``."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

import ivsecrets
from ivsecrets.cli.app import (
    CliError,
    State,
    cli,
    exit_code_of,
    format_option,
    output_option,
    pass_state,
)
from ivsecrets.cli.output import annotation, markup, report_console
from ivsecrets.errors import IVSecretsError

if TYPE_CHECKING:
    from ivsecrets.scan import Finding, KnownSecrets, ScanReport

FORMATS = ("table", "json", "sarif", "github")
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    """A size in bytes: ``4096``, ``100M``, ``2G`` (K, M, G are powers of 1024)."""
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in _UNITS else ""
    try:
        number = float(text[: len(text) - len(unit)])
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size like 4096, 100M or 2G") from None
    if number < 0:
        raise click.BadParameter("a size cannot be negative")
    return int(number * _UNITS[unit])


@cli.command()
# Existence is checked by the command, not by click: with --format json a missing path is an
# error document too, not usage text.
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--from-store",
    is_flag=True,
    help="Look for every current, previous and pending version the stores hold (needs "
    "read access), not only the fingerprints pinned in the configuration.",
)
@click.option(
    "--no-heuristic",
    is_flag=True,
    help="Do not report unknown strings shaped like an Intercom secret (43 characters of "
    "base64url near 'intercom', 'user_hash' or 'jwt').",
)
@click.option(
    "--fail-on-heuristic",
    is_flag=True,
    help="Exit 1 on a suspected secret too, not only on a known one.",
)
@format_option(
    *FORMATS,
    help="A table, one JSON document, SARIF 2.1.0 for GitHub code scanning, or GitHub "
    "Actions annotations.",
)
@output_option
@click.option(
    "--max-depth",
    type=click.IntRange(0, 32),
    default=4,
    show_default=True,
    help="Archives inside archives to open.",
)
@click.option(
    "--max-file-size",
    callback=_size,
    default="100M",
    show_default=True,
    help="Larger files and archive members are skipped (and reported).",
)
@click.option(
    "--max-total-size",
    callback=_size,
    default="4G",
    show_default=True,
    help="Stop reading after this many bytes in all (decompressed).",
)
@click.option(
    "--window-length",
    "window_lengths",
    multiple=True,
    type=click.IntRange(16, 512),
    help="Also try every window of this length inside longer tokens (repeatable; default 43, "
    "the length of Intercom's secrets).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(0, 64),
    default=1,
    show_default=True,
    help="Processes that search (0: one per core, up to 8); workers start only once 4 MiB "
    "have been read. One is usually fastest: reading and decompressing stay in this process.",
)
@pass_state
def scan(
    state: State,
    paths: tuple[str, ...],
    from_store: bool,
    no_heuristic: bool,
    fail_on_heuristic: bool,
    output_format: str,
    output: Any,
    max_depth: int,
    max_file_size: int,
    max_total_size: int,
    window_lengths: tuple[int, ...],
    jobs: int,
) -> None:
    """Find identity-verification secrets in files, directories and archives (exit 0/1/2/3).

    Compares the fingerprint of every candidate string (plain, UTF-16, base64, hex; inside zip,
    APK, IPA, JAR, wheel and tar archives) with the fingerprints pinned in the configuration, or
    with --from-store every version the stores hold. Reports where, whose secret and which
    version; never a value. Exit 1 when a known secret is found.
    """
    from ivsecrets.scan import INTERCOM_SECRET_LENGTH, Limits, Scanner

    try:
        missing = [path for path in paths if not os.path.lexists(path)]
        if missing:
            raise CliError(f"no such file or directory: {', '.join(missing)}", 2)
        known, notes = _known(state, from_store)
        if not known and no_heuristic:
            raise CliError(
                "nothing to look for: the configuration pins no fingerprints and --no-heuristic "
                "is set (pin fingerprints, or use --from-store)",
                2,
            )
    except (IVSecretsError, click.ClickException) as err:
        if output_format == "json":  # a pipeline reading the report gets the error as JSON
            output.write(json.dumps(_error_document(err), indent=2) + "\n")
        raise
    limits = Limits(
        max_depth=max_depth, max_file_bytes=max_file_size, max_total_bytes=max_total_size
    )
    scanner = Scanner(
        known,
        limits=limits,
        heuristic=not no_heuristic,
        window_lengths=(INTERCOM_SECRET_LENGTH, *window_lengths),
        jobs=jobs or min(8, os.cpu_count() or 1),
    )
    report = scanner.scan(paths)
    report.notes.extend(notes)
    if not known:
        report.notes.append(
            "no known fingerprints (the configuration pins none): only the heuristic ran"
        )
    if output_format == "json":
        output.write(report.to_json() + "\n")
    elif output_format == "sarif":
        from ivsecrets.scan import sarif

        output.write(json.dumps(sarif(report, tool_version=ivsecrets.__version__), indent=2) + "\n")
    elif output_format == "github":
        output.write(github(report))
    else:
        _table(state, report, output)
    if output_format != "table" and not state.quiet:
        click.echo(_summary(report), err=True)
    code = report.exit_code
    if fail_on_heuristic and report.suspects:
        code = 1
    raise SystemExit(code)


def _known(state: State, from_store: bool) -> tuple[KnownSecrets, tuple[str, ...]]:
    """The fingerprints to look for, and notes on versions --from-store could not read."""
    from ivsecrets.scan import KnownSecrets

    if from_store:
        return KnownSecrets.from_store(state.config)
    return KnownSecrets.from_config(state.config), ()


def _error_document(err: IVSecretsError | click.ClickException) -> dict[str, Any]:
    """The JSON report of a scan an error stopped: nothing found, the error and exit code."""
    from ivsecrets.cli.verify import error_fields

    return {
        "version": 1,
        "exit_code": exit_code_of(err),
        "error": error_fields(err),
        "summary": None,
        "findings": [],
        "suspects": [],
        "skipped": [],
        "notes": [],
    }


def _summary(report: ScanReport) -> str:
    mb = report.bytes / 1e6
    return (
        f"ivsecrets scan: {len(report.findings)} leaked secret(s), {len(report.suspects)} "
        f"suspect(s), {len(report.skipped)} skipped; {report.files} files, {mb:.1f} MB in "
        f"{report.seconds:.2f} s, {report.known} known fingerprint(s)"
    )


def _table(state: State, report: ScanReport, output: Any) -> None:
    from rich.table import Table

    console = report_console(state, output)

    def rows(title: str, findings: list[Finding]) -> None:
        table = Table(
            "where", "whose", "encoding", "fingerprint", title=title, title_justify="left"
        )
        for f in findings:
            whose = (
                f"{f.known.environment} {f.known.version}" if f.known else f"suspect: {f.reason}"
            )
            # A path is data: "dist/[bold]/x" shows as written, not as a style.
            table.add_row(markup(f.where), markup(whose), markup(f.encoding), f.fingerprint)
        for column in table.columns:
            column.overflow = "fold"
        console.print(table)

    if report.findings and not state.quiet:
        rows("leaked identity-verification secrets", report.findings)
    if report.suspects and not state.quiet:
        rows("suspected secrets (lower confidence)", report.suspects)
    if report.skipped and not state.quiet:
        console.print("[bold]not scanned[/]")
        for skipped in report.skipped:
            console.print(f"  {skipped.path}: {skipped.reason}", markup=False)
    if not state.quiet:
        for note in report.notes:
            console.print(f"note: {note}", markup=False)
    verdict = "[red]LEAKED[/]" if report.findings else "[green]clean[/]"
    if not state.quiet or report.findings:
        console.print(f"{verdict}: {_summary(report).removeprefix('ivsecrets scan: ')}")


def github(report: ScanReport) -> str:
    """The report as GitHub Actions workflow commands (annotations on the files)."""
    lines = []
    for level, findings in (("error", report.findings), ("warning", report.suspects)):
        for f in findings:
            props = [f"file={annotation(f.file, property=True)}"]
            if f.line is not None and f.member is None:
                props += [f"line={f.line}", f"col={f.column}"]
            title = "leaked Intercom secret" if f.known else "suspected Intercom secret"
            where = f" in {f.member}" if f.member else ""
            props.append(f"title={annotation('ivsecrets scan: ' + title, property=True)}")
            lines.append(f"::{level} {','.join(props)}::{annotation(f.message + where)}")
    for skipped in report.skipped:
        lines.append(
            f"::notice title=ivsecrets scan skipped::{annotation(skipped.path)}: "
            f"{annotation(skipped.reason)}"
        )
    summary = _summary(report).removeprefix("ivsecrets scan: ")
    lines.append(f"::notice title=ivsecrets scan::{annotation(summary)}")
    return "\n".join(lines) + "\n"


@cli.command("config-check")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@pass_state
def config_check(state: State, files: tuple[str, ...]) -> None:
    """Check configuration files parse and their pins are well-formed and distinct (exit 0/2).

    Without FILES, checks the configuration ivsecrets would load. Contacts no store: made for
    pre-commit. A pyproject.toml without [tool.ivsecrets] is passed over.
    """
    from ivsecrets.errors import ConfigError
    from ivsecrets.scan import check_config

    failed = 0
    for path in files or (state.config_path,):
        try:
            config = check_config(path)
        except ConfigError as err:
            click.echo(f"ivsecrets: error: {err}", err=True)
            failed += 1
            continue
        if config is not None and not state.quiet:
            pins = sum(1 for ec in config.environments.values() if ec.fingerprint)
            click.echo(
                f"{config.source}: ok ({len(config.environments)} environments, {pins} pinned)"
            )
    if failed:
        sys.exit(2)
