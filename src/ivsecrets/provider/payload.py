"""Payload checks: what a store returned becomes a checked :class:`Secret` (a ``#json_key``
extracted, surrounding whitespace stripped loudly, an empty or non-text value refused), with the
plain text kept out of every frame an error leaves."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import InvalidSecretError
from ivsecrets.secret import Secret, SecretValue

__all__ = ["Fetched", "Reference", "checked_secret"]

log = logging.getLogger("ivsecrets")
# (store, reference, length) already warned about surrounding whitespace: once per process is
# enough to be seen, and a refresh every few minutes must not flood the log.
_warned_whitespace: set[tuple[str, str, int]] = set()


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


def checked_secret(
    fetched: Fetched,
    ref: Reference,
    *,
    store: str,
    environment: Environment | None,
    stage: Stage,
    resolves_key: bool,
) -> Secret:
    """``fetched`` as a checked Secret of ``store``; InvalidSecretError if it cannot be one.

    ``resolves_key``: the plugin already read ``ref.key`` (a Vault KV field); otherwise the key is
    read here from a JSON object payload.
    """

    def invalid(message: str) -> InvalidSecretError:
        return InvalidSecretError(message, store=store, reference=str(ref), environment=environment)

    key = ref.key if ref.key is not None and not resolves_key else None
    value, stripped_from = _secret_value(fetched.value, key, invalid)
    seen = (store, str(ref), stripped_from)
    if stripped_from and seen not in _warned_whitespace:
        _warned_whitespace.add(seen)
        # A trailing newline from `echo > file` is the classic cause of hmac_mismatch. Strip
        # it, but loudly: the hash must never silently change under the operator's feet.
        log.warning(
            "stripped surrounding whitespace from the secret of %s "
            "(store '%s', reference '%s'); fix the stored value",
            environment or "?",
            store,
            ref,
        )
    return Secret(
        value=value,
        store=store,
        reference=str(ref),
        environment=environment,
        stage=fetched.stage if fetched.stage is not Stage.current else stage,
        version=fetched.version,
        created_at=fetched.created_at,
        intercom_secret_id=fetched.intercom_secret_id,
        metadata=dict(fetched.metadata),
        had_whitespace=stripped_from > 0,
    )


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
