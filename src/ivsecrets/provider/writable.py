"""The writable base: :class:`WritableProvider`, for stores that rotate.

A plugin implements the rotation steps (``_stage``, ``_promote``, ``_rollback``,
``_retire_previous``, ``_discard_pending``) and the compare-and-set read and write of its rotation
record (``_read_record``, ``_write_record``); the base translates errors at the boundary and adds
to each version when it became current and stopped being current.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import IVSecretsError, StoreError
from ivsecrets.provider.base import Provider
from ivsecrets.provider.payload import Reference
from ivsecrets.provider.record import RotationRecord
from ivsecrets.secret import Secret, SecretValue, VersionInfo

__all__ = ["WritableProvider"]

log = logging.getLogger("ivsecrets")
T = TypeVar("T")


class WritableProvider(Provider):
    """Base class of store plugins that can rotate: stage, promote, roll back, retire, discard.

    Every write is idempotent and compare-and-set, so an interrupted rotation can be re-run:
    ``stage()`` with the same value returns the version already staged; ``promote()`` succeeds if
    the pending version is already current; a concurrent writer makes the loser raise
    ConcurrentRotationError with nothing half-written.

    Beside each secret the store keeps a :class:`RotationRecord` (the rotation lease, the journal
    of intent and the promotion times), read and written through the store's compare-and-set
    primitive: ``_read_record`` returns the record's text and a token, ``_write_record`` writes
    new text only if the record still has that token. The lease protocol built on top is a
    workflow: :mod:`ivsecrets.rotation.lease`.
    """

    # -- what a plugin implements -------------------------------------------------------------

    @abstractmethod
    def _read_record(self, ref: Reference) -> tuple[str | None, Any]:
        """The rotation record's text (None if there is none yet) and its compare-and-set token."""

    @abstractmethod
    def _write_record(self, ref: Reference, text: str, token: Any) -> bool:
        """Write the record if it still has ``token``; False when another writer got there."""

    def _stage_versions(
        self, environment: Environment | None, reference: str, current: Secret | None = None
    ) -> list[VersionInfo]:
        """The current, previous and pending versions (plugins with richer metadata override)."""
        return Provider.versions(self, environment, reference, current)

    @abstractmethod
    def _stage(
        self, ref: Reference, value: SecretValue, intercom_secret_id: str | None
    ) -> VersionInfo: ...

    @abstractmethod
    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None: ...

    @abstractmethod
    def _rollback(self, ref: Reference, expected_current_version: str) -> None: ...

    @abstractmethod
    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None: ...

    @abstractmethod
    def _discard_pending(self, ref: Reference, pending_version: str) -> None: ...

    # -- the rotation steps -------------------------------------------------------------------

    def stage(
        self, reference: str, value: SecretValue, *, intercom_secret_id: str | None = None
    ) -> VersionInfo:
        """Store ``value`` as the pending version (not served). Returns its VersionInfo."""
        return self._write(reference, lambda ref: self._stage(ref, value, intercom_secret_id))

    def promote(
        self, reference: str, *, pending_version: str, expected_current_version: str | None
    ) -> None:
        """Make the pending version current and the current one previous, atomically."""
        self._write(
            reference, lambda ref: self._promote(ref, pending_version, expected_current_version)
        )

    def rollback(self, reference: str, *, expected_current_version: str) -> None:
        """Make the previous version current again (the current one becomes previous)."""
        self._write(reference, lambda ref: self._rollback(ref, expected_current_version))

    def retire_previous(self, reference: str, *, expected_previous_version: str) -> None:
        """Stop serving the previous version (after its Intercom secret was deleted)."""
        self._write(reference, lambda ref: self._retire_previous(ref, expected_previous_version))

    def discard_pending(self, reference: str, *, pending_version: str) -> None:
        """Remove the pending stage from ``pending_version`` (abandon a staged rotation)."""
        self._write(reference, lambda ref: self._discard_pending(ref, pending_version))

    # -- the rotation record ----------------------------------------------------------

    def versions(
        self, environment: Environment | None, reference: str, current: Secret | None = None
    ) -> list[VersionInfo]:
        """The store's versions, with when each became current (``current_since``) and stopped
        being current (``demoted_at``) where the rotation record knows it.

        The record is read only when a rotation is under way (a previous or pending version):
        that is when the times matter (the grace period, verify's due date), and a fleet's
        steady-state reads stay one call per secret (``current``: see Provider.versions).
        """
        found = self._stage_versions(environment, reference, current)
        if all(v.stages == (Stage.current,) for v in found):
            return found
        try:
            record = self.read_record(reference)[0]
        except IVSecretsError as err:  # a reader may rightly not see it (or a KV v1 mount,
            # a pinned version, has none): the times are unknown
            log.debug("ivsecrets: no rotation record for %s: %s", reference, err)
            return found
        return [
            replace(
                v,
                current_since=record.since.get(v.version or ""),
                demoted_at=record.demoted.get(v.version or ""),
            )
            for v in found
        ]

    def read_record(self, reference: str) -> tuple[RotationRecord, Any]:
        """The rotation record and its compare-and-set token."""
        text, token = self._write(reference, self._read_record)
        return RotationRecord.from_json(text), token

    def write_record(self, reference: str, record: RotationRecord, token: Any) -> bool:
        """Write ``record`` if the stored one still has ``token`` (False otherwise).

        A write whose answer was lost is settled by reading the record back.
        """
        text = record.to_json()
        try:
            return self._write(reference, lambda ref: self._write_record(ref, text, token))
        except StoreError:
            try:
                again, _ = self._write(reference, self._read_record)
            except StoreError:
                pass
            else:
                if again == text:
                    return True
            raise

    def _write(self, reference: str, step: Callable[[Reference], T]) -> T:
        ref = Reference.parse(reference)
        try:
            return step(ref)
        except IVSecretsError as err:
            if isinstance(err, StoreError):
                err.located(store=self.name, reference=str(ref))
            raise
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, None) from err
