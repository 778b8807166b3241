"""Rotation: stage, check, promote, finish and roll back one environment's secret, crash-safely.

Intercom's flow is: create a new secret, roll it out, delete the old one; both verify until the old
one is deleted. ``Rotator`` makes that one resumable procedure on every writable store:

``rotate``   obtain the new secret (from Intercom's API or the operator), stage it as *pending*,
             check it (readable back, plausible, distinct from every other environment), promote
             it to *current* with compare-and-set; the old current becomes *previous*, which
             ``Hasher.verify`` still accepts.
``finish``   after the grace period (cache TTL + max_stale by default), delete the previous secret
             at Intercom, then retire it in the store.
``rollback`` make the previous version current again (refused once its Intercom secret is gone).
``abort``    discard a staged rotation (and its Intercom secret).

Every step is idempotent and derives where it is from what the store and Intercom record, so
running the same command again after a crash continues where it stopped. The package:
:mod:`.rotator` (the commands), :mod:`.rotate` and :mod:`.finish` (the steps), :mod:`.run` (one
command under the lease), :mod:`.lease` (the lease protocol), :mod:`.state` (what is reported).

Safety between the steps rests on the store's rotation record (``WritableProvider``):

- a **lease** per environment, taken compare-and-set by every command (rotate, finish, rollback,
  abort) and renewed at each step: only its holder acts, and a dead holder's lease is taken over
  only once it has expired;
- a **journal of intent**: before creating a secret at Intercom the run records "run R creates a
  secret named N" (then its id); a later holder of the lease deletes what a dead run created only
  if no store version references it;
- **times of promotion**: when each version became current, from which the grace period of the
  version it replaced is measured (``finish``; a new rotation inside the grace is refused).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from ivsecrets.environments import Environment
from ivsecrets.errors import ConfigError
from ivsecrets.rotation.rotator import Rotator
from ivsecrets.rotation.run import LEASE_SECONDS
from ivsecrets.rotation.state import RotationResult, RotationState, check_secret_shape

__all__ = [
    "LEASE_SECONDS",
    "RotationResult",
    "RotationState",
    "Rotator",
    "check_secret_shape",
    "write_pin",
]


def write_pin(path: Path, environment: Environment, fingerprint: str) -> None:
    """Set ``fingerprint`` under ``[environments.P.W]`` in a TOML config, keeping the rest.

    The file is edited with tomlkit (comments and layout kept), the result is parsed with the
    project's loader before anything is replaced (ConfigError, file untouched, if it would not
    load), and written atomically: a temporary file in the same directory, fsync, rename, with the
    original's permissions.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    from ivsecrets.config import parse_config

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
