"""What every store reached over the network must do, on top of the read contract.

A store's test module subclasses :class:`RemoteProviderContract` (together with
:class:`~ivsecrets.testing.WritableProviderContract` when the store rotates) and provides these
hooks, each against a *real* server of the store; the tests here never know which store it is:

``provider_factory`` (fixture)
    ``factory(**options)``: a new provider built from these ``[stores.NAME]`` options plus what
    reaches the test server, as a configuration would build it: it builds its own SDK client.
``seed`` (fixture)
    as for :class:`~ivsecrets.testing.ProviderContract`, on the same server.
``outage`` (fixture)
    a function returning a context manager: inside the block the server cannot be reached; after
    it, the server serves again what was seeded (however the store has to get there).
``denied_setup`` (fixture)
    a :class:`Denial`: a reader allowed ``SECRET_A`` at one reference and denied ``SECRET_B`` at
    another (both seeded by the hook).
``injected`` (fixture)
    ``(provider, client)``: a provider given a ready SDK client.
``client_of(provider)`` (method)
    the provider's current SDK client; by default ``provider.client()``.

and these class attributes: ``extra`` (``pip install 'ivsecrets[<extra>]'``), ``sdk_package``
(the distribution a missing extra names), ``sdk_modules`` (the SDK's modules: the first is the one
the plugin imports first, none of their top-level packages may be imported by ``import
ivsecrets``), ``fail_fast_options`` (options with which a call to a stopped server fails within a
second), ``unreachable_message`` and ``denied_message`` (regexes the unreachable and the access
denied errors match) and ``unknown_option``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import pytest

from ivsecrets.api import Secrets
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.errors import (
    AccessDeniedError,
    MissingExtraError,
    StaleSecretError,
    StoreUnavailableError,
)
from ivsecrets.hashing import user_hash
from ivsecrets.provider import Provider, WritableProvider
from ivsecrets.secret import SecretValue
from ivsecrets.testing.contracts import ENV, SECRET_A, SECRET_B, ProviderContract, Seed

__all__ = ["Denial", "Outage", "ProviderFactory", "RemoteProviderContract", "secrets_over"]

WEB = Environment.of("web", "prod")
SIX = tuple(Environment.of(p, w) for w in ("test", "prod") for p in ("web", "ios", "android"))
ProviderFactory = Callable[..., Provider]
Outage = Callable[[], AbstractContextManager[None]]
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


@dataclass(frozen=True)
class Denial:
    """A reader that may read ``allowed_ref`` (holding SECRET_A) but not ``denied_ref`` (SECRET_B).

    A store that cannot scope a permission to one secret (moto checks IAM actions only) gives
    the denied reference a provider of its own, ``denied_provider``, with other credentials.
    """

    provider: Provider
    allowed_ref: str
    denied_ref: str
    denied_provider: Provider | None = None


def secrets_over(
    wanted: Mapping[Environment, tuple[Provider, str]], cache: Mapping[str, float] | None = None
) -> Secrets:
    """``Secrets`` reading each environment's reference through the given (already built) provider.

    Only the environments in ``wanted`` are configured; ``cache`` goes in every store's cache table.
    """
    providers = {provider.name: provider for provider, _ in wanted.values()}
    cache_lines = [f"{key} = {value}" for key, value in (cache or {}).items()]
    lines = [
        "platforms = " + json.dumps(sorted({env.platform.value for env in wanted})),
        "workspaces = " + json.dumps(sorted({env.workspace for env in wanted})),
        f"store = {json.dumps(next(iter(providers)))}",
    ]
    for name, provider in providers.items():
        lines += [f"[stores.{json.dumps(name)}]", f"plugin = {json.dumps(provider.plugin)}"]
        lines += [f"[stores.{json.dumps(name)}.cache]", *cache_lines] if cache_lines else []
    for env, (provider, ref) in wanted.items():
        lines += [
            f"[environments.{env.platform.value}.{env.workspace}]",
            f"store = {json.dumps(provider.name)}",
            f"reference = {json.dumps(ref)}",
        ]
    config = parse_config("\n".join(lines) + "\n", "<RemoteProviderContract>")
    # Only the environments in `wanted` exist, so every configured environment has a provider.
    return Secrets(config, providers=providers)


def _within(seconds: float, call: Callable[[], object]) -> None:
    """Run ``call`` in a thread and fail unless it returns within ``seconds`` (it may deadlock)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as err:  # noqa: BLE001 - reported by the test's thread
            failure.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"did not return within {seconds} s: is a lock taken?"
    if failure:
        raise failure[0]


