"""Rotation that survives a crash *inside* a promote (issue 19, items 1, 2, 5, 6).

A promote is one store write on GCP, two on AWS (move AWSCURRENT, then remove AWSPENDING) and
three on Vault (the value, the custom_metadata, the destroyed pending version). The process dies
right after the n-th of them was answered; then the documented recoveries run: ``abort``, the same
``rotate`` again, ``settle``, ``finish``. None may delete a secret a store version serves, and the
replaced secret must still be the one ``finish`` deletes at Intercom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from ivsecrets.environments import Environment
from ivsecrets.errors import ConcurrentRotationError, RotationError
from ivsecrets.secret import fingerprint
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.faults import Faults, ProcessDeath
from tests.test_rotation_safety import World, make_world

IOS_PROD = Environment.of("ios", "prod")

# The store writes of one promote, in order, by the label the fault plan sees.
PROMOTE_WRITES: dict[str, list[Callable[[str], bool]]] = {
    "aws": [
        lambda label: label == "UpdateSecretVersionStage AWSCURRENT",
        lambda label: label == "UpdateSecretVersionStage AWSPENDING",
    ],
    "vault": [
        lambda label: label.startswith("POST secret/data/") and label.endswith("/prod/ios"),
        lambda label: label.startswith("POST secret/metadata/") and label.endswith("/prod/ios"),
        lambda label: label.startswith("POST secret/destroy/") and label.endswith("ios.pending"),
    ],
}
# (store, n): the process dies right after the n-th promote write was answered.
INSIDE = [(store, n) for store, writes in PROMOTE_WRITES.items() for n in range(1, len(writes))]


@pytest.fixture
def world(
    request: pytest.FixtureRequest, intercom_api: FakeIntercomAPI, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from make_world(request, request.param, intercom_api, monkeypatch)


def adopt(world: World, request: pytest.FixtureRequest) -> str:
    """ios/prod's secret as a team that adopts ivsecrets has it: live at Intercom (created in its
    settings), its id in no store version. Returns that Intercom id."""
    six = request.getfixturevalue(f"{world.store}_six")
    original = world.intercom_api.state.add(
        "Set up by hand", ios=True, secret=six.secrets[IOS_PROD]
    )
    return original.id


def rotated_once(world: World) -> str:
    """ios/prod after one whole rotation from Intercom: its current secret's Intercom id."""
    result = world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    world.rotator().finish("ios", "prod", grace=0)
    world.expire()
    assert result.intercom_secret_id is not None
    return result.intercom_secret_id


def die_inside_promote(world: World, n: int) -> str:
    """Rotate from Intercom and die right after the n-th promote write; returns the new id."""
    faults = Faults()
    write = PROMOTE_WRITES[world.store][n]  # the (n+1)-th write: the process is dead by then

    def arm(step: str) -> None:
        if step == "checked":  # the promote comes next
            faults.plan("death", write)

    with pytest.raises(ProcessDeath):
        world.rotator(faults, on_step=arm).rotate("ios", "prod", from_intercom=True)
    assert faults.fired and faults.fired[0][0] == "death", "the promote was reached"
    state = world.state()
    assert state.pending is not None and state.pending.intercom_secret_id is not None
    return state.pending.intercom_secret_id


def serves(world: World, secret_id: str) -> bool:
    """Whether the store serves (current or previous) the value Intercom holds for ``secret_id``."""
    state = world.state()
    value = world.intercom_api.state.get(secret_id)
    assert value is not None and value.secret is not None
    served = {v.fingerprint for v in (state.current, state.previous) if v is not None}
    return fingerprint(value.secret) in served


@pytest.mark.parametrize(("world", "n"), INSIDE, indirect=["world"])
def test_abort_after_a_crash_inside_the_promote_completes_it(world: World, n: int) -> None:
    original = rotated_once(world)
    new = die_inside_promote(world, n)
    world.expire()
    result = world.rotator().abort("ios", "prod")
    assert new in world.live(), "abort deleted the secret the store serves"
    assert result.action == "completed-promote"
    state = world.state()
    assert state.pending is None and state.current is not None
    assert state.current.intercom_secret_id == new and serves(world, original)
    world.check()


@pytest.mark.parametrize(("world", "n"), INSIDE, indirect=["world"])
def test_resuming_after_a_crash_inside_the_promote_keeps_the_real_previous(
    world: World, n: int
) -> None:
    original = rotated_once(world)
    before = world.state().current
    new = die_inside_promote(world, n)
    world.expire()
    result = world.rotator().rotate("ios", "prod")
    assert before is not None and result.previous_fingerprint == before.fingerprint
    assert result.previous_fingerprint != result.fingerprint
    previous = world.state().previous
    assert previous is not None and previous.fingerprint == result.previous_fingerprint
    world.expire()
    finished = world.rotator().finish("ios", "prod", grace=0)
    assert original not in world.live(), f"finish left the replaced secret live: {finished}"
    assert new in world.live()
    world.check()


