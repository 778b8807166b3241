"""``check_config``: a configuration file parses, and its pins are well-formed and distinct.

What the pre-commit hook ``ivsecrets-verify-config`` runs: no store is contacted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ivsecrets.config import Config, load_config
from ivsecrets.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["check_config"]


def check_config(path: str | os.PathLike[str] | None = None) -> Config | None:
    """Load and validate one configuration file; None for a pyproject.toml without ivsecrets.

    Raises ConfigError (naming file and key) when the file does not parse, a pin is not a
    fingerprint, or two environments pin the same fingerprint (they must not share a secret).
    """
    if path is not None and Path(path).name == "pyproject.toml":
        config = _pyproject(Path(path))
        if config is None:
            return None
    else:
        config = load_config(path)
    pinned: dict[str, str] = {}
    for env, ec in config.environments.items():
        if not ec.fingerprint:
            continue
        other = pinned.setdefault(ec.fingerprint, str(env))
        if other != str(env):
            raise ConfigError(
                f"{other} and {env} pin the same fingerprint {ec.fingerprint}: "
                "no two environments may share a secret",
                file=config.source,
                key=f"environments.{env.platform.value}.{env.workspace}.fingerprint",
                fix="pin the value 'ivsecrets fingerprint' prints for each environment",
            )
    return config


def _pyproject(path: Path) -> Config | None:
    """The ``[tool.ivsecrets]`` table of a pyproject.toml, or None when it has none."""
    try:
        with path.open("rb") as file:
            tool = tomllib.load(file).get("tool", {})
    except (OSError, ValueError):
        return load_config(path)  # names the file and what is wrong with it
    if not isinstance(tool, dict) or "ivsecrets" not in tool:
        return None
    return load_config(path)
