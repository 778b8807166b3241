"""One rotation command holding a secret's lease: the part of the protocol every caller shares.

``ivsecrets rotate``/``finish``/``rollback``/``abort``/``settle`` (:class:`~.rotator.Rotator`) and
the rotation Lambda (:mod:`ivsecrets.aws_lambda`) each run as a :class:`Run`:

- :func:`leased` takes the secret's rotation lease for the command and gives it up however the
  command ends (a dead process's lease expires after ``lease_seconds``);
- :meth:`Run.step` renews the lease before each step, applying a change to the record in the same
  compare-and-set write; :meth:`Run.change` changes the record without renewing;
- the journal of intent (:meth:`Run.journal`, :meth:`Run.resolve`, :meth:`Run.forget`): an Intercom
  secret is announced before it is created, so a later holder can clean up after a crash;
- :meth:`Run.settle` cleans up what dead runs left: a promote stopped between its store writes
  (completed), their journaled Intercom secrets that no store version references, and a promotion
  they made but did not record;
- :meth:`Run.record_current` records when a version became current (the grace period's origin).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import ConcurrentRotationError, ConfigError, StoreError
from ivsecrets.intercom import IntercomClient, delete_intercom_orphans
from ivsecrets.provider import JournalEntry, Lease, RotationRecord, WritableProvider
from ivsecrets.rotation.lease import acquire_lease, release_lease, update_record
from ivsecrets.rotation.state import is_half_promoted
from ivsecrets.secret import VersionInfo

__all__ = ["LEASE_SECONDS", "Run", "leased", "new_run_id"]

log = logging.getLogger("ivsecrets")
#: Seconds a rotation lease lasts without renewal; every step renews it.
LEASE_SECONDS = 300.0


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_run_id() -> str:
    """A fresh run id (the Lambda uses the version's ClientRequestToken instead)."""
    return uuid.uuid4().hex[:12]


@dataclass
class Run:
    """One command holding the rotation lease of ``reference`` in ``store``."""

    store: WritableProvider
    reference: str
    environment: Environment
    id: str
    action: str
    lease_seconds: float = LEASE_SECONDS
    clock: Callable[[], datetime] = field(default=_utc_now)
    #: The lease of a dead run this run took over, if any.
    taken: Lease | None = None
    #: A promote a dead run left half-done that this run completed: (what is now current, what
    #: it replaced).
    completed: tuple[VersionInfo, VersionInfo | None] | None = None

    def change(self, change: Callable[[RotationRecord], RotationRecord]) -> RotationRecord:
        """Change the record while this run holds the lease (ConcurrentRotationError if not)."""
        return update_record(self.store, self.reference, run=self.id, change=change)

    def step(
        self, name: str, change: Callable[[RotationRecord], RotationRecord] | None = None
    ) -> RotationRecord:
        """Renew the lease for the next step (and apply ``change`` in the same write)."""
        return update_record(
            self.store,
            self.reference,
            run=self.id,
            change=change or (lambda r: r),
            step=name,
            seconds=self.lease_seconds,
            now=self.clock(),
        )

    # -- the journal of intent ------------------------------------------------------------------

    def journal(self, entry: JournalEntry, step: str | None = None) -> None:
        """Announce ``entry`` (renewing the lease for ``step`` in the same write if given)."""

        def add(r: RotationRecord) -> RotationRecord:
            return replace(r, journal=(*r.journal, entry))

        if step is None:
            self.change(add)
        else:
            self.step(step, add)

    def resolve(self, entry: JournalEntry, intercom_id: str) -> JournalEntry:
        """Record the Intercom id ``entry`` announced, now known; returns the updated entry."""
        known = replace(entry, intercom_id=intercom_id)
        self.change(
            lambda r: replace(r, journal=tuple(known if e == entry else e for e in r.journal))
        )
        return known

    def forget(self, *entries: JournalEntry) -> None:
        """Drop ``entries`` from the journal: what they announced is settled."""
        gone = set(entries)
        self.change(lambda r: replace(r, journal=tuple(e for e in r.journal if e not in gone)))

    # -- what dead runs left --------------------------------------------------------------------

    def settle(
        self,
        record: RotationRecord,
        versions: Callable[[], Sequence[VersionInfo]],
        intercom: Callable[[], IntercomClient],
    ) -> None:
        """Clean up after dead runs: complete a promote one left half-done (its new secret served
        already), record a promotion or rollback one made but did not record, and delete the
        Intercom secrets they journaled that no version (``versions()``, read only when needed)
        references."""
        others = [e for e in record.journal if e.run != self.id]
        taken = self.taken
        if not others and taken is None:
            return
        found = versions()
        current, previous = _at(found, Stage.current), _at(found, Stage.previous)
        # A dead run that stopped between the store writes of its promote: the new secret is
        # served already, so complete it (never discard it: its Intercom secret is live).
        if self.complete_promote(current, previous, _at(found, Stage.pending)):
            found = versions()
        elif (
            taken is not None
            and taken.step in ("promoting", "rolling-back")
            and current is not None
            and current.current_since is None
        ):
            # The dead run moved the current version (or was about to) but did not record
            # when: from now on, which only makes the grace period later, never shorter.
            self.record_current(current.version or "", previous.version if previous else None)
        if not others:
            return
        recorded = {v.intercom_secret_id for v in found if v.intercom_secret_id}
        journaled = [(e.name, e.intercom_id) for e in others]
        if any(e.intercom_id not in recorded for e in others):
            try:
                client = intercom()
            except ConfigError as err:
                log.warning(
                    "ivsecrets: %d Intercom secret(s) a dead rotation run of %s may have "
                    "created stay journaled: %s",
                    sum(e.intercom_id not in recorded for e in others),
                    self.environment,
                    err,
                )
                return
            delete_intercom_orphans(client, self.environment, journaled, recorded)
        self.forget(*others)

    def complete_promote(
        self,
        current: VersionInfo | None,
        previous: VersionInfo | None,
        pending: VersionInfo | None,
    ) -> bool:
        """Finish a promote that stopped between its store writes, if the versions show one
        (``pending`` already served as ``current``): record when, remember it in
        :attr:`completed` and return True. False (nothing done) otherwise."""
        if current is None or pending is None or not is_half_promoted(current, pending):
            return False
        assert pending.version is not None
        self.step("promoting")
        self.store.promote(
            self.reference,
            pending_version=pending.version,
            expected_current_version=current.version,
        )
        log.warning(
            "ivsecrets: completed the promote of %s to %s that an interrupted run had started",
            self.environment,
            current.fingerprint,
        )
        self.record_current(current.version or "", previous.version if previous else None)
        self.completed = (current, previous)
        return True

    # -- promotion times ------------------------------------------------------------------------

    def record_current(self, current: str, previous: str | None) -> RotationRecord:
        """Record that version ``current`` became current now (and ``previous`` stopped being)."""
        now = self.clock()
        keep = {v for v in (current, previous) if v}

        def change(r: RotationRecord) -> RotationRecord:
            since = {k: v for k, v in r.since.items() if k in keep}
            demoted = {k: v for k, v in r.demoted.items() if k in keep}
            since[current] = now
            demoted.pop(current, None)
            if previous:
                demoted[previous] = now
            return replace(r, since=since, demoted=demoted)

        return self.step("recorded", change)


@contextlib.contextmanager
def leased(
    store: WritableProvider,
    reference: str,
    environment: Environment,
    action: str,
    *,
    run_id: str | None = None,
    lease_seconds: float = LEASE_SECONDS,
    clock: Callable[[], datetime] = _utc_now,
) -> Iterator[tuple[Run, RotationRecord]]:
    """Hold the rotation lease of ``reference`` for one command: yields the run and the record as
    the lease was taken. Released however the command ends, unless the process dies (then it
    expires after ``lease_seconds``). ConcurrentRotationError while another run holds it."""
    run = Run(store, reference, environment, run_id or new_run_id(), action, lease_seconds, clock)
    try:
        record, taken = acquire_lease(
            store, reference, run=run.id, action=action, seconds=lease_seconds, now=clock()
        )
    except ConcurrentRotationError as err:
        raise ConcurrentRotationError(
            f"{environment} is being rotated by another run: {err}. If that run is "
            "dead, run the command again once its lease has expired: it then takes over, "
            "cleans up what the dead run left and continues"
        ) from err
    run.taken = taken
    if taken is not None:
        log.warning(
            "ivsecrets: took over the expired rotation lease of %s from run %s (%s, step '%s')",
            environment,
            taken.run,
            taken.action,
            taken.step,
        )
    try:
        yield run, record
    finally:
        try:
            release_lease(store, reference, run=run.id)
        except StoreError as err:
            log.warning(
                "ivsecrets: could not release the rotation lease of %s (%s); it expires "
                "by itself within %.0f s",
                environment,
                err,
                lease_seconds,
            )


def _at(versions: Sequence[VersionInfo], stage: Stage) -> VersionInfo | None:
    return next((v for v in versions if stage in v.stages), None)
