"""``check_config``: a configuration file parses, and its pins are well-formed and distinct.

What the pre-commit hook ``ivsecrets-verify-config`` runs: no store is contacted.
"""

from __future__ import annotations

import os
from pathlib import Path

from ivsecrets.config import Config, load_config
from ivsecrets.errors import ConfigError

__all__ = ["check_config"]


def check_config(path: str | os.PathLike[str] | None = None) -> Config | None:
    """Load and validate one configuration file; None for a pyproject.toml without ivsecrets.

    Raises ConfigError (naming file and key) when the file does not parse, a pin is not a
    fingerprint, or two environments pin the same fingerprint (they must not share a secret).
    """
    if path is not None and Path(path).name == "pyproject.toml":
        text = Path(path).read_text(encoding="utf-8")
        if "[tool.ivsecrets" not in text:
            return None
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
