"""The ``file`` store: a TOML/JSON document of secrets, or a directory of files (/run/secrets).

Options: ``path`` (required), ``allow_insecure_permissions`` (default false: files readable by
group or others are refused). In a directory the reference is a file name, and
``<name>.previous`` / ``<name>.pending`` hold the other versions. In a document the reference is a
top-level key whose value is the secret, or a table with ``current``, ``previous``, ``pending``.
"""

from __future__ import annotations

import json
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


class FileProvider(Provider):
    """Reads secrets from local files, checking their permissions first."""

    plugin = "file"
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
        self.path = Path(path).expanduser()
        self.allow_insecure: bool = self.option("allow_insecure_permissions")

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        if self.path.is_dir():
            suffix = "" if stage is Stage.current else f".{stage.value}"
            target = self.path / (ref.name + suffix)
            self._check_permissions(target)
            return Fetched(
                value=target.read_bytes(),
                version=_version(target),
                created_at=_mtime(target),
                stage=stage,
            )
        self._check_permissions(self.path)
        entry = self._document().get(ref.name)
        if isinstance(entry, dict):
            entry = entry.get(stage.value)
        elif stage is not Stage.current:
            entry = None
        if entry is None:
            raise SecretNotFoundError(
                f"no {stage.value} secret under key '{ref.name}' in {self.path}"
            )
        if not isinstance(entry, str):
            raise InvalidSecretError(f"key '{ref.name}' in {self.path} is not a string")
        return Fetched(
            value=entry, version=_version(self.path), created_at=_mtime(self.path), stage=stage
        )

    def _document(self) -> dict[str, Any]:
        text = self.path.read_text(encoding="utf-8")
        try:
            data = json.loads(text) if self.path.suffix == ".json" else tomllib.loads(text)
        except ValueError:
            # The parser's message may quote the file's content, so it is not repeated here.
            raise InvalidSecretError(
                f"{self.path} is not valid {'JSON' if self.path.suffix == '.json' else 'TOML'}"
            ) from None
        if not isinstance(data, dict):
            raise InvalidSecretError(f"{self.path} must hold an object of secrets")
        return data

    def _check_permissions(self, target: Path) -> None:
        try:
            mode = target.stat().st_mode
        except FileNotFoundError:
            raise SecretNotFoundError(f"no such file: {target}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO) and not self.allow_insecure:
            raise AccessDeniedError(
                f"{target} is readable by group or others (mode {stat.S_IMODE(mode):o}); run "
                f"'chmod 600 {target}' or set allow_insecure_permissions = true in "
                f"[stores.{self.name}]"
            )

    def _translate(self, err: Exception) -> AccessDeniedError | SecretNotFoundError | None:
        if isinstance(err, PermissionError):
            return AccessDeniedError(f"permission denied reading {err.filename}")
        if isinstance(err, FileNotFoundError):
            return SecretNotFoundError(f"no such file: {err.filename}")
        return None


def _version(path: Path) -> str:
    return f"mtime:{path.stat().st_mtime_ns}"


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
