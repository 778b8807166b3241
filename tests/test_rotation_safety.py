"""Rotation that is safe between the steps (issue 11): faults injected inside the steps, racing
operators and the documented recoveries, on the real store servers and the Intercom fake.

Every rotator here has its own store client and Intercom client with a :class:`Faults` plan in
them (tests/servers/faults.py), so a fault hits one rotator's call, as it would one process's.
"""

from __future__ import annotations

import inspect
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ivsecrets import Secrets
from ivsecrets.config import Config, parse_config
from ivsecrets.config.pins import write_pin
from ivsecrets.environments import Environment
from ivsecrets.errors import ConcurrentRotationError, RotationError
from ivsecrets.intercom import IntercomClient
from ivsecrets.provider import Provider
from ivsecrets.rotation import Rotator
from ivsecrets.secret import SecretValue, fingerprint
from ivsecrets.testing import SECRET_A, SECRET_B
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.faults import (
    Faults,
    InjectedFault,
    ProcessDeath,
    aws_client,
    gcp_client,
    intercom_transport,
    vault_session,
)
from tests.servers.gcp import gcp_store_toml
from tests.servers.intercom import FAST_RETRY

STORES = ["aws", "gcp", "vault"]
IOS_PROD = Environment.of("ios", "prod")
LEASE = 300.0  # the default lease; expire() moves the clock past it and past every grace period
GRACE = 120.0  # ttl 60 + max_stale 60 below


@dataclass
class World:
    """One store server with six seeded environments, the Intercom fake, and a shared clock."""

    store: str
    config: Config
    build: Callable[[Faults], Provider]
    intercom_api: FakeIntercomAPI
    text: str = ""  # the configuration's TOML (for processes)
    skew: float = 0.0
    closers: list[Callable[[], None]] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + timedelta(seconds=self.skew)

    def expire(self) -> None:
        """Time passes beyond any lease (a dead run's lease can be taken over)."""
        self.skew += LEASE + GRACE + 1

    def rotator(
        self, faults: Faults | None = None, on_step: Callable[[str], None] | None = None
    ) -> Rotator:
        faults = faults or Faults()
        provider = self.build(faults)
        secrets = Secrets(self.config, providers={self.store: provider})
        self.closers.append(secrets.close)

        def intercom(workspace: str) -> IntercomClient:
            return IntercomClient.from_workspace(
                self.config.workspace_settings[workspace],
                retry=FAST_RETRY,
                sleep=lambda _: None,
                transport=intercom_transport(faults),
            )

        options: dict[str, Any] = {"checkpoint": on_step, "retry_delay": 0.0}
        if "clock" in inspect.signature(Rotator).parameters:
            options["clock"] = self.now
        return Rotator(self.config, secrets=secrets, intercom=intercom, **options)

    def state(self) -> Any:
        return self.rotator().state("ios", "prod")

    def live(self) -> set[str]:
        return {s.id for s in self.intercom_api.state.live()}

    def check(self) -> None:
        """The invariants: current is live at Intercom if it came from there; every live
        Intercom secret of ios/prod is referenced by a store version."""
        state = self.state()
        live = self.live()
        referenced = {
            v.intercom_secret_id
            for v in (state.current, state.previous, state.pending)
            if v is not None and v.intercom_secret_id
        }
        if state.current is not None and state.current.intercom_secret_id:
            assert state.current.intercom_secret_id in live, "current deleted at Intercom"
        # Also when the store lost the id: the fake knows every value it ever handed out.
        with self.intercom_api.state.lock:
            deleted = {
                fingerprint(s.secret)
                for s in self.intercom_api.state.secrets.values()
                if s.deleted_at is not None
            }
        assert state.current is None or state.current.fingerprint not in deleted, (
            "the store serves a secret Intercom has deleted"
        )
        assert live <= referenced, f"unreferenced Intercom secrets: {live - referenced}"


