"""Secrets Manager's rotation Lambda for Intercom secrets: ``ivsecrets.aws_lambda.handler``.

A ``RotateSecret`` schedule pointing at it rotates one environment's secret unattended, in AWS's
four steps (AWS retries a failed step, so each is idempotent):

- createSecret: take the secret's rotation lease (the same one ``ivsecrets rotate`` takes: run id =
  the version's ClientRequestToken, held until finishSecret), settle what dead runs journaled,
  journal "creating a secret named N", create the new one for the platform, record its id (tag
  ``ivsecrets:intercom:<VersionId>``) before storing it AWSPENDING.
- setSecret: nothing; Intercom already holds the new secret.
- testSecret: the pending value is plausible, new and live at Intercom; a failure leaves AWSCURRENT.
- finishSecret: move AWSCURRENT (AWSPREVIOUS follows, so the replaced secret still verifies), record
  when, then delete at Intercom the secrets of versions left without a label once the grace period,
  measured from when their successor became current, is over; release the lease.

Settings (environment variables, tags) are listed in docs/stores/aws.md, "Scheduled rotation".
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ivsecrets.config import (
    CONFIG_ENV_VAR,
    CacheSettings,
    Config,
    StoreConfig,
    WorkspaceConfig,
    load_config,
)
from ivsecrets.environments import Environment, Platform
from ivsecrets.errors import (
    ConcurrentRotationError,
    ConfigError,
    IntercomAPIError,
    RotationError,
)
from ivsecrets.intercom import (
    REGION_BASE_URLS,
    IntercomClient,
    create_intercom_secret,
    delete_intercom_orphans,
    intercom_secret_name,
)
from ivsecrets.plugins.aws import (
    INTERCOM_TAG,
    AwsProvider,
    client_error_parts,
    store_error,
)
from ivsecrets.provider import JournalEntry, RotationRecord
from ivsecrets.rotation import LEASE_SECONDS, check_secret_shape
from ivsecrets.rotation.lease import acquire_lease, release_lease, update_record
from ivsecrets.secret import SecretValue

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import GetSecretValueResponseTypeDef


__all__ = ["LambdaRotation", "handler"]

log = logging.getLogger("ivsecrets")
PLATFORM_TAG, WORKSPACE_TAG = "ivsecrets:platform", "ivsecrets:workspace"
CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
TOKEN_SECRET_VAR = "IVSECRETS_INTERCOM_TOKEN_SECRET_ARN"


@dataclass(frozen=True)
class _Rotation:
    """The secret being rotated as DescribeSecret showed it before the step."""

    arn: str
    token: str  # the new version's id
    labels: dict[str, list[str]]
    tags: dict[str, str]

    def holder(self, label: str) -> str | None:
        return next((v for v, names in self.labels.items() if label in names), None)

    def intercom_ids(self) -> dict[str, str]:
        """The recorded Intercom secret id of each version, by VersionId."""
        n = len(INTERCOM_TAG)
        return {k[n:]: v for k, v in self.tags.items() if k.startswith(INTERCOM_TAG)}


class LambdaRotation:
    """Runs one step of Secrets Manager's rotation protocol per :meth:`run`.

    ``client``: a Secrets Manager client (default: boto3's, with the Lambda's role);
    ``intercom(workspace)``: that workspace's Intercom client (default: from the settings);
    ``grace``: seconds a replaced secret stays live at Intercom after its successor was created.
    Raises on anything it cannot do safely: AWS retries the step, then marks the rotation failed.
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        intercom: Callable[[str], IntercomClient] | None = None,
        grace: float | None = None,
    ) -> None:
        AwsProvider.redact_sdk_logs()
        self._client, self._intercom, self._grace = client, intercom, grace
        self._config: Config | None = None

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    @property
    def store(self) -> AwsProvider:
        """The aws store on the same client: the rotation record and its lease."""
        return AwsProvider(StoreConfig("rotation-lambda", "aws"), client=self.client)

    def _take_lease(self, r: _Rotation) -> RotationRecord:
        """The lease of this rotation (run = the version's token), taken or renewed; raises while
        another run holds it unexpired (AWS retries the step)."""
        record, taken = acquire_lease(
            self.store,
            r.arn,
            run=r.token,
            action="lambda",
            seconds=LEASE_SECONDS,
            now=datetime.now(timezone.utc),
        )
        if taken is not None:
            log.warning("took over the expired rotation lease of %s from run %s", r.arn, taken.run)
        return record

    def _settle(self, r: _Rotation, record: RotationRecord, intercom: IntercomClient) -> None:
        """Delete what dead runs journaled creating and no version records."""
        others = [e for e in record.journal if e.run != r.token]
        if not others:
            return
        recorded = {i for v, i in r.intercom_ids().items() if v in r.labels and v != r.token}
        journaled = [(e.name, e.intercom_id) for e in others]
        delete_intercom_orphans(intercom, self.environment(r), journaled, recorded)
        gone = set(others)
        update_record(
            self.store,
            r.arn,
            run=r.token,
            change=lambda x: replace(x, journal=tuple(e for e in x.journal if e not in gone)),
        )

    def run(self, event: Mapping[str, Any]) -> None:
        """Carry out ``event["Step"]`` for version ``ClientRequestToken`` of ``SecretId``."""
        arn, token, step = (str(event[k]) for k in ("SecretId", "ClientRequestToken", "Step"))
        steps = {"createSecret": self._create, "setSecret": self._set, "testSecret": self._test}
        steps["finishSecret"] = self._finish  # also completes a finish that stopped half-way
        if step not in steps:
            raise ValueError(f"unknown rotation step {step!r}")
        described = self.client.describe_secret(SecretId=arn)
        if not described.get("RotationEnabled"):
            raise RotationError(f"rotation is not enabled for secret {arn}")
        labels = {v: list(s) for v, s in described.get("VersionIdsToStages", {}).items()}
        tags = {t.get("Key", ""): t.get("Value", "") for t in described.get("Tags", [])}
        if token not in labels:
            raise RotationError(f"version {token} of secret {arn} is not part of a rotation")
        if CURRENT in labels[token] and step != "finishSecret":
            log.info("%s: version %s of %s is already AWSCURRENT; nothing to do", step, token, arn)
            return
        if CURRENT not in labels[token] and PENDING not in labels[token]:
            raise RotationError(f"version {token} of secret {arn} is not staged AWSPENDING")
        rotation = _Rotation(arn, token, labels, tags)
        if step not in ("createSecret", "finishSecret"):
            steps[step](rotation)
            return
        # The steps that write hold the rotation lease ``ivsecrets rotate`` takes, one step at a
        # time: AWS itself keeps a second rotation from starting while AWSPENDING is staged.
        self._take_lease(rotation)
        try:
            steps[step](rotation)
        finally:
            try:
                release_lease(self.store, arn, run=token)
            except Exception as err:  # noqa: BLE001 - it expires by itself
                log.warning("%s: could not release the rotation lease of %s: %s", step, arn, err)

    # -- the steps ------------------------------------------------------------------------------

    def _create(self, r: _Rotation) -> None:
        if self._read(r.arn, PENDING, r.token) is not None:
            log.info("createSecret: version %s of %s already holds its secret", r.token, r.arn)
            return
        env = self.environment(r)
        intercom = self.intercom(env.workspace)
        self._settle(r, self.store.read_record(r.arn)[0], intercom)
        intent = JournalEntry(r.token, intercom_secret_name(env, r.token[:12]))
        update_record(
            self.store,
            r.arn,
            run=r.token,
            change=lambda x: replace(x, journal=(*x.journal, intent)),
        )
        created = create_intercom_secret(intercom, env, intent.name)
        known = replace(intent, intercom_id=created.id)
        update_record(
            self.store,
            r.arn,
            run=r.token,
            change=lambda x: replace(
                x, journal=tuple(known if e == intent else e for e in x.journal)
            ),
        )
        try:
            # Tag first, so a value stored by createSecret always has its Intercom id recorded.
            tag = INTERCOM_TAG + r.token
            self.client.tag_resource(SecretId=r.arn, Tags=[{"Key": tag, "Value": created.id}])
            self.client.put_secret_value(
                SecretId=r.arn,
                ClientRequestToken=r.token,
                SecretString=created.value.reveal().decode(),
                VersionStages=[PENDING],
            )
        except BaseException as err:
            _delete_quietly(intercom, created.id, "it could not be stored")
            code, _, status = client_error_parts(err) if isinstance(err, Exception) else ("", "", 0)
            if not code:
                raise
            # AWS's validation messages may quote the rejected value: keep the code only.
            raise store_error(code, "", status).located(reference=r.arn) from None
        update_record(
            self.store,
            r.arn,
            run=r.token,
            change=lambda x: replace(x, journal=tuple(e for e in x.journal if e != known)),
        )
        log.info(
            "createSecret: stored Intercom secret %s (%s) as version %s of %s (%s)",
            *(created.id, created.fingerprint, r.token, r.arn, env),
        )

    def _set(self, r: _Rotation) -> None:
        log.info("setSecret: nothing to do; Intercom holds version %s of %s", r.token, r.arn)

    def _test(self, r: _Rotation) -> None:
        env = self.environment(r)
        pending, current = self._value(r.arn, PENDING, r.token), self._value(r.arn, CURRENT)
        intercom_id = r.intercom_ids().get(r.token)
        if intercom_id is None and (pending is None or pending == current):
            # RotateSecret with RotateImmediately=false: AWS tests the configuration on a
            # version that createSecret never filled (nothing created, nothing recorded).
            log.info("testSecret: configuration test of %s (%s) passed", r.arn, env)
            return
        if pending is None:
            raise RotationError(f"version {r.token} of {r.arn} has no value: createSecret failed")
        check_secret_shape(pending)
        if current is not None and pending.fingerprint == current.fingerprint:
            raise RotationError(f"the pending secret of {r.arn} is its current one, not a new one")
        if intercom_id is None:
            raise RotationError(f"no Intercom secret is recorded for version {r.token} of {r.arn}")
        check = self.intercom(env.workspace).check(intercom_id, env.platform)
        if not check.ok:
            raise RotationError(f"testSecret of {r.arn} ({env}) failed: {check.describe()}")
        log.info("testSecret: %s of %s is live at Intercom", pending.fingerprint, r.arn)

    def _finish(self, r: _Rotation) -> None:
        current = r.holder(CURRENT)
        if current != r.token:
            old = {"RemoveFromVersionId": current} if current else {}
            self.client.update_secret_version_stage(
                SecretId=r.arn, VersionStage=CURRENT, MoveToVersionId=r.token, **old
            )
            log.info("finishSecret: version %s of %s is now AWSCURRENT", r.token, r.arn)
        replaced = current if current != r.token else r.holder(PREVIOUS)
        record = self._record_promotion(r, replaced)
        if PENDING in r.labels[r.token]:
            self.client.update_secret_version_stage(
                SecretId=r.arn, VersionStage=PENDING, RemoveFromVersionId=r.token
            )
        ids = r.intercom_ids()
        kept = {ids.get(r.token), ids.get(replaced or "")}
        retired = {  # versions now without a label: AWSPREVIOUS moved on to the replaced one
            v: i
            for v, i in ids.items()
            if v not in (r.token, replaced)
            and i not in kept
            and not set(r.labels.get(v, [])) - {PREVIOUS}
        }
        if retired:
            self._retire(r, retired, record.since.get(r.token))

    def _record_promotion(self, r: _Rotation, replaced: str | None) -> RotationRecord:
        """Record when this version became current (once: a retried finishSecret keeps it)."""
        record = self.store.read_record(r.arn)[0]
        if r.token in record.since:
            return record
        now = datetime.now(timezone.utc)

        def change(x: RotationRecord) -> RotationRecord:
            keep = {r.token, replaced}
            since = {k: v for k, v in x.since.items() if k in keep}
            demoted = {k: v for k, v in x.demoted.items() if k in keep}
            since[r.token] = now
            if replaced:
                demoted[replaced] = now
            return replace(x, since=since, demoted=demoted)

        try:
            return update_record(self.store, r.arn, run=r.token, change=change)
        except ConcurrentRotationError as err:
            log.warning("finishSecret: could not record when %s became current: %s", r.token, err)
            return record

    def _retire(self, r: _Rotation, retired: dict[str, str], since: datetime | None) -> None:
        """Delete the Intercom secrets of ``retired`` versions once no process can still sign with
        them (``grace`` after their successor became current), then their tags. Never raises for
        Intercom: the rotation is done, and the tags left behind make the next one try again."""
        env = self.environment(r)
        waited = (datetime.now(timezone.utc) - since).total_seconds() if since else 0.0
        if waited < self.grace(env):
            log.warning(
                "finishSecret: kept Intercom secret(s) %s of %s, replaced only %.0f s ago; "
                "the next rotation deletes them",
                *(", ".join(retired.values()), r.arn, waited),
            )
            return
        intercom = self.intercom(env.workspace)
        gone = [v for v, i in retired.items() if _delete_quietly(intercom, i, "it was replaced")]
        if gone:
            self.client.untag_resource(SecretId=r.arn, TagKeys=[INTERCOM_TAG + v for v in gone])

    # -- settings -------------------------------------------------------------------------------

    def environment(self, r: _Rotation) -> Environment:
        """The (platform, workspace) the secret holds: its tags, else the Lambda's variables."""
        platform = r.tags.get(PLATFORM_TAG) or os.environ.get("IVSECRETS_PLATFORM", "")
        workspace = r.tags.get(WORKSPACE_TAG) or os.environ.get("IVSECRETS_WORKSPACE", "")
        if not platform or not workspace:
            raise ConfigError(
                f"secret {r.arn} does not say which Intercom environment it holds",
                fix=f"tag it {PLATFORM_TAG} and {WORKSPACE_TAG} (the Terraform module does), "
                "or set IVSECRETS_PLATFORM and IVSECRETS_WORKSPACE on the Lambda",
            )
        try:
            return Environment.of(platform, workspace)
        except ValueError as err:
            raise ConfigError(f"secret {r.arn}: {err}") from None

    def config(self) -> Config | None:
        """The configuration file at ``$IVSECRETS_CONFIG``, if set (loaded once)."""
        if self._config is None and os.environ.get(CONFIG_ENV_VAR):
            self._config = load_config()
        return self._config

    def grace(self, env: Environment) -> float:
        """``grace``, else ``IVSECRETS_GRACE_SECONDS``, else the store's cache ttl + max_stale."""
        if self._grace is not None:
            return self._grace
        if os.environ.get("IVSECRETS_GRACE_SECONDS"):
            try:
                return float(os.environ["IVSECRETS_GRACE_SECONDS"])
            except ValueError:
                raise ConfigError("IVSECRETS_GRACE_SECONDS is not a number of seconds") from None
        config, cache = self.config(), CacheSettings()
        if config is not None and env in config.environments:
            cache = config.stores[config.environments[env].store].cache
        return cache.ttl + cache.max_stale

    def intercom(self, workspace: str) -> IntercomClient:
        """The workspace's Intercom client: injected, or from the configuration (or defaults),
        with the token from the secret ``IVSECRETS_INTERCOM_TOKEN_SECRET_ARN`` names if set."""
        if self._intercom is not None:
            return self._intercom(workspace)

        config = self.config()
        if config is None:
            region = os.environ.get("IVSECRETS_INTERCOM_REGION", "us")
            settings = WorkspaceConfig(workspace, tuple(Platform), region)
        elif workspace in config.workspace_settings:
            settings = config.workspace_settings[workspace]
        else:
            raise ConfigError(f"workspace '{workspace}' is not configured", file=config.source)
        arn = os.environ.get(TOKEN_SECRET_VAR)
        if not arn:
            return IntercomClient.from_workspace(settings)
        base_url = settings.intercom_base_url or REGION_BASE_URLS.get(settings.intercom_region)
        if base_url is None:
            raise ConfigError(f"unknown Intercom region {settings.intercom_region!r}")
        return IntercomClient(
            self._token(arn, workspace),
            base_url=base_url,
            workspace=workspace,
            allow_custom_host=settings.allow_custom_intercom_host,
        )

    def _token(self, arn: str, workspace: str) -> SecretValue:
        """The Intercom API token in the secret ``arn``: the whole value, or a JSON object's
        entry for ``workspace`` (one Lambda, several workspaces)."""
        token = self._value(arn, CURRENT)
        if token is not None and token.reveal().lstrip().startswith(b"{"):
            token = _json_entry(token, workspace)
        if token is None or not token.reveal().strip():
            raise ConfigError(
                f"the secret {TOKEN_SECRET_VAR} names holds no Intercom API token for "
                f"workspace '{workspace}'",
                fix=f'store the token, or a JSON object {{"{workspace}": "<token>", ...}}',
            )
        return token

    def _read(
        self, secret_id: str, stage: str, version: str | None = None
    ) -> GetSecretValueResponseTypeDef | None:
        """GetSecretValue of a stage (and version); None if there is no such value."""
        try:
            if version is None:
                return self.client.get_secret_value(SecretId=secret_id, VersionStage=stage)
            return self.client.get_secret_value(
                SecretId=secret_id, VersionId=version, VersionStage=stage
            )
        except self.client.exceptions.ResourceNotFoundException:
            return None

    def _value(self, secret_id: str, stage: str, version: str | None = None) -> SecretValue | None:
        read = self._read(secret_id, stage, version)
        if read is None:
            return None
        text = read.get("SecretString")
        return SecretValue(text if text is not None else read.get("SecretBinary", b""))