@pytest.mark.parametrize(("world", "n"), INSIDE, indirect=["world"])
def test_a_takeover_completes_a_half_done_promote(world: World, n: int) -> None:
    new = die_inside_promote(world, n)
    world.expire()
    world.rotator().settle("ios", "prod")
    state = world.state()
    assert state.pending is None and state.current is not None
    assert state.current.intercom_secret_id == new and state.current.current_since is not None
    world.check()


@pytest.mark.parametrize("world", ["aws", "vault", "gcp"], indirect=True)
def test_the_first_finish_after_adopting_deletes_the_configured_secret(
    world: World, request: pytest.FixtureRequest
) -> None:
    original = adopt(world, request)
    # [environments.ios.prod] intercom_secret_id = "<original>", as the README tells an adopter
    pinned = replace(world.config.environments[IOS_PROD], intercom_secret_id=original)
    world.config = replace(
        world.config, environments={**world.config.environments, IOS_PROD: pinned}
    )
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    result = world.rotator().finish("ios", "prod", grace=0)
    assert original not in world.live()
    assert f"deleted Intercom secret {original}" in " ".join(result.notes)


@pytest.mark.parametrize("world", ["aws", "vault", "gcp"], indirect=True)
def test_a_finish_that_cannot_name_the_replaced_secret_says_so(
    world: World, request: pytest.FixtureRequest
) -> None:
    original = adopt(world, request)
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    result = world.rotator().finish("ios", "prod", grace=0)
    assert original in world.live()  # nothing names it: never guessed
    assert any("NOT deleted at Intercom" in note for note in result.notes), result.notes


# -- Vault: the operator's metadata settings, and a path that keeps one version ----------------


@pytest.mark.parametrize("world", ["vault"], indirect=True)
def test_vault_rotation_keeps_the_operators_delete_version_after(
    world: World, request: pytest.FixtureRequest
) -> None:
    six = request.getfixturevalue("vault_six")
    admin, path = six.server.admin(), six.path(IOS_PROD)
    admin.secrets.kv.v2.update_metadata(path, delete_version_after="72h", mount_point="secret")
    rotated_once(world)  # rotate, then finish: both write custom_metadata
    settings = admin.secrets.kv.v2.read_secret_metadata(path, mount_point="secret")["data"]
    assert settings["delete_version_after"] == "72h0m0s"


@pytest.mark.parametrize("world", ["vault"], indirect=True)
def test_vault_with_max_versions_1_finish_deletes_the_replaced_secret(
    world: World, request: pytest.FixtureRequest
) -> None:
    six = request.getfixturevalue("vault_six")
    admin, path = six.server.admin(), six.path(IOS_PROD)
    admin.secrets.kv.v2.update_metadata(path, max_versions=1, mount_point="secret")
    first = rotated_once(world)
    world.rotator().rotate("ios", "prod", from_intercom=True)
    assert world.state().previous is None  # Vault pruned the replaced version
    world.expire()
    result = world.rotator().finish("ios", "prod", grace=0)
    assert first not in world.live(), result
    assert result.action == "finished" and f"deleted Intercom secret {first}" in result.notes
    world.check()


# -- fencing: finish retires in the store first, and checks its lease before the delete ---------


@pytest.mark.parametrize("world", ["aws", "vault", "gcp"], indirect=True)
def test_a_finish_paused_before_its_intercom_delete_deletes_nothing_live(world: World) -> None:
    rotated_once(world)
    world.rotator().rotate("ios", "prod", from_intercom=True)
    world.expire()
    replaced = world.state().previous
    assert replaced is not None and replaced.intercom_secret_id
    outcomes: list[str] = []

    def paused(step: str) -> None:
        if step == "retired":  # the laptop sleeps here, past the lease; another operator acts
            world.expire()
            for command in ("rollback", "settle"):
                try:
                    outcomes.append(getattr(world.rotator(), command)("ios", "prod").action)
                except RotationError as err:
                    outcomes.append(type(err).__name__)

    with pytest.raises(ConcurrentRotationError, match="no longer holds the rotation lease"):
        world.rotator(on_step=paused).finish("ios", "prod")
    # The rollback found nothing to roll back to (retired first); settle deleted the journaled
    # secret, which no version serves; the paused run, back, deleted nothing.
    assert outcomes == ["RotationError", "settled"]
    assert replaced.intercom_secret_id not in world.live()
    world.check()
