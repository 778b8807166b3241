"""The rotation lease and journal protocol, on top of a store's compare-and-set rotation record.

Every rotation command (and the rotation Lambda) takes the lease of the secret it changes:
:func:`acquire_lease` writes "run R holds it until T" compare-and-set, refusing while another run
holds it unexpired; :func:`update_record` changes the record (the journal of intent, promotion
times) only while R still holds the lease, renewing it at each step; :func:`release_lease` gives it
up. A store plugin provides only the record's compare-and-set read and write
(``WritableProvider.read_record``/``write_record``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from ivsecrets.errors import ConcurrentRotationError
from ivsecrets.provider import Lease, RotationRecord, WritableProvider

__all__ = ["LeaseHeldError", "acquire_lease", "release_lease", "update_record"]

#: Compare-and-set attempts before giving up on a record that keeps changing.
ATTEMPTS = 8


class LeaseHeldError(ConcurrentRotationError):
    """Another run holds the rotation lease of this secret (``lease`` says who and until when)."""

    def __init__(self, message: str, lease: Lease) -> None:
        super().__init__(message)
        self.lease = lease


def acquire_lease(
    store: WritableProvider,
    reference: str,
    *,
    run: str,
    action: str,
    seconds: float,
    now: datetime,
) -> tuple[RotationRecord, Lease | None]:
    """Take the rotation lease for ``run``; LeaseHeldError if another run holds it unexpired.

    Returns the record as written and the lease of a dead run taken over (or None).
    """
    for attempt in range(ATTEMPTS):
        if attempt:
            _back_off(attempt)
        record, token = store.read_record(reference)
        held = record.lease
        if held is not None and held.run != run and not held.expired(now):
            raise LeaseHeldError(
                f"another rotation (run {held.run}, {held.action}, step '{held.step}') "
                f"holds the lease until {held.expires.isoformat(timespec='seconds')}",
                held,
            )
        lease = Lease(run, action, "acquired", now + timedelta(seconds=seconds))
        mine = replace(record, lease=lease)
        if store.write_record(reference, mine, token):
            taken = held if held is not None and held.run != run else None
            return mine, taken
    raise ConcurrentRotationError("the rotation lease kept changing while taking it")


def update_record(
    store: WritableProvider,
    reference: str,
    *,
    run: str,
    change: Callable[[RotationRecord], RotationRecord],
    step: str | None = None,
    seconds: float | None = None,
    now: datetime | None = None,
) -> RotationRecord:
    """Apply ``change`` to the record while ``run`` holds the lease (renewing it when ``step``
    is given); ConcurrentRotationError once another run took it over."""
    for attempt in range(ATTEMPTS):
        if attempt:
            _back_off(attempt)
        record, token = store.read_record(reference)
        lease = record.lease
        if lease is None or lease.run != run:
            raise ConcurrentRotationError(
                "this run no longer holds the rotation lease"
                + (f" (run {lease.run} took it over)" if lease is not None else "")
                + ": it stops here and changes nothing more"
            )
        if step is not None and seconds is not None and now is not None:
            lease = replace(lease, step=step, expires=now + timedelta(seconds=seconds))
        updated = replace(change(record), lease=lease)
        if updated == record or store.write_record(reference, updated, token):
            return updated
    raise ConcurrentRotationError("the rotation record kept changing under this run")


def release_lease(store: WritableProvider, reference: str, *, run: str) -> None:
    """Give the lease up (nothing happens if ``run`` no longer holds it)."""
    for attempt in range(ATTEMPTS):
        if attempt:
            _back_off(attempt)
        record, token = store.read_record(reference)
        if record.lease is None or record.lease.run != run:
            return
        if store.write_record(reference, replace(record, lease=None), token):
            return


def _back_off(attempt: int) -> None:
    """A short random pause after a lost compare-and-set, so racing writers do not collide again
    in step (a store that lets two first writes both land makes both back off)."""
    import random
    import time

    time.sleep(random.uniform(0, 0.02 * attempt))  # jitter, not a secret
