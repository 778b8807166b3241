"""How rotation maps onto Secret Manager's version aliases, for the ``gcp`` store.

Readers follow the ``current`` alias, so a version added with AddSecretVersion (which becomes
``latest`` at once) is not served until an UpdateSecret moves ``current`` onto it. Every alias
change sends the etag read just before: a concurrent change fails with FAILED_PRECONDITION. Each
version's Intercom secret id is an annotation ``ivsecrets-intercom-<version>``; the rotation
record (lease, journal, promotion times) is the annotation RECORD_ANNOTATION.
"""

from __future__ import annotations

import json
import logging
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import ConcurrentRotationError, MissingExtraError, RotationError
from ivsecrets.provider import Fetched, Reference, WritableProvider
from ivsecrets.secret import SecretValue, VersionInfo, fingerprint

if TYPE_CHECKING:
    from google.cloud.secretmanager_v1 import Secret, SecretManagerServiceClient

__all__ = ["ANNOTATION", "RECORD_ANNOTATION", "GcpRotation", "crc32c", "sdk", "version_number"]

log = logging.getLogger("ivsecrets")
ANNOTATION = "ivsecrets-intercom-"
RECORD_ANNOTATION = "ivsecrets-rotation"  # the rotation record: lease, journal, promotion times


def sdk() -> Any:
    try:
        from google.api_core import exceptions
    except ImportError:
        raise MissingExtraError("gcp", "google-cloud-secret-manager", "gcp") from None
    return exceptions


def crc32c(data: bytes) -> int:
    try:
        import google_crc32c
    except ImportError:
        raise MissingExtraError("gcp", "google-crc32c", "gcp") from None
    return int(google_crc32c.value(data))


def version_number(version_name: str) -> str:
    return version_name.rsplit("/", 1)[-1]


