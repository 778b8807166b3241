"""The read base of every store plugin: :class:`Provider`.

The base class owns what all stores share: declared ``options`` (type-checked and held to their
declared choices, bounds and pattern, and credential-bearing ones to the credential policy of
:mod:`.credentials`; an unknown option is a ConfigError naming the file, the key,
the valid options and the closest match), the lazily built SDK client, the SDK log filter, the
overall deadline, error translation at the boundary, checked payloads and per-environment batch
results. A plugin implements only ``_fetch`` (and
``_fetch_current_many`` where the store has a batch read) and ``_translate``.
"""

from __future__ import annotations

import errno
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import Any, ClassVar, TypeVar

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    IVSecretsError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from ivsecrets.provider.credentials import declares_escape
from ivsecrets.provider.deadline import call_within
from ivsecrets.provider.options import LazyClient, Option, SdkRedaction, checked_settings
from ivsecrets.provider.payload import Fetched, Reference, checked_secret
from ivsecrets.secret import Secret, VersionInfo

__all__ = ["Provider"]

C = TypeVar("C")
T = TypeVar("T")
_REDACTIONS: dict[type, SdkRedaction] = {}


class Provider(ABC):
    """Base class of store plugins that read. Thread-safe as long as the plugin's client is.

    Subclasses set ``plugin``, ``options`` and ``default_reference`` and implement ``_fetch``;
    everything public lives here. Raises ConfigError at construction for an unknown or mistyped
    option, or a value outside what the option declares (choices, bounds, pattern).
    """

    plugin: ClassVar[str] = ""
    #: The reference template an environment of this store uses when the configuration names
    #: none (``{platform}``, ``{workspace}``; upper-case for upper-cased names), e.g.
    #: ``"ivsecrets-{workspace}-{platform}"``; None: the configuration must name one. The
    #: Terraform modules create secrets under the built-in stores' templates.
    default_reference: ClassVar[str | None] = None
    #: The options ``[stores.NAME]`` may set for this plugin (besides ``plugin`` and ``cache``).
    options: ClassVar[Mapping[str, Option]] = {}
    #: True when the plugin resolves ``Reference.key`` itself (e.g. a Vault KV field);
    #: otherwise the base class reads the key from a JSON object payload.
    resolves_key: ClassVar[bool] = False
    local: ClassVar[bool] = False  #: files on this machine: failures need no network hint
    #: Loggers of the store's SDK whose records pass through :meth:`sdk_record_allowed`.
    sdk_loggers: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declares_escape(cls.__name__, cls.options)  # a plugin's mistake shows at definition

    def __init__(self, store: StoreConfig) -> None:
        self.store = store
        self.name = store.name
        self.settings = checked_settings(store, self.options, self.plugin)
        self._clients: list[LazyClient[Any]] = []
        #: The overall time budget of the command using this store (:meth:`set_deadline`).
        self.budget: float | None = None
        self._deadline: float | None = None
        self.redact_sdk_logs()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.name!r})"

    # -- options --------------------------------------------------------------------------------

    def option(self, name: str) -> Any:
        """The value of a declared option: from ``[stores.NAME]``, else its default."""
        return self.settings[name]

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
        """``call()``, given up on when the overall deadline passes (StoreUnavailableError)."""
        deadline = self._deadline
        return call() if deadline is None else call_within(call, deadline, self.budget, self.name)

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
        redaction = _REDACTIONS.setdefault(cls, SdkRedaction(cls.sdk_record_allowed))
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
                    down = err if _local_file(err) is None else None  # one file is no outage
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

    def versions_many(
        self, wanted: Mapping[Environment, tuple[str, Secret | None]]
    ) -> dict[Environment, list[VersionInfo] | StoreError]:
        """``versions`` of several environments ({env: (reference, current)}), concurrently;
        stores that list many secrets' versions in one call override this (``verify``)."""

        def one(env: Environment) -> list[VersionInfo] | StoreError:
            try:
                return self.versions(env, *wanted[env])
            except StoreError as err:
                return err

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(wanted)))) as pool:
            return dict(zip(wanted, pool.map(one, wanted), strict=True))

    def _as_store_error(
        self, err: Exception, ref: Reference, environment: Environment | None
    ) -> StoreError:
        if isinstance(err, StoreError):
            translated: StoreError = err
        elif isinstance(err, IVSecretsError):
            raise err
        else:
            translated = self._translate(err) or _untranslated(err)
            translated.path = translated.path or _local_file(err)
        return translated.located(store=self.name, reference=str(ref), environment=environment)

    def _checked(
        self, fetched: Fetched, ref: Reference, environment: Environment | None, stage: Stage
    ) -> Secret:
        return checked_secret(
            fetched,
            ref,
            store=self.name,
            environment=environment,
            stage=stage,
            resolves_key=self.resolves_key,
        )


def _local_file(err: Exception) -> str | None:
    """The file on this machine ``err`` is about: an OSError naming one, or pathlib's symlink
    loop (a RuntimeError before Python 3.13, raised while handling the OSError). A network
    error (``ConnectionRefusedError``...) names no file."""
    if isinstance(err, RuntimeError) and isinstance(err.__context__, OSError):
        err = err.__context__
    if isinstance(err, OSError) and err.filename is not None:
        return str(err.filename)
    return None


def _untranslated(err: Exception) -> StoreError:
    """An error the plugin did not translate: what a failure about a file on this machine is,
    naming the file; else that the store failed, named by the exception's type."""
    path = _local_file(err)
    if path is None:
        return StoreUnavailableError(f"the store failed: {type(err).__name__}")
    cause = err.__context__ if isinstance(err, RuntimeError) else err
    code = cause.errno if isinstance(cause, OSError) else None
    if isinstance(cause, PermissionError):
        return AccessDeniedError(f"permission denied reading {path}: this process's user may not")
    if code == errno.ELOOP:
        return StoreUnavailableError(
            f"{path} is a loop of symbolic links (one points back to another); fix the link"
        )
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else type(cause)
    return StoreUnavailableError(f"cannot read {path}: {reason}")
