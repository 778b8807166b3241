"""What a plugin declares and what the base class builds for it: options, the lazy SDK client, and
the filter that keeps secrets out of the SDK's debug logs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["LazyClient", "Option", "SdkRedaction"]

C = TypeVar("C")


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


class SdkRedaction(logging.Filter):
    """Applies one plugin's rule to the records of its SDK's loggers (installed once per class)."""

    def __init__(self, rule: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__()
        self.rule = rule

    def filter(self, record: logging.LogRecord) -> bool:
        return self.rule(record)