def _delete_quietly(intercom: IntercomClient, secret_id: str, why: str) -> bool:
    """Delete an Intercom secret (already gone counts); log, never raise, if Intercom fails."""
    try:
        intercom.delete(secret_id, missing_ok=True)
    except IntercomAPIError as err:
        log.error("could not delete Intercom secret %s (%s): %s", secret_id, why, err)
        return False
    log.info("deleted Intercom secret %s: %s", secret_id, why)
    return True


_default: LambdaRotation | None = None


def _json_entry(document: SecretValue, key: str) -> SecretValue | None:
    """``document[key]`` of a JSON object secret, or None. Every workspace's token stays inside
    this frame, which has returned before the caller raises, and no decode error is chained."""
    try:
        tokens = json.loads(document.reveal())
    except ValueError:
        return None
    entry = tokens.get(key) if isinstance(tokens, dict) else None
    del tokens
    return SecretValue(entry) if isinstance(entry, str) else None


def handler(event: Mapping[str, Any], context: object) -> None:
    """The Lambda entry point: one rotation step (``event``: SecretId, ClientRequestToken, Step)."""
    global _default
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)  # the Lambda runtime shows WARNING and above otherwise
    if _default is None:
        _default = LambdaRotation()  # kept while the Lambda stays warm: one boto3 client
    _default.run(event)
