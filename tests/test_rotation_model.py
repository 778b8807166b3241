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
)
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

            return AwsProvider(options, client=aws_client(six.endpoint_url, faults))
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

        def rotator(self, faults: Faults) -> Rotator:
            secrets = Secrets(self.config, providers={store: build(self.config, faults)})
            self.closers.append(secrets.close)

            def intercom(workspace: str) -> IntercomClient:
                return IntercomClient.from_workspace(
                    self.config.workspace_settings[workspace],
                    retry=FAST_RETRY,
                    sleep=lambda _: None,
                    transport=intercom_transport(faults),
                )

            return Rotator(
                self.config, secrets=secrets, intercom=intercom, retry_delay=0.0, clock=self.now
            )

        def faults(self, fault: tuple[int, str] | None) -> Faults:
            faults = Faults()
            if fault is not None:
                faults.at_call(*fault)
            return faults

        def command(self, name: str, faults: Faults) -> str:
            """Run one command as one process; its outcome (an action, or the error's kind)."""
            rotator = self.rotator(faults)
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
            for kind, _label in faults.fired:
                figures.faults[kind] += 1
            figures.outcomes[f"{name}: {outcome}"] += 1
            return outcome

        def state(self) -> Any:
            return self.rotator(Faults()).state("ios", "prod")

        # -- rules -----------------------------------------------------------------------------

        @rule(name=st.sampled_from(COMMANDS), fault=FAULT, later=st.booleans())
        def run(self, name: str, fault: tuple[int, str] | None, later: bool) -> None:
            if later:  # long enough after the last command for its lease and grace to be over
                self.skew += LEASE_SECONDS + GRACE
            self.command(name, self.faults(fault))

        @rule(
            first=st.sampled_from(COMMANDS),
            second=st.sampled_from(COMMANDS),
            at=st.integers(1, 30),
        )
        def race(self, first: str, second: str, at: int) -> None:
            """The second command runs entirely inside the first one's ``at``-th call."""
            acted = {"rotated", "resumed", "finished", "aborted", "rolled-back"}
            faults = Faults()
            faults.at_call(at, "hook")

            def meanwhile() -> None:
                held = self.rotator(Faults()).record("ios", "prod").lease
                outcome = self.command(second, Faults())
                if held is not None and not held.expired(self.now()):
                    # At most one run holds the lease, and only the holder acts.
                    assert outcome not in acted, (
                        f"{second} acted ({outcome}) while run {held.run} ({first}) held the lease"
                    )

            faults.planned[-1].hook = meanwhile
            self.command(first, faults)

        @rule()
        def expire(self) -> None:
            self.skew += LEASE_SECONDS + 1

        @rule(seconds=st.sampled_from([5.0, 60.0, GRACE + 1]))
        def wait(self, seconds: float) -> None:
            self.skew += seconds

        @rule()
        def settle(self) -> None:
            """After the dead runs' leases expire, a re-run leaves no unreferenced secret."""
            self.skew += LEASE_SECONDS + 1
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
            # The current secret is live at Intercom whenever it came from Intercom.
            assert current.fingerprint not in deleted, "the store serves a deleted secret"
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
                self.demoted[self.current] = self.now()
                self.current = current.fingerprint
            for fp, when in self.demoted.items():
                if (self.now() - when).total_seconds() < GRACE - 5:
                    assert fp not in deleted, f"{fp} deleted inside its grace period"

    run_state_machine_as_test(Model, settings=PROFILE)
    print(
        f"\nrotation model [{store}]: {figures.examples} examples, {figures.steps} steps, "
        f"faults injected {dict(figures.faults)}, outcomes {dict(figures.outcomes)}"
    )