@contextlib.contextmanager
def _held_elsewhere(locks: list[Any]) -> Iterator[None]:
    """Hold ``locks`` in another thread for the block: a forked child sees them held forever."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        for lock in locks:
            lock.acquire()
        taken.set()
        release.wait()
        for lock in locks:
            lock.release()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(5), "could not take the provider's locks"
    try:
        yield
    finally:
        release.set()
        holder.join(5)


class RemoteProviderContract(ProviderContract):
    """Outages, denials, missing extras, light imports, client resets, options and SDK logs."""

    extra: ClassVar[str] = ""
    sdk_package: ClassVar[str] = ""
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    fail_fast_options: ClassVar[Mapping[str, object]] = {}
    unreachable_message: ClassVar[str | None] = None
    denied_message: ClassVar[str | None] = None

    @pytest.fixture
    def provider(self, provider_factory: ProviderFactory) -> Provider:
        return provider_factory()

    @pytest.fixture(autouse=True)
    def _sdk_installed(self) -> None:
        if self.sdk_modules:
            pytest.importorskip(self.sdk_modules[0])

    def client_of(self, provider: Provider) -> object:
        """The provider's current SDK client (built if it has none)."""
        client: object = cast(Any, provider).client()  # not on the base class
        return client

    # -- outages ---------------------------------------------------------------------------

    def test_outage_serves_stale_then_fails_closed_then_recovers(
        self, provider_factory: ProviderFactory, seed: Seed, outage: Outage
    ) -> None:
        provider = provider_factory(**self.fail_fast_options)
        cache = {"ttl": 0.2, "max_stale": 1.5, "backoff_base": 0.05, "backoff_max": 0.2}
        with closing(secrets_over({WEB: (provider, seed(SECRET_A))}, cache)) as secrets:
            hasher = secrets.hasher("web", "prod")
            expected = user_hash(SECRET_A, user_id="42")
            assert hasher.user_hash(user_id="42") == expected
            loaded = time.monotonic()
            with outage():
                while time.monotonic() < loaded + 1.0:  # within ttl + max_stale: still served
                    assert hasher.user_hash(user_id="42") == expected
                    time.sleep(0.05)
                deadline = time.monotonic() + 5
                with pytest.raises(StaleSecretError) as info:
                    while time.monotonic() < deadline:
                        hasher.user_hash(user_id="42")
                        time.sleep(0.05)
                assert isinstance(info.value, StoreUnavailableError)
                assert info.value.environment == WEB
                assert info.value.store == provider.name
            deadline = time.monotonic() + 5
            while True:  # the same process recovers once the server is back
                try:
                    assert hasher.user_hash(user_id="42") == expected
                    break
                except StoreUnavailableError:
                    assert time.monotonic() < deadline, "did not recover after the outage"
                    time.sleep(0.05)
            assert secrets.stats()[provider.name]["stale_served"] > 0

    def test_unreachable_store_is_unavailable_fast(
        self, provider_factory: ProviderFactory, seed: Seed, outage: Outage
    ) -> None:
        provider = provider_factory(**self.fail_fast_options)
        ref = seed(SECRET_A)
        wanted = {env: f"{ref}-{i}" for i, env in enumerate(SIX)}
        wanted[ENV] = ref
        with outage():
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError, match=self.unreachable_message) as info:
                provider.load(ENV, ref)
            assert (info.value.store, info.value.reference) == (provider.name, ref)
            assert info.value.environment == ENV
            results = provider.load_many(wanted)
            assert all(isinstance(err, StoreUnavailableError) for err in results.values())
            assert time.monotonic() - started < 1.5  # one failed call each, not retries

    # -- permissions -----------------------------------------------------------------------

    def test_denied_environment_fails_while_others_keep_working(self, denied_setup: Denial) -> None:
        reader = denied_setup.provider
        denier = denied_setup.denied_provider or reader
        allowed, denied = denied_setup.allowed_ref, denied_setup.denied_ref
        wanted = {WEB: (reader, allowed), ENV: (denier, denied)}
        with closing(secrets_over(wanted)) as secrets:
            web = secrets.hasher("web", "prod")
            assert web.user_hash(user_id="42") == user_hash(SECRET_A, user_id="42")
            with pytest.raises(AccessDeniedError, match=self.denied_message) as info:
                secrets.hasher(ENV.platform, ENV.workspace).user_hash(user_id="42")
            assert info.value.environment == ENV
            assert (info.value.store, info.value.reference) == (denier.name, denied)
            assert f"reference '{denied}'" in str(info.value)
            assert SECRET_A not in str(info.value) and SECRET_B not in str(info.value)
            assert web.user_hash(user_id="7") == user_hash(SECRET_A, user_id="7")
        with pytest.raises(AccessDeniedError):
            denier.load(ENV, denied)
        both = denier is reader
        results = reader.load_many({WEB: allowed, ENV: denied} if both else {WEB: allowed})
        ok = results[WEB]
        assert not isinstance(ok, Exception) and ok.value.reveal() == SECRET_A.encode()
        if both:
            assert isinstance(results[ENV], AccessDeniedError)

    # -- the SDK -----------------------------------------------------------------------------

    def test_missing_sdk_names_the_extra(
        self, provider_factory: ProviderFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, self.sdk_modules[0], None)
        provider = provider_factory()  # building a provider needs no SDK yet
        install = rf"pip install 'ivsecrets\[{self.extra}\]'"
        with pytest.raises(MissingExtraError, match=install) as info:
            provider.load(ENV, "ivsecrets-prod-ios")
        assert (info.value.plugin, info.value.extra) == (provider.plugin, self.extra)
        secrets = secrets_over({ENV: (provider_factory(), "ivsecrets-prod-ios")})
        with closing(secrets), pytest.raises(MissingExtraError, match=self.sdk_package):
            secrets.hasher(ENV.platform, ENV.workspace).user_hash(user_id="1")

    def test_importing_ivsecrets_and_the_plugin_imports_no_sdk(self, provider: Provider) -> None:
        packages = sorted({name.split(".")[0] for name in self.sdk_modules})
        code = (
            f"import sys, ivsecrets, {type(provider).__module__}\n"
            "from ivsecrets.provider import load_plugin\n"
            f"load_plugin({provider.plugin!r})\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {packages!r}))\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "[]"

    def test_reset_drops_a_built_client_and_keeps_an_injected_one(
        self,
        provider_factory: ProviderFactory,
        seed: Seed,
        injected: tuple[Provider, object],
    ) -> None:
        ref = seed(SECRET_A)
        built = provider_factory()
        first = self.client_of(built)
        built.reset()
        assert self.client_of(built) is not first
        assert built.load(ENV, ref).value.reveal() == SECRET_A.encode()
        provider, client = injected
        assert self.client_of(provider) is client
        provider.reset()
        assert self.client_of(provider) is client
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()
        assert repr(provider) == f"{type(provider).__name__}(store={provider.name!r})"

    def test_reset_takes_no_lock(self, provider_factory: ProviderFactory, seed: Seed) -> None:
        ref = seed(SECRET_A)
        provider = provider_factory()
        provider.load(ENV, ref)  # the client is built
        # Every lock of the provider and of the ivsecrets objects it holds (its lazy clients, a
        # login), held as a thread of a parent process may have held them at fork(): the child
        # calls reset() and must get a working provider.
        locks = _locks_of(provider)
        assert locks, "the provider has no lock to hold"
        with _held_elsewhere(locks):
            _within(2, provider.reset)
            _within(5, lambda: provider.load(ENV, ref))
        assert provider.load(ENV, ref).value.reveal() == SECRET_A.encode()

    def test_sdk_debug_logs_carry_no_secret(
        self, sdk_debug_records: list[logging.LogRecord]
    ) -> None:
        assert sdk_debug_records, "the SDK logged nothing at DEBUG: the scan would prove nothing"
        forms = [
            form
            for secret in (SECRET_A, SECRET_B)
            for form in (secret, base64.b64encode(secret.encode()).decode())
        ]
        for record in sdk_debug_records:
            text = repr(vars(record)) + _message(record)
            assert not [form for form in forms if form in text], record.name

    @pytest.fixture
    def sdk_debug_records(
        self, provider: Provider, seed: Seed
    ) -> Iterator[list[logging.LogRecord]]:
        """Every record logged while the SDK's loggers are at DEBUG during reads and a rotation."""
        handler = _Collector()
        records = handler.records
        names = ["", *sorted({n.split(".")[0] for n in self.sdk_modules}), *provider.sdk_loggers]
        loggers = [logging.getLogger(name or None) for name in dict.fromkeys(names)]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
        try:
            ref = seed(SECRET_A)
            provider.load_many({ENV: ref})
            current = provider.load(ENV, ref)
            if isinstance(provider, WritableProvider):
                staged = provider.stage(ref, SecretValue(SECRET_B))
                assert staged.version is not None
                provider.promote(
                    ref, pending_version=staged.version, expected_current_version=current.version
                )
                assert provider.load(ENV, ref).value.reveal() == SECRET_B.encode()
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.removeHandler(handler)
                logger.setLevel(level)
        # A record reaching several of these loggers was appended once per logger.
        yield list({id(record): record for record in records}.values())


def _locks_of(provider: Provider) -> list[Any]:
    """The locks held in attributes of ``provider`` and of the ivsecrets objects it holds."""
    owners: list[object] = [provider, *provider._clients]
    owners += [
        value
        for value in vars(provider).values()
        if type(value).__module__.startswith("ivsecrets.") and hasattr(value, "__dict__")
    ]
    found = [v for owner in owners for v in vars(owner).values() if isinstance(v, _LOCK_TYPES)]
    return list({id(lock): lock for lock in found}.values())


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: the raw parts
        return f"{record.msg!r} {record.args!r}"
