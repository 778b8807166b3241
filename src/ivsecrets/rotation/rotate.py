"""``rotate``: obtain the new secret (from Intercom or the operator), stage it as pending, check it
(plausible, distinct from every other environment, reads back, live at Intercom) and promote it
with compare-and-set. Every step is idempotent: run again after a crash, it resumes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    ConcurrentRotationError,
    ConfigError,
    IntercomAPIError,
    RotationError,
    StoreError,
)
from ivsecrets.intercom import (
    CreatedIntercomSecret,
    IntercomClient,
    create_intercom_secret,
    intercom_secret_name,
)
from ivsecrets.provider import JournalEntry, RotationRecord
from ivsecrets.rotation.run import Run
from ivsecrets.rotation.state import (
    STAGE_ATTEMPTS,
    RotationResult,
    RotationState,
    check_secret_shape,
)
from ivsecrets.secret import Secret, SecretValue, VersionInfo

if TYPE_CHECKING:
    from ivsecrets.rotation.rotator import Rotator

__all__ = ["rotate"]

log = logging.getLogger("ivsecrets")


def rotate(
    rotator: Rotator, run: Run, new_value: SecretValue | None, from_intercom: bool, force: bool
) -> RotationResult:
    provider = run.store
    env = run.environment
    if new_value is not None:
        check_secret_shape(new_value)  # the operator's input first: nothing else matters
    state = rotator.state(env.platform, env.workspace)
    result = RotationResult(env, "rotated")
    if run.completed is not None or run.complete_promote(
        state.current, state.previous, state.pending
    ):
        return _completed(run, new_value)
    if state.pending is not None:
        staged = state.pending
        pending = provider.load(env, run.reference, Stage.pending)
        if new_value is not None and new_value != pending.value:
            raise ConcurrentRotationError(
                f"a rotation of {env} is already staged ({staged.fingerprint}); run the "
                "same command without a new value to finish promoting it, or abort it "
                "with 'ivsecrets rotate --abort'"
            )
        result.action = "resumed"
        result.notes.append(f"resumed the staged rotation to {staged.fingerprint}")
    else:
        if (
            new_value is not None
            and state.current is not None
            and (new_value.fingerprint == state.current.fingerprint)
        ):
            result.action = "unchanged"
            result.fingerprint = state.current.fingerprint
            result.notes.append("the store already serves this secret: nothing to do")
            return result
        if not force:
            _refuse_in_flight(rotator, state)
        staged = _obtain_and_stage(rotator, run, state, new_value, from_intercom)
    _check_pending(rotator, run, staged)
    rotator.checkpoint("checked")
    expected = state.current.version if state.current is not None else None
    assert staged.version is not None
    run.step("promoting", _known_intercom_id(rotator, run, state.current, staged))
    provider.promote(
        run.reference, pending_version=staged.version, expected_current_version=expected
    )
    after = rotator.state(env.platform, env.workspace)
    if after.current is None or after.current.fingerprint != staged.fingerprint:
        raise RotationError(
            f"after promoting, {env} reads "
            f"{after.current.fingerprint if after.current else 'nothing'}, not "
            f"{staged.fingerprint}; another writer changed it"
        )
    run.record_current(
        after.current.version or "", after.previous.version if after.previous else None
    )
    rotator.checkpoint("promoted")
    result.fingerprint = after.current.fingerprint
    result.previous_fingerprint = state.current.fingerprint if state.current else None
    result.intercom_secret_id = staged.intercom_secret_id
    log.info(
        "ivsecrets: %s now serves %s (was %s)",
        env,
        after.current.fingerprint,
        result.previous_fingerprint,
    )
    return result


def _refuse_in_flight(rotator: Rotator, state: RotationState) -> None:
    """RotationError while the previous version may still sign somewhere: a new rotation
    would push it out of "previous" and fail every hash and JWT made with it."""
    previous, current = state.previous, state.current
    if previous is None or current is None:
        return
    env = state.environment
    if previous.intercom_secret_id and previous.intercom_secret_id != current.intercom_secret_id:
        raise RotationError(
            f"the last rotation of {env} is not finished: its previous secret "
            f"({previous.fingerprint}) is still live at Intercom and accepted; finish the "
            "rotation in flight first ('ivsecrets rotate --finish' after the grace period, "
            "or roll back), or pass --force"
        )
    grace = rotator.grace_period(env.platform, env.workspace)
    since = current.current_since
    if since is None:
        raise RotationError(
            f"{env} still accepts a previous secret ({previous.fingerprint}) and the store "
            "has no record of when it was replaced: finish the rotation in flight first "
            "('ivsecrets rotate --finish --grace 0' once every backend has refreshed), or "
            "pass --force"
        )
    left = grace - (rotator.now() - since).total_seconds()
    if left > 0:
        raise RotationError(
            f"{env}'s previous secret ({previous.fingerprint}) was replaced at "
            f"{since.isoformat(timespec='seconds')} and may still sign for {left:.0f} s "
            f"(grace {grace:.0f} s): finish the rotation in flight first "
            "('ivsecrets rotate --finish'), or pass --force"
        )


def _obtain_and_stage(
    rotator: Rotator,
    run: Run,
    state: RotationState,
    new_value: SecretValue | None,
    from_intercom: bool,
) -> VersionInfo:
    env = run.environment
    created: CreatedIntercomSecret | None = None
    client: IntercomClient | None = None
    entry: JournalEntry | None = None
    if from_intercom:
        client = rotator.intercom(env.workspace)
        intent = JournalEntry(run.id, intercom_secret_name(env, run.id))
        run.journal(intent, step="creating")
        entry = intent
        created = create_intercom_secret(client, env, intent.name)
        entry = run.resolve(intent, created.id)
        value = created.value
        rotator.checkpoint("intercom-created")
    elif new_value is None:
        raise RotationError(
            "a rotation needs the new secret: from Intercom "
            "(--from-intercom) or from the operator (stdin, prompt, file)"
        )
    else:
        value = new_value
    try:
        _check_candidate(rotator, run.environment, value, state)
        run.step("staging")
        staged = _stage(rotator, run, value, created.id if created else None)
    except BaseException:
        if client is not None and created is not None and entry is not None:
            _undo_create(rotator, run, client, created, entry)
        raise
    if entry is not None:
        run.forget(entry)
    rotator.checkpoint("staged")
    return staged


def _stage(
    rotator: Rotator,
    run: Run,
    value: SecretValue,
    intercom_id: str | None,
) -> VersionInfo:
    for attempt in range(1, STAGE_ATTEMPTS + 1):
        try:
            return run.store.stage(run.reference, value, intercom_secret_id=intercom_id)
        except ConcurrentRotationError:
            raise
        except StoreError as err:
            if attempt == STAGE_ATTEMPTS:
                raise RotationError(
                    f"could not stage the new secret of {run.environment} "
                    f"after {attempt} attempts: {err}"
                ) from err
            log.warning(
                "ivsecrets: staging the new secret of %s failed (attempt %d): %s",
                run.environment,
                attempt,
                err,
            )
            time.sleep(rotator.retry_delay * attempt)
    raise AssertionError("unreachable")


def _undo_create(
    rotator: Rotator,
    run: Run,
    client: IntercomClient,
    created: CreatedIntercomSecret,
    entry: JournalEntry,
) -> None:
    """Delete the new Intercom secret again, but only once the store provably does not hold
    it: a staging write whose answer was lost may have landed. Whatever cannot be proven
    stays journaled, for the next holder of the lease."""
    env = run.environment
    try:
        state = rotator.state(env.platform, env.workspace)
        pending = state.pending
        if pending is not None and (
            pending.intercom_secret_id == created.id or pending.fingerprint == created.fingerprint
        ):
            assert pending.version is not None
            run.store.discard_pending(run.reference, pending_version=pending.version)
        elif any(
            v is not None and v.intercom_secret_id == created.id
            for v in (state.current, state.previous)
        ):
            return
        run.step("deleting")  # the lease checked again right before the Intercom side effect
        client.delete(created.id, missing_ok=True)
        log.warning(
            "ivsecrets: deleted the new Intercom secret %s again, since it could not "
            "be stored; the current secret is unchanged",
            created.id,
        )
        run.forget(entry)
    except (StoreError, IntercomAPIError, RotationError) as err:
        log.error(
            "ivsecrets: could not settle the new Intercom secret %s (%s); it stays in the "
            "rotation journal and the next run of 'ivsecrets rotate' for %s settles it",
            created.id,
            err,
            env,
        )


def _check_candidate(
    rotator: Rotator, env: Environment, value: SecretValue, state: RotationState
) -> None:
    """The new secret must be plausible and distinct from every other environment's."""
    check_secret_shape(value)
    own = {v.fingerprint for v in (state.current, state.previous) if v is not None}
    if value.fingerprint in own:
        raise RotationError(
            f"{value.fingerprint} is already this environment's current or "
            "previous secret: a rotation needs a new one"
        )
    for other, secret in _other_currents(rotator, env).items():
        if secret.fingerprint == value.fingerprint:
            raise RotationError(
                f"the new secret is {other}'s secret ({value.fingerprint}); "
                "each platform and workspace needs its own"
            )


