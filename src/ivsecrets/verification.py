"""``verify``: prove every environment is wired to its correct, distinct secret.

Each check reports per environment; nothing here ever holds a secret longer than the check needs
or puts one in a message. Callable from Python; ``ivsecrets verify`` is a thin layer over it.

Exit codes (``VerifyReport.exit_code``): 0 verified (warnings allowed), 1 a check failed,
3 a store could not be reached or denied access (takes precedence: the other checks are then
incomplete). Configuration errors raise ConfigError before anything runs (the CLI exits 2).
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ivsecrets.api import Secrets
from ivsecrets.config import Config, EnvironmentConfig, WorkspaceConfig
from ivsecrets.environments import Environment, Platform, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    InvalidSecretError,
    IVSecretsError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from ivsecrets.hashing import user_hash
from ivsecrets.intercom import IntercomClient, IntercomSecret, check_recorded_secret
from ivsecrets.provider import WritableProvider
from ivsecrets.secret import Secret, VersionInfo, shape_problem

__all__ = [
    "SCHEMA_VERSION",
    "Check",
    "EnvironmentReport",
    "Status",
    "VerifyReport",
    "list_intercom_secrets",
    "promoted_at",
    "verify",
]

#: The version of the JSON document ``VerifyReport.as_dict`` makes, described by
#: docs/schemas/verify.schema.json: fields are only added within a version; removing, renaming
#: or retyping one increments it.
SCHEMA_VERSION = 1


class Status(str, enum.Enum):
    ok = "ok"
    warn = "warn"
    fail = "fail"
    error = "error"  # the store could not be reached or denied access
    skip = "skip"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Check:
    """One check on one environment: its name, outcome and a message saying what to fix."""

    name: str
    status: Status
    message: str


@dataclass
class EnvironmentReport:
    environment: Environment
    store: str | None = None
    reference: str | None = None
    fingerprint: str | None = None
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, status: Status, message: str) -> None:
        self.checks.append(Check(name, status, message))

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.checks}
        for worst in (Status.error, Status.fail, Status.warn):
            if worst in statuses:
                return worst
        return Status.ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": str(self.environment),
            "platform": self.environment.platform.value,
            "workspace": self.environment.workspace,
            "store": self.store,
            "reference": self.reference,
            "fingerprint": self.fingerprint,
            "status": self.status.value,
            "checks": [
                {"name": c.name, "status": c.status.value, "message": c.message}
                for c in self.checks
            ],
        }


@dataclass
class VerifyReport:
    environments: list[EnvironmentReport]
    source: str

    @property
    def exit_code(self) -> int:
        statuses = {r.status for r in self.environments}
        if Status.error in statuses:
            return 3
        return 1 if Status.fail in statuses else 0

    def as_dict(self) -> dict[str, Any]:
        counts = {s.value: sum(1 for r in self.environments if r.status is s) for s in Status}
        return {
            "schema_version": SCHEMA_VERSION,
            "config": self.source,
            "exit_code": self.exit_code,
            "error": None,  # set only in the document of a configuration error (the CLI's)
            "summary": counts,
            "environments": [r.as_dict() for r in self.environments],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


#: Given a workspace, the live Intercom secrets it has (``IntercomSecret``s from
#: ``IntercomClient.list()``), or None when there is no API token for it.
IntercomLister = Callable[[WorkspaceConfig], "Sequence[IntercomSecret] | None"]


def list_intercom_secrets(workspace: WorkspaceConfig) -> list[IntercomSecret] | None:
    """The workspace's live Intercom secrets from Intercom's API, or None when the variable its
    ``intercom_token_env`` names is unset or empty (the Intercom check is then skipped)."""
    if not os.environ.get(workspace.intercom_token_env):
        return None
    return IntercomClient.from_workspace(workspace).list()


def verify(
    config: Config,
    *,
    secrets: Secrets | None = None,
    platforms: Iterable[str] = (),
    workspaces: Iterable[str] = (),
    intercom: IntercomLister | None = list_intercom_secrets,
    now: datetime | None = None,
) -> VerifyReport:
    """Run every check on the chosen environments (all expected ones by default).

    The same checks as ``ivsecrets verify``: ``intercom`` lists a workspace's Intercom secrets
    (by default from Intercom's API, for the workspaces whose token is set); None skips the
    Intercom check, as ``--no-intercom`` does.
    """
    own = secrets is None
    secrets = secrets if secrets is not None else Secrets(config)
    try:
        reports = _select(config, list(platforms), list(workspaces))
        wanted = {
            r.environment: config.environments[r.environment]
            for r in reports
            if r.environment in config.environments
        }
        loaded: dict[Environment, Secret | IVSecretsError] = dict(secrets.current(wanted))
        versions = _versions_concurrently(secrets, wanted, loaded)
        for report in reports:
            ec = wanted.get(report.environment)
            if ec is None:
                continue
            result = loaded[report.environment]
            provider = secrets.providers.get(ec.store)
            hint = provider.create_hint(ec.reference) if provider is not None else None
            _check_secret(report, ec, result, hint, provider is not None and provider.local)
            if isinstance(result, Secret):
                _check_pin_and_known_hashes(report, ec, result)
                _check_versions(report, ec, result, versions.get(report.environment), now)
                _check_unfinished(
                    report, config, ec, versions.get(report.environment), secrets, now
                )
        _check_distinct(reports, loaded)
        if intercom is not None:
            _check_intercom(config, reports, versions, intercom)
        return VerifyReport(reports, config.source)
    finally:
        if own:
            secrets.close()


def _select(config: Config, platforms: list[str], workspaces: list[str]) -> list[EnvironmentReport]:
    try:
        chosen_platforms = [Platform.parse(p) for p in platforms] or list(config.platforms)
    except ValueError as err:
        raise ConfigError(str(err), key="--platform") from None
    chosen_workspaces = [w.lower() for w in workspaces] or list(config.workspaces)
    unknown = [w for w in chosen_workspaces if w not in config.workspace_settings]
    if unknown:
        names = ", ".join(f"'{w}'" for w in unknown)
        raise ConfigError(
            f"workspace {names} is not configured in {config.source}",
            key="--workspace",
            fix=f"choose from {', '.join(config.workspaces)}, or add it to workspaces = [...]",
        )
    reports = []
    for workspace in chosen_workspaces:
        settings = config.workspace_settings[workspace]
        for platform in chosen_platforms:
            report = EnvironmentReport(Environment(platform, workspace))
            reports.append(report)
            if platform not in settings.platforms:
                report.add(
                    "configured",
                    Status.skip,
                    f"intentionally absent: [workspace.{workspace}] platforms leaves "
                    f"out {platform.value}",
                )
            else:
                ec = config.environments[report.environment]
                report.store, report.reference = ec.store, ec.reference
                report.add(
                    "configured", Status.ok, f"store '{ec.store}', reference '{ec.reference}'"
                )
    return [r for r in reports if r.checks[0].status is not Status.skip or platforms]


def _versions_concurrently(
    secrets: Secrets,
    wanted: dict[Environment, EnvironmentConfig],
    loaded: dict[Environment, Secret | IVSecretsError],
) -> dict[Environment, list[VersionInfo] | StoreError]:
    found: dict[Environment, list[VersionInfo] | StoreError] = {}
    for name in dict.fromkeys(ec.store for ec in wanted.values()):
        # The batch read has just returned the current values: the store is not asked again.
        mine = {
            env: (ec.reference, current)
            for env, ec in wanted.items()
            if ec.store == name and isinstance(current := loaded.get(env), Secret)
        }
        if mine:
            found.update(secrets.providers[name].versions_many(mine))
    return found


def _check_secret(
    report: EnvironmentReport,
    ec: EnvironmentConfig,
    result: Secret | IVSecretsError,
    create_hint: str | None = None,
    local: bool = False,
) -> None:
    where = f"in store '{ec.store}' at '{ec.reference}'"
    if isinstance(result, SecretNotFoundError):
        # The store says how to create it: `ivsecrets rotate` cannot create an AWS or GCP secret.
        hint = create_hint or "create it in the store, or fix the reference"
        report.add("resolves", Status.fail, f"no secret {where}: {result.detail}; {hint}")
        return
    if isinstance(result, InvalidSecretError):
        report.add(
            "resolves",
            Status.fail,
            f"{result.detail} {where}; write the secret "
            "Intercom shows for this platform and workspace",
        )
        return
    if isinstance(result, (AccessDeniedError, StoreUnavailableError)):
        kind = "denied access" if isinstance(result, AccessDeniedError) else "unreachable"
        hint = "; check this runtime's credentials and network"
        if local or result.path is not None:  # a file on this machine: the message names it
            kind, hint = kind.replace("unreachable", "failed"), ""
        report.add("resolves", Status.error, f"store {kind}: {result}{hint}")
        return
    if isinstance(result, IVSecretsError):
        report.add("resolves", Status.error, str(result))
        return
    report.fingerprint = result.fingerprint
    report.add("resolves", Status.ok, f"{result.fingerprint} (version {result.version})")
    report.add("shape", *_shape(result, ec))


def _shape(secret: Secret, ec: EnvironmentConfig) -> tuple[Status, str]:
    raw = secret.value.reveal()
    problem = shape_problem(
        raw, had_whitespace=secret.had_whitespace, json_allowed="#" in ec.reference
    )
    if problem is not None:
        return Status.fail, problem
    return Status.ok, f"{len(raw)} printable characters"


def _check_pin_and_known_hashes(
    report: EnvironmentReport, ec: EnvironmentConfig, secret: Secret
) -> None:
    if ec.fingerprint is not None:
        if secret.fingerprint == ec.fingerprint:
            report.add("pinned", Status.ok, f"matches the pinned {ec.fingerprint}")
        else:
            report.add(
                "pinned",
                Status.fail,
                f"the store holds {secret.fingerprint} but the config pins "
                f"{ec.fingerprint}: the environment reads the wrong secret, or the pin "
                "is stale (update it with 'ivsecrets fingerprint')",
            )
    key = secret.value.reveal()
    for known in ec.known_hashes:
        label = f"user_id={known.user_id}" if known.user_id else f"email={known.email}"
        produced = user_hash(key, user_id=known.user_id, email=known.email)
        if produced == known.user_hash.lower():
            report.add("known_hash", Status.ok, f"reproduces the recorded hash for {label}")
        else:
            report.add(
                "known_hash",
                Status.fail,
                f"does not reproduce the recorded hash for "
                f"{label}: this is not the secret that signed it (try 'ivsecrets "
                "diagnose')",
            )


def _check_versions(
    report: EnvironmentReport,
    ec: EnvironmentConfig,
    secret: Secret,
    versions: list[VersionInfo] | StoreError | None,
    now: datetime | None,
) -> None:
    if isinstance(versions, StoreError):
        report.add("rotation", Status.warn, f"could not list versions: {versions.detail}")
    elif versions:
        pending = [v for v in versions if Stage.pending in v.stages]
        if pending:
            report.add(
                "rotation",
                Status.warn,
                f"a rotation is in flight: {pending[0].fingerprint}"
                " is staged; finish it with 'ivsecrets rotate' or discard it",
            )
    if ec.max_age_days is not None and secret.created_at is not None:
        now = now or datetime.now(timezone.utc)
        created = (
            secret.created_at
            if secret.created_at.tzinfo
            else secret.created_at.replace(tzinfo=timezone.utc)
        )
        age = (now - created).total_seconds() / 86400
        if age > ec.max_age_days:
            report.add(
                "age",
                Status.warn,
                f"the secret is {age:.0f} days old (max_age_days = {ec.max_age_days:g}); rotate it",
            )
        else:
            report.add("age", Status.ok, f"{age:.0f} days old")


def _check_unfinished(
    report: EnvironmentReport,
    config: Config,
    ec: EnvironmentConfig,
    versions: list[VersionInfo] | StoreError | None,
    secrets: Secrets,
    now: datetime | None,
) -> None:
    """Warn about a promoted rotation whose previous secret is still live, with its due date."""
    if not isinstance(versions, list) or any(Stage.pending in v.stages for v in versions):
        return  # unreadable (warned above), or still in flight (warned above)
    previous = next((v for v in versions if Stage.previous in v.stages and not v.retired), None)
    if previous is None:
        return
    current = next((v for v in versions if Stage.current in v.stages), None)
    cache = config.stores[ec.store].cache
    grace = cache.ttl + cache.max_stale
    env = report.environment
    still = f"the previous secret {previous.fingerprint} is still accepted (promoted, not finished)"
    if not isinstance(secrets.providers.get(ec.store), WritableProvider):
        report.add(
            "rotation",
            Status.warn,
            f"{still}; remove it from store '{ec.store}' once every backend has refreshed",
        )
        return
    finish = f"'ivsecrets rotate {env.platform.value} {env.workspace} --finish'"
    promoted = promoted_at(current)
    if promoted is None:
        report.add(
            "rotation",
            Status.warn,
            f"{still}; run {finish} {grace:g} s (cache ttl + max_stale) after the promotion",
        )
        return
    due = promoted + timedelta(seconds=grace)
    when = due.strftime("%Y-%m-%d %H:%M:%S UTC")
    now = now or datetime.now(timezone.utc)
    if now >= due:
        tail = f"the grace period ended {when}: run {finish} now"
    else:
        tail = f"run {finish} after {when} (cache ttl + max_stale = {grace:g} s after promotion)"
    report.add("rotation", Status.warn, f"{still}; {tail}")


def promoted_at(current: VersionInfo | None) -> datetime | None:
    """When the current version became current (UTC), or None when the store does not say.

    The rotation record's time (``current_since``: set by a promote or a rollback) where there is
    one, else the version's creation time (a version written outside ivsecrets is current from
    its creation).
    """
    if current is None:
        return None
    when = current.current_since or current.created_at
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _check_distinct(
    reports: list[EnvironmentReport], loaded: dict[Environment, Secret | IVSecretsError]
) -> None:
    owners: dict[str, list[Environment]] = {}
    for env, result in loaded.items():
        if isinstance(result, Secret):
            owners.setdefault(result.fingerprint, []).append(env)
    for report in reports:
        found = loaded.get(report.environment)
        if not isinstance(found, Secret):
            continue
        others = [e for e in owners[found.fingerprint] if e != report.environment]
        if others:
            names = ", ".join(str(e) for e in others)
            report.add(
                "distinct",
                Status.fail,
                f"{report.environment} and {names} share one secret "
                f"({found.fingerprint}); each platform and workspace needs its own: "
                "fix the reference of the one that points at the wrong secret",
            )
        else:
            report.add("distinct", Status.ok, "no other environment has this secret")


def _check_intercom(
    config: Config,
    reports: list[EnvironmentReport],
    versions: dict[Environment, list[VersionInfo] | StoreError],
    intercom: IntercomLister,
) -> None:
    listed: dict[str, Sequence[IntercomSecret] | IVSecretsError | None] = {}
    for report in reports:
        env = report.environment
        ec = config.environments.get(env)
        if ec is None or report.fingerprint is None:
            continue
        recorded = ec.intercom_secret_id
        found = versions.get(env)
        if recorded is None and isinstance(found, list):
            recorded = next(
                (
                    v.intercom_secret_id
                    for v in found
                    if Stage.current in v.stages and v.intercom_secret_id
                ),
                None,
            )
        if recorded is None:
            continue
        if env.workspace not in listed:
            try:
                listed[env.workspace] = intercom(config.workspace_settings[env.workspace])
            except IVSecretsError as err:
                listed[env.workspace] = err
        secrets = listed[env.workspace]
        if secrets is None:
            report.add("intercom", Status.skip, "no Intercom API token for this workspace")
        elif isinstance(secrets, IVSecretsError):
            report.add("intercom", Status.error, f"Intercom API: {secrets}")
        else:
            check = check_recorded_secret(secrets, recorded, env.platform)
            if check.ok:
                report.add("intercom", Status.ok, check.describe())
            else:
                report.add(
                    "intercom",
                    Status.fail,
                    f"{check.describe()}: this environment's "
                    "secret is not one Intercom accepts for it; rotate it",
                )
