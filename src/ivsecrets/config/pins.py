"""Pinning a fingerprint in a configuration file: edited in place, checked, replaced atomically.

``ivsecrets rotate --pin`` records the new secret's fingerprint under ``[environments.P.W]`` of the
file it names. The edit keeps comments and layout (tomlkit, imported only here), the result must
load before it replaces the file, and the replacement is atomic: a crash leaves the old file or
the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ivsecrets.config.files import parse_config
from ivsecrets.errors import ConfigError

if TYPE_CHECKING:
    from ivsecrets.environments import Environment

__all__ = ["write_pin"]


def write_pin(path: Path, environment: Environment, fingerprint: str) -> None:
    """Set ``fingerprint`` under ``[environments.P.W]`` in a TOML config, keeping the rest.

    The file is edited with tomlkit (comments and layout kept), the result is parsed with the
    project's loader before anything is replaced (ConfigError, file untouched, if it would not
    load), and written atomically: a temporary file in the same directory, fsync, rename, with the
    original's permissions.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    text = path.read_text(encoding="utf-8")
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as err:
        raise ConfigError(
            f"cannot parse the configuration to pin it: {err}", file=str(path)
        ) from None
    environments = document.get("environments")
    if environments is None:
        environments = tomlkit.table(is_super_table=True)
        document["environments"] = environments
    platform = environments.get(environment.platform.value)
    if platform is None:
        platform = tomlkit.table(is_super_table=True)
        environments[environment.platform.value] = platform
    table = platform.get(environment.workspace)
    if table is None:
        table = tomlkit.table()
        platform[environment.workspace] = table
    table["fingerprint"] = fingerprint
    updated = tomlkit.dumps(document)
    parsed = parse_config(updated, str(path))  # never write a file the loader would reject
    pinned = parsed.environments.get(environment)
    if pinned is None or pinned.fingerprint != fingerprint:
        raise ConfigError(
            f"writing the pin of {environment} did not produce a configuration that pins it",
            file=str(path),
            fix=f'add fingerprint = "{fingerprint}" under [environments.'
            f"{environment.platform.value}.{environment.workspace}] by hand",
        )
    _replace_atomically(path, updated)


def _replace_atomically(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
