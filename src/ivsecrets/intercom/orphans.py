"""Secrets ivsecrets creates at Intercom, named so that the ones never stored can be found again.

A rotation creates the new secret at Intercom before it can store it; a crash in between leaves a
live secret nobody holds. Each is created under a name ``ivsecrets <platform> <workspace> <time>``,
and the next rotation deletes those of its environment that no store version records.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from ivsecrets.environments import Environment
from ivsecrets.errors import RotationError
from ivsecrets.intercom.client import IntercomClient
from ivsecrets.intercom.errors import IntercomAmbiguousCreateError
from ivsecrets.intercom.records import CreatedIntercomSecret

__all__ = ["INTERCOM_NAME_PREFIX", "create_intercom_secret", "delete_intercom_orphans"]

log = logging.getLogger("ivsecrets")
#: Names of secrets ivsecrets creates at Intercom start with this, so orphans can be found.
INTERCOM_NAME_PREFIX = "ivsecrets "


def create_intercom_secret(client: IntercomClient, env: Environment) -> CreatedIntercomSecret:
    """Create ``env``'s new secret at Intercom, named so :func:`delete_intercom_orphans` finds it.

    A create whose outcome is unknown is reconciled (whatever it may have made is deleted, its
    value being lost) and tried once more; RotationError if that happens twice.
    """
    name = f"{INTERCOM_NAME_PREFIX}{env.platform.value} {env.workspace} " + (
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    for attempt in (1, 2):
        try:
            return client.create([env.platform], name=f"{name} #{attempt}")
        except IntercomAmbiguousCreateError as err:
            # The value of a secret created by a lost answer is gone: delete it, try again.
            for orphan in client.reconcile_create(err):
                client.delete(orphan.id, missing_ok=True)
            if attempt == 2:
                raise RotationError(
                    f"Intercom did not confirm creating a secret for {env} "
                    "twice; nothing was stored, any secret it may have made "
                    "was deleted"
                ) from err
    raise AssertionError("unreachable")


def delete_intercom_orphans(client: IntercomClient, env: Environment, recorded: set[str]) -> None:
    """Delete ``env``'s secrets that ivsecrets created at Intercom (by name) but that no version
    in the store records (``recorded``: the Intercom ids the store holds)."""
    prefix = f"{INTERCOM_NAME_PREFIX}{env.platform.value} {env.workspace} "
    for secret in client.list():
        if secret.name.startswith(prefix) and secret.id not in recorded:
            client.delete(secret.id, missing_ok=True)
            log.warning(
                "ivsecrets: deleted Intercom secret %s, created by an interrupted "
                "rotation of %s and never stored",
                secret.id,
                env,
            )
