"""The steps after ``rotate``: ``finish`` (delete the previous secret at Intercom once the grace
period is over, then retire it in the store), ``rollback`` (make the previous version current
again while its Intercom secret is live) and ``abort`` (discard a staged rotation)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ivsecrets.errors import ConfigError, RotationError
from ivsecrets.provider import JournalEntry, RotationRecord
from ivsecrets.rotation.run import Run
from ivsecrets.rotation.state import RotationResult, RotationState
from ivsecrets.secret import VersionInfo

if TYPE_CHECKING:
    from ivsecrets.rotation.rotator import Rotator

__all__ = ["abort", "finish", "rollback"]

log = logging.getLogger("ivsecrets")


def finish(rotator: Rotator, run: Run, grace: float | None, now: datetime | None) -> RotationResult:
    provider = run.store
    env = run.environment
    state = rotator.state(env.platform, env.workspace)
    if run.complete_promote(state.current, state.previous, state.pending):
        state = rotator.state(env.platform, env.workspace)
    result = RotationResult(
        env, "finished", fingerprint=state.current.fingerprint if state.current else None
    )
    if state.pending is not None:
        raise RotationError(
            f"a rotation of {env} is staged but not promoted; run "
            "'ivsecrets rotate' again to promote it first"
        )
    record = provider.read_record(run.reference)[0]
    previous = state.previous
    pruned = _pruned(record, state) if previous is None else {}
    if previous is None and not pruned:
        result.action = "nothing-to-finish"
        result.notes.append("no previous version is still accepted")
        return result
    _check_grace(rotator, state, grace, now)
    if previous is None:
        # The store no longer holds the replaced version (Vault's max_versions, say), but the
        # rotation record names its Intercom secret: nothing serves it, so it goes.
        for version, secret_id in pruned.items():
            _delete_at_intercom(rotator, run, version, secret_id, result)
        return result
    result.previous_fingerprint = previous.fingerprint
    intercom_id = previous.intercom_secret_id or record.intercom.get(previous.version or "")
    if intercom_id == _intercom_id(state.current):
        intercom_id = None  # never the current secret's
    # Retired in the store first, compare-and-set: a rollback by another operator since the
    # state was read makes this fail, and once retired no version serves the secret, so the
    # Intercom delete below can never remove a secret the store serves. The delete is
    # journaled first: a run that dies in between leaves it to the next holder of the lease.
    entry = JournalEntry(run.id, "", intercom_id) if intercom_id else None
    if entry is not None:
        run.journal(entry, step="retiring")
    else:
        run.step("retiring")
    assert previous.version is not None
    provider.retire_previous(run.reference, expected_previous_version=previous.version)
    rotator.checkpoint("retired")
    result.notes.append(f"retired the previous version ({previous.fingerprint})")
    if entry is None or intercom_id is None:
        result.notes.append(
            f"the replaced secret ({previous.fingerprint}) was NOT deleted at Intercom: no "
            "store version or configuration names its Intercom secret id. Delete it in "
            "Intercom's settings, or set intercom_secret_id for the environment before a "
            "rotation"
        )
        log.warning("ivsecrets: %s: %s", env, result.notes[-1])
        return result
    _delete_at_intercom(rotator, run, previous.version, intercom_id, result, entry)
    return result


def _check_grace(
    rotator: Rotator, state: RotationState, grace: float | None, now: datetime | None
) -> None:
    """RotationError while processes may still sign with the replaced secret: the grace period
    (cache TTL + max_stale by default) from when the current version became current."""
    env = state.environment
    grace = rotator.grace_period(env.platform, env.workspace) if grace is None else grace
    if grace <= 0:
        return
    since = state.current.current_since if state.current is not None else None
    if since is None:
        raise RotationError(
            f"the store has no record of when {env}'s current secret became current, "
            "so the grace period cannot be measured; once every backend has refreshed "
            "(cache TTL + max_stale after the change), pass --grace 0"
        )
    waited = ((now or rotator.now()) - since).total_seconds()
    if waited < grace:
        raise RotationError(
            f"the grace period is not over: {grace - waited:.0f} s left of {grace:.0f} s "
            f"(cache TTL + max_stale, from {since.isoformat(timespec='seconds')}, when "
            "the current secret became current); processes may still sign with the "
            "previous secret. Wait, or pass --grace SECONDS if every backend has "
            "refreshed"
        )


def _pruned(record: RotationRecord, state: RotationState) -> dict[str, str]:
    """Replaced versions the record names an Intercom secret for and the store no longer
    holds, nor serves under another version id."""
    held = {v.version for v in (state.current, state.previous, state.pending) if v is not None}
    served = {_intercom_id(state.current), _intercom_id(state.previous)}
    return {v: i for v, i in record.intercom.items() if v not in held and i not in served}


def _delete_at_intercom(
    rotator: Rotator,
    run: Run,
    version: str,
    intercom_id: str,
    result: RotationResult,
    entry: JournalEntry | None = None,
) -> None:
    """Delete the Intercom secret of a replaced ``version`` (journaled unless ``entry`` is),
    the lease checked again right before, then forget it in the record."""
    if entry is None:
        entry = JournalEntry(run.id, "", intercom_id)
        run.journal(entry, step="deleting")
    else:
        run.step("deleting")
    deleted = rotator.intercom(run.environment.workspace).delete(intercom_id, missing_ok=True)
    result.intercom_secret_id = intercom_id
    result.notes.append(
        f"deleted Intercom secret {intercom_id}"
        if deleted
        else f"Intercom secret {intercom_id} was already deleted"
    )
    run.forget(entry)
    run.change(lambda r: replace(r, intercom={k: v for k, v in r.intercom.items() if k != version}))
    rotator.checkpoint("intercom-deleted")


def rollback(rotator: Rotator, run: Run, force: bool) -> RotationResult:
    provider = run.store
    env = run.environment
    state = rotator.state(env.platform, env.workspace)
    if state.previous is None or state.current is None:
        raise RotationError(
            f"{env} has no previous version to roll back to (it was retired "
            "by 'rotate --finish', or never rotated)"
        )
    result = RotationResult(
        env,
        "rolled-back",
        fingerprint=state.previous.fingerprint,
        previous_fingerprint=state.current.fingerprint,
    )
    intercom_id = state.previous.intercom_secret_id
    if intercom_id:
        try:
            client = rotator.intercom(env.workspace)
        except ConfigError as err:
            if not force:
                raise RotationError(
                    f"refusing to roll back {env}: cannot check that the previous secret's "
                    f"Intercom secret {intercom_id} is still live ({err}); if it was "
                    "deleted, every hash made with it would fail. Set the token, or pass "
                    "--force if you know it is live"
                ) from err
            result.notes.append(f"did not check Intercom secret {intercom_id} (--force): {err}")
        else:
            check = client.check(intercom_id, env.platform)
            if not check.ok:
                raise RotationError(
                    f"refusing to roll back {env}: {check.describe()}, so "
                    "every hash made with the previous secret would fail"
                )
    assert state.current.version is not None
    run.step("rolling-back")
    provider.rollback(run.reference, expected_current_version=state.current.version)
    after = rotator.state(env.platform, env.workspace)
    if after.current is not None:
        run.record_current(
            after.current.version or "", after.previous.version if after.previous else None
        )
    rotator.checkpoint("rolled-back")
    return result


def abort(rotator: Rotator, run: Run) -> RotationResult:
    provider = run.store
    state = rotator.state(run.environment.platform, run.environment.workspace)
    result = RotationResult(
        run.environment,
        "aborted",
        fingerprint=state.current.fingerprint if state.current else None,
    )
    pending = state.pending
    if run.completed is not None:
        result.action = "completed-promote"
        result.notes.append(_completed_note(run))
        return result
    if pending is None:
        result.action = "nothing-to-abort"
        return result
    # A staged secret served already (a promote stopped between its writes): discarding it
    # now would delete a live secret at Intercom. Complete the promote instead.
    if run.complete_promote(state.current, state.previous, pending):
        result.action = "completed-promote"
        result.notes.append(_completed_note(run))
        return result
    assert pending.version is not None
    intercom_id = pending.intercom_secret_id
    served = {_intercom_id(state.current), _intercom_id(state.previous)}
    if intercom_id in served:
        intercom_id = None  # never delete a secret a store version serves
    entry = JournalEntry(run.id, "", intercom_id) if intercom_id else None
    # Journaled first: once discarded, nothing else references the Intercom secret.
    if entry is not None:
        run.journal(entry, step="discarding")
    else:
        run.step("discarding")
    # Raises ConcurrentRotationError if the version read is no longer the pending one.
    provider.discard_pending(run.reference, pending_version=pending.version)
    rotator.checkpoint("discarded")
    if intercom_id and entry is not None:
        run.step("deleting")  # the lease checked again right before the Intercom side effect
        rotator.intercom(run.environment.workspace).delete(intercom_id, missing_ok=True)
        result.notes.append(f"deleted Intercom secret {intercom_id}")
        run.forget(entry)
    return result


def _completed_note(run: Run) -> str:
    assert run.completed is not None
    current, previous = run.completed
    return (
        f"an interrupted run had started promoting {current.fingerprint}, which is served "
        f"already: completed that promote instead of discarding it"
        + (f" (previous: {previous.fingerprint})" if previous is not None else "")
    )


def _intercom_id(info: VersionInfo | None) -> str | None:
    return info.intercom_secret_id if info is not None else None
