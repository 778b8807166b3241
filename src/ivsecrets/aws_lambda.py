"""Secrets Manager's rotation Lambda for Intercom secrets: ``ivsecrets.aws_lambda.handler``.

A ``RotateSecret`` schedule pointing at it rotates one environment's secret unattended, in AWS's
four steps (AWS retries a failed step, so each is idempotent):

- createSecret: under the secret's rotation lease (the one ``ivsecrets rotate`` takes; run id = the
  version's ClientRequestToken), settle what dead runs journaled, journal "creating a secret named
  N", create it, record its id (tag ``ivsecrets:intercom:<VersionId>``), store it AWSPENDING.
- setSecret: nothing; Intercom already holds the new secret.
- testSecret: the pending value is plausible, new and live at Intercom; a failure leaves AWSCURRENT.
- finishSecret: under the lease, the store's promote (AWSPREVIOUS follows, so the replaced secret
  still verifies), record when, then delete at Intercom the secrets of versions left without a
  label once the grace period, from when their successor became current, is over.

The lease, journal and promotion times are :mod:`ivsecrets.rotation.run`'s, as for the CLI; the
settings (variables, tags) are :mod:`ivsecrets.lambda_settings`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ivsecrets.environments import AWS_STAGE_LABELS, Stage
from ivsecrets.errors import ConcurrentRotationError, RotationError
from ivsecrets.intercom import (
    IntercomClient,
    create_intercom_secret,
    delete_quietly,
    intercom_secret_name,
)
from ivsecrets.lambda_settings import LambdaSettings, read_value
from ivsecrets.plugins.aws import INTERCOM_TAG, AwsProvider, env_region
from ivsecrets.provider import JournalEntry, RotationRecord
from ivsecrets.rotation import check_secret_shape
from ivsecrets.rotation.run import Run, leased

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient


__all__ = ["LambdaRotation", "handler"]

log = logging.getLogger("ivsecrets")
CURRENT, PREVIOUS, PENDING = (AWS_STAGE_LABELS[stage] for stage in Stage)  # in Stage's order


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
    """Runs one step of Secrets Manager's rotation protocol per :meth:`run`: a rotation ``Run``
    (run id = the version's token) on the ``aws`` store's steps.

    ``client``: a Secrets Manager client (default: boto3's, with the Lambda's role);
    ``dynamodb``: a DynamoDB client for the lease table (default: boto3's, in the client's region);
    ``intercom(workspace)``: that workspace's Intercom client (default: from the settings);
    ``grace``: seconds a replaced secret stays live at Intercom after its successor was created.
    Raises on anything it cannot do safely: AWS retries the step, then marks the rotation failed.
    """

    def __init__(
        self,
        client: SecretsManagerClient | None = None,
        intercom: Callable[[str], IntercomClient] | None = None,
        grace: float | None = None,
        dynamodb: DynamoDBClient | None = None,
    ) -> None:
        AwsProvider.redact_sdk_logs()
        self._client = client
        self._dynamodb = dynamodb
        self._store: AwsProvider | None = None
        self.settings = LambdaSettings(lambda: self.client, intercom, grace)

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager", region_name=env_region())
        return self._client

    @property
    def store(self) -> AwsProvider:
        """The aws store on the same client (built once): the steps and the rotation record."""
        if self._store is None:
            store = self.settings.store_config()
            self._store = AwsProvider(store, client=self.client, dynamodb=self._dynamodb)
        return self._store

    def run(self, event: Mapping[str, Any]) -> None:
        """Carry out ``event["Step"]`` for version ``ClientRequestToken`` of ``SecretId``."""
        arn, token, step = (str(event[k]) for k in ("SecretId", "ClientRequestToken", "Step"))
        if step not in ("createSecret", "setSecret", "testSecret", "finishSecret"):
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
        r = _Rotation(arn, token, labels, tags)
        if step == "setSecret":
            log.info("setSecret: nothing to do; Intercom holds version %s of %s", token, arn)
        elif step == "testSecret":
            self._test(r)
        else:
            # The steps that write hold the lease ``ivsecrets rotate`` takes, one step at a time
            # (AWS keeps a second rotation from starting while AWSPENDING is staged).
            with leased(
                self.store, arn, self.settings.environment(r.arn, r.tags), "lambda", run_id=token
            ) as held:
                (self._create if step == "createSecret" else self._finish)(r, *held)

    # -- the steps ------------------------------------------------------------------------------

    def _create(self, r: _Rotation, run: Run, record: RotationRecord) -> None:
        if read_value(self.client, r.arn, PENDING, r.token) is not None:
            log.info("createSecret: version %s of %s already holds its secret", r.token, r.arn)
            return
        env = run.environment
        intercom = self.settings.intercom(env.workspace)
        run.settle(record, lambda: self.store.versions(None, r.arn), lambda: intercom)
        intent = JournalEntry(r.token, intercom_secret_name(env, r.token[:12]))
        run.journal(intent)
        created = create_intercom_secret(intercom, env, intent.name)
        known = run.resolve(intent, created.id)
        try:
            self.store.put_pending(
                r.arn, created.value, version=r.token, intercom_secret_id=created.id
            )
        except BaseException:
            delete_quietly(intercom, created.id, "it could not be stored")
            raise
        run.forget(known)
        log.info(
            "createSecret: stored Intercom secret %s (%s) as version %s of %s (%s)",
            *(created.id, created.fingerprint, r.token, r.arn, env),
        )

    def _test(self, r: _Rotation) -> None:
        env = self.settings.environment(r.arn, r.tags)
        pending, current = (
            read_value(self.client, r.arn, PENDING, r.token),
            read_value(self.client, r.arn, CURRENT),
        )
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
        check = self.settings.intercom(env.workspace).check(intercom_id, env.platform)
        if not check.ok:
            raise RotationError(f"testSecret of {r.arn} ({env}) failed: {check.describe()}")
        log.info("testSecret: %s of %s is live at Intercom", pending.fingerprint, r.arn)

    def _finish(self, r: _Rotation, run: Run, record: RotationRecord) -> None:
        current = r.holder(CURRENT)
        # AWSCURRENT moves (AWSPREVIOUS follows by itself), then AWSPENDING goes: the store's
        # compare-and-set promote, which also completes one that stopped between the two.
        self.store.promote(r.arn, pending_version=r.token, expected_current_version=None)
        if current != r.token:
            log.info("finishSecret: version %s of %s is now AWSCURRENT", r.token, r.arn)
        replaced = current if current != r.token else r.holder(PREVIOUS)
        if r.token not in record.since:  # once: a retried finishSecret keeps the first time
            try:
                record = run.record_current(r.token, replaced)
            except ConcurrentRotationError as err:
                log.warning(
                    "finishSecret: could not record when %s became current: %s", r.token, err
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
            self._retire(r, run, retired, record.since.get(r.token))

    def _retire(
        self, r: _Rotation, run: Run, retired: dict[str, str], since: datetime | None
    ) -> None:
        """Delete the Intercom secrets of ``retired`` versions once no process can still sign with
        them (``grace`` after their successor became current), then their tags. Never raises for
        Intercom: the rotation is done, and the tags left behind make the next one try again."""
        env = self.settings.environment(r.arn, r.tags)
        waited = (datetime.now(timezone.utc) - since).total_seconds() if since else 0.0
        if waited < self.settings.grace(env):
            log.warning(
                "finishSecret: kept Intercom secret(s) %s of %s, replaced only %.0f s ago; "
                "the next rotation deletes them",
                *(", ".join(retired.values()), r.arn, waited),
            )
            return
        intercom = self.settings.intercom(env.workspace)
        run.step("deleting")  # the lease checked again right before the Intercom deletes
        gone = [v for v, i in retired.items() if delete_quietly(intercom, i, "it was replaced")]
        if gone:
            self.client.untag_resource(SecretId=r.arn, TagKeys=[INTERCOM_TAG + v for v in gone])


_default: LambdaRotation | None = None


def handler(event: Mapping[str, Any], context: object) -> None:
    """The Lambda entry point: one rotation step (``event``: SecretId, ClientRequestToken, Step)."""
    global _default
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)  # the Lambda runtime shows WARNING and above otherwise
    if _default is None:
        _default = LambdaRotation()  # kept while the Lambda stays warm: one boto3 client
    _default.run(event)
