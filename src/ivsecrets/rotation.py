"""Rotation: stage, check, promote, finish and roll back one environment's secret, crash-safely.

Intercom's flow is: create a new secret, roll it out, delete the old one; both verify until the old
one is deleted. ``Rotator`` makes that one resumable procedure on every writable store:

``rotate``   obtain the new secret (from Intercom's API or the operator), stage it as *pending*,
             check it (readable back, plausible, distinct from every other environment), promote
             it to *current* with compare-and-set; the old current becomes *previous*, which
             ``Hasher.verify`` still accepts.
``finish``   after the grace period (cache TTL + max_stale by default), delete the previous secret
             at Intercom, then retire it in the store.
``rollback`` make the previous version current again (refused once its Intercom secret is gone).
``abort``    discard a staged rotation (and its Intercom secret).

Every step is idempotent and derives where it is from what the store and Intercom record, so
running the same command again after a crash continues where it stopped.

Safety between the steps rests on the store's rotation record (``WritableProvider``):

- a **lease** per environment, taken compare-and-set by every command (rotate, finish, rollback,
  abort) and renewed at each step: only its holder acts, and a dead holder's lease is taken over
  only once it has expired;
- a **journal of intent**: before creating a secret at Intercom the run records "run R creates a
  secret named N" (then its id); a later holder of the lease deletes what a dead run created only
  if no store version references it;
- **times of promotion**: when each version became current, from which the grace period of the
  version it replaced is measured (``finish``; a new rotation inside the grace is refused).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from ivsecrets.api import Secrets
from ivsecrets.config import Config, EnvironmentConfig
from ivsecrets.environments import Environment, Platform, Stage
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
    delete_intercom_orphans,
    intercom_secret_name,
)
from ivsecrets.provider import (
    JournalEntry,
    Lease,
    Provider,
    RotationRecord,
    WritableProvider,
)
from ivsecrets.secret import Secret, SecretValue, VersionInfo, shape_problem

__all__ = [
    "RotationResult",
    "RotationState",
    "Rotator",
    "check_secret_shape",
    "write_pin",
]

log = logging.getLogger("ivsecrets")
STAGE_ATTEMPTS = 3
#: Seconds a rotation lease lasts without renewal; every step renews it.
LEASE_SECONDS = 300.0


@dataclass(frozen=True)
class RotationState:
    """What the store holds for one environment: current, previous and pending versions."""

    environment: Environment
    store: str
    reference: str
    current: VersionInfo | None
    previous: VersionInfo | None
    pending: VersionInfo | None

    @property
    def in_flight(self) -> bool:
        return self.pending is not None


@dataclass
class RotationResult:
    """What a rotation command did; ``fingerprint`` names the secret now current."""

    environment: Environment
    action: str
    fingerprint: str | None = None
    previous_fingerprint: str | None = None
    intercom_secret_id: str | None = None
    notes: list[str] = field(default_factory=list)


IntercomFactory = Callable[[str], "IntercomClient"]


class Rotator:
    """Runs rotations for one configuration. ``checkpoint(step)`` is called after each step.

    ``intercom(workspace)`` returns the Intercom client of a workspace (default: built from the
    workspace's region and token variable). ``checkpoint`` exists for fault-injection tests and
    progress reporting; an exception raised there behaves like a crash at that point. ``clock``
    (UTC now) and ``lease_seconds`` are for tests that expire a dead run's lease.
    """

    def __init__(
        self,
        config: Config,
        *,
        secrets: Secrets | None = None,
        intercom: IntercomFactory | None = None,
        checkpoint: Callable[[str], None] | None = None,
        retry_delay: float = 0.2,
        lease_seconds: float = LEASE_SECONDS,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._own_secrets = secrets is None
        self.secrets = secrets if secrets is not None else Secrets(config)
        self._intercom = intercom
        self._checkpoint = checkpoint or (lambda step: None)
        self.retry_delay = retry_delay
        self.lease_seconds = lease_seconds
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def close(self) -> None:
        if self._own_secrets:
            self.secrets.close()

    def now(self) -> datetime:
        return self._clock()

    # -- reading state ------------------------------------------------------------------------

    def _target(
        self, platform: str | Platform, workspace: str
    ) -> tuple[EnvironmentConfig, Provider]:
        ec = self.config.environment(platform, workspace)
        return ec, self.secrets.providers[ec.store]

    def _writable(
        self, platform: str | Platform, workspace: str
    ) -> tuple[EnvironmentConfig, WritableProvider]:
        """The environment and its store, which must be one that can rotate (ConfigError)."""
        ec, provider = self._target(platform, workspace)
        if not isinstance(provider, WritableProvider):
            store = self.config.stores[ec.store]
            raise ConfigError(
                f"store '{ec.store}' (plugin '{store.plugin}') is read-only: it cannot stage "
                f"or promote secrets, so {ec.environment} cannot be rotated by ivsecrets",
                file=store.source,
                key=f"stores.{ec.store}",
                fix="rotate the secret where it is kept, or move it to a store that rotates "
                "(aws, vault, gcp)",
            )
        return ec, provider

    def state(self, platform: str | Platform, workspace: str) -> RotationState:
        """The versions the store holds for the environment (no values)."""
        ec = self.config.environment(platform, workspace)
        by_stage = self.secrets.versions(ec.environment.platform, ec.environment.workspace)
        return RotationState(
            ec.environment,
            ec.store,
            ec.reference,
            by_stage.get(Stage.current),
            by_stage.get(Stage.previous),
            by_stage.get(Stage.pending),
        )

    def record(self, platform: str | Platform, workspace: str) -> RotationRecord:
        """The environment's rotation record: lease, journal, promotion times."""
        ec, provider = self._writable(platform, workspace)
        return provider.read_record(ec.reference)[0]

    def intercom(self, workspace: str) -> IntercomClient:
        if self._intercom is not None:
            return self._intercom(workspace)
        return IntercomClient.from_workspace(self.config.workspace_settings[workspace])

    # -- the lease ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _leased(
        self, ec: EnvironmentConfig, provider: WritableProvider, action: str
    ) -> Iterator[_Run]:
        """Hold the environment's rotation lease for one command; released however it ends,
        unless the process dies (then it expires after ``lease_seconds``)."""
        run = _Run(self, ec, provider, uuid.uuid4().hex[:12], action)
        try:
            record, taken = provider.acquire_lease(
                ec.reference,
                run=run.id,
                action=action,
                seconds=self.lease_seconds,
                now=self.now(),
            )
        except ConcurrentRotationError as err:
            raise ConcurrentRotationError(
                f"{ec.environment} is being rotated by another run: {err}. If that run is "
                "dead, run the command again once its lease has expired: it then takes over, "
                "cleans up what the dead run left and continues"
            ) from err
        run.taken = taken
        if taken is not None:
            log.warning(
                "ivsecrets: took over the expired rotation lease of %s from run %s (%s, step '%s')",
                ec.environment,
                taken.run,
                taken.action,
                taken.step,
            )
        try:
            self._settle(run, record)
            yield run
        finally:
            try:
                provider.release_lease(ec.reference, run=run.id)
            except StoreError as err:
                log.warning(
                    "ivsecrets: could not release the rotation lease of %s (%s); it expires "
                    "by itself within %.0f s",
                    ec.environment,
                    err,
                    self.lease_seconds,
                )

    def _settle(self, run: _Run, record: RotationRecord) -> None:
        """What dead runs left: their journal entries (delete what they created at Intercom and
        no version references) and a promote or rollback they made but did not record."""
        env = run.ec.environment
        others = [e for e in record.journal if e.run != run.id]
        taken = run.taken
        if not others and taken is None:
            return
        state = self.state(env.platform, env.workspace)
        if (
            taken is not None
            and taken.step in ("promoting", "rolling-back")
            and state.current is not None
            and state.current.current_since is None
        ):
            # The dead run moved the current version (or was about to) but did not record
            # when: from now on, which only makes the grace period later, never shorter.
            run.record_current(state.current, state.previous)
        if not others:
            return
        recorded = {
            v.intercom_secret_id
            for v in (state.current, state.previous, state.pending)
            if v is not None and v.intercom_secret_id
        }
        journaled = [(e.name, e.intercom_id) for e in others]
        unresolved = [e for e in others if e.intercom_id not in recorded]
        if unresolved:
            try:
                client = self.intercom(env.workspace)
            except ConfigError as err:
                log.warning(
                    "ivsecrets: %d Intercom secret(s) a dead rotation run of %s may have "
                    "created stay journaled: %s",
                    len(unresolved),
                    env,
                    err,
                )
                return
            delete_intercom_orphans(client, env, journaled, recorded)
        gone = set(others)
        run.change(lambda r: replace(r, journal=tuple(e for e in r.journal if e not in gone)))

    def settle(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Take the lease and clean up what dead runs left (their journaled Intercom secrets that
        no version references, a promotion they did not record), then release it."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "settle"):
            pass
        return RotationResult(ec.environment, "settled")

    # -- rotate ---------------------------------------------------------------------------------

    def rotate(
        self,
        platform: str | Platform,
        workspace: str,
        *,
        new_value: SecretValue | None = None,
        from_intercom: bool = False,
        force: bool = False,
    ) -> RotationResult:
        """Stage, check and promote a new secret; resumes a staged rotation if there is one.

        Refused while the previous version is inside its grace period ("finish the rotation in
        flight first") unless ``force``. Raises RotationError (ConcurrentRotationError when
        another run holds the lease or got there first); in every failure the current secret
        keeps serving.
        """
        ec, provider = self._writable(platform, workspace)
        if new_value is not None and from_intercom:
            raise ValueError("give a new value or from_intercom, not both")
        with self._leased(ec, provider, "rotate") as run:
            return self._rotate(run, new_value, from_intercom, force)

    def _rotate(
        self, run: _Run, new_value: SecretValue | None, from_intercom: bool, force: bool
    ) -> RotationResult:
        ec, provider = run.ec, run.provider
        env = ec.environment
        if new_value is not None:
            check_secret_shape(new_value)  # the operator's input first: nothing else matters
        state = self.state(env.platform, env.workspace)
        result = RotationResult(env, "rotated")
        if state.pending is not None:
            staged = state.pending
            pending = provider.load(env, ec.reference, Stage.pending)
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
                self._refuse_in_flight(state)
            staged = self._obtain_and_stage(run, state, new_value, from_intercom)
        self._check_pending(run, staged)
        self._checkpoint("checked")
        expected = state.current.version if state.current is not None else None
        assert staged.version is not None
        run.step("promoting")
        provider.promote(
            ec.reference, pending_version=staged.version, expected_current_version=expected
        )
        after = self.state(env.platform, env.workspace)
        if after.current is None or after.current.fingerprint != staged.fingerprint:
            raise RotationError(
                f"after promoting, {env} reads "
                f"{after.current.fingerprint if after.current else 'nothing'}, not "
                f"{staged.fingerprint}; another writer changed it"
            )
        run.record_current(after.current, after.previous)
        self._checkpoint("promoted")
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

    def _refuse_in_flight(self, state: RotationState) -> None:
        """RotationError while the previous version may still sign somewhere: a new rotation
        would push it out of "previous" and fail every hash and JWT made with it."""
        previous, current = state.previous, state.current
        if previous is None or current is None:
            return
        env = state.environment
        if (
            previous.intercom_secret_id
            and previous.intercom_secret_id != current.intercom_secret_id
        ):
            raise RotationError(
                f"the last rotation of {env} is not finished: its previous secret "
                f"({previous.fingerprint}) is still live at Intercom and accepted; finish the "
                "rotation in flight first ('ivsecrets rotate --finish' after the grace period, "
                "or roll back), or pass --force"
            )
        grace = self.grace_period(env.platform, env.workspace)
        since = current.current_since
        if since is None:
            raise RotationError(
                f"{env} still accepts a previous secret ({previous.fingerprint}) and the store "
                "has no record of when it was replaced: finish the rotation in flight first "
                "('ivsecrets rotate --finish --grace 0' once every backend has refreshed), or "
                "pass --force"
            )
        left = grace - (self.now() - since).total_seconds()
        if left > 0:
            raise RotationError(
                f"{env}'s previous secret ({previous.fingerprint}) was replaced at "
                f"{since.isoformat(timespec='seconds')} and may still sign for {left:.0f} s "
                f"(grace {grace:.0f} s): finish the rotation in flight first "
                "('ivsecrets rotate --finish'), or pass --force"
            )

    def _obtain_and_stage(
        self,
        run: _Run,
        state: RotationState,
        new_value: SecretValue | None,
        from_intercom: bool,
    ) -> VersionInfo:
        ec, provider = run.ec, run.provider
        env = ec.environment
        created: CreatedIntercomSecret | None = None
        client: IntercomClient | None = None
        entry: JournalEntry | None = None
        if from_intercom:
            client = self.intercom(env.workspace)
            intent = JournalEntry(run.id, intercom_secret_name(env, run.id))
            run.step("creating", lambda r: replace(r, journal=(*r.journal, intent)))
            entry = intent
            created = self._create_at_intercom(client, env, intent.name)
            journaled = replace(intent, intercom_id=created.id)
            run.change(
                lambda r: replace(
                    r, journal=tuple(journaled if e == intent else e for e in r.journal)
                )
            )
            entry = journaled
            value = created.value
            self._checkpoint("intercom-created")
        elif new_value is None:
            raise RotationError(
                "a rotation needs the new secret: from Intercom "
                "(--from-intercom) or from the operator (stdin, prompt, file)"
            )
        else:
            value = new_value
        try:
            self._check_candidate(ec, value, state)
            run.step("staging")
            staged = self._stage(provider, ec, value, created.id if created else None)
        except BaseException:
            if client is not None and created is not None and entry is not None:
                self._undo_create(run, client, created, entry)
            raise
        if entry is not None:
            done = entry
            run.change(lambda r: replace(r, journal=tuple(e for e in r.journal if e != done)))
        self._checkpoint("staged")
        return staged

    def _stage(
        self,
        provider: WritableProvider,
        ec: EnvironmentConfig,
        value: SecretValue,
        intercom_id: str | None,
    ) -> VersionInfo:
        for attempt in range(1, STAGE_ATTEMPTS + 1):
            try:
                return provider.stage(ec.reference, value, intercom_secret_id=intercom_id)
            except ConcurrentRotationError:
                raise
            except StoreError as err:
                if attempt == STAGE_ATTEMPTS:
                    raise RotationError(
                        f"could not stage the new secret of {ec.environment} "
                        f"after {attempt} attempts: {err}"
                    ) from err
                log.warning(
                    "ivsecrets: staging the new secret of %s failed (attempt %d): %s",
                    ec.environment,
                    attempt,
                    err,
                )
                time.sleep(self.retry_delay * attempt)
        raise AssertionError("unreachable")

    def _undo_create(
        self,
        run: _Run,
        client: IntercomClient,
        created: CreatedIntercomSecret,
        entry: JournalEntry,
    ) -> None:
        """Delete the new Intercom secret again, but only once the store provably does not hold
        it: a staging write whose answer was lost may have landed. Whatever cannot be proven
        stays journaled, for the next holder of the lease."""
        env = run.ec.environment
        try:
            state = self.state(env.platform, env.workspace)
            pending = state.pending
            if pending is not None and (
                pending.intercom_secret_id == created.id
                or pending.fingerprint == created.fingerprint
            ):
                assert pending.version is not None
                run.provider.discard_pending(run.ec.reference, pending_version=pending.version)
            elif any(
                v is not None and v.intercom_secret_id == created.id
                for v in (state.current, state.previous)
            ):
                return
            client.delete(created.id, missing_ok=True)
            log.warning(
                "ivsecrets: deleted the new Intercom secret %s again, since it could not "
                "be stored; the current secret is unchanged",
                created.id,
            )
            run.change(lambda r: replace(r, journal=tuple(e for e in r.journal if e != entry)))
        except (StoreError, IntercomAPIError, RotationError) as err:
            log.error(
                "ivsecrets: could not settle the new Intercom secret %s (%s); it stays in the "
                "rotation journal and the next run of 'ivsecrets rotate' for %s settles it",
                created.id,
                err,
                env,
            )

    def _create_at_intercom(
        self, client: IntercomClient, env: Environment, name: str
    ) -> CreatedIntercomSecret:
        return create_intercom_secret(client, env, name)

    def _check_candidate(
        self, ec: EnvironmentConfig, value: SecretValue, state: RotationState
    ) -> None:
        """The new secret must be plausible and distinct from every other environment's."""
        check_secret_shape(value)
        own = {v.fingerprint for v in (state.current, state.previous) if v is not None}
        if value.fingerprint in own:
            raise RotationError(
                f"{value.fingerprint} is already this environment's current or "
                "previous secret: a rotation needs a new one"
            )
        for other, secret in self._other_currents(ec.environment).items():
            if secret.fingerprint == value.fingerprint:
                raise RotationError(
                    f"the new secret is {other}'s secret ({value.fingerprint}); "
                    "each platform and workspace needs its own"
                )

    def _other_currents(self, env: Environment) -> dict[Environment, Secret]:
        others = [other for other in self.config.environments if other != env]
        loaded = self.secrets.current(others).items()
        return {other: secret for other, secret in loaded if isinstance(secret, Secret)}

    def _check_pending(self, run: _Run, staged: VersionInfo) -> None:
        """Before the promote: the pending value reads back, and its Intercom secret is live."""
        ec = run.ec
        pending = run.provider.load(ec.environment, ec.reference, Stage.pending)
        if pending.fingerprint != staged.fingerprint:
            raise ConcurrentRotationError(
                f"the pending version of {ec.environment} reads back "
                f"as {pending.fingerprint}, not {staged.fingerprint}"
            )
        intercom_id = staged.intercom_secret_id or pending.intercom_secret_id
        if intercom_id:
            env = ec.environment
            try:
                check = self.intercom(env.workspace).check(intercom_id, env.platform)
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

    # -- finish, rollback, abort ----------------------------------------------------------------

    def grace_period(self, platform: str | Platform, workspace: str) -> float:
        """Seconds after a promote before the previous secret may be deleted: every running
        process has refreshed (TTL) or failed closed (max_stale) by then."""
        ec, _ = self._target(platform, workspace)
        cache = self.config.stores[ec.store].cache
        return cache.ttl + cache.max_stale

    def finish(
        self,
        platform: str | Platform,
        workspace: str,
        *,
        grace: float | None = None,
        now: datetime | None = None,
    ) -> RotationResult:
        """Delete the previous secret at Intercom, then retire it in the store, once the grace
        period, measured from when the current version became current, is over."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "finish") as run:
            return self._finish(run, grace, now)

    def _finish(self, run: _Run, grace: float | None, now: datetime | None) -> RotationResult:
        ec, provider = run.ec, run.provider
        env = ec.environment
        state = self.state(env.platform, env.workspace)
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
        grace = self.grace_period(env.platform, env.workspace) if grace is None else grace
        since = state.current.current_since if state.current is not None else None
        if grace > 0:
            if since is None:
                raise RotationError(
                    f"the store has no record of when {env}'s current secret became current, "
                    "so the grace period cannot be measured; once every backend has refreshed "
                    "(cache TTL + max_stale after the change), pass --grace 0"
                )
            waited = ((now or self.now()) - since).total_seconds()
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
            client = self.intercom(env.workspace)
            deleted = client.delete(intercom_id, missing_ok=True)
            result.intercom_secret_id = intercom_id
            result.notes.append(
                f"deleted Intercom secret {intercom_id}"
                if deleted
                else f"Intercom secret {intercom_id} was already deleted"
            )
        self._checkpoint("intercom-deleted")
        assert previous.version is not None
        run.step("retiring")
        provider.retire_previous(ec.reference, expected_previous_version=previous.version)
        self._checkpoint("retired")
        result.notes.append(f"retired the previous version ({previous.fingerprint})")
        return result

    def rollback(
        self, platform: str | Platform, workspace: str, *, force: bool = False
    ) -> RotationResult:
        """Make the previous version current again; refused once its Intercom secret is gone,
        and when that cannot be checked (no Intercom token) unless ``force``."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "rollback") as run:
            return self._rollback(run, force)

    def _rollback(self, run: _Run, force: bool) -> RotationResult:
        ec, provider = run.ec, run.provider
        env = ec.environment
        state = self.state(env.platform, env.workspace)
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
                client = self.intercom(env.workspace)
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
        provider.rollback(ec.reference, expected_current_version=state.current.version)
        after = self.state(env.platform, env.workspace)
        if after.current is not None:
            run.record_current(after.current, after.previous)
        self._checkpoint("rolled-back")
        return result

    def abort(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Discard a staged (not yet promoted) rotation and delete its Intercom secret."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "abort") as run:
            return self._abort(run)

    def _abort(self, run: _Run) -> RotationResult:
        ec, provider = run.ec, run.provider
        state = self.state(ec.environment.platform, ec.environment.workspace)
        result = RotationResult(
            ec.environment,
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
        run.step(
            "discarding",
            (lambda r: replace(r, journal=(*r.journal, entry))) if entry is not None else None,
        )
        # Raises ConcurrentRotationError if the version read is no longer the pending one.
        provider.discard_pending(ec.reference, pending_version=pending.version)
        self._checkpoint("discarded")
        if intercom_id and entry is not None:
            self.intercom(ec.environment.workspace).delete(intercom_id, missing_ok=True)
            result.notes.append(f"deleted Intercom secret {intercom_id}")
            run.change(lambda r: replace(r, journal=tuple(e for e in r.journal if e != entry)))
        return result


@dataclass
class _Run:
    """One command holding an environment's lease: renews it and changes the record."""

    rotator: Rotator
    ec: EnvironmentConfig
    provider: WritableProvider
    id: str
    action: str
    taken: Lease | None = None

    def change(self, change: Callable[[RotationRecord], RotationRecord]) -> RotationRecord:
        """Change the record while this run holds the lease (ConcurrentRotationError if not)."""
        return self.provider.update_record(self.ec.reference, run=self.id, change=change)

    def step(
        self, name: str, change: Callable[[RotationRecord], RotationRecord] | None = None
    ) -> None:
        """Renew the lease for the next step (and apply ``change`` in the same write)."""
        self.provider.update_record(
            self.ec.reference,
            run=self.id,
            change=change or (lambda r: r),
            step=name,
            seconds=self.rotator.lease_seconds,
            now=self.rotator.now(),
        )

    def record_current(self, current: VersionInfo, previous: VersionInfo | None) -> None:
        """Record that ``current`` became current now (and ``previous`` stopped being)."""
        now = self.rotator.now()
        keep = {v for v in (current.version, previous.version if previous else None) if v}

        def change(r: RotationRecord) -> RotationRecord:
            since = {k: v for k, v in r.since.items() if k in keep}
            demoted = {k: v for k, v in r.demoted.items() if k in keep}
            since[current.version or ""] = now
            demoted.pop(current.version or "", None)
            if previous is not None and previous.version:
                demoted[previous.version] = now
            return replace(r, since=since, demoted=demoted)

        self.step("recorded", change)


def check_secret_shape(value: SecretValue) -> None:
    """RotationError unless ``value`` could be an Intercom secret (verify's shape check)."""
    problem = shape_problem(value.reveal())
    if problem is not None:
        raise RotationError(f"the new secret cannot be used: {problem}")


def _intercom_id(info: VersionInfo | None) -> str | None:
    return info.intercom_secret_id if info is not None else None


def write_pin(path: Path, environment: Environment, fingerprint: str) -> None:
    """Set ``fingerprint`` under ``[environments.P.W]`` in a TOML config, keeping the rest.

    The file is edited with tomlkit (comments and layout kept), the result is parsed with the
    project's loader before anything is replaced (ConfigError, file untouched, if it would not
    load), and written atomically: a temporary file in the same directory, fsync, rename, with the
    original's permissions.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from ivsecrets.config import parse_config

    text = path.read_text(encoding="utf-8")
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as err:
        raise ConfigError(
            f"cannot parse the configuration to pin it: {err}", file=str(path)
        ) from None
    environments = document.get("environments")
    if environments is None:
        environments = tomlkit.table(is_super_table=True)
        document["environments"] = environments
    platform = environments.get(environment.platform.value)
    if platform is None:
        platform = tomlkit.table(is_super_table=True)
        environments[environment.platform.value] = platform
    table = platform.get(environment.workspace)
    if table is None:
        table = tomlkit.table()
        platform[environment.workspace] = table
    table["fingerprint"] = fingerprint
    updated = tomlkit.dumps(document)
    parsed = parse_config(updated, str(path))  # never write a file the loader would reject
    pinned = parsed.environments.get(environment)
    if pinned is None or pinned.fingerprint != fingerprint:
        raise ConfigError(
            f"writing the pin of {environment} did not produce a configuration that pins it",
            file=str(path),
            fix=f'add fingerprint = "{fingerprint}" under [environments.'
            f"{environment.platform.value}.{environment.workspace}] by hand",
        )
    _replace_atomically(path, updated)


def _replace_atomically(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
