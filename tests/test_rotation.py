"""Rotation end to end on every writable store, with Intercom's API served by the validated fake.

Each test runs the real Rotator against a real store server (moto, OpenBao, the in-process GCP
server) while a running hasher keeps signing, and checks what ``verify()`` accepts throughout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ivsecrets import Secrets, user_hash
from ivsecrets.config import Config, parse_config
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    ConcurrentRotationError,
    RotationError,
    SecretNotFoundError,
    StoreUnavailableError,
)
from ivsecrets.intercom import IntercomAuthError, IntercomClient
from ivsecrets.plugins.gcp import GcpProvider
from ivsecrets.provider import Provider
from ivsecrets.rotation import LEASE_SECONDS, Rotator
from ivsecrets.secret import SecretValue
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.gcp import gcp_store_toml
from tests.servers.intercom import FAST_RETRY

STORES = ["aws", "gcp", "vault"]
IOS_PROD = Environment.of("ios", "prod")


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


@dataclass
class Rig:
    store: str
    config: Config
    provider: Provider
    intercom: FakeIntercomAPI
    originals: dict[Environment, str]
    outage: Callable[[], Any]  # a context manager: the store server is down inside it
    crash_at: set[str]
    skew: float = 0.0  # seconds the rotators' clock is ahead: expire_leases() moves it

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.skew)

    def expire_leases(self) -> None:
        """As if a dead run's lease had run out (and every grace period with it)."""
        self.skew += LEASE_SECONDS + 3600

    def secrets(self) -> Secrets:
        return Secrets(self.config, providers={self.store: self.provider})

    def rotator(
        self, secrets: Secrets | None = None, on_step: Callable[[str], None] | None = None
    ) -> Rotator:
        def checkpoint(step: str) -> None:
            if on_step is not None:
                on_step(step)
            if step in self.crash_at:
                self.crash_at.discard(step)
                raise Crash(step)

        def intercom(workspace: str) -> IntercomClient:
            return IntercomClient.from_workspace(
                self.config.workspace_settings[workspace], retry=FAST_RETRY, sleep=lambda _: None
            )

        return Rotator(
            self.config,
            secrets=secrets or self.secrets(),
            intercom=intercom,
            checkpoint=checkpoint,
            retry_delay=0.01,
            clock=self.now,
        )

    def current(self) -> str:
        ec = self.config.environments[IOS_PROD]
        return self.provider.load(IOS_PROD, ec.reference).fingerprint

    def live_intercom_ids(self) -> set[str]:
        return {s.id for s in self.intercom.state.live()}


@pytest.fixture(params=STORES)
def rig(
    request: pytest.FixtureRequest, intercom_api: FakeIntercomAPI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rig]:
    six = request.getfixturevalue(f"{request.param}_six")
    extra = "".join(
        f'\n[workspace.{ws}]\nintercom_base_url = "{intercom_api.base_url}"\n'
        for ws in ("test", "prod")
    )
    cache = "\n[cache]\nttl = 60\nmax_stale = 60\n"
    text = six.config_text
    provider = six.provider
    if request.param == "gcp":  # short call timeouts, so the outage test does not wait 5 s a call
        text = 'store = "gcp"\n\n' + gcp_store_toml(six.server.address, six.project, timeout=0.3)
    config = parse_config(text + cache + extra, f"{request.param}.toml")
    if request.param == "gcp":
        provider = GcpProvider(config.stores["gcp"])
    for ws in ("TEST", "PROD"):
        monkeypatch.setenv(f"IVSECRETS_INTERCOM_TOKEN_{ws}", intercom_api.token)
    yield Rig(
        request.param,
        config,
        provider,
        intercom_api,
        dict(six.secrets),
        _outage(request, request.param),
        set(),
    )


