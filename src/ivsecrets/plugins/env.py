"""The ``env`` store: secrets in environment variables (the embedded default).

Reference: the variable name, e.g. ``IVSECRETS_IOS_PROD``. The previous and pending versions, for
rotations done by hand, are read from ``<NAME>_PREVIOUS`` and ``<NAME>_PENDING``.
"""

from __future__ import annotations

import os

from ivsecrets.environments import Stage
from ivsecrets.errors import SecretNotFoundError
from ivsecrets.provider import Fetched, Provider, Reference

_SUFFIX = {Stage.current: "", Stage.previous: "_PREVIOUS", Stage.pending: "_PENDING"}


class EnvProvider(Provider):
    """Reads secrets from ``os.environ`` at load time (never at import)."""

    plugin = "env"
    default_reference = "IVSECRETS_{PLATFORM}_{WORKSPACE}"

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        name = ref.name + _SUFFIX[stage]
        value = os.environ.get(name)
        if value is None:
            raise SecretNotFoundError(f"environment variable {name} is not set")
        return Fetched(value=value, version=f"env:{name}", stage=stage)

    def create_hint(self, reference: str) -> str:
        name = Reference.parse(reference).name
        return f"create it: set the environment variable {name} to the secret; or fix the reference"
