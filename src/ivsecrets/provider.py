"""The provider base class every store plugin extends, and plugin discovery.

The base class owns what all stores share: option validation, ``#json_key`` extraction, whitespace
and emptiness checks, error translation, batching and the rotation protocol's shape. A plugin
implements only the store-specific calls (``_fetch`` and, where the store allows, the ``_stage`` /
``_promote`` / ... writes) and, where it can, ``_fetch_current_many`` for batch loading.

Plugins are found through the ``ivsecrets.providers`` entry-point group; a plugin module must not
import its SDK at import time, so ``import ivsecrets`` stays light.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    InvalidSecretError,
    IVSecretsError,
    RotationError,
    SecretNotFoundError,
    StoreError,
    StoreUnavailableError,
)
from ivsecrets.secret import Secret, SecretValue, VersionInfo

__all__ = ["ENTRY_POINT_GROUP", "Fetched", "Provider", "Reference", "load_plugin"]

ENTRY_POINT_GROUP = "ivsecrets.providers"
# (store, reference, length) already warned about surrounding whitespace: once per process is
# enough to be seen, and a refresh every few minutes must not flood the log.
_warned_whitespace: set[tuple[str, str, int]] = set()
log = logging.getLogger("ivsecrets")
T = TypeVar("T")


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
    """What a plugin returns for one version of a secret, before the base class checks it."""

    value: str | bytes
    version: str | None = None
    created_at: datetime | None = None
    intercom_secret_id: str | None = None
    stage: Stage = Stage.current
    metadata: Mapping[str, str] = field(default_factory=dict)


class Provider(ABC):
    """Base class of store plugins. Thread-safe as long as the plugin's client is.

    Subclasses set ``plugin`` and implement ``_fetch``; everything public lives here.
    """

    plugin: ClassVar[str] = ""
    #: True when the plugin resolves ``Reference.key`` itself (e.g. a Vault KV field);
    #: otherwise the base class reads the key from a JSON object payload.
    resolves_key: ClassVar[bool] = False

    def __init__(self, store: StoreConfig) -> None:
        self.store = store
        self.name = store.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.name!r})"

    # -- what a plugin implements -------------------------------------------------------------

    @abstractmethod
    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        """Read one version (by stage, or by version id when given). Raise on failure."""

    def _fetch_current_many(
        self, refs: Sequence[Reference]
    ) -> Mapping[Reference, Fetched | Exception]:
        """Read the current version of several secrets; stores with a batch API override this."""
        results: dict[Reference, Fetched | Exception] = {}
        for ref in refs:
            try:
                results[ref] = self._fetch(ref, Stage.current, None)
            except Exception as err:  # noqa: BLE001 - reported per reference, translated later
                results[ref] = err
        return results

    def _translate(self, err: Exception) -> StoreError | None:
        """Map an SDK exception to an ivsecrets error; None means "store unavailable"."""
        return None

    def reset(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Drop clients and sessions (called in a forked child and on close)."""

    # -- options --------------------------------------------------------------------------------

    def option(self, name: str, kind: type[T], default: T) -> T:
        """A plugin option from ``[stores.NAME]``, type-checked; ConfigError names file and key."""
        value = self.store.options.get(name, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise self.store.error(name, f"must be a {kind.__name__}, got {type(value).__name__}")
        return value

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
            fetched = self._fetch(ref, stage, version)
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
        try:
            fetched = self._fetch_current_many(list(dict.fromkeys(refs.values())))
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

    def versions(self, environment: Environment | None, reference: str) -> list[VersionInfo]:
        """The current, previous and pending versions the store holds (values never included)."""
        found = []
        for stage in Stage:
            try:
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

        raw = fetched.value
        if ref.key is not None and not self.resolves_key:
            raw = _json_field(raw, ref.key, invalid)
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        stripped = text.strip()
        if not stripped:
            raise invalid("the secret is empty")
        seen = (self.name, str(ref), len(text))
        if stripped != text and seen not in _warned_whitespace:
            _warned_whitespace.add(seen)
            # A trailing newline from `echo > file` is the classic cause of hmac_mismatch. Strip
            # it, but loudly: the hash must never silently change under the operator's feet.
            log.warning(
                "ivsecrets: stripped surrounding whitespace from the secret of %s "
                "(store '%s', reference '%s'); fix the stored value",
                environment or "?",
                self.name,
                ref,
            )
        return Secret(
            value=SecretValue(stripped.encode("utf-8", "surrogateescape")),
            store=self.name,
            reference=str(ref),
            environment=environment,
            stage=fetched.stage if fetched.stage is not Stage.current else stage,
            version=fetched.version,
            created_at=fetched.created_at,
            intercom_secret_id=fetched.intercom_secret_id,
            metadata=dict(fetched.metadata),
            had_whitespace=stripped != text,
        )

    # -- writing, for rotation ------------------------------------------------------------------
    # Every write is idempotent and compare-and-set, so an interrupted rotation can be re-run:
    # stage() with the same value returns the version already staged; promote() succeeds if the
    # pending version is already current; a concurrent writer makes the loser raise
    # ConcurrentRotationError with nothing half-written.

    def stage(
        self, reference: str, value: SecretValue, *, intercom_secret_id: str | None = None
    ) -> VersionInfo:
        """Store ``value`` as the pending version (not served). Returns its VersionInfo."""
        info: VersionInfo = self._write(
            "stage", reference, value=value, intercom_secret_id=intercom_secret_id
        )
        return info

    def promote(
        self, reference: str, *, pending_version: str, expected_current_version: str | None
    ) -> None:
        """Make the pending version current and the current one previous, atomically."""
        self._write(
            "promote",
            reference,
            pending_version=pending_version,
            expected_current_version=expected_current_version,
        )

    def rollback(self, reference: str, *, expected_current_version: str) -> None:
        """Make the previous version current again (the current one becomes previous)."""
        self._write("rollback", reference, expected_current_version=expected_current_version)

    def retire_previous(self, reference: str, *, expected_previous_version: str) -> None:
        """Stop serving the previous version (after its Intercom secret was deleted)."""
        self._write(
            "retire_previous", reference, expected_previous_version=expected_previous_version
        )

    def discard_pending(self, reference: str, *, pending_version: str) -> None:
        """Remove the pending stage from ``pending_version`` (abandon a staged rotation)."""
        self._write("discard_pending", reference, pending_version=pending_version)

    def _write(self, step: str, reference: str, **kwargs: Any) -> Any:
        method = getattr(self, f"_{step}", None)
        if method is None:
            raise RotationError(
                f"store '{self.name}' (plugin '{self.plugin}') is read-only: "
                "it cannot stage or promote secrets"
            )
        ref = Reference.parse(reference)
        try:
            return method(ref, **kwargs)
        except IVSecretsError as err:
            if isinstance(err, StoreError):
                err.located(store=self.name, reference=str(ref))
            raise
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, None) from err


def _json_field(raw: str | bytes, key: str, invalid: Any) -> str | bytes:
    try:
        document = json.loads(raw)
    except ValueError:
        raise invalid(
            f"the reference asks for key '{key}' but the secret is not a JSON object"
        ) from None
    if not isinstance(document, dict) or key not in document:
        keys = ", ".join(sorted(document)) if isinstance(document, dict) else "none"
        raise invalid(f"the JSON secret has no key '{key}' (keys: {keys})")
    value = document[key]
    if not isinstance(value, str):
        raise invalid(f"key '{key}' of the JSON secret is not a string")
    return value


def load_plugin(name: str) -> type[Provider]:
    """The provider class registered under ``name`` in the ``ivsecrets.providers`` group."""
    from importlib.metadata import entry_points  # costs ~20 ms: only when a store is built

    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        installed = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
        raise ConfigError(
            f"no store plugin named '{name}'",
            fix="use one of: " + ", ".join(installed) + ", or install the package that provides it",
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError(f"entry point '{name}' in {ENTRY_POINT_GROUP} is not a Provider subclass")
    return cls