def _outage(request: pytest.FixtureRequest, store: str) -> Callable[[], Any]:
    import contextlib

    @contextlib.contextmanager
    def down() -> Iterator[None]:
        if store == "aws":
            with request.getfixturevalue("moto_control").outage():
                yield
        elif store == "gcp":
            server = request.getfixturevalue("gcp_server")
            server.stop()
            try:
                yield
            finally:
                server.restart()
        else:  # sealing keeps the dev server's in-memory data, unlike a restart
            with request.getfixturevalue("bao_server").sealed():
                yield

    return down


def test_rotate_promote_finish_with_a_running_hasher(rig: Rig) -> None:
    secrets = rig.secrets()
    hasher = secrets.hasher("ios", "prod")
    old_hash = hasher.user_hash(user_id="42")
    assert old_hash == user_hash(rig.originals[IOS_PROD], user_id="42")
    rotator = rig.rotator()

    first = rotator.rotate("ios", "prod", from_intercom=True)
    assert first.action == "rotated" and first.intercom_secret_id in rig.live_intercom_ids()
    assert hasher.user_hash(user_id="42") == old_hash, "cached until the TTL or a refresh"
    secrets.refresh()
    new_hash = hasher.user_hash(user_id="42")
    assert new_hash != old_hash and hasher.fingerprint == first.fingerprint == rig.current()
    assert hasher.verify(new_hash, user_id="42")
    assert hasher.verify(old_hash, user_id="42"), "the previous secret verifies until finish"

    with pytest.raises(RotationError, match="grace period is not over"):
        rotator.finish("ios", "prod")
    rotator.finish("ios", "prod", grace=0)
    secrets.refresh()
    assert not hasher.verify(old_hash, user_id="42"), "retired"
    assert hasher.verify(new_hash, user_id="42")

    # A second rotation deletes the first one's Intercom secret when it finishes.
    second = rotator.rotate("ios", "prod", from_intercom=True)
    assert rig.live_intercom_ids() == {first.intercom_secret_id, second.intercom_secret_id}
    finished = rotator.finish("ios", "prod", grace=0)
    assert finished.intercom_secret_id == first.intercom_secret_id
    assert rig.live_intercom_ids() == {second.intercom_secret_id}
    secrets.refresh()
    assert not hasher.verify(new_hash, user_id="42")
    secrets.close()


def test_rotate_promote_rollback(rig: Rig) -> None:
    secrets = rig.secrets()
    hasher = secrets.hasher("ios", "prod")
    old_hash = hasher.user_hash(email="a@example.com")
    rotator = rig.rotator(secrets)
    rotator.rotate("ios", "prod", new_value=SecretValue(SECRET_C))
    secrets.refresh()
    new_hash = hasher.user_hash(email="a@example.com")
    assert new_hash == user_hash(SECRET_C, email="a@example.com")
    assert hasher.verify(old_hash, email="a@example.com")

    result = rotator.rollback("ios", "prod")
    assert result.action == "rolled-back"
    secrets.refresh()
    assert hasher.user_hash(email="a@example.com") == old_hash
    assert hasher.verify(new_hash, email="a@example.com"), "the rolled-back secret is previous"
    state = rotator.state("ios", "prod")
    assert (
        state.previous is not None
        and state.previous.fingerprint == SecretValue(SECRET_C).fingerprint
    )
    secrets.close()


def test_rollback_refused_once_the_previous_intercom_secret_is_deleted(rig: Rig) -> None:
    rotator = rig.rotator()
    rotator.rotate("ios", "prod", from_intercom=True)
    rotator.finish("ios", "prod", grace=0)
    with pytest.raises(RotationError, match="no previous version"):
        rotator.rollback("ios", "prod")
    second = rotator.rotate("ios", "prod", from_intercom=True)
    previous_id = rotator.state("ios", "prod").previous.intercom_secret_id  # type: ignore[union-attr]
    assert previous_id and previous_id != second.intercom_secret_id
    rig.intercom.state.delete(previous_id)  # deleted at Intercom behind our back
    with pytest.raises(RotationError, match="refusing to roll back"):
        rotator.rollback("ios", "prod")
    assert rig.current() == second.fingerprint


