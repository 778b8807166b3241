"""What a plugin declares and what the base class builds for it: options, the lazy SDK client, and
the filter that keeps secrets out of the SDK's debug logs."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ivsecrets.errors import closest, quoted
from ivsecrets.provider.credentials import (
    CREDENTIAL_KINDS,
    check_credentials,
    credential_problem,
)

if TYPE_CHECKING:
    from ivsecrets.config import StoreConfig

__all__ = [
    "ALLOW_CUSTOM_CREDENTIALS",
    "LazyClient",
    "Option",
    "SdkRedaction",
    "checked_settings",
    "init_template",
]

C = TypeVar("C")


@dataclass(frozen=True)
class Option:
    """One option a plugin accepts in ``[stores.NAME]``: its type, default, documentation and the
    values it allows.

    ``example`` is the TOML value ``ivsecrets init`` shows; ``required`` options are written
    active, the others commented out (so environment variables the SDK reads keep working).

    Constraints, checked by :meth:`check` when the configuration sets the option (a default is
    the plugin's own choice and is not checked):

    - ``choices``: the allowed values (a wrong one's fix lists them all); ``what`` names the
      value in the message, as in "unknown auth method 'ldap'";
    - ``minimum`` / ``maximum``: bounds of a number, inclusive; ``exclusive_minimum`` makes the
      minimum itself invalid (a timeout: ``minimum=0, exclusive_minimum=True``), as in JSON
      Schema draft 4;
    - ``pattern``: a regular expression the whole of a string value must match.

    ``credential`` marks an option that bears a credential: ``"url"`` or ``"endpoint"`` (an
    address the store's credentials are sent to), ``"variable"`` or ``"file"`` (where one is
    read from); ``conventional`` lists the hosts, variable names or paths it may name unless the
    store sets ``allow_custom_credentials = true`` (:mod:`ivsecrets.provider.credentials`). A
    plugin with such options declares ``allow_custom_credentials`` too
    (:data:`ALLOW_CUSTOM_CREDENTIALS`); the base class applies the policy.

    A rule that involves several options (``auth = "jwt"`` needs ``jwt_env`` or ``jwt_file``)
    stays in the plugin's ``__init__``, after the base class has checked each option alone.
    """

    kind: type
    default: Any
    help: str
    example: str | None = None
    required: bool = False
    choices: tuple[Any, ...] = ()
    what: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    pattern: str | None = None
    credential: str = ""
    conventional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A plugin's mistake shows when its class is defined, not when a user sets the option.
        numeric = self.kind in (int, float)
        if (self.minimum is not None or self.maximum is not None) and not numeric:
            raise TypeError("minimum and maximum bound numbers: the option must be an int or float")
        if self.pattern is not None:
            if self.kind is not str:
                raise TypeError("a pattern checks strings: the option must be a str")
            re.compile(self.pattern)
        if self.credential and (self.credential not in CREDENTIAL_KINDS or self.kind is not str):
            raise TypeError(f"credential must be one of {CREDENTIAL_KINDS}, on a str option")
        if self.credential in ("variable", "file") and not self.conventional:
            raise TypeError("a credential variable or file option lists its conventional values")

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's type (an int for a float) and checked against the
        declared constraints: TypeError for a wrong type, ValueError for a value outside them."""
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) is not (self.kind is bool):
            raise TypeError(f"must be a {self.kind.__name__}, got {type(value).__name__}")
        self._within(value)
        return value

    def _within(self, value: Any) -> None:
        """ValueError if ``value`` (of the option's type) is outside the declared constraints."""
        if self.choices and value not in self.choices:
            allowed = _alternatives([repr(choice) for choice in self.choices])
            if self.what:
                raise ValueError(f"unknown {self.what} {quoted(value)}: must be {allowed}")
            raise ValueError(f"must be {allowed}, got {quoted(value)}")
        if self.minimum is not None:
            if self.exclusive_minimum and value <= self.minimum:
                raise ValueError(f"must be more than {self.minimum:g}, got {value:g}")
            if value < self.minimum:
                raise ValueError(f"must be at least {self.minimum:g}, got {value:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, got {value:g}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"{quoted(value)} does not match the pattern {self.pattern}")

    def credential_problem(self, value: str) -> tuple[str, str, bool] | None:
        """Why ``value`` may not be used without ``allow_custom_credentials``: the problem, the
        fix, and whether that option would accept it; None when it may (or bears none)."""
        if not self.credential:
            return None
        return credential_problem(self.credential, self.conventional, value)

    def fix(self, name: str) -> str | None:
        """The fix a ConfigError about this option suggests: every choice, else the example."""
        if self.choices:
            return f"{name} = " + " | ".join(json.dumps(choice) for choice in self.choices)
        return None if self.example is None else f"{name} = {self.example}"


#: The option of every store with credential-bearing options (see ``Option.credential``).
ALLOW_CUSTOM_CREDENTIALS = Option(
    bool,
    False,
    "send credentials to other hosts, over plain http, or read them from other variables or "
    "files than the conventional ones (docs: the config file is code)",
)


def _alternatives(shown: list[str]) -> str:
    """The allowed values in words, for a message: ``'a', 'b' or 'c'``.

    >>> _alternatives(["1", "2"])
    '1 or 2'
    """
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


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


def checked_settings(
    store: StoreConfig, options: Mapping[str, Option], plugin: str
) -> dict[str, Any]:
    """The settings of ``[stores.NAME]`` for a plugin declaring ``options``: each set value
    checked against its declaration and the credential policy, the rest at their defaults.
    ConfigError naming the file, the key and the fix (with a did-you-mean for an unknown key)."""
    settings = {name: option.default for name, option in options.items()}
    for name, value in store.options.items():
        option = options.get(name)
        if option is None:
            valid = sorted(options)
            close = closest(name, valid)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise store.error(
                name,
                f"unknown option for the '{plugin}' store",
                fix=hint + "valid options: " + (", ".join(valid) or "none"),
            )
        try:
            settings[name] = option.check(value)
        except TypeError as err:
            raise store.error(name, str(err), fix=f"{name} = {option.example}") from None
        except ValueError as err:  # outside the declared choices, bounds or pattern
            raise store.error(name, str(err), fix=option.fix(name)) from None
    check_credentials(store, options, settings)
    return settings


def init_template(options: Mapping[str, Option]) -> str:
    """The ``[stores.NAME]`` lines ``ivsecrets init`` writes for a plugin declaring ``options``:
    required ones active, the others commented out."""
    lines = []
    for name, option in options.items():
        if option.example is None:
            continue
        line = f"{name} = {option.example}"
        lines.append(
            f"{line:<34}# {option.help}" if option.required else f"# {line:<32}# {option.help}"
        )
    return "\n".join(lines) + ("\n" if lines else "")