def _other_currents(rotator: Rotator, env: Environment) -> dict[Environment, Secret]:
    others = [other for other in rotator.config.environments if other != env]
    loaded = rotator.secrets.current(others).items()
    return {other: secret for other, secret in loaded if isinstance(secret, Secret)}


def _check_pending(rotator: Rotator, run: Run, staged: VersionInfo) -> None:
    """Before the promote: the pending value reads back, and its Intercom secret is live."""
    pending = run.store.load(run.environment, run.reference, Stage.pending)
    if pending.fingerprint != staged.fingerprint:
        raise ConcurrentRotationError(
            f"the pending version of {run.environment} reads back "
            f"as {pending.fingerprint}, not {staged.fingerprint}"
        )
    intercom_id = staged.intercom_secret_id or pending.intercom_secret_id
    if intercom_id:
        env = run.environment
        try:
            check = rotator.intercom(env.workspace).check(intercom_id, env.platform)
        except ConfigError as err:
            raise RotationError(
                f"cannot check that the staged secret's Intercom secret {intercom_id} is "
                f"live before promoting it: {err}"
            ) from err
        if not check.ok:
            raise RotationError(
                f"refusing to promote the staged secret of {env}: {check.describe()}, so "
                "every hash made with it would fail; discard it with "
                "'ivsecrets rotate --abort' and rotate again"
            )


