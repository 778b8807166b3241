"""Key origins: which file and which key each value of a configuration came from.

Files extend one another (``extends``), so a value may come from any of them, and a
``pyproject.toml`` puts every key under ``tool.ivsecrets.``: :class:`Origins` records both, and
:class:`Table` reads a table's typed values, raising a ConfigError that names the file and the
full key of the value at fault.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ivsecrets.environments import Platform
from ivsecrets.errors import ConfigError, closest, quoted

__all__ = ["Origins", "Table"]


class Origins:
    """Which file each key came from (files extend one another), and the prefix of every key."""

    def __init__(self, default: str) -> None:
        self.default = default
        self.prefixes: dict[str, str] = {}  # file -> prefix of its keys ("tool.ivsecrets.")
        self.files: dict[tuple[str, ...], str] = {}

    def key(self, file: str, label: str) -> str:
        return self.prefixes.get(file, "") + label

    def file_of(self, parts: tuple[str, ...]) -> str:
        for end in range(len(parts), 0, -1):
            found = self.files.get(parts[:end])
            if found is not None:
                return found
        return self.default

    def record(self, document: dict[str, Any], file: str, parts: tuple[str, ...] = ()) -> None:
        stack = [(document, parts)]
        while stack:
            table, at = stack.pop()
            for key, value in table.items():
                path = (*at, key)
                self.files[path] = file
                if isinstance(value, dict):
                    stack.append((value, path))

    def forget(self, parts: tuple[str, ...]) -> None:
        for known in [k for k in self.files if k[: len(parts)] == parts]:
            del self.files[known]


T = TypeVar("T")


class Table:
    """A TOML table being validated: knows its dotted key and, per key, the file it came from."""

    def __init__(
        self, data: object, origins: Origins, parts: tuple[str, ...], label: str | None = None
    ) -> None:
        self.origins = origins
        self.parts = parts
        self.label = ".".join(parts) if label is None else label
        if not isinstance(data, dict):
            key = self.key
            raise ConfigError(
                f"must be a table, got {type(data).__name__}",
                file=self.file,
                key=key or None,
                fix=f"write it as [{key}]",
            )
        self.data: dict[str, Any] = data

    @property
    def file(self) -> str:
        return self.origins.file_of(self.parts)

    @property
    def key(self) -> str:
        return self.origins.key(self.file, self.label)

    def file_of(self, name: str) -> str:
        return self.origins.file_of((*self.parts, name))

    def path(self, name: str) -> str:
        return self.origins.key(self.file_of(name), f"{self.label}.{name}" if self.label else name)

    def error(self, name: str, message: str, fix: str | None = None) -> ConfigError:
        return ConfigError(message, file=self.file_of(name), key=self.path(name), fix=fix)

    def only(self, *allowed: str) -> None:
        for name in self.data:
            if name not in allowed:
                close = closest(name, allowed)
                raise self.error(
                    name,
                    "unknown key",
                    fix=(f"did you mean {close[0]!r}? " if close else "")
                    + "valid keys here: "
                    + ", ".join(allowed),
                )

    def get(self, name: str, kind: type[T], default: T) -> T:
        if name not in self.data:
            return default
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            shown = quoted(value)
            raise self.error(name, f"must be a {kind.__name__}, got {shown}")
        return value

    def get_str_list(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.data.get(name, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "must be a list of strings", fix=f'{name} = ["..."]')
        return tuple(value)

    def get_platforms(self, name: str, default: tuple[Platform, ...]) -> tuple[Platform, ...]:
        """A list of platform names, parsed (duplicates dropped, order kept)."""
        names = self.get_str_list(name, tuple(p.value for p in default))
        try:
            platforms = tuple(dict.fromkeys(Platform.parse(n) for n in names))
        except ValueError as err:
            raise self.error(name, str(err)) from None
        return platforms

    def table(self, name: str) -> Table:
        return Table(self.data.get(name, {}), self.origins, (*self.parts, name))

    def entry(self, name: str, index: int, item: object) -> Table:
        """Entry ``index`` of the array of tables ``name``."""
        label = f"{self.label}.{name}[{index}]" if self.label else f"{name}[{index}]"
        return Table(item, self.origins, (*self.parts, name), label)
