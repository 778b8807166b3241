"""``fingerprint``, ``hash``, ``jwt``, ``diagnose``, ``status`` and ``init``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ivsecrets.cli.app import (
    CliError,
    State,
    cli,
    environment_arguments,
    environment_filter_options,
    exit_code_of,
    format_option,
    identifier_options,
    pass_state,
    selected_environments,
)
from ivsecrets.cli.output import markup
from ivsecrets.environments import Stage
from ivsecrets.errors import IVSecretsError, StoreError

#: Versions of the JSON documents ``status`` and ``fingerprint`` print, described by
#: docs/schemas/{status,fingerprint}.schema.json: fields are only added within a version;
#: removing, renaming or retyping one increments it.
STATUS_SCHEMA_VERSION = 1
FINGERPRINT_SCHEMA_VERSION = 1


@contextmanager
def json_on_error(state: State, output_format: str, schema_version: int) -> Iterator[None]:
    """With ``--format json``, an error that stops the command still prints one JSON document
    (no environments, the error and exit code); the message on stderr and the exit code follow
    as for every command."""
    try:
        yield
    except (IVSecretsError, click.ClickException) as err:
        if output_format == "json":
            from ivsecrets.cli.verify import error_fields

            loaded = state._config
            document: dict[str, Any] = {
                "schema_version": schema_version,
                "config": loaded.source if loaded else (getattr(err, "file", None) or ""),
                "exit_code": exit_code_of(err),
                "error": error_fields(err),
                "environments": [],
            }
            click.echo(json.dumps(document, indent=2))
        raise


@cli.command()
@click.option("--previous", is_flag=True, help="Also show each previous version, as comments.")
@environment_filter_options
@format_option("toml", "json")
@pass_state
def fingerprint(
    state: State,
    previous: bool,
    platforms: tuple[str, ...],
    workspaces: tuple[str, ...],
    output_format: str,
) -> None:
    """Fingerprints of every environment's secret, ready to paste into the config as pins."""
    with json_on_error(state, output_format, FINGERPRINT_SCHEMA_VERSION):
        _fingerprint(state, previous, platforms, workspaces, output_format)