class GcpRotation(WritableProvider):
    """The rotation steps of the ``gcp`` store (``GcpProvider`` adds the reads and the client)."""

    timeout: float

    @abstractmethod
    def client(self) -> SecretManagerServiceClient:
        """The Secret Manager client."""

    @abstractmethod
    def _names(self, ref: Reference) -> tuple[str, str | None]:
        """The secret's resource name and the version the reference pins, if any."""

    @abstractmethod
    def _read_options(self) -> dict[str, Any]:
        """Per-call retry and deadline for reads."""

    @abstractmethod
    def _access(self, name: str, version: str, stage: Stage) -> Fetched:
        """Read one version's value."""

    @abstractmethod
    def _info(
        self,
        environment: Environment | None,
        ref: Reference,
        secret: Secret,
        number: int,
        stage: Stage,
    ) -> VersionInfo:
        """What a version is (fingerprint, time, Intercom id)."""

    # -- rotation -----------------------------------------------------------------------------
    # Readers follow the `current` alias, so a version added with AddSecretVersion (which becomes
    # `latest` at once) is not served until an UpdateSecret moves `current` onto it. Every alias
    # change sends the etag read just before: a concurrent change fails with FAILED_PRECONDITION.

    def _aliases(self, ref: Reference) -> tuple[str, Secret, dict[str, int]]:
        """The secret's name, its metadata (with the etag to write back) and its aliases."""
        name, pinned = self._names(ref)
        if pinned is not None:
            raise RotationError(f"the reference pins version {pinned}: rotate the secret instead")
        secret = self._get_secret(name)
        return name, secret, dict(secret.version_aliases)

    def _get_secret(self, name: str) -> Secret:
        return self.client().get_secret(name=name, **self._read_options())

    def _set_aliases(
        self, secret: Secret, aliases: dict[str, int], annotations: Mapping[str, str] | None = None
    ) -> Secret:
        """Replace the aliases if the secret is unchanged; keep annotations of aliased versions."""
        from google.cloud.secretmanager_v1 import Secret

        aliased = {f"{ANNOTATION}{number}" for number in aliases.values()}
        kept = {
            key: value
            for key, value in secret.annotations.items()
            if not key.startswith(ANNOTATION) or key in aliased
        }
        update = Secret(
            name=secret.name,
            etag=secret.etag,
            version_aliases=aliases,
            annotations={**kept, **(annotations or {})},
        )
        try:
            return self.client().update_secret(
                secret=update,
                update_mask={"paths": ["version_aliases", "annotations"]},
                timeout=self.capped(self.timeout),
                retry=None,
            )
        except (sdk().FailedPrecondition, sdk().Aborted) as err:
            raise ConcurrentRotationError(
                "the secret changed while this step ran (etag mismatch); nothing was changed"
            ) from err

    def _retire_version(self, name: str, number: int, destroy: bool) -> None:
        """Disable (or destroy) a version no alias points at; a failure only warns."""
        action = "destroy" if destroy else "disable"
        call = getattr(self.client(), f"{action}_secret_version")
        try:
            call(name=f"{name}/versions/{number}", timeout=self.capped(self.timeout), retry=None)
        except sdk().GoogleAPICallError as err:
            log.warning("could not %s version %s of %s: %s", action, number, name, err)

    def _stage(
        self, ref: Reference, value: SecretValue, intercom_secret_id: str | None
    ) -> VersionInfo:
        from google.cloud.secretmanager_v1 import SecretPayload

        name, secret, aliases = self._aliases(ref)
        data = value.reveal()
        wanted = fingerprint(data.strip())  # what readers will see: load() strips whitespace
        if "pending" in aliases:
            staged = self._info(None, ref, secret, aliases["pending"], Stage.pending)
            if staged.fingerprint == wanted:
                return staged
            raise ConcurrentRotationError(
                f"version {staged.version} is already staged with another value "
                f"({staged.fingerprint}): finish or discard that rotation first"
            )
        if "current" not in aliases:
            # Pin what readers get now, before AddSecretVersion moves `latest`.
            served = self._access(name, "latest", Stage.current)
            aliases["current"] = int(str(served.version))
            secret = self._set_aliases(secret, aliases)
        if ref.key is not None:  # replace one key of the JSON document, keep the others
            data = self._with_key(name, aliases["current"], ref.key, data)
        version = self.client().add_secret_version(
            parent=name,
            payload=SecretPayload(data=data, data_crc32c=crc32c(data)),
            timeout=self.capped(self.timeout),
            retry=None,
        )
        number = int(version_number(version.name))
        try:
            secret = self._get_secret(name)
            if dict(secret.version_aliases) != aliases:
                raise ConcurrentRotationError("another rotation changed the secret's aliases")
            ids = {f"{ANNOTATION}{number}": intercom_secret_id} if intercom_secret_id else {}
            self._set_aliases(secret, {**aliases, "pending": number}, ids)
        except ConcurrentRotationError:
            self._retire_version(name, number, destroy=False)
            raise
        return VersionInfo(
            str(number), (Stage.pending,), wanted, version.create_time, intercom_secret_id
        )

    def _with_key(self, name: str, current: int, key: str, value: bytes) -> bytes:
        try:
            document = json.loads(self._access(name, str(current), Stage.current).value)
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise RotationError(f"the reference asks for key '{key}' but the secret is not JSON")
        return json.dumps({**document, key: value.decode()}).encode()

    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None:
        _, secret, aliases = self._aliases(ref)
        current = aliases.get("current")
        if str(current) == pending_version:
            return  # already promoted: a resumed rotation
        _expect("current", current, expected_current_version)
        _expect("pending", aliases.get("pending"), pending_version)
        aliases.pop("pending")
        aliases["current"] = int(pending_version)
        if current is not None:
            aliases["previous"] = current
        self._set_aliases(secret, aliases)

    def _rollback(self, ref: Reference, expected_current_version: str) -> None:
        name, secret, aliases = self._aliases(ref)
        current, previous = aliases.get("current"), aliases.get("previous")
        _expect("current", current, expected_current_version)
        if previous is None or current is None:
            raise RotationError("there is no previous version to roll back to (retired?)")
        meta = self.client().get_secret_version(
            name=f"{name}/versions/{previous}", **self._read_options()
        )
        if meta.state != type(meta).State.ENABLED:
            raise RotationError(f"the previous version {previous} is {meta.state.name}")
        self._set_aliases(secret, {**aliases, "current": previous, "previous": current})

    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None:
        name, secret, aliases = self._aliases(ref)
        previous = aliases.pop("previous", None)
        if previous is None:
            return  # already retired
        _expect("previous", previous, expected_previous_version)
        self._set_aliases(secret, aliases)
        self._retire_version(name, previous, destroy=False)

    def _discard_pending(self, ref: Reference, pending_version: str) -> None:
        name, secret, aliases = self._aliases(ref)
        pending = aliases.pop("pending", None)
        _expect("pending", pending, pending_version)
        assert pending is not None
        self._set_aliases(secret, aliases)
        # Never served: destroy it rather than keep an abandoned secret around.
        self._retire_version(name, pending, destroy=True)

    # The rotation record is the annotation RECORD_ANNOTATION, written with the secret's etag.

    def _read_record(self, ref: Reference) -> tuple[str | None, Any]:
        _, secret, _ = self._aliases(ref)
        return secret.annotations.get(RECORD_ANNOTATION) or None, secret

    def _write_record(self, ref: Reference, text: str, token: Any) -> bool:
        from google.cloud.secretmanager_v1 import Secret

        update = Secret(
            name=token.name,
            etag=token.etag,
            annotations={**token.annotations, RECORD_ANNOTATION: text},
        )
        try:
            self.client().update_secret(
                secret=update,
                update_mask={"paths": ["annotations"]},
                timeout=self.timeout,
                retry=None,
            )
        except (sdk().FailedPrecondition, sdk().Aborted):
            return False
        return True


def _expect(alias: str, actual: int | None, expected: str | None) -> None:
    if (None if actual is None else str(actual)) != expected:
        raise ConcurrentRotationError(
            f"the {alias} version is {actual if actual is not None else 'unset'}, "
            f"not {expected}: another rotation got there first"
        )
