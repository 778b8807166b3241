"""A model-checked proof of rotation safety (issue 11): hypothesis drives rotators, ``finish``,
``abort``, ``rollback``, a running backend and crashes against each real store server and the
Intercom fake, with a fault at any store or Intercom call (before it, after it with the answer
lost, or as the process's death), and checks the invariants after every step.

Profiles (``IVSECRETS_SOAK``): unset, a CI run of a few examples per store; ``1``, the soak run
(``make soak-rotation``), ``IVSECRETS_SOAK_EXAMPLES`` examples of ``IVSECRETS_SOAK_STEPS`` steps.
The figures (steps, faults injected per kind) are printed at the end of each store's run.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ivsecrets import Secrets
from ivsecrets.config import Config, parse_config
from ivsecrets.errors import IVSecretsError
from ivsecrets.intercom import IntercomClient
from ivsecrets.provider import Provider
from ivsecrets.rotation import LEASE_SECONDS, Rotator
from ivsecrets.secret import SecretValue, fingerprint
from tests.servers._intercom_api import FakeIntercomAPI
from tests.servers.faults import (
    Faults,
    ProcessDeath,
    aws_client,
    gcp_client,
    intercom_transport,
    vault_session,
)
from tests.servers.gcp import create_secret, gcp_store_toml
from tests.servers.intercom import FAST_RETRY
from tests.servers.vault import seed_secret

SOAK = os.environ.get("IVSECRETS_SOAK", "") not in ("", "0")
settings.register_profile(
    "rotation-ci",
    max_examples=8,
    stateful_step_count=15,
    derandomize=True,  # the same examples on every CI run; the soak explores
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "rotation-soak",
    max_examples=int(os.environ.get("IVSECRETS_SOAK_EXAMPLES", "400")),
    stateful_step_count=int(os.environ.get("IVSECRETS_SOAK_STEPS", "60")),
    # IVSECRETS_SOAK_SHRINK=0 reports the first failing sequence as found (shrinking a long
    # sequence against real servers can take many minutes).
    phases=[Phase.explicit, Phase.reuse, Phase.generate]
    if os.environ.get("IVSECRETS_SOAK_SHRINK") == "0"
    else list(Phase),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
PROFILE = settings.get_profile("rotation-soak" if SOAK else "rotation-ci")
GRACE = 120.0  # ttl 60 + max_stale 60
_names = itertools.count()

FAULT = st.one_of(
    st.none(),
    st.tuples(st.integers(1, 25), st.sampled_from(["before", "after", "death"])),
    st.tuples(st.integers(1, 12), st.sampled_from(["before", "after", "death"])),
    # Killed right after its n-th store or Intercom write was answered: inside a step that
    # makes several writes (a promote, a finish), not only between steps.
    st.tuples(st.integers(1, 10), st.just("after-write")),
)
# An operator's clock: right, or 400 s ahead or behind (issue 19 item 3: a lease's expiry, and the
# grace period, written on one machine's clock and judged on another's). Judging both by the
# store's clock is not built yet, and a skewed operator can still delete a secret inside its grace
# period: IVSECRETS_SOAK_SKEW=1 runs the model with skewed operators to show it; without it every
# operator's clock is right.
MAX_SKEW = 400.0
SKEWED = os.environ.get("IVSECRETS_SOAK_SKEW", "") not in ("", "0")
SKEW = st.sampled_from([0.0, 0.0, MAX_SKEW, -MAX_SKEW] if SKEWED else [0.0])
COMMANDS = ["rotate-intercom", "rotate-file", "finish", "finish-now", "abort", "rollback"]


class Figures:
    def __init__(self) -> None:
        self.steps = 0
        self.examples = 0
        self.faults: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()


def seed(store: str, request: pytest.FixtureRequest, six: Any, value: str) -> str:
    """A fresh secret for ios/prod in the store; returns its reference."""
    name = f"model-{os.getpid()}-{next(_names)}"
    if store == "aws":
        request.getfixturevalue("aws_client").create_secret(Name=name, SecretString=value)
    elif store == "vault":
        seed_secret(request.getfixturevalue("vault_admin"), f"{six.prefix}/{name}", value)
        name = f"{six.prefix}/{name}"
    else:
        client = request.getfixturevalue("gcp_client")
        create_secret(client, f"projects/{six.project}", name, value)
    return name


@pytest.mark.parametrize("store", ["aws", "gcp", "vault"])
def test_rotation_model(
    store: str,
    request: pytest.FixtureRequest,
    intercom_api: FakeIntercomAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    six = request.getfixturevalue(f"{store}_six")
    for ws in ("TEST", "PROD"):
        monkeypatch.setenv(f"IVSECRETS_INTERCOM_TOKEN_{ws}", intercom_api.token)
    base = six.config_text
    if store == "gcp":
        base = 'store = "gcp"\n\n' + gcp_store_toml(six.server.address, six.project, timeout=2)
    base += "\n[cache]\nttl = 60\nmax_stale = 60\n" + "".join(
        f'\n[workspace.{ws}]\nintercom_base_url = "{intercom_api.base_url}"\n'
        for ws in ("test", "prod")
    )
    figures = Figures()

    def build(config: Config, faults: Faults) -> Provider:
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

    class Model(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            figures.examples += 1
            self.values = itertools.count()
            original = self.new_value().reveal().decode()
            reference = seed(store, request, six, original)
            text = base + f'\n[environments.ios.prod]\nreference = "{reference}"\n'
            self.config = parse_config(text, f"model-{store}.toml")
            self.skew = 0.0
            self.closers: list[Callable[[], None]] = []
            self.known = {s.id for s in intercom_api.state.secrets.values()}
            self.backend = Secrets(self.config, providers={store: build(self.config, Faults())})
            self.hasher = self.backend.hasher("ios", "prod")
            self.demoted: dict[str, datetime] = {}
            self.current = self.hasher.fingerprint

        def teardown(self) -> None:
            self.backend.close()
            for close in self.closers:
                close()

        # -- helpers ---------------------------------------------------------------------------

        def now(self) -> datetime:
            return datetime.now(timezone.utc) + timedelta(seconds=self.skew)

        def new_value(self) -> SecretValue:
            return SecretValue(f"model-{next(_names):06d}-{next(self.values):04d}-" + "x" * 24)

        def rotator(self, faults: Faults, skew: float = 0.0) -> Rotator:
            secrets = Secrets(self.config, providers={store: build(self.config, faults)})
            self.closers.append(secrets.close)

            def intercom(workspace: str) -> IntercomClient:
                return IntercomClient.from_workspace(
                    self.config.workspace_settings[workspace],
                    retry=FAST_RETRY,
                    sleep=lambda _: None,
                    transport=intercom_transport(faults),
                )

            def clock() -> datetime:
                return self.now() + timedelta(seconds=skew)

            return Rotator(
                self.config, secrets=secrets, intercom=intercom, retry_delay=0.0, clock=clock
            )

        def faults(self, fault: tuple[int, str] | None) -> Faults:
            faults = Faults()
            if fault is not None and fault[1] == "after-write":
                faults.after_write(fault[0])
            elif fault is not None:
                faults.at_call(*fault)
            return faults

        def command(self, name: str, faults: Faults, skew: float = 0.0) -> str:
            """Run one command as one process whose clock is ``skew`` seconds off; its outcome
            (an action, or the error's kind)."""
            rotator = self.rotator(faults, skew)
            before = self.state()
            try:
                if name == "rotate-intercom":
                    result = rotator.rotate("ios", "prod", from_intercom=True)
                elif name == "rotate-file":
                    result = rotator.rotate("ios", "prod", new_value=self.new_value())
                elif name == "finish":
                    result = rotator.finish("ios", "prod")
                elif name == "finish-now":
                    result = rotator.finish("ios", "prod", grace=0)
                elif name == "abort":
                    result = rotator.abort("ios", "prod")
                else:
                    result = rotator.rollback("ios", "prod")
            except ProcessDeath:
                outcome = "died"
            except IVSecretsError as err:
                outcome = type(err).__name__
            else:
                outcome = result.action
            if name == "finish-now" and outcome == "finished":
                # --grace 0 is the operator's word that no backend signs with it any more.
                self.demoted.clear()
            replaced = before.previous
            if outcome == "finished" and replaced is not None and replaced.intercom_secret_id:
                # The previous secret is deleted at Intercom by finish.
                gone = intercom_api.state.get(replaced.intercom_secret_id)
                assert gone is None or gone.deleted_at is not None, "finish left it live"
            for kind, _label in faults.fired:
                figures.faults[kind] += 1
            figures.outcomes[f"{name}: {outcome}"] += 1
            return outcome

        def state(self) -> Any:
            return self.rotator(Faults()).state("ios", "prod")

        # -- rules -----------------------------------------------------------------------------

        @rule(name=st.sampled_from(COMMANDS), fault=FAULT, later=st.booleans(), skew=SKEW)
        def run(self, name: str, fault: tuple[int, str] | None, later: bool, skew: float) -> None:
            if later:  # long enough after the last command for its lease and grace to be over
                self.skew += LEASE_SECONDS + GRACE
            self.command(name, self.faults(fault), skew)

        @rule(
            first=st.sampled_from(COMMANDS),
            second=st.sampled_from(COMMANDS),
            at=st.integers(1, 30),
            paused=st.booleans(),
            skew=SKEW,
        )
        def race(self, first: str, second: str, at: int, paused: bool, skew: float) -> None:
            """The second command runs entirely inside the first one's ``at``-th call, from an
            operator whose clock is ``skew`` off; ``paused``: the first one's machine sleeps
            there past its lease (a laptop lid closed mid-command), then goes on."""
            acted = {"rotated", "resumed", "finished", "aborted", "rolled-back"}
            faults = Faults()
            faults.at_call(at, "hook")

            def meanwhile() -> None:
                if paused:
                    self.skew += LEASE_SECONDS + 1
                held = self.rotator(Faults()).record("ios", "prod").lease
                outcome = self.command(second, Faults(), skew)
                # Exclusivity is judged on the right clock; a skewed operator's takeover of a
                # live lease is the known gap of issue 19 item 3 (the store's clock), which the
                # invariants below must survive.
                if skew == 0 and held is not None and not held.expired(self.now()):
                    # At most one run holds the lease, and only the holder acts.
                    assert outcome not in acted, (
                        f"{second} acted ({outcome}) while run {held.run} ({first}) held the lease"
                    )

            faults.planned[-1].hook = meanwhile
            self.command(first, faults)

        @rule()
        def expire(self) -> None:
            # Past any lease, also one a fast clock wrote (its expiry is that far ahead).
            self.skew += LEASE_SECONDS + MAX_SKEW + 1

        @rule(seconds=st.sampled_from([5.0, 60.0, GRACE + 1]))
        def wait(self, seconds: float) -> None:
            self.skew += seconds

        @rule()
        def settle(self) -> None:
            """After the dead runs' leases expire, a re-run leaves no unreferenced secret."""
            self.skew += LEASE_SECONDS + MAX_SKEW + 1
            self.rotator(Faults()).settle("ios", "prod")
            state = self.state()
            referenced = {
                v.intercom_secret_id
                for v in (state.current, state.previous, state.pending)
                if v is not None and v.intercom_secret_id
            }
            live = {s.id for s in intercom_api.state.live()} - self.known
            assert live <= referenced, f"Intercom secrets nobody references: {live - referenced}"

        # -- invariants ------------------------------------------------------------------------

        @invariant()
        def safe(self) -> None:
            figures.steps += 1
            state = self.state()
            current = state.current
            assert current is not None
            with intercom_api.state.lock:
                stored = list(intercom_api.state.secrets.values())
            deleted = {fingerprint(s.secret): s for s in stored if s.deleted_at is not None}
            live_ids = {s.id for s in stored if s.deleted_at is None}
            # No secret any store version serves (current or previous) is deleted at Intercom.
            for served in (state.current, state.previous):
                if served is not None:
                    assert served.fingerprint not in deleted, (
                        f"the store serves {served.fingerprint}, deleted at Intercom"
                    )
            if current.intercom_secret_id:
                assert current.intercom_secret_id in live_ids
            # At most one run holds the lease (one record, one holder) and it is a real run.
            record = self.rotator(Faults()).record("ios", "prod")
            assert record.lease is None or record.lease.run
            # A running backend: after a refresh it signs with the current secret, and
            # a hash made with it verifies.
            self.backend.refresh()
            made = self.hasher.user_hash(user_id="7")
            assert self.hasher.fingerprint == current.fingerprint
            assert self.hasher.verify(made, user_id="7")
            # The previous secret is not deleted within the grace from its demotion.
            if current.fingerprint != self.current:
                # Demoted when the new one became current (a paused race may have moved the
                # time on since), as the store records it.
                since = current.current_since or self.now()
                self.demoted[self.current] = min(since, self.now())
                self.current = current.fingerprint
            for fp, when in self.demoted.items():
                if (self.now() - when).total_seconds() < GRACE - 5:
                    assert fp not in deleted, f"{fp} deleted inside its grace period"

    run_state_machine_as_test(Model, settings=PROFILE)
    print(
        f"\nrotation model [{store}]: {figures.examples} examples, {figures.steps} steps, "
        f"faults injected {dict(figures.faults)}, outcomes {dict(figures.outcomes)}"
    )