@pytest.mark.parametrize("step", ["intercom-created", "staged", "checked", "promoted"])
def test_a_crash_after_each_rotate_step_is_resumed_by_a_rerun(rig: Rig, step: str) -> None:
    secrets = rig.secrets()
    hasher = secrets.hasher("ios", "prod")
    before = hasher.fingerprint
    rig.crash_at.add(step)
    with pytest.raises(Crash):
        rig.rotator(secrets).rotate("ios", "prod", from_intercom=True)
    secrets.refresh()
    assert hasher.user_hash(user_id="1")  # the current secret keeps serving
    if step != "promoted":
        assert hasher.fingerprint == before

    if step == "promoted":
        # The rotation is complete: running it again would push the previous secret out inside
        # its grace period, so it is refused (issue 11, item 8).
        with pytest.raises(RotationError, match="finish the rotation in flight first"):
            rig.rotator(secrets).rotate("ios", "prod", from_intercom=True)
        assert rig.current() != before
        state = rig.rotator(secrets).state("ios", "prod")
        assert state.previous is not None and state.current is not None
        assert rig.live_intercom_ids() == {state.current.intercom_secret_id}
        secrets.close()
        return
    result = rig.rotator(secrets).rotate("ios", "prod", from_intercom=True)
    assert result.fingerprint == rig.current() != before
    state = rig.rotator(secrets).state("ios", "prod")
    assert state.pending is None
    assert state.current is not None and state.current.intercom_secret_id
    # No orphan: the only live Intercom secret is the one the store records as current.
    assert rig.live_intercom_ids() == {state.current.intercom_secret_id}
    secrets.close()


@pytest.mark.parametrize("step", ["intercom-deleted", "retired"])
def test_a_crash_during_finish_is_resumed_by_a_rerun(rig: Rig, step: str) -> None:
    rotator = rig.rotator()
    first = rotator.rotate("ios", "prod", from_intercom=True)
    rotator.finish("ios", "prod", grace=0)
    second = rotator.rotate("ios", "prod", from_intercom=True)
    rig.crash_at.add(step)
    with pytest.raises(Crash):
        rotator.finish("ios", "prod", grace=0)
    assert rig.current() == second.fingerprint
    rotator.finish("ios", "prod", grace=0)
    assert rig.live_intercom_ids() == {second.intercom_secret_id}
    assert first.intercom_secret_id not in rig.live_intercom_ids()
    assert rotator.state("ios", "prod").previous is None


def test_intercom_failure_on_create_changes_nothing(rig: Rig) -> None:
    before = rig.current()
    rig.intercom.fail_next("create", 401)
    with pytest.raises(IntercomAuthError):
        rig.rotator().rotate("ios", "prod", from_intercom=True)
    assert rig.current() == before and not rig.live_intercom_ids()
    assert rig.rotator().state("ios", "prod").pending is None


def test_ambiguous_create_is_reconciled(rig: Rig) -> None:
    rig.intercom.drop_next("create", after_processing=True)
    result = rig.rotator().rotate("ios", "prod", from_intercom=True)
    assert rig.live_intercom_ids() == {result.intercom_secret_id}


def test_store_failure_while_staging_deletes_the_new_intercom_secret(rig: Rig) -> None:
    before = rig.current()
    outage = rig.outage()

    def on_step(step: str) -> None:
        if step == "intercom-created":
            outage.__enter__()

    try:
        # Either the lease renewal before the stage or the stage itself finds the store down.
        with pytest.raises((RotationError, StoreUnavailableError)):
            rig.rotator(on_step=on_step).rotate("ios", "prod", from_intercom=True)
    finally:
        outage.__exit__(None, None, None)
    deadline = time.monotonic() + 10
    while True:  # a gRPC channel reconnects with back-off after the server is back
        try:
            assert rig.current() == before
            break
        except StoreUnavailableError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    # Whether the lost staging write landed cannot be known while the store is down: the new
    # Intercom secret stays journaled (and the lease held) until the next run settles it.
    assert len(rig.live_intercom_ids()) == 1
    rig.expire_leases()
    result = rig.rotator().rotate("ios", "prod", from_intercom=True)
    assert rig.live_intercom_ids() == {result.intercom_secret_id}, "the unstored one is gone"