def _fingerprint(
    state: State,
    previous: bool,
    platforms: tuple[str, ...],
    workspaces: tuple[str, ...],
    output_format: str,
) -> None:
    config = state.config
    chosen = selected_environments(config, platforms, workspaces)
    secrets = state.secrets
    pins: dict[str, dict[str, str | None]] = {}
    for env, current in secrets.current(chosen).items():
        if isinstance(current, StoreError):
            raise current
        entry: dict[str, str | None] = {"fingerprint": current.fingerprint}
        if previous:
            older = secrets.versions(env.platform, env.workspace).get(Stage.previous)
            entry["previous"] = older.fingerprint if older else None
        pins[str(env)] = entry
    if output_format == "json":
        rows = [
            {
                "environment": str(env),
                "platform": env.platform.value,
                "workspace": env.workspace,
                **pins[str(env)],
            }
            for env in chosen
        ]
        document = {
            "schema_version": FINGERPRINT_SCHEMA_VERSION,
            "config": config.source,
            "environments": rows,
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(f"# ivsecrets fingerprint ({config.source}): paste into the configuration to pin")
    for env in chosen:
        entry = pins[str(env)]
        click.echo(f"\n[environments.{env.platform.value}.{env.workspace}]")
        click.echo(f'fingerprint = "{entry["fingerprint"]}"')
        if previous:
            click.echo(f"# previous: {entry.get('previous') or 'none'}")


@cli.command("hash")
@environment_arguments
@identifier_options
@pass_state
def hash_command(
    state: State, platform: str, workspace: str, user_id: str | None, email: str | None
) -> None:
    """Print the user_hash Intercom expects for a user (for support and debugging)."""
    hasher = state.secrets.hasher(platform, workspace)
    click.echo(hasher.user_hash(user_id=user_id, email=email))


@cli.command()
@environment_arguments
@click.option("--user-id", required=True, help="The user_id claim (required by Intercom).")
@click.option("--email", help="The email claim.")
@click.option("--name", help="The name claim.")
@click.option("--expires-in", type=float, help="Seconds until the token expires (exp claim).")
@click.option(
    "--claim",
    "claims",
    multiple=True,
    metavar="KEY=VALUE",
    help="An extra claim (repeatable); VALUE is parsed as JSON when it can be.",
)
@pass_state
def jwt(
    state: State,
    platform: str,
    workspace: str,
    user_id: str,
    email: str | None,
    name: str | None,
    expires_in: float | None,
    claims: tuple[str, ...],
) -> None:
    """Print a Messenger JWT (HS256) for a user, signed with the environment's secret."""
    extra: dict[str, Any] = {}
    for claim in claims:
        key, sep, value = claim.partition("=")
        if not sep or not key:
            raise CliError(f"--claim takes KEY=VALUE, got {claim!r}", 2)
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    hasher = state.secrets.hasher(platform, workspace)
    click.echo(
        hasher.messenger_jwt(
            user_id=user_id, email=email, name=name, expires_in=expires_in, **extra
        )
    )


@cli.command()
@environment_arguments
@click.option("--user-hash", required=True, help="The user_hash Intercom rejected.")
@identifier_options
@format_option("text", "json")
@pass_state
def diagnose(
    state: State,
    platform: str,
    workspace: str,
    user_hash: str,
    user_id: str | None,
    email: str | None,
    output_format: str,
) -> None:
    """Explain what produced a user_hash: which secret, which identifier, which version.

    Exit 0 if the hash is correct for this environment, 1 if it was made wrongly.
    """
    from ivsecrets.diagnosis import diagnose as run_diagnose

    result = run_diagnose(
        state.config,
        platform,
        workspace,
        user_hash,
        user_id=user_id,
        email=email,
        secrets=state.secrets,
    )
    if output_format == "json":
        click.echo(
            json.dumps(
                {
                    "cause": result.cause.value,
                    "message": result.message,
                    "environment": str(result.environment) if result.environment else None,
                    "stage": result.stage.value if result.stage else None,
                    "identifier": result.identifier,
                },
                indent=2,
            )
        )
    else:
        click.echo(f"{result.cause.value}: {result.message}")
    raise SystemExit(result.exit_code)


@cli.command()
@environment_filter_options
@format_option("table", "json")
@pass_state
def status(
    state: State, platforms: tuple[str, ...], workspaces: tuple[str, ...], output_format: str
) -> None:
    """Per environment: store, reference, current/previous/pending versions, ages, Intercom ids."""
    from ivsecrets.api import EnvironmentStatus

    with json_on_error(state, output_format, STATUS_SCHEMA_VERSION):
        config = state.config
        chosen = selected_environments(config, platforms, workspaces)
        secrets = state.secrets
        rows = [
            EnvironmentStatus(
                env,
                config.environments[env].store,
                config.environments[env].reference,
                secrets.versions(env.platform, env.workspace),
            ).as_dict()
            for env in chosen
        ]
    if output_format == "json":
        document = {
            "schema_version": STATUS_SCHEMA_VERSION,
            "config": state.config.source,
            "environments": rows,
        }
        click.echo(json.dumps(document, indent=2))
        return
    from rich.table import Table

    table = Table(
        "environment",
        "store:reference",
        "current",
        "previous",
        "pending",
        title=markup(f"ivsecrets status ({state.config.source})"),
        title_justify="left",
    )
    for row in rows:
        cells = []
        for stage_name in ("current", "previous", "pending"):
            v = row["versions"].get(stage_name)
            if v is None:
                cells.append("-")
                continue
            age = f", {v['age_days']:g} d" if v["age_days"] is not None else ""
            ic = f"\nintercom {v['intercom_secret_id']}" if v["intercom_secret_id"] else ""
            cells.append(markup(f"{v['fingerprint']}\nv {v['version']}{age}{ic}"))
        if "pending" in row["versions"]:
            cells[2] = f"[yellow]rotation in flight[/]\n{cells[2]}"
        where = markup(f"{row['store']}:{row['reference']}")
        table.add_row(markup(row["environment"]), where, *cells)
    state.console().print(table)


@cli.command()
@click.option(
    "--store", default="aws", show_default=True, help="The store plugin the secrets live in."
)
@click.option(
    "--reference",
    help="Reference template with {platform} and {workspace} "
    "(default: the store's usual naming, as the Terraform modules create it).",
)
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    default=("test", "prod"),
    show_default=True,
    help="Workspace names (repeatable).",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), default="ivsecrets.toml", show_default=True
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(
    store: str, reference: str | None, workspaces: tuple[str, ...], output: str, force: bool
) -> None:
    """Write a commented configuration for a store and naming template."""
    from ivsecrets.provider import config_template

    target = Path(output)
    if target.exists() and not force:
        raise CliError(f"{target} exists; pass --force to overwrite it", 2)
    text = config_template(store, reference=reference, workspaces=workspaces)
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}; next: ivsecrets verify --config {target}")
