"""How rotation maps onto Secrets Manager's staging labels, for the ``aws`` store.

The new value goes under AWSPENDING and is promoted with one compare-and-set
``UpdateSecretVersionStage`` (AWS refuses the move when ``RemoveFromVersionId`` no longer holds
AWSCURRENT; AWSPREVIOUS follows by itself). The Intercom secret id of each version is kept in a
secret tag ``ivsecrets:intercom:<VersionId>``. The rotation record (lease, journal, when each
version became current) is an item of the lease table in DynamoDB (:mod:`.lease`), so a rotate +
finish cycle adds one version to the secret (the staged value) and a refused command none.
"""

from __future__ import annotations

import json
import logging
import uuid
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ivsecrets.environments import AWS_STAGE_LABELS, Stage
from ivsecrets.errors import ConcurrentRotationError, RotationError
from ivsecrets.plugins.aws.errors import client_error_parts, error_code, store_error
from ivsecrets.plugins.aws.lease import LeaseTable
from ivsecrets.provider import Reference, WritableProvider
from ivsecrets.secret import SecretValue, VersionInfo

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "INTERCOM_TAG",
    "LABELS",
    "RECORD_LABEL",
    "SCRATCH_PREFIX",
    "AwsRotation",
    "RecordToken",
    "holder",
]

log = logging.getLogger("ivsecrets")

LABELS = AWS_STAGE_LABELS  # importable from here: the rotation Lambda and older code do
INTERCOM_TAG = "ivsecrets:intercom:"
# Labels earlier versions of ivsecrets put on the secret: the version holding the rotation record,
# and a scratch label per record write (left behind when the writer was killed). Now swept.
RECORD_LABEL = "ivsecrets-rotation"
SCRATCH_PREFIX = "ivsecrets-w-"


@dataclass(frozen=True)
class RecordToken:
    """The compare-and-set token of a rotation record read from the lease table."""

    key: str  # the secret's ARN: the item's key
    revision: int  # the item's revision; 0 when there is no item yet
    stale: tuple[tuple[str, str], ...]  # (label, VersionId) an earlier ivsecrets left on the secret


