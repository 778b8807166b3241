"""The steps after ``rotate``: ``finish`` (delete the previous secret at Intercom once the grace
period is over, then retire it in the store), ``rollback`` (make the previous version current
again while its Intercom secret is live) and ``abort`` (discard a staged rotation)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ivsecrets.errors import ConfigError, RotationError
from ivsecrets.provider import JournalEntry
from ivsecrets.rotation.run import Run
from ivsecrets.rotation.state import RotationResult
from ivsecrets.secret import VersionInfo

if TYPE_CHECKING:
    from ivsecrets.rotation.rotator import Rotator

__all__ = ["abort", "finish", "rollback"]


def finish(rotator: Rotator, run: Run, grace: float | None, now: datetime | None) -> RotationResult:
    provider = run.store
    env = run.environment
    state = rotator.state(env.platform, env.workspace)
    result = RotationResult(
        env, "finished", fingerprint=state.current.fingerprint if state.current else None
    )
    if state.pending is not None:
        raise RotationError(
            f"a rotation of {env} is staged but not promoted; run "
            "'ivsecrets rotate' again to promote it first"
        )
    previous = state.previous
    if previous is None:
        result.action = "nothing-to-finish"
        result.notes.append("no previous version is still accepted")
        return result
    grace = rotator.grace_period(env.platform, env.workspace) if grace is None else grace
    since = state.current.current_since if state.current is not None else None
    if grace > 0:
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
    result.previous_fingerprint = previous.fingerprint
    intercom_id = previous.intercom_secret_id
    run.step("deleting")
    if intercom_id and intercom_id != _intercom_id(state.current):
        client = rotator.intercom(env.workspace)
        deleted = client.delete(intercom_id, missing_ok=True)
        result.intercom_secret_id = intercom_id
        result.notes.append(
            f"deleted Intercom secret {intercom_id}"
            if deleted
            else f"Intercom secret {intercom_id} was already deleted"
        )
    rotator.checkpoint("intercom-deleted")
    assert previous.version is not None
    run.step("retiring")
    provider.retire_previous(run.reference, expected_previous_version=previous.version)
    rotator.checkpoint("retired")
    result.notes.append(f"retired the previous version ({previous.fingerprint})")
    return result


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
    if pending is None:
        result.action = "nothing-to-abort"
        return result
    assert pending.version is not None
    intercom_id = pending.intercom_secret_id
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
        rotator.intercom(run.environment.workspace).delete(intercom_id, missing_ok=True)
        result.notes.append(f"deleted Intercom secret {intercom_id}")
        run.forget(entry)
    return result


def _intercom_id(info: VersionInfo | None) -> str | None:
    return info.intercom_secret_id if info is not None else None
