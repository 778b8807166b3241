"""The ``file`` store: a TOML/JSON document of secrets, or a directory of files (/run/secrets).

Options: ``path`` (required; relative to the directory of the configuration file that sets it),
``allow_insecure_permissions`` (default false: files readable by
group or others, and directories writable by them, are refused). In a directory the reference is
a file name, and ``<name>.previous`` / ``<name>.pending`` hold the other versions. In a document
the reference is a top-level key whose value is the secret, or a table with ``current``,
``previous``, ``pending``.

What is read must be a regular file of at most :data:`MAX_SIZE` bytes, owned by the process's
user or root, inside the store's directory once symlinks are resolved (so Kubernetes' ``..data``
symlinks work, ``../x`` and absolute references do not), in a directory no other user may write
to (a sticky directory such as a Kubernetes secret volume or /tmp is accepted: others cannot
replace a file they do not own there). A file is opened without blocking, so a FIFO is refused
instead of hanging the load.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Stage
from ivsecrets.errors import AccessDeniedError, InvalidSecretError, SecretNotFoundError
from ivsecrets.provider import Fetched, Option, Provider, Reference

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MAX_SIZE", "FileProvider"]

#: The largest file the store reads: a document of a few hundred secrets is far below it.
MAX_SIZE = 1024 * 1024
_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


class FileProvider(Provider):
    """Reads secrets from local files, checking type, owner, size and permissions first."""

    plugin = "file"
    local = True  # its errors name the file: no "credentials and network" hint
    default_reference = "{platform}_{workspace}"
    options = {
        "path": Option(
            str,
            "",
            "a directory of files, or a .toml/.json document",
            '"/run/secrets"',
            required=True,
        ),
        "allow_insecure_permissions": Option(
            bool, False, "accept group/other-readable files", "false"
        ),
    }

    def __init__(self, store: StoreConfig) -> None:
        super().__init__(store)
        path: str = self.option("path")
        if not path:
            raise store.error(
                "path",
                "the file store needs a path",
                fix='path = "/run/secrets" (a directory) or a .toml/.json file',
            )
        self.path = _anchored(
            Path(path).expanduser(), store.option_sources.get("path", store.source)
        )
        self.allow_insecure: bool = self.option("allow_insecure_permissions")

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        if self.path.is_dir():
            suffix = "" if stage is Stage.current else f".{stage.value}"
            target = self._inside(ref.name + suffix)
            raw, info = self._read(target)
            return Fetched(value=raw, version=_version(info), created_at=_mtime(info), stage=stage)
        document, info = self._document()
        entry = document.get(ref.name)
        del document  # every other secret of the file: not kept in this frame past here
        if isinstance(entry, dict):
            entry = entry.get(stage.value)
        elif stage is not Stage.current:
            entry = None
        if isinstance(entry, str):
            return Fetched(
                value=entry, version=_version(info), created_at=_mtime(info), stage=stage
            )
        missing, entry = entry is None, None  # a wrong-typed entry may hold secrets too
        if missing:
            raise SecretNotFoundError(
                f"no {stage.value} secret under key '{ref.name}' in {self.path}"
            )
        raise InvalidSecretError(f"key '{ref.name}' in {self.path} is not a string")

    def _inside(self, name: str) -> Path:
        """The file ``name`` of the store's directory; refused if it resolves outside of it."""
        root = self.path.resolve()
        target = (self.path / name).resolve()
        if root not in target.parents or Path(name).is_absolute():
            raise AccessDeniedError(
                f"reference '{name}' points outside the store directory {root}; a reference "
                "of the file store is a file name inside its path"
            )
        return target

    def _document(self) -> tuple[dict[str, Any], os.stat_result]:
        """The parsed document. On failure, no frame or chained exception keeps its text."""
        raw, info = self._read(self.path)
        kind = "JSON" if self.path.suffix == ".json" else "TOML"
        data, problem = _parse(raw, kind)
        del raw  # the file's content must not outlive this call in a traceback's frame
        if problem is not None:
            raise InvalidSecretError(f"{self.path} is not valid {kind}{problem}")
        if not isinstance(data, dict):
            del data  # a list of secrets, say
            raise InvalidSecretError(f"{self.path} must hold an object of secrets")
        return data, info

    def _read(self, target: Path) -> tuple[bytes, os.stat_result]:
        """The content of ``target`` after checking what it is, whose it is and its mode."""
        try:
            # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise SecretNotFoundError(f"no such file: {target}") from None
        try:
            info = os.fstat(fd)
            self._check(target, info)
            with os.fdopen(fd, "rb", closefd=False) as file:
                raw = file.read(MAX_SIZE + 1)
        finally:
            os.close(fd)
        if len(raw) > MAX_SIZE:  # grown since fstat
            raise InvalidSecretError(f"{target} is larger than {MAX_SIZE} bytes")
        return raw, info

    def _check(self, target: Path, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise InvalidSecretError(
                f"{target} is not a regular file ({_kind(info.st_mode)}); the file store reads "
                "regular files only"
            )
        if info.st_size > MAX_SIZE:
            raise InvalidSecretError(
                f"{target} is {info.st_size} bytes, more than the file store reads "
                f"({MAX_SIZE} bytes); a secrets file is far smaller"
            )
        uid = os.geteuid() if hasattr(os, "geteuid") else info.st_uid
        if info.st_uid not in (uid, 0):
            raise AccessDeniedError(
                f"{target} is owned by uid {info.st_uid}, not by this process's user ({uid}) "
                f"or root; run 'chown {uid} {target}'"
            )
        insecure = stat.S_IRWXG | stat.S_IRWXO
        if info.st_mode & insecure and not self.allow_insecure:
            raise AccessDeniedError(
                f"{target} is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
                f"run 'chmod 600 {target}' or set allow_insecure_permissions = true in "
                f"[stores.{self.name}]"
            )
        parent = target.resolve().parent
        self._check_directory(parent)
        if self.path.is_dir() and parent != self.path.resolve():
            self._check_directory(self.path.resolve())  # a ..data symlink's target is deeper

    def _check_directory(self, directory: Path) -> None:
        mode = directory.stat().st_mode
        writable = mode & (stat.S_IWGRP | stat.S_IWOTH)
        # In a sticky directory only a file's owner may replace it, and the owner is checked.
        if writable and not mode & stat.S_ISVTX and not self.allow_insecure:
            raise AccessDeniedError(
                f"the directory {directory} is writable by group or others (mode "
                f"{stat.S_IMODE(mode):o}): another user could replace the secret; run "
                f"'chmod go-w {directory}' or set allow_insecure_permissions = true in "
                f"[stores.{self.name}]"
            )

    def create_hint(self, reference: str) -> str:
        """Which file to write, or which key to add to the document."""
        name = Reference.parse(reference).name
        if self.path.is_dir():
            target = self.path / name
            return (
                f"create it: write the secret to {target} (chmod 600 {target}); "
                "or fix the reference"
            )
        return f"create it: add the key '{name}' to {self.path}; or fix the reference"

    def _translate(self, err: Exception) -> AccessDeniedError | SecretNotFoundError | None:
        if isinstance(err, PermissionError):
            return AccessDeniedError(f"permission denied reading {err.filename}")
        if isinstance(err, FileNotFoundError):
            return SecretNotFoundError(f"no such file: {err.filename}")
        return None


def _parse(raw: bytes, kind: str) -> tuple[Any, str | None]:
    """The parsed document, or None and where it is wrong.

    The parser's message and attributes (``doc``, ``object``) may carry the file's content: the
    error is reduced to a position here and never chained to what the caller raises.
    """
    try:
        text = raw.decode("utf-8")
        return (json.loads(text) if kind == "JSON" else tomllib.loads(text)), None
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        return None, _where(err)


def _where(err: BaseException) -> str:
    """Where a parse error is, from the parser's position fields only (never its message)."""
    if isinstance(err, json.JSONDecodeError):
        return f" (line {err.lineno}, column {err.colno})"
    if isinstance(err, UnicodeDecodeError):
        return f" (not UTF-8 at byte {err.start})"
    if isinstance(err, RecursionError):
        return " (nested too deeply)"
    found = _POSITION.search(str(err))
    return f" (line {found[1]}, column {found[2]})" if found else ""


def _kind(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISSOCK: "a socket", stat.S_ISDIR: "a directory"}
    kinds |= {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device"}
    return next((name for test, name in kinds.items() if test(mode)), "not a file")


def _anchored(path: Path, source: str) -> Path:
    """``path`` as the configuration file ``source`` means it: a relative path is relative to
    that file's directory (as ``extends`` is), so a command run from a subdirectory, where
    discovery finds the file, reads the same secrets. A configuration that is no file (the
    embedded default, text given to ``parse_config``: ``<...>``) keeps the working directory."""
    if path.is_absolute() or source.startswith("<"):
        return path
    return (Path(source).parent / path).absolute()


def _version(info: os.stat_result) -> str:
    return f"mtime:{info.st_mtime_ns}"


def _mtime(info: os.stat_result) -> datetime:
    return datetime.fromtimestamp(info.st_mtime, tz=timezone.utc)
