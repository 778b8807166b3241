"""The provider base classes every store plugin extends, and plugin discovery.

``Provider`` reads; ``WritableProvider(Provider)`` also rotates, and its rotation steps are
abstract, so which stores can rotate is visible to a reader and to mypy. The base classes own what
all stores share:

- declared ``options`` (type-checked; an unknown option is a ConfigError naming the file, the key,
  the valid options and the closest match), from which ``ivsecrets init`` writes its template;
- the lazily built SDK client (:class:`LazyClient`): built once however many threads ask, an
  injected client kept as it is, dropped in a forked child without taking a lock;
- the SDK loggers whose debug records could carry a secret, filtered once per process;
- ``#json_key`` extraction, whitespace and emptiness checks, error translation at the boundary,
  per-environment batch results and the rotation protocol's shape.

A plugin implements only the store-specific calls: ``_fetch`` (and ``_fetch_current_many`` where
the store has a batch read), ``_translate``, and for a writable store ``_stage``, ``_promote``,
``_rollback``, ``_retire_previous`` and ``_discard_pending``.

Plugins are found through the ``ivsecrets.providers`` entry-point group; a plugin module must not
import its SDK at import time, so ``import ivsecrets`` stays light.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from time import monotonic
from typing import Any, ClassVar, Generic, TypeVar

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConcurrentRotationError,
    ConfigError,
    InvalidSecretError,
    IVSecretsError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
    quoted,
)
from ivsecrets.secret import Secret, SecretValue, VersionInfo

__all__ = [
    "ENTRY_POINT_GROUP",
    "Fetched",
    "JournalEntry",
    "LazyClient",
    "Lease",
    "LeaseHeldError",
    "Option",
    "Provider",
    "Reference",
    "RotationRecord",
    "WritableProvider",
    "config_template",
    "installed_plugins",
    "load_plugin",
]

ENTRY_POINT_GROUP = "ivsecrets.providers"
# (store, reference, length) already warned about surrounding whitespace: once per process is
# enough to be seen, and a refresh every few minutes must not flood the log.
_warned_whitespace: set[tuple[str, str, int]] = set()
log = logging.getLogger("ivsecrets")
C = TypeVar("C")
T = TypeVar("T")


@dataclass(frozen=True)
class Option:
    """One option a plugin accepts in ``[stores.NAME]``: its type, default and documentation.

    ``example`` is the TOML value ``ivsecrets init`` shows; ``required`` options are written
    active, the others commented out (so environment variables the SDK reads keep working).
    """

    kind: type
    default: Any
    help: str
    example: str | None = None
    required: bool = False

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's type (an int for a float); TypeError otherwise."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) is not (self.kind is bool):
            raise TypeError(f"must be a {self.kind.__name__}, got {type(value).__name__}")
        return value


class LazyClient(Generic[C]):
    """An SDK client built on first use, once however many threads ask at the same time.

    An injected client is used as it is and survives :meth:`reset`. ``reset`` runs in a forked
    child (through the cache's at-fork handler) and so never takes the lock: a thread of the
    parent may have held it at ``fork()``, and that thread does not exist in the child.

    A build that fails (no credentials found, say: discovery can take seconds) is not tried
    again for :attr:`failure_backoff` seconds: the same error is raised at once, so six
    environments of one store pay for one discovery, not six.
    """

    failure_backoff: ClassVar[float] = 10.0

    def __init__(
        self,
        build: Callable[[], C],
        *,
        injected: C | None = None,
        close: Callable[[C], None] | None = None,
    ) -> None:
        self._build = build
        self._injected = injected
        self._close = close
        self._client: C | None = injected
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._failed: tuple[Exception, float] | None = None

    def get(self) -> C:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client, self._pid = self._build_once(), os.getpid()
                client = self._client
        return client

    def _build_once(self) -> C:
        failed = self._failed
        if failed is not None and monotonic() < failed[1]:
            raise failed[0].with_traceback(None)
        try:
            client = self._build()
        except Exception as err:
            self._failed = (err, monotonic() + self.failure_backoff)
            raise
        self._failed = None
        return client

    def reset(self) -> None:
        """Drop a client built here (closing it if this process built it); keep an injected one."""
        self._lock = threading.Lock()
        self._failed = None
        old, self._client = self._client, self._injected
        # Closing what a parent process built can hang on its inherited sockets: never in a child.
        if old is None or old is self._injected or self._close is None:
            return
        if self._pid == os.getpid():
            self._close(old)


class _SdkRedaction(logging.Filter):
    """Applies one plugin's rule to the records of its SDK's loggers (installed once per class)."""

    def __init__(self, rule: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self.rule = rule

    def filter(self, record: logging.LogRecord) -> bool:
        return self.rule(record)


_REDACTIONS: dict[type, _SdkRedaction] = {}


@dataclass(frozen=True)
class Reference:
    """Where a secret is in a store: a store-specific name plus an optional key inside it.

    >>> Reference.parse("intercom/prod#ios")
    Reference(name='intercom/prod', key='ios')
    """

    name: str
    key: str | None = None

    @classmethod
    def parse(cls, text: str) -> Reference:
        name, sep, key = text.rpartition("#")
        return cls(name, key) if sep and name and key else cls(text)

    def __str__(self) -> str:
        return f"{self.name}#{self.key}" if self.key else self.name


@dataclass(frozen=True)
class Fetched:
    """What a plugin returns for one version of a secret, before the base class checks it.

    ``value`` is the plain secret (or the document holding it): left out of the repr, so a
    traceback that shows locals shows no secret.
    """

    value: str | bytes = field(repr=False)
    version: str | None = None
    created_at: datetime | None = None
    intercom_secret_id: str | None = None
    stage: Stage = Stage.current
    metadata: Mapping[str, str] = field(default_factory=dict)


class Provider(ABC):
    """Base class of store plugins that read. Thread-safe as long as the plugin's client is.

    Subclasses set ``plugin`` and ``options`` and implement ``_fetch``; everything public lives
    here. Raises ConfigError at construction for an unknown or mistyped option.
    """

    plugin: ClassVar[str] = ""
    #: The options ``[stores.NAME]`` may set for this plugin (besides ``plugin`` and ``cache``).
    options: ClassVar[Mapping[str, Option]] = {}
    #: True when the plugin resolves ``Reference.key`` itself (e.g. a Vault KV field);
    #: otherwise the base class reads the key from a JSON object payload.
    resolves_key: ClassVar[bool] = False
    #: Loggers of the store's SDK whose records pass through :meth:`sdk_record_allowed`.
    sdk_loggers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, store: StoreConfig) -> None:
        self.store = store
        self.name = store.name
        self.settings = self._checked_options(store)
        self._clients: list[LazyClient[Any]] = []
        #: The overall time budget of the command using this store (:meth:`set_deadline`).
        self.budget: float | None = None
        self._deadline: float | None = None
        self.redact_sdk_logs()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.name!r})"

    # -- options --------------------------------------------------------------------------------

    @classmethod
    def _checked_options(cls, store: StoreConfig) -> dict[str, Any]:
        settings = {name: option.default for name, option in cls.options.items()}
        for name, value in store.options.items():
            option = cls.options.get(name)
            if option is None:
                valid = sorted(cls.options)
                close = _closest(name, valid)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise store.error(
                    name,
                    f"unknown option for the '{cls.plugin}' store",
                    fix=hint + "valid options: " + (", ".join(valid) or "none"),
                )
            try:
                settings[name] = option.check(value)
            except TypeError as err:
                raise store.error(name, str(err), fix=f"{name} = {option.example}") from None
        return settings

    def option(self, name: str) -> Any:
        """The value of a declared option: from ``[stores.NAME]``, else its default."""
        return self.settings[name]

    @classmethod
    def init_template(cls) -> str:
        """The ``[stores.NAME]`` lines ``ivsecrets init`` writes for this plugin."""
        lines = []
        for name, option in cls.options.items():
            if option.example is None:
                continue
            line = f"{name} = {option.example}"
            lines.append(
                f"{line:<34}# {option.help}" if option.required else f"# {line:<32}# {option.help}"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    # -- the overall deadline -------------------------------------------------------------------

    def set_deadline(self, seconds: float | None) -> None:
        """Give every read from now on ``seconds`` in all (None: no overall limit, the default).

        Call it before the first read (a command's ``--timeout``): plugins cap their SDK's
        per-attempt timeouts with :attr:`budget` when they build their client, and :meth:`load`
        and :meth:`load_many` stop waiting when the deadline passes, with StoreUnavailableError,
        whatever the SDK is doing (retries, credential discovery, a server that never answers).
        """
        self.budget = seconds
        self._deadline = None if seconds is None else monotonic() + seconds

    def capped(self, seconds: float) -> float:
        """``seconds``, or less when the overall budget is smaller (for SDK timeouts)."""
        return seconds if self.budget is None else min(seconds, self.budget)

    def _within_deadline(self, call: Callable[[], T]) -> T:
        """``call()``, given up on (in a daemon thread left behind) when the deadline passes."""
        deadline = self._deadline
        if deadline is None:
            return call()
        outcome: list[Any] = []

        def run() -> None:
            try:
                outcome.append((True, call()))
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                outcome.append((False, err))

        worker = threading.Thread(target=run, name=f"ivsecrets-{self.name}", daemon=True)
        left = deadline - monotonic()
        if left > 0:
            worker.start()
            worker.join(left)
        if not outcome:
            raise StoreUnavailableError(
                f"the store did not answer within the overall timeout of {self.budget:g} s "
                "(--timeout)",
                store=self.name,
            )
        ok, result = outcome.pop()
        if not ok:
            raise result
        return result  # type: ignore[no-any-return]

    # -- the SDK client and its logs ---------------------------------------------------------------

    def lazy_client(
        self,
        build: Callable[[], C],
        *,
        injected: C | None = None,
        close: Callable[[C], None] | None = None,
    ) -> LazyClient[C]:
        """A client built by ``build`` on first use; :meth:`reset` drops it."""
        client = LazyClient(build, injected=injected, close=close)
        self._clients.append(client)
        return client

    def reset(self) -> None:
        """Drop clients and sessions (called in a forked child and on close). Takes no lock."""
        for client in self._clients:
            client.reset()

    @staticmethod
    def sdk_record_allowed(record: logging.LogRecord) -> bool:
        """Whether a record of one of ``sdk_loggers`` may be logged (it may also be redacted)."""
        return True

    @classmethod
    def redact_sdk_logs(cls) -> None:
        """Filter the SDK loggers through :meth:`sdk_record_allowed` (idempotent, process-wide)."""
        if not cls.sdk_loggers or cls in _REDACTIONS:
            return
        redaction = _REDACTIONS.setdefault(cls, _SdkRedaction(cls.sdk_record_allowed))
        for name in cls.sdk_loggers:
            logging.getLogger(name).addFilter(redaction)

    # -- what a plugin implements -------------------------------------------------------------

    @abstractmethod
    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        """Read one version (by stage, or by version id when given). Raise on failure."""

    def _fetch_current_many(
        self, refs: Sequence[Reference]
    ) -> Mapping[Reference, Fetched | Exception]:
        """Read the current version of several secrets, one call each; stores with a batch API
        override this. Once the store proves unreachable or throttling, the rest share that error
        instead of waiting out a timeout each."""
        results: dict[Reference, Fetched | Exception] = {}
        down: Exception | None = None
        for ref in refs:
            if down is not None:
                results[ref] = down
                continue
            try:
                results[ref] = self._fetch(ref, Stage.current, None)
            except Exception as err:  # noqa: BLE001 - reported per reference, translated later
                results[ref] = err
                translated = err if isinstance(err, StoreError) else self._translate(err)
                if translated is None or isinstance(translated, StoreUnavailableError):
                    down = err
        return results

    def _translate(self, err: Exception) -> StoreError | None:
        """Map an SDK exception to an ivsecrets error; None means "store unavailable"."""
        return None

    def create_hint(self, reference: str) -> str:
        """How to create the secret at ``reference`` when it does not exist yet: what
        ``ivsecrets verify`` tells the user to do. Plugins say it in their store's own terms;
        never a command line that carries the value itself."""
        return "create it in the store, or fix the reference"

    # -- reading --------------------------------------------------------------------------------

    def load(
        self,
        environment: Environment | None,
        reference: str,
        stage: Stage = Stage.current,
        version: str | None = None,
    ) -> Secret:
        """Read one version of one secret, checked. Raises a StoreError subclass."""
        ref = Reference.parse(reference)
        try:
            fetched = self._within_deadline(lambda: self._fetch(ref, stage, version))
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, environment) from err
        return self._checked(fetched, ref, environment, stage)

    def load_many(
        self, wanted: Mapping[Environment, str]
    ) -> dict[Environment, Secret | StoreError]:
        """Read the current secret of several environments in as few calls as the store allows.

        One environment's failure does not fail the others: it comes back as its error.
        """
        refs = {env: Reference.parse(text) for env, text in wanted.items()}
        unique = list(dict.fromkeys(refs.values()))
        try:
            fetched = self._within_deadline(lambda: self._fetch_current_many(unique))
        except Exception as err:  # noqa: BLE001 - the whole batch failed
            return {env: self._as_store_error(err, ref, env) for env, ref in refs.items()}
        results: dict[Environment, Secret | StoreError] = {}
        for env, ref in refs.items():
            item = fetched.get(ref)
            if item is None:
                item = SecretNotFoundError("the store returned nothing for this reference")
            try:
                if isinstance(item, Exception):
                    raise self._as_store_error(item, ref, env) from item
                results[env] = self._checked(item, ref, env, Stage.current)
            except StoreError as err:
                results[env] = err
        return results

    def batches_serving(self) -> bool:
        """Whether reading several secrets costs about what reading one does (a batch API, or a
        local store). The cache then loads every cold environment of the store at once;
        otherwise only the environment asked for (a secret read along would cost a call of its
        own, for an environment perhaps never used). Remote stores that read one secret per call
        return False."""
        return True

    def serve_many(
        self, wanted: Mapping[Environment, str]
    ) -> dict[Environment, Secret | StoreError]:
        """The cache's cold load of several environments: ``load_many`` unless the store has a
        read that costs a fleet less (see docs/stores/). Same contract as ``load_many``."""
        return self.load_many(wanted)

    def refresh_many(
        self, wanted: Mapping[Environment, str], current: Mapping[Environment, Secret]
    ) -> dict[Environment, Secret | StoreError]:
        """The cache's refresh of environments it holds (``current``: what it serves now).

        ``load_many`` by default; a store with a cheap version check may return the ``current``
        secret itself when its version has not changed. Same contract as ``load_many``.
        """
        return self.load_many(wanted)

    def versions(
        self,
        environment: Environment | None,
        reference: str,
        current: Secret | None = None,
    ) -> list[VersionInfo]:
        """The current, previous and pending versions the store holds (values never included).

        ``current``: the current secret if the caller has just loaded it (not read again).
        """
        found = []
        for stage in Stage:
            try:
                if stage is Stage.current and current is not None:
                    secret = current
                else:
                    secret = self.load(environment, reference, stage)
            except SecretNotFoundError:
                continue
            except AccessDeniedError:
                if stage is Stage.current:
                    raise
                continue  # a reader's policy may rightly exclude the staged value
            found.append(
                VersionInfo(
                    secret.version,
                    (stage,),
                    secret.fingerprint,
                    secret.created_at,
                    secret.intercom_secret_id,
                )
            )
        return found

    def _as_store_error(
        self, err: Exception, ref: Reference, environment: Environment | None
    ) -> StoreError:
        if isinstance(err, StoreError):
            translated: StoreError = err
        elif isinstance(err, IVSecretsError):
            raise err
        else:
            translated = self._translate(err) or StoreUnavailableError(
                f"the store failed: {type(err).__name__}"
            )
        return translated.located(store=self.name, reference=str(ref), environment=environment)

    def _checked(
        self, fetched: Fetched, ref: Reference, environment: Environment | None, stage: Stage
    ) -> Secret:
        def invalid(message: str) -> InvalidSecretError:
            return InvalidSecretError(
                message, store=self.name, reference=str(ref), environment=environment
            )

        key = ref.key if ref.key is not None and not self.resolves_key else None
        value, stripped_from = _secret_value(fetched.value, key, invalid)
        seen = (self.name, str(ref), stripped_from)
        if stripped_from and seen not in _warned_whitespace:
            _warned_whitespace.add(seen)
            # A trailing newline from `echo > file` is the classic cause of hmac_mismatch. Strip
            # it, but loudly: the hash must never silently change under the operator's feet.
            log.warning(
                "stripped surrounding whitespace from the secret of %s "
                "(store '%s', reference '%s'); fix the stored value",
                environment or "?",
                self.name,
                ref,
            )
        return Secret(
            value=value,
            store=self.name,
            reference=str(ref),
            environment=environment,
            stage=fetched.stage if fetched.stage is not Stage.current else stage,
            version=fetched.version,
            created_at=fetched.created_at,
            intercom_secret_id=fetched.intercom_secret_id,
            metadata=dict(fetched.metadata),
            had_whitespace=stripped_from > 0,
        )


@dataclass(frozen=True)
class Lease:
    """Who may rotate an environment now: a run id, what it does and until when."""

    run: str
    action: str
    step: str
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


@dataclass(frozen=True)
class JournalEntry:
    """An external effect a run announced before making it: "run R creates Intercom secret N"
    (``intercom_id`` once known). A holder of the lease resolves the entries of other runs."""

    run: str
    name: str
    intercom_id: str | None = None


@dataclass(frozen=True)
class RotationRecord:
    """What a store keeps beside one secret for its rotations, written compare-and-set:
    the lease, the journal of intent, and when each version became (and stopped being) current.
    """

    lease: Lease | None = None
    journal: tuple[JournalEntry, ...] = ()
    since: Mapping[str, datetime] = field(default_factory=dict)
    demoted: Mapping[str, datetime] = field(default_factory=dict)

    def to_json(self) -> str:
        def times(m: Mapping[str, datetime]) -> dict[str, str]:
            return {k: v.isoformat() for k, v in m.items()}

        lease = self.lease
        return json.dumps(
            {
                "v": 1,
                "lease": None
                if lease is None
                else {
                    "run": lease.run,
                    "action": lease.action,
                    "step": lease.step,
                    "expires": lease.expires.isoformat(),
                },
                "journal": [
                    {"run": e.run, "name": e.name, "intercom_id": e.intercom_id}
                    for e in self.journal
                ],
                "since": times(self.since),
                "demoted": times(self.demoted),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> RotationRecord:
        """The record ``text`` holds; an empty record for None. StoreError if unreadable."""
        if not text:
            return cls()
        try:
            doc = json.loads(text)
            raw = doc.get("lease")
            lease = (
                None
                if raw is None
                else Lease(
                    str(raw["run"]),
                    str(raw["action"]),
                    str(raw["step"]),
                    _aware(datetime.fromisoformat(raw["expires"])),
                )
            )
            journal = tuple(
                JournalEntry(str(e["run"]), str(e["name"]), e.get("intercom_id") or None)
                for e in doc.get("journal", [])
            )
            since = {k: _aware(datetime.fromisoformat(v)) for k, v in doc["since"].items()}
            demoted = {k: _aware(datetime.fromisoformat(v)) for k, v in doc["demoted"].items()}
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise StoreError(
                f"the rotation record kept beside the secret is unreadable ({type(err).__name__})"
            ) from None
        return cls(lease, journal, since, demoted)


def _back_off(attempt: int) -> None:
    """A short random pause after a lost compare-and-set, so racing writers do not collide again
    in step (a store that lets two first writes both land makes both back off)."""
    import random
    import time

    time.sleep(random.uniform(0, 0.02 * attempt))  # jitter, not a secret


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class LeaseHeldError(ConcurrentRotationError):
    """Another run holds the rotation lease of this secret (``lease`` says who and until when)."""

    def __init__(self, message: str, lease: Lease) -> None:
        super().__init__(message)
        self.lease = lease


class WritableProvider(Provider):
    """Base class of store plugins that can rotate: stage, promote, roll back, retire, discard.

    Every write is idempotent and compare-and-set, so an interrupted rotation can be re-run:
    ``stage()`` with the same value returns the version already staged; ``promote()`` succeeds if
    the pending version is already current; a concurrent writer makes the loser raise
    ConcurrentRotationError with nothing half-written.

    Beside each secret the store keeps a :class:`RotationRecord` (the rotation lease, the journal
    of intent and the promotion times), read and written through the store's compare-and-set
    primitive: ``_read_record`` returns the record's text and a token, ``_write_record`` writes
    new text only if the record still has that token. The lease protocol is built here on top.
    """

    # -- what a plugin implements -------------------------------------------------------------

    @abstractmethod
    def _read_record(self, ref: Reference) -> tuple[str | None, Any]:
        """The rotation record's text (None if there is none yet) and its compare-and-set token."""

    @abstractmethod
    def _write_record(self, ref: Reference, text: str, token: Any) -> bool:
        """Write the record if it still has ``token``; False when another writer got there."""

    def _stage_versions(
        self, environment: Environment | None, reference: str, current: Secret | None = None
    ) -> list[VersionInfo]:
        """The current, previous and pending versions (plugins with richer metadata override)."""
        return Provider.versions(self, environment, reference, current)

    @abstractmethod
    def _stage(
        self, ref: Reference, value: SecretValue, intercom_secret_id: str | None
    ) -> VersionInfo: ...

    @abstractmethod
    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None: ...

    @abstractmethod
    def _rollback(self, ref: Reference, expected_current_version: str) -> None: ...

    @abstractmethod
    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None: ...

    @abstractmethod
    def _discard_pending(self, ref: Reference, pending_version: str) -> None: ...

    # -- the rotation steps -------------------------------------------------------------------

    def stage(
        self, reference: str, value: SecretValue, *, intercom_secret_id: str | None = None
    ) -> VersionInfo:
        """Store ``value`` as the pending version (not served). Returns its VersionInfo."""
        return self._write(reference, lambda ref: self._stage(ref, value, intercom_secret_id))

    def promote(
        self, reference: str, *, pending_version: str, expected_current_version: str | None
    ) -> None:
        """Make the pending version current and the current one previous, atomically."""
        self._write(
            reference, lambda ref: self._promote(ref, pending_version, expected_current_version)
        )

    def rollback(self, reference: str, *, expected_current_version: str) -> None:
        """Make the previous version current again (the current one becomes previous)."""
        self._write(reference, lambda ref: self._rollback(ref, expected_current_version))

    def retire_previous(self, reference: str, *, expected_previous_version: str) -> None:
        """Stop serving the previous version (after its Intercom secret was deleted)."""
        self._write(reference, lambda ref: self._retire_previous(ref, expected_previous_version))

    def discard_pending(self, reference: str, *, pending_version: str) -> None:
        """Remove the pending stage from ``pending_version`` (abandon a staged rotation)."""
        self._write(reference, lambda ref: self._discard_pending(ref, pending_version))

    # -- the rotation record and its lease ----------------------------------------------------

    def versions(
        self, environment: Environment | None, reference: str, current: Secret | None = None
    ) -> list[VersionInfo]:
        """The store's versions, with when each became current (``current_since``) and stopped
        being current (``demoted_at``) where the rotation record knows it.

        The record is read only when a rotation is under way (a previous or pending version):
        that is when the times matter (the grace period, verify's due date), and a fleet's
        steady-state reads stay one call per secret (``current``: see Provider.versions).
        """
        found = self._stage_versions(environment, reference, current)
        if all(v.stages == (Stage.current,) for v in found):
            return found
        try:
            record = self.read_record(reference)[0]
        except IVSecretsError as err:  # a reader may rightly not see it (or a KV v1 mount,
            # a pinned version, has none): the times are unknown
            log.debug("ivsecrets: no rotation record for %s: %s", reference, err)
            return found
        return [
            replace(
                v,
                current_since=record.since.get(v.version or ""),
                demoted_at=record.demoted.get(v.version or ""),
            )
            for v in found
        ]

    def read_record(self, reference: str) -> tuple[RotationRecord, Any]:
        """The rotation record and its compare-and-set token."""
        text, token = self._write(reference, self._read_record)
        return RotationRecord.from_json(text), token

    def write_record(self, reference: str, record: RotationRecord, token: Any) -> bool:
        """Write ``record`` if the stored one still has ``token`` (False otherwise).

        A write whose answer was lost is settled by reading the record back.
        """
        text = record.to_json()
        try:
            return self._write(reference, lambda ref: self._write_record(ref, text, token))
        except StoreError:
            try:
                again, _ = self._write(reference, self._read_record)
            except StoreError:
                pass
            else:
                if again == text:
                    return True
            raise

    def acquire_lease(
        self, reference: str, *, run: str, action: str, seconds: float, now: datetime
    ) -> tuple[RotationRecord, Lease | None]:
        """Take the rotation lease for ``run``; LeaseHeldError if another run holds it unexpired.

        Returns the record as written and the lease of a dead run taken over (or None).
        """
        for attempt in range(8):
            if attempt:
                _back_off(attempt)
            record, token = self.read_record(reference)
            held = record.lease
            if held is not None and held.run != run and not held.expired(now):
                raise LeaseHeldError(
                    f"another rotation (run {held.run}, {held.action}, step '{held.step}') "
                    f"holds the lease until {held.expires.isoformat(timespec='seconds')}",
                    held,
                )
            lease = Lease(run, action, "acquired", now + timedelta(seconds=seconds))
            mine = replace(record, lease=lease)
            if self.write_record(reference, mine, token):
                taken = held if held is not None and held.run != run else None
                return mine, taken
        raise ConcurrentRotationError("the rotation lease kept changing while taking it")

    def update_record(
        self,
        reference: str,
        *,
        run: str,
        change: Callable[[RotationRecord], RotationRecord],
        step: str | None = None,
        seconds: float | None = None,
        now: datetime | None = None,
    ) -> RotationRecord:
        """Apply ``change`` to the record while ``run`` holds the lease (renewing it when ``step``
        is given); LeaseLostError-like ConcurrentRotationError once another run took it over."""
        for attempt in range(8):
            if attempt:
                _back_off(attempt)
            record, token = self.read_record(reference)
            lease = record.lease
            if lease is None or lease.run != run:
                raise ConcurrentRotationError(
                    "this run no longer holds the rotation lease"
                    + (f" (run {lease.run} took it over)" if lease is not None else "")
                    + ": it stops here and changes nothing more"
                )
            if step is not None and seconds is not None and now is not None:
                lease = replace(lease, step=step, expires=now + timedelta(seconds=seconds))
            updated = replace(change(record), lease=lease)
            if updated == record or self.write_record(reference, updated, token):
                return updated
        raise ConcurrentRotationError("the rotation record kept changing under this run")

    def release_lease(self, reference: str, *, run: str) -> None:
        """Give the lease up (nothing happens if ``run`` no longer holds it)."""
        for attempt in range(8):
            if attempt:
                _back_off(attempt)
            record, token = self.read_record(reference)
            if record.lease is None or record.lease.run != run:
                return
            if self.write_record(reference, replace(record, lease=None), token):
                return

    def _write(self, reference: str, step: Callable[[Reference], T]) -> T:
        ref = Reference.parse(reference)
        try:
            return step(ref)
        except IVSecretsError as err:
            if isinstance(err, StoreError):
                err.located(store=self.name, reference=str(ref))
            raise
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, None) from err


def _secret_value(
    raw: str | bytes, key: str | None, invalid: Callable[[str], InvalidSecretError]
) -> tuple[SecretValue, int]:
    """The checked secret (``raw``, or its ``key`` when given) as a SecretValue, and the length
    of the text it was stripped from (0 when nothing was stripped).

    The plain text lives only in this frame: it is deleted before an error leaves, so a
    traceback that captures locals finds no secret.
    """
    if key is not None:
        try:
            raw = _json_field(raw, key, invalid)
        except InvalidSecretError:
            del raw
            raise
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
    del raw
    stripped = text.strip()
    stripped_from = len(text) if stripped != text else 0
    del text
    if not stripped:
        raise invalid("the secret is empty")
    try:
        encoded: bytes | None = stripped.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        encoded = None  # a lone surrogate, e.g. from a JSON "\ud800" escape: not chained
    del stripped
    if encoded is None:
        raise invalid("the secret is not valid Unicode text (a lone surrogate?)")
    return SecretValue(encoded), stripped_from


def _json_field(
    raw: str | bytes, key: str, invalid: Callable[[str], InvalidSecretError]
) -> str | bytes:
    """The string at ``key`` in the JSON object ``raw``; InvalidSecretError otherwise.

    The error is raised once the document is dropped and outside any ``except`` block: a
    JSONDecodeError keeps the whole document in ``.doc``, so it must not be chained.
    """
    problem = f"the reference asks for key '{key}' but the secret is not a JSON object"
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as err:
        document = None
        if isinstance(err, RecursionError):
            problem = f"the reference asks for key '{key}' but the JSON secret is nested too deeply"
    del raw
    if isinstance(document, dict):
        value = document.get(key)
        if isinstance(value, str):
            return value
        if key not in document:
            problem = f"the JSON secret has no key '{key}' (keys: {', '.join(sorted(document))})"
        else:
            problem = f"key '{key}' of the JSON secret is not a string"
        value = None
    del document
    raise invalid(problem)


def _closest(name: str, valid: Sequence[str]) -> list[str]:
    import difflib  # only on the error path

    return difflib.get_close_matches(name, valid, n=1)


def installed_plugins() -> list[str]:
    """The names of every store plugin installed (the ``ivsecrets.providers`` entry points)."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def config_template(
    plugin: str, *, reference: str | None = None, workspaces: Sequence[str] = ("test", "prod")
) -> str:
    """A commented starting configuration for ``plugin`` (what ``ivsecrets init`` writes).

    The ``[stores.NAME]`` table comes from the plugin's declared options: required ones active,
    the others commented out, so the environment variables the store's SDK reads keep working.
    """
    from ivsecrets.config import DEFAULT_REFERENCES, parse_config

    options = load_plugin(plugin).init_template()
    template = reference or DEFAULT_REFERENCES.get(plugin, "{platform}-{workspace}")
    names = ", ".join(json.dumps(w) for w in workspaces)
    text = f"""# ivsecrets configuration (written by `ivsecrets init --store {plugin}`).
# Check it with `ivsecrets verify`; reference: README.md, "Configuration".

# Every platform x workspace is an environment wired to its own secret.
platforms = ["web", "ios", "android"]
workspaces = [{names}]

# Where every environment's secret is, unless [environments.P.W] says otherwise.
store = "{plugin}"
reference = {json.dumps(template)}   # {{platform}}, {{workspace}}, {{PLATFORM}}, {{WORKSPACE}}

[stores.{plugin}]
plugin = "{plugin}"
{options}
[cache]
ttl = 300          # seconds a loaded secret is served before it is refreshed
max_stale = 3600   # seconds the last good secret is served while the store fails

# Per-workspace Intercom settings (API region and where the API token is).
# [workspace.prod]
# intercom_region = "us"                       # us | eu | au
# intercom_token_env = "IVSECRETS_INTERCOM_TOKEN_PROD"

# Pin each environment to its secret (paste the output of `ivsecrets fingerprint`):
# [environments.ios.prod]
# fingerprint = "ivfp1:..."
# [[environments.ios.prod.known_hashes]]
# user_id = "42"
# user_hash = "..."
"""
    parse_config(text, "<ivsecrets init>")  # never hand out a template the loader would reject
    return text


def load_plugin(name: str) -> type[Provider]:
    """The provider class registered under ``name`` in the ``ivsecrets.providers`` group."""
    from importlib.metadata import entry_points  # costs ~20 ms: only when a store is built

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        installed = installed_plugins()
        close = _closest(name, installed)
        raise ConfigError(
            f"no store plugin named {quoted(name)}",
            fix=(f"did you mean '{close[0]}'? " if close else "")
            + "installed plugins: "
            + ", ".join(installed)
            + "; or install the package that provides it",
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"entry point '{name}' in {ENTRY_POINT_GROUP} is not a Provider subclass")
    return cls