def test_a_concurrent_rotation_of_the_same_environment_fails_cleanly(rig: Rig) -> None:
    other_errors: list[BaseException] = []

    def meanwhile(step: str) -> None:
        if step == "staged":
            try:
                rig.rotator().rotate("ios", "prod", new_value=SecretValue(SECRET_B))
            except BaseException as err:
                other_errors.append(err)

    winner = rig.rotator(on_step=meanwhile).rotate("ios", "prod", new_value=SecretValue(SECRET_A))
    assert len(other_errors) == 1 and isinstance(other_errors[0], ConcurrentRotationError)
    assert rig.current() == winner.fingerprint == SecretValue(SECRET_A).fingerprint
    assert rig.rotator().state("ios", "prod").pending is None


def test_two_threads_rotating_at_once_one_wins(rig: Rig) -> None:
    done = {"a": threading.Event(), "b": threading.Event()}
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(name: str, value: str) -> None:
        other = "b" if name == "a" else "a"

        def hold(step: str) -> None:
            # Whoever has staged waits for the other to try, so the two really overlap.
            if step == "staged":
                done[other].wait(10)

        rotator = rig.rotator(on_step=hold)
        start.wait(5)
        try:
            rotator.rotate("ios", "prod", new_value=SecretValue(value))
            outcomes[name] = "ok"
        except ConcurrentRotationError:
            outcomes[name] = "lost"
        finally:
            done[name].set()

    threads = [
        threading.Thread(target=run, args=args) for args in (("a", SECRET_A), ("b", SECRET_B))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["lost", "ok"], outcomes
    winner = SECRET_A if outcomes["a"] == "ok" else SECRET_B
    assert rig.current() == SecretValue(winner).fingerprint
    assert rig.rotator().state("ios", "prod").pending is None


def test_rotating_to_another_environments_secret_is_refused(rig: Rig) -> None:
    web = rig.originals[Environment.of("web", "prod")]
    with pytest.raises(RotationError, match="web/prod's secret"):
        rig.rotator().rotate("ios", "prod", new_value=SecretValue(web))
    assert rig.rotator().state("ios", "prod").pending is None


def test_abort_discards_a_staged_rotation_and_its_intercom_secret(rig: Rig) -> None:
    before = rig.current()
    rig.crash_at.add("staged")
    with pytest.raises(Crash):
        rig.rotator().rotate("ios", "prod", from_intercom=True)
    assert len(rig.live_intercom_ids()) == 1
    result = rig.rotator().abort("ios", "prod")
    assert result.action == "aborted"
    assert not rig.live_intercom_ids() and rig.current() == before
    ec = rig.config.environments[IOS_PROD]
    with pytest.raises(SecretNotFoundError):
        rig.provider.load(IOS_PROD, ec.reference, Stage.pending)


@pytest.mark.parametrize("rig", ["aws"], indirect=True)
def test_after_two_rotations_on_moto_as_it_ships_the_retired_secret_is_not_current(
    rig: Rig, request: pytest.FixtureRequest
) -> None:
    """moto 5.2.5 keeps answering BatchGetSecretValue with the original version, and once two
    finishes retired it, that version has no label at all: an entry with empty VersionStages is
    not AWSCURRENT (docs/stores/aws.md), so verify's read must not report it as current."""
    request.getfixturevalue("moto_unpatched")
    rotator = rig.rotator()
    for _ in range(2):
        rotated = rotator.rotate("ios", "prod", from_intercom=True)
        rotator.finish("ios", "prod", grace=0)
    assert rig.current() == rotated.fingerprint
    secrets = rig.secrets()
    try:
        loaded = secrets.current([IOS_PROD])[IOS_PROD]
        assert not isinstance(loaded, Exception), loaded
        assert loaded.fingerprint == rotated.fingerprint
    finally:
        secrets.close()
