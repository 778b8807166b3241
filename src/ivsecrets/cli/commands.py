"""``fingerprint``, ``hash``, ``jwt``, ``diagnose``, ``status`` and ``init``."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from ivsecrets.cli.app import CliError, State, cli, pass_state
from ivsecrets.environments import Platform, Stage

PLATFORM = click.Choice([p.value for p in Platform], case_sensitive=False)


def _identifier_options(f: Any) -> Any:
    f = click.option("--email", help="The email the Messenger sends.")(f)
    return click.option("--user-id", help="The user_id the Messenger sends.")(f)


@cli.command()
@click.option("--previous", is_flag=True, help="Also show each previous version, as comments.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["toml", "json"]),
    default="toml",
    show_default=True,
)
@pass_state
def fingerprint(state: State, previous: bool, output_format: str) -> None:
    """Fingerprints of every environment's secret, ready to paste into the config as pins."""
    config = state.config
    pins: dict[str, dict[str, str | None]] = {}
    for env, ec in config.environments.items():
        provider = state.secrets.providers[ec.store]
        entry: dict[str, str | None] = {"fingerprint": provider.load(env, ec.reference).fingerprint}
        if previous:
            versions = provider.versions(env, ec.reference)
            entry["previous"] = next(
                (v.fingerprint for v in versions if Stage.previous in v.stages), None
            )
        pins[str(env)] = entry
    if output_format == "json":
        click.echo(json.dumps(pins, indent=2))
        return
    click.echo(f"# ivsecrets fingerprint ({config.source}): paste into the configuration to pin")
    for env in config.environments:
        entry = pins[str(env)]
        click.echo(f"\n[environments.{env.platform.value}.{env.workspace}]")
        click.echo(f'fingerprint = "{entry["fingerprint"]}"')
        if previous:
            click.echo(f"# previous: {entry.get('previous') or 'none'}")


@cli.command("hash")
@click.argument("platform", type=PLATFORM)
@click.argument("workspace")
@_identifier_options
@pass_state
def hash_command(
    state: State, platform: str, workspace: str, user_id: str | None, email: str | None
) -> None:
    """Print the user_hash Intercom expects for a user (for support and debugging)."""
    hasher = state.secrets.hasher(platform, workspace)
    click.echo(hasher.user_hash(user_id=user_id, email=email))


@cli.command()
@click.argument("platform", type=PLATFORM)
@click.argument("workspace")
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
@click.argument("platform", type=PLATFORM)
@click.argument("workspace")
@click.option("--user-hash", required=True, help="The user_hash Intercom rejected.")
@_identifier_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
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
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@pass_state
def status(state: State, output_format: str) -> None:
    """Per environment: store, reference, current/previous/pending versions, ages, Intercom ids."""
    config = state.config
    now = datetime.now(timezone.utc)
    rows: list[dict[str, Any]] = []
    for env, ec in config.environments.items():
        versions = state.secrets.providers[ec.store].versions(env, ec.reference)
        row: dict[str, Any] = {
            "environment": str(env),
            "store": ec.store,
            "reference": ec.reference,
            "versions": {},
        }
        for info in versions:
            for stage in info.stages:
                row["versions"][stage.value] = {
                    "version": info.version,
                    "fingerprint": info.fingerprint,
                    "created_at": info.created_at.isoformat() if info.created_at else None,
                    "age_days": round(_age_days(info.created_at, now), 1)
                    if info.created_at
                    else None,
                    "intercom_secret_id": info.intercom_secret_id,
                }
        rows.append(row)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(
        "environment",
        "store:reference",
        "current",
        "previous",
        "pending",
        title=f"ivsecrets status ({config.source})",
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
            cells.append(f"{v['fingerprint']}\nv {v['version']}{age}{ic}")
        if "pending" in row["versions"]:
            cells[2] = f"[yellow]rotation in flight[/]\n{cells[2]}"
        table.add_row(row["environment"], f"{row['store']}:{row['reference']}", *cells)
    state.console().print(table)


def _age_days(created: datetime, now: datetime) -> float:
    created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return (now - created).total_seconds() / 86400


_STORE_OPTIONS = {
    "env": "",
    "file": 'path = "/run/secrets"          # a directory of files, or a .toml/.json document\n',
    "aws": 'region = "us-east-1"           # also: profile, endpoint_url\n',
    "vault": (
        'url = "https://vault.example.com:8200"\n'
        'mount = "secret"              # KV v2 mount\n'
        'key = "value"                 # field inside each KV secret\n'
        'auth = "approle"              # token | approle | kubernetes | jwt\n'
        'role_id_env = "VAULT_ROLE_ID"\n'
        'secret_id_env = "VAULT_SECRET_ID"\n'
    ),
    "gcp": 'project = "my-project"         # also: location for regional secrets\n',
}


@cli.command()
@click.option(
    "--store",
    type=click.Choice(list(_STORE_OPTIONS)),
    default="aws",
    show_default=True,
    help="Where the secrets live.",
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
    from ivsecrets.config import DEFAULT_REFERENCES, parse_config

    target = Path(output)
    if target.exists() and not force:
        raise CliError(f"{target} exists; pass --force to overwrite it", 2)
    template = reference or DEFAULT_REFERENCES[store]
    quoted = ", ".join(f'"{w}"' for w in workspaces)
    text = f"""# ivsecrets configuration (written by `ivsecrets init --store {store}`).
# Check it with `ivsecrets verify`; reference: README.md, "Configuration".

# Every platform x workspace is an environment wired to its own secret.
platforms = ["web", "ios", "android"]
workspaces = [{quoted}]

# Where every environment's secret is, unless [environments.P.W] says otherwise.
store = "{store}"
reference = "{template}"   # {{platform}}, {{workspace}}, {{PLATFORM}}, {{WORKSPACE}}

[stores.{store}]
plugin = "{store}"
{_STORE_OPTIONS[store]}
[cache]
ttl = 300          # seconds a loaded secret is served before it is refreshed
max_stale = 3600   # seconds the last good secret is served while the store fails

# Per-workspace Intercom settings (API region and where the API token is).
# [workspace.prod]
# intercom_region = "us"                       # us | eu | au
# intercom_token_env = "IVSECRETS_INTERCOM_TOKEN_PROD"

# Pin each environment to its secret (paste the output of `ivsecrets fingerprint`):
# [environments.ios.prod]
# fingerprint = "ivfp1:..."
# [[environments.ios.prod.known_hashes]]
# user_id = "42"
# user_hash = "..."
"""
    parse_config(text, str(target))  # never write a file the loader would reject
    target.write_text(text, encoding="utf-8")
    click.echo(f"wrote {target}; next: ivsecrets --config {target} verify")
