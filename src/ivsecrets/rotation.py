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
running the same command again after a crash continues where it stopped. A secret created at
Intercom is never left behind: if it cannot be stored it is deleted again, and secrets a crashed
run created but never stored are found by name and deleted before the next create.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
)
from ivsecrets.provider import Provider, WritableProvider
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
    progress reporting; an exception raised there behaves like a crash at that point.
    """

    def __init__(
        self,
        config: Config,
        *,
        secrets: Secrets | None = None,
        intercom: IntercomFactory | None = None,
        checkpoint: Callable[[str], None] | None = None,
        retry_delay: float = 0.2,
    ) -> None:
        self.config = config
        self._own_secrets = secrets is None
        self.secrets = secrets if secrets is not None else Secrets(config)
        self._intercom = intercom
        self._checkpoint = checkpoint or (lambda step: None)
        self.retry_delay = retry_delay

    def close(self) -> None:
        if self._own_secrets:
            self.secrets.close()

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

    def intercom(self, workspace: str) -> IntercomClient:
        if self._intercom is not None:
            return self._intercom(workspace)
        return IntercomClient.from_workspace(self.config.workspace_settings[workspace])

    # -- rotate ---------------------------------------------------------------------------------

    def rotate(
        self,
        platform: str | Platform,
        workspace: str,
        *,
        new_value: SecretValue | None = None,
        from_intercom: bool = False,
    ) -> RotationResult:
        """Stage, check and promote a new secret; resumes a staged rotation if there is one.

        Raises RotationError (ConcurrentRotationError when another rotation got there first);
        in every failure the current secret keeps serving.
        """
        ec, provider = self._writable(platform, workspace)
        env = ec.environment
        if new_value is not None and from_intercom:
            raise ValueError("give a new value or from_intercom, not both")
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
            unfinished = (
                state.previous is not None
                and state.current is not None
                and bool(state.previous.intercom_secret_id or state.current.intercom_secret_id)
            )
            if unfinished and new_value is None:
                # A re-run after the promote (or after a crash right behind it): the rotation
                # is done; creating yet another Intercom secret would not be "continuing".
                assert state.current is not None and state.previous is not None
                result.action = "promoted"
                result.fingerprint = state.current.fingerprint
                result.previous_fingerprint = state.previous.fingerprint
                result.notes.append(
                    "the last rotation is promoted but not finished, so nothing new was "
                    "created: run 'ivsecrets rotate --finish' after the grace period (or roll back)"
                )
                return result
            if unfinished:
                raise RotationError(
                    f"the last rotation of {env} is not finished: its previous secret is still "
                    "accepted; run 'ivsecrets rotate --finish' after the grace period (or roll "
                    "back) before rotating again"
                )
            staged = self._obtain_and_stage(ec, provider, state, new_value, from_intercom)
        self._check_pending(ec, provider, staged)
        self._checkpoint("checked")
        expected = state.current.version if state.current is not None else None
        assert staged.version is not None
        provider.promote(
            ec.reference, pending_version=staged.version, expected_current_version=expected
        )
        self._checkpoint("promoted")
        now = provider.load(env, ec.reference)
        if now.fingerprint != staged.fingerprint:
            raise RotationError(
                f"after promoting, {env} reads {now.fingerprint}, not "
                f"{staged.fingerprint}; another writer changed it"
            )
        result.fingerprint = now.fingerprint
        result.previous_fingerprint = state.current.fingerprint if state.current else None
        result.intercom_secret_id = staged.intercom_secret_id
        log.info(
            "ivsecrets: %s now serves %s (was %s)",
            env,
            now.fingerprint,
            result.previous_fingerprint,
        )
        return result

    def _obtain_and_stage(
        self,
        ec: EnvironmentConfig,
        provider: WritableProvider,
        state: RotationState,
        new_value: SecretValue | None,
        from_intercom: bool,
    ) -> VersionInfo:
        env = ec.environment
        intercom_id: str | None = None
        client: IntercomClient | None = None
        if from_intercom:
            client = self.intercom(env.workspace)
            self._delete_orphans(client, env, state)
            created = self._create_at_intercom(client, env)
            value, intercom_id = created.value, created.id
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
            staged = self._stage(provider, ec, value, intercom_id)
        except BaseException:
            if client is not None and intercom_id is not None:
                self._undo_create(client, intercom_id)
            raise
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

    def _undo_create(self, client: IntercomClient, intercom_id: str) -> None:
        try:
            client.delete(intercom_id, missing_ok=True)
            log.warning(
                "ivsecrets: deleted the new Intercom secret %s again, since it could not "
                "be stored; the current secret is unchanged",
                intercom_id,
            )
        except IntercomAPIError as err:
            log.error(
                "ivsecrets: could not delete the unstored Intercom secret %s (%s); the next "
                "'ivsecrets rotate --from-intercom' deletes it",
                intercom_id,
                err,
            )

    def _create_at_intercom(
        self, client: IntercomClient, env: Environment
    ) -> CreatedIntercomSecret:
        return create_intercom_secret(client, env)

    def _delete_orphans(
        self, client: IntercomClient, env: Environment, state: RotationState
    ) -> None:
        """Delete secrets an earlier crashed run created at Intercom but never stored."""
        recorded = {
            v.intercom_secret_id
            for v in (state.current, state.previous, state.pending)
            if v is not None and v.intercom_secret_id
        }
        delete_intercom_orphans(client, env, recorded)

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

    def _check_pending(
        self, ec: EnvironmentConfig, provider: Provider, staged: VersionInfo
    ) -> None:
        pending = provider.load(ec.environment, ec.reference, Stage.pending)
        if pending.fingerprint != staged.fingerprint:
            raise ConcurrentRotationError(
                f"the pending version of {ec.environment} reads back "
                f"as {pending.fingerprint}, not {staged.fingerprint}"
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
        """Delete the previous secret at Intercom, then retire it in the store."""
        ec, provider = self._writable(platform, workspace)
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
        promoted = state.current.created_at if state.current is not None else None
        if promoted is not None and grace > 0:
            now = now or datetime.now(timezone.utc)
            aware = promoted if promoted.tzinfo else promoted.replace(tzinfo=timezone.utc)
            waited = (now - aware).total_seconds()
            if waited < grace:
                raise RotationError(
                    f"the grace period is not over: {grace - waited:.0f} s left of {grace:.0f} s "
                    "(cache TTL + max_stale); processes may still sign with the previous secret. "
                    "Wait, or pass --grace SECONDS if every backend has refreshed"
                )
        result.previous_fingerprint = previous.fingerprint
        intercom_id = previous.intercom_secret_id
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
        provider.retire_previous(ec.reference, expected_previous_version=previous.version)
        self._checkpoint("retired")
        result.notes.append(f"retired the previous version ({previous.fingerprint})")
        return result

    def rollback(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Make the previous version current again; refused once its Intercom secret is gone."""
        ec, provider = self._writable(platform, workspace)
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
                result.notes.append(f"could not check Intercom secret {intercom_id}: {err}")
            else:
                check = client.check(intercom_id, env.platform)
                if not check.ok:
                    raise RotationError(
                        f"refusing to roll back {env}: {check.describe()}, so "
                        "every hash made with the previous secret would fail"
                    )
        assert state.current.version is not None
        provider.rollback(ec.reference, expected_current_version=state.current.version)
        self._checkpoint("rolled-back")
        return result

    def abort(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Discard a staged (not yet promoted) rotation and delete its Intercom secret."""
        ec, provider = self._writable(platform, workspace)
        state = self.state(ec.environment.platform, ec.environment.workspace)
        result = RotationResult(
            ec.environment,
            "aborted",
            fingerprint=state.current.fingerprint if state.current else None,
        )
        if state.pending is None:
            result.action = "nothing-to-abort"
            return result
        assert state.pending.version is not None
        provider.discard_pending(ec.reference, pending_version=state.pending.version)
        if state.pending.intercom_secret_id:
            self.intercom(ec.environment.workspace).delete(
                state.pending.intercom_secret_id, missing_ok=True
            )
            result.notes.append(f"deleted Intercom secret {state.pending.intercom_secret_id}")
        return result


def check_secret_shape(value: SecretValue) -> None:
    """RotationError unless ``value`` could be an Intercom secret (verify's shape check)."""
    problem = shape_problem(value.reveal())
    if problem is not None:
        raise RotationError(f"the new secret cannot be used: {problem}")


def _intercom_id(info: VersionInfo | None) -> str | None:
    return info.intercom_secret_id if info is not None else None


def write_pin(path: Path, environment: Environment, fingerprint: str) -> None:
    """Set ``fingerprint`` under ``[environments.P.W]`` in a TOML config, keeping the rest."""
    header = f"[environments.{environment.platform.value}.{environment.workspace}]"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    line = f'fingerprint = "{fingerprint}"'
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == header)
    except StopIteration:
        suffix = "" if text.endswith("\n") or not text else "\n"
        path.write_text(f"{text}{suffix}\n{header}\n{line}\n", encoding="utf-8")
        return
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    for i in range(start + 1, end):
        if re.match(r"\s*fingerprint\s*=", lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(start + 1, line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