@pytest.fixture(params=STORES)
def world(
    request: pytest.FixtureRequest, intercom_api: FakeIntercomAPI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from make_world(request, request.param, intercom_api, monkeypatch)


def make_world(
    request: pytest.FixtureRequest,
    store: str,
    intercom_api: FakeIntercomAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[World]:
    six = request.getfixturevalue(f"{store}_six")
    extra = "".join(
        f'\n[workspace.{ws}]\nintercom_base_url = "{intercom_api.base_url}"\n'
        for ws in ("test", "prod")
    )
    text = six.config_text
    if store == "gcp":
        text = 'store = "gcp"\n\n' + gcp_store_toml(six.server.address, six.project, timeout=2)
    text += "\n[cache]\nttl = 60\nmax_stale = 60\n" + extra
    config = parse_config(text, f"{store}.toml")
    for ws in ("TEST", "PROD"):
        monkeypatch.setenv(f"IVSECRETS_INTERCOM_TOKEN_{ws}", intercom_api.token)

    def build(faults: Faults) -> Provider:
        options = config.stores[store]
        if store == "aws":
            from ivsecrets.plugins.aws import AwsProvider

            return AwsProvider(
                options,
                client=aws_client(six.endpoint_url, faults),
                dynamodb=aws_client(six.endpoint_url, faults, "dynamodb"),
            )
        if store == "vault":
            from ivsecrets.plugins.vault import VaultProvider

            return VaultProvider(options, session=vault_session(faults))
        from ivsecrets.plugins.gcp import GcpProvider

        return GcpProvider(options, client=gcp_client(six.server.address, faults))

    world = World(store, config, build, intercom_api, text)
    yield world
    for close in world.closers:
        close()


def stage_write(store: str) -> Callable[[str], bool]:
    """The call that stages the new value (the one whose answer item 2 loses)."""
    if store == "aws":
        return lambda label: label == "PutSecretValue AWSPENDING"
    if store == "vault":
        return lambda label: label.startswith(("POST", "PUT")) and label.endswith(".pending")
    return lambda label: label.startswith("UpdateSecret") and "pending" in label


# -- item 1: two concurrent rotate --from-intercom -------------------------------------------


def test_1_a_second_run_never_deletes_what_the_first_created(world: World) -> None:
    errors: list[BaseException] = []

    def meanwhile(step: str) -> None:
        if step == "intercom-created":  # A created at Intercom and has not stored yet
            try:
                world.rotator().rotate("ios", "prod", from_intercom=True)
            except RotationError as err:
                errors.append(err)

    result = world.rotator(on_step=meanwhile).rotate("ios", "prod", from_intercom=True)
    assert result.intercom_secret_id in world.live(), "the promoted secret was deleted"
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentRotationError)
    world.check()


# -- item 2: a staging write that lands but whose answer is lost -----------------------------


def test_2_a_lost_staging_answer_never_promotes_a_deleted_secret(world: World) -> None:
    faults = Faults(down_after=stage_write(world.store))
    with pytest.raises((RotationError, InjectedFault, Exception)):
        world.rotator(faults).rotate("ios", "prod", from_intercom=True)
    assert faults.down, "the staging write was reached"
    world.expire()
    # The documented recovery: run it again.
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.check()


# -- item 3: AWS, a death between storing the value and recording its Intercom id -------------


@pytest.mark.parametrize("world", ["aws"], indirect=True)
def test_3_aws_a_stored_version_always_has_its_intercom_id(world: World) -> None:
    # On the old order (PutSecretValue, then TagResource) this kills the process in between.
    faults = Faults().plan("death", "TagResource")
    with pytest.raises(ProcessDeath):
        world.rotator(faults).rotate("ios", "prod", from_intercom=True)
    world.expire()
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    world.rotator().finish("ios", "prod", grace=0)
    world.check()
    world.expire()
    world.rotator().rotate("ios", "prod", from_intercom=True)  # its orphan handling
    world.check()


# -- item 4: abort racing a resumed rotate ---------------------------------------------------


def test_4_abort_never_deletes_a_secret_another_run_promoted(world: World) -> None:
    def die(step: str) -> None:
        if step == "staged":
            raise ProcessDeath(step)

    with pytest.raises(ProcessDeath):
        world.rotator(on_step=die).rotate("ios", "prod", from_intercom=True)
    world.expire()
    assert world.state().pending is not None
    errors: list[BaseException] = []

    def resume() -> None:
        try:
            world.rotator().rotate("ios", "prod")
        except RotationError as err:
            errors.append(err)

    # Right after abort has read "pending X", the other run resumes and promotes X.
    first_call_of_discard = {
        "aws": ("DescribeSecret", 2),
        "vault": ("pending", 2),
        "gcp": ("GetSecret", 2),
    }[world.store]
    label, nth = first_call_of_discard
    race = Faults().plan("hook", lambda lb: label in lb and "Version" not in lb, nth, resume)
    try:
        aborted = world.rotator(race).abort("ios", "prod").action
    except RotationError:
        aborted = "failed"  # (the old behaviour failed here or deleted the promoted secret)
    world.check()
    assert race.fired, "the other run tried at that very moment"
    assert len(errors) == 1 and isinstance(errors[0], ConcurrentRotationError)
    assert aborted == "aborted" and world.state().pending is None


# -- item 5: finish measures the grace period from when the current version became current ----


def test_5_finish_measures_grace_from_the_rollback(world: World) -> None:
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.skew += 1000  # long after the original version was created
    world.rotator().rollback("ios", "prod")
    with pytest.raises(RotationError, match="grace period is not over"):
        world.rotator().finish("ios", "prod", now=world.now() + timedelta(seconds=10))
    world.check()
    since = world.state().current.current_since  # what `verify` shows
    assert since is not None and abs((since - world.now()).total_seconds()) < 60


# -- item 6: rollback without the Intercom token ----------------------------------------------


@pytest.mark.parametrize("world", ["aws"], indirect=True)
def test_6_rollback_refuses_when_liveness_cannot_be_checked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    world.rotator().finish("ios", "prod", grace=0)
    world.expire()
    world.rotator().rotate("ios", "prod", from_intercom=True)
    previous = world.state().previous
    assert previous is not None and previous.intercom_secret_id
    world.intercom_api.state.delete(previous.intercom_secret_id)  # deleted at Intercom
    monkeypatch.delenv("IVSECRETS_INTERCOM_TOKEN_PROD")
    current = world.state().current
    with pytest.raises(RotationError, match="--force"):
        world.rotator().rollback("ios", "prod")
    assert world.state().current == current
    world.rotator().rollback("ios", "prod", force=True)  # the operator's word


# -- item 7: pins written safely ---------------------------------------------------------------

README_STYLE = """\
store = "env"

[environments.ios.prod]  # pinned by the deploy pipeline
fingerprint = "ivfp1:0000000000000000"   # the secret the app ships with

# keep this comment
[environments.web.prod]
fingerprint = "ivfp1:1111111111111111"
"""


def test_7_write_pin_keeps_a_commented_header_and_writes_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ivsecrets.toml"
    path.write_text(README_STYLE)
    path.chmod(0o640)
    write_pin(path, IOS_PROD, "ivfp1:2222222222222222")
    text = path.read_text()
    config = parse_config(text, str(path))  # loads: no second [environments.ios.prod]
    assert config.environments[IOS_PROD].fingerprint == "ivfp1:2222222222222222"
    assert text.count("[environments.ios.prod]") == 1
    assert "# pinned by the deploy pipeline" in text and "# keep this comment" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["ivsecrets.toml"], "no temporary file left"
    write_pin(path, Environment.of("android", "test"), "ivfp1:3333333333333333")
    config = parse_config(path.read_text(), str(path))
    assert config.environments[Environment.of("android", "test")].fingerprint.endswith("3333")


# -- item 8: a rotation while the previous version is inside its grace ------------------------


def test_8_a_second_rotation_inside_the_grace_is_refused(world: World) -> None:
    world.rotator().rotate("ios", "prod", new_value=SecretValue(SECRET_A))
    with pytest.raises(RotationError, match="finish the rotation in flight first"):
        world.rotator().rotate("ios", "prod", new_value=SecretValue(SECRET_B))
    assert world.state().current.fingerprint == SecretValue(SECRET_A).fingerprint
    forced = world.rotator().rotate("ios", "prod", new_value=SecretValue(SECRET_B), force=True)
    assert forced.fingerprint == SecretValue(SECRET_B).fingerprint


# -- the lease ---------------------------------------------------------------------------------


def test_a_dead_runs_lease_is_taken_over_after_it_expires_never_before(world: World) -> None:
    faults = Faults().plan("death", "intercom POST")
    with pytest.raises(ProcessDeath):
        world.rotator(faults).rotate("ios", "prod", from_intercom=True)
    record = world.rotator().record("ios", "prod")
    assert record.lease is not None and record.journal, "the intent was journaled first"
    with pytest.raises(ConcurrentRotationError, match="holds the lease until"):
        world.rotator().rotate("ios", "prod", from_intercom=True)
    for command in ("abort", "finish", "rollback"):
        with pytest.raises(ConcurrentRotationError):
            getattr(world.rotator(), command)("ios", "prod")
    world.expire()
    result = world.rotator().rotate("ios", "prod", from_intercom=True)
    assert world.live() == {result.intercom_secret_id}
    record = world.rotator().record("ios", "prod")
    assert record.lease is None and record.journal == ()
    world.check()