def _completed(run: Run, new_value: SecretValue | None) -> RotationResult:
    """The result of a rotate that found an interrupted promote and completed it."""
    assert run.completed is not None
    current, previous = run.completed
    if new_value is not None and new_value.fingerprint != current.fingerprint:
        raise ConcurrentRotationError(
            f"an interrupted rotation of {run.environment} to {current.fingerprint} was served "
            "already and has been completed; its previous secret is in its grace period. "
            "Finish that rotation first ('ivsecrets finish'), then rotate again"
        )
    result = RotationResult(run.environment, "resumed", fingerprint=current.fingerprint)
    result.previous_fingerprint = previous.fingerprint if previous is not None else None
    result.intercom_secret_id = current.intercom_secret_id
    result.notes.append(
        f"completed the promote to {current.fingerprint} an interrupted run had started"
    )
    return result


def _known_intercom_id(
    rotator: Rotator, run: Run, current: VersionInfo | None, staged: VersionInfo
) -> Callable[[RotationRecord], RotationRecord] | None:
    """Record, before the promote, the Intercom id of the version it replaces: the store's, or
    the configured ``intercom_secret_id`` of a store adopted with its secret already live at
    Intercom (the id no version records). ``finish`` deletes that secret at Intercom.

    The configured id is trusted only when the new secret's own id is known and differs: an
    operator who created the new secret by hand may have configured *its* id already."""
    if current is None or not current.version:
        return None
    configured = rotator.config.environments[run.environment].intercom_secret_id
    new_id = staged.intercom_secret_id
    trusted = configured if new_id and configured and configured != new_id else None
    known = current.intercom_secret_id or trusted
    if not known:
        return None
    version = current.version
    return lambda r: replace(r, intercom={**r.intercom, version: known})
