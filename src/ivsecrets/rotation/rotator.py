"""``Rotator``: rotation commands for one configuration, each run under the environment's lease.

The steps themselves live in :mod:`.rotate` (obtain, stage, check, promote) and :mod:`.finish`
(finish, rollback, abort); the lease, the journal of intent and the promotion times in
:mod:`.run`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

from ivsecrets.api import Secrets
from ivsecrets.config import Config, EnvironmentConfig
from ivsecrets.environments import Platform, Stage
from ivsecrets.errors import ConfigError
from ivsecrets.intercom import IntercomClient
from ivsecrets.provider import Provider, RotationRecord, WritableProvider
from ivsecrets.rotation.finish import abort, finish, rollback
from ivsecrets.rotation.rotate import rotate
from ivsecrets.rotation.run import LEASE_SECONDS, Run, leased
from ivsecrets.rotation.state import IntercomFactory, RotationResult, RotationState
from ivsecrets.secret import SecretValue, VersionInfo

__all__ = ["Rotator"]


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

    def checkpoint(self, step: str) -> None:
        """Called after each step (fault injection in tests, progress reporting)."""
        self._checkpoint(step)

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
    ) -> Iterator[Run]:
        """Hold the environment's rotation lease for one command, having settled what dead runs
        left (:meth:`Run.settle`); released however the command ends."""
        env = ec.environment
        with leased(
            provider,
            ec.reference,
            env,
            action,
            lease_seconds=self.lease_seconds,
            clock=self._clock,
        ) as (run, record):

            def versions() -> list[VersionInfo]:
                state = self.state(env.platform, env.workspace)
                return [v for v in (state.current, state.previous, state.pending) if v]

            run.settle(record, versions, lambda: self.intercom(env.workspace))
            yield run

    def settle(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Take the lease and clean up what dead runs left (their journaled Intercom secrets that
        no version references, a promotion they did not record), then release it."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "settle"):
            pass
        return RotationResult(ec.environment, "settled")

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
            return rotate(self, run, new_value, from_intercom, force)

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
            return finish(self, run, grace, now)

    def rollback(
        self, platform: str | Platform, workspace: str, *, force: bool = False
    ) -> RotationResult:
        """Make the previous version current again; refused once its Intercom secret is gone,
        and when that cannot be checked (no Intercom token) unless ``force``."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "rollback") as run:
            return rollback(self, run, force)

    def abort(self, platform: str | Platform, workspace: str) -> RotationResult:
        """Discard a staged (not yet promoted) rotation and delete its Intercom secret."""
        ec, provider = self._writable(platform, workspace)
        with self._leased(ec, provider, "abort") as run:
            return abort(self, run)