class AwsRotation(WritableProvider):
    """The rotation steps of the ``aws`` store (``AwsProvider`` adds the reads and the client)."""

    lease_table: LeaseTable  # where the rotation record lives (set by AwsProvider)

    @abstractmethod
    def client(self) -> SecretsManagerClient:
        """The Secrets Manager client."""

    def _stage(
        self, ref: Reference, value: SecretValue, intercom_secret_id: str | None
    ) -> VersionInfo:
        labels, tags = self._describe(ref)
        current, pending = holder(labels, Stage.current), holder(labels, Stage.pending)
        if pending is not None and pending == current:
            # Left on the current version by an interrupted promote: not a staged rotation.
            self._unlabel(ref, Stage.pending, pending)
            pending = None
        if pending is not None:
            staged = self.load(None, str(ref), Stage.pending, pending)
            if staged.value != value:
                raise ConcurrentRotationError(
                    f"another value is already staged (version {pending}); finish or discard "
                    "that rotation first"
                )
            version, created_at = pending, staged.created_at
        else:
            version, created_at = self._put_pending(ref, value, None, intercom_secret_id), None
            labels, tags = self._describe(ref)
            if holder(labels, Stage.pending) != version:
                raise ConcurrentRotationError("another rotation staged a value at the same time")
        if intercom_secret_id and tags.get(INTERCOM_TAG + version) != intercom_secret_id:
            self.client().tag_resource(
                SecretId=ref.name,
                Tags=[{"Key": INTERCOM_TAG + version, "Value": intercom_secret_id}],
            )
        # Tags are per secret: drop those of versions AWS may delete (no label left).
        stale = [
            k
            for k in tags
            if k.startswith(INTERCOM_TAG) and k[len(INTERCOM_TAG) :] not in {*labels, version}
        ]
        if stale:
            self.client().untag_resource(SecretId=ref.name, TagKeys=stale)
        return VersionInfo(
            version, (Stage.pending,), value.fingerprint, created_at, intercom_secret_id
        )

    def put_pending(
        self, reference: str, value: SecretValue, *, version: str, intercom_secret_id: str
    ) -> None:
        """Store ``value`` as version ``version`` labelled AWSPENDING, its Intercom id recorded
        first (the rotation Lambda's createSecret, whose version id AWS chose)."""
        self._write(
            reference, lambda ref: self._put_pending(ref, value, version, intercom_secret_id)
        )

    def _put_pending(
        self,
        ref: Reference,
        value: SecretValue,
        version: str | None,
        intercom_secret_id: str | None,
    ) -> str:
        token = version or str(uuid.uuid4())
        if intercom_secret_id:
            # The id is recorded before the value: a version never exists without it (a tag of
            # a version that never came to be is dropped by the next stage).
            self.client().tag_resource(
                SecretId=ref.name, Tags=[{"Key": INTERCOM_TAG + token, "Value": intercom_secret_id}]
            )
        try:
            response = self.client().put_secret_value(
                SecretId=ref.name,
                ClientRequestToken=token,
                VersionStages=[LABELS[Stage.pending]],
                **self._payload(ref, value),
            )
        except Exception as err:
            code, _, status = client_error_parts(err)
            if not code:
                raise
            # AWS's validation messages may quote the rejected value: keep the code only.
            raise store_error(code, "", status) from None
        return response["VersionId"]

    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None:
        labels, _ = self._describe(ref)
        current = holder(labels, Stage.current)
        if current != pending_version:
            if expected_current_version is not None and current != expected_current_version:
                raise ConcurrentRotationError(
                    f"the current version is {current}, not {expected_current_version}"
                )
            if LABELS[Stage.pending] not in labels.get(pending_version, []):
                raise ConcurrentRotationError(f"version {pending_version} is no longer pending")
            # AWS moves AWSPREVIOUS to the version AWSCURRENT leaves, in the same call.
            self._move_current(ref, pending_version, current)
        if LABELS[Stage.pending] in labels.get(pending_version, []):
            self._unlabel(ref, Stage.pending, pending_version)

    def _rollback(self, ref: Reference, expected_current_version: str) -> None:
        labels, _ = self._describe(ref)
        current, previous = holder(labels, Stage.current), holder(labels, Stage.previous)
        if current != expected_current_version:
            raise ConcurrentRotationError(
                f"the current version is {current}, not {expected_current_version}"
            )
        if previous is None:
            raise RotationError("there is no previous version to roll back to (retired?)")
        self._move_current(ref, previous, current)

    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None:
        labels, _ = self._describe(ref)
        previous = holder(labels, Stage.previous)
        if previous is None:
            return  # already retired: a resumed run
        if previous != expected_previous_version:
            raise ConcurrentRotationError(
                f"the previous version is {previous}, not {expected_previous_version}"
            )
        self._unlabel(ref, Stage.previous, previous)

    def _discard_pending(self, ref: Reference, pending_version: str) -> None:
        labels, _ = self._describe(ref)
        pending = holder(labels, Stage.pending)
        if pending != pending_version:
            raise ConcurrentRotationError(
                f"version {pending_version} is no longer pending (pending is "
                f"{pending or 'nothing'})"
            )
        self._unlabel(ref, Stage.pending, pending)

    # The rotation record lives in the lease table (DynamoDB, see .lease), keyed by the secret's
    # ARN, never on the secret: the only PutSecretValue ivsecrets makes is staging a new value.
    # The token carries what a write needs without another call: the item's key and revision,
    # and the labels earlier versions of ivsecrets left on the secret (their record, under
    # RECORD_LABEL, and scratch labels of killed writes, which pin versions forever). Those are
    # removed after the first record write that succeeds: every command that changes anything
    # takes the lease first, so the next rotate, finish, abort, settle or rollback sweeps them.

    def _read_record(self, ref: Reference) -> tuple[str | None, Any]:
        described = self.client().describe_secret(SecretId=ref.name)
        labels = {v: s for v, s in described.get("VersionIdsToStages", {}).items() if s}
        stale = tuple(
            (label, version)
            for version, names in labels.items()
            for label in names
            if label == RECORD_LABEL or label.startswith(SCRATCH_PREFIX)
        )
        text, revision = self.lease_table.read(described["ARN"])
        if revision == 0:
            # No item yet: an earlier ivsecrets may have kept the record on the secret. It is
            # read from there and carried into the table by the first write (then unlabelled).
            legacy = next((v for v, names in labels.items() if RECORD_LABEL in names), None)
            if legacy is not None:
                read = self.client().get_secret_value(SecretId=ref.name, VersionId=legacy)
                text = read.get("SecretString")
        return text, RecordToken(described["ARN"], revision, stale)

    def _write_record(self, ref: Reference, text: str, token: Any) -> bool:
        if not isinstance(token, RecordToken):  # no record read first: only a first write
            token = RecordToken(self.client().describe_secret(SecretId=ref.name)["ARN"], 0, ())
        if not self.lease_table.write(token.key, text, token.revision):
            return False
        if token.stale:
            log.info(
                "ivsecrets: removing %d label(s) an earlier ivsecrets left on %s (%s)",
                len(token.stale),
                ref.name,
                ", ".join(sorted({label for label, _ in token.stale})),
            )
            for label, version in token.stale:
                self._unlabel_custom(ref, label, version)
        return True

    def _unlabel_custom(self, ref: Reference, label: str, version: str) -> None:
        try:
            self.client().update_secret_version_stage(
                SecretId=ref.name, VersionStage=label, RemoveFromVersionId=version
            )
        except Exception as err:  # noqa: BLE001 - only tidying up
            log.debug("ivsecrets: could not remove label %s: %s", label, error_code(err) or err)

    def _describe(self, ref: Reference) -> tuple[dict[str, list[str]], dict[str, str]]:
        """The secret's labelled versions ({VersionId: labels}) and its tags."""
        described = self.client().describe_secret(SecretId=ref.name)
        labels = {v: s for v, s in described.get("VersionIdsToStages", {}).items() if s}
        return labels, {t["Key"]: t["Value"] for t in described.get("Tags", [])}

    def _move_current(self, ref: Reference, to: str, from_: str | None) -> None:
        kwargs = {"RemoveFromVersionId": from_} if from_ else {}
        try:
            self.client().update_secret_version_stage(
                SecretId=ref.name, VersionStage=LABELS[Stage.current], MoveToVersionId=to, **kwargs
            )
        except Exception as err:
            # AWS refuses the move when RemoveFromVersionId no longer holds AWSCURRENT.
            refused = error_code(err) in ("InvalidParameterException", "InvalidRequestException")
            if refused and holder(self._describe(ref)[0], Stage.current) != from_:
                raise ConcurrentRotationError("the current version changed meanwhile") from err
            raise

    def _unlabel(self, ref: Reference, stage: Stage, version: str) -> None:
        self.client().update_secret_version_stage(
            SecretId=ref.name, VersionStage=LABELS[stage], RemoveFromVersionId=version
        )

    def _payload(self, ref: Reference, value: SecretValue) -> dict[str, Any]:
        raw = value.reveal()
        if ref.key is not None:
            # Replace one key of the JSON document, keeping the others as they are now.
            current = self._fetch(ref, Stage.current, None).value
            document = json.loads(current)
            if not isinstance(document, dict):
                raise RotationError("the secret is not a JSON object; cannot set a key in it")
            document[ref.key] = raw.decode()
            return {"SecretString": json.dumps(document)}
        try:
            return {"SecretString": raw.decode("utf-8")}
        except UnicodeDecodeError:
            return {"SecretBinary": raw}


def holder(labels: Mapping[str, list[str]], stage: Stage) -> str | None:
    return next((v for v, names in labels.items() if LABELS[stage] in names), None)
