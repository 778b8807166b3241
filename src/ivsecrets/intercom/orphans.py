"""Secrets ivsecrets creates at Intercom, and the cleanup of those a dead run never stored.

A rotation creates the new secret at Intercom before it can store it, so a run that dies in
between leaves a live secret nobody holds. Before creating, the run journals its intent in the
store ("run R is creating a secret named N"), and creates it under that name, which carries the
run id. Only a run holding the environment's rotation lease resolves the journal entries of other
runs (they are dead or done: the lease says so), and it deletes a secret only when no store
version references it. Nothing is ever deleted because of a name pattern alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timezone

from ivsecrets.environments import Environment
from ivsecrets.errors import IntercomAPIError, RotationError
from ivsecrets.intercom.client import IntercomClient
from ivsecrets.intercom.errors import IntercomAmbiguousCreateError
from ivsecrets.intercom.records import CreatedIntercomSecret, IntercomSecret

__all__ = [
    "INTERCOM_NAME_PREFIX",
    "create_intercom_secret",
    "delete_intercom_orphans",
    "delete_quietly",
    "intercom_secret_name",
    "journaled_orphans",
]

log = logging.getLogger("ivsecrets")
#: Names of secrets ivsecrets creates at Intercom start with this.
INTERCOM_NAME_PREFIX = "ivsecrets "


def intercom_secret_name(env: Environment, run: str) -> str:
    """The name a run gives the secret it creates: unique to the run, journaled before the POST."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{INTERCOM_NAME_PREFIX}{env.platform.value} {env.workspace} {stamp} run {run}"


def create_intercom_secret(
    client: IntercomClient, env: Environment, name: str | None = None
) -> CreatedIntercomSecret:
    """Create ``env``'s new secret at Intercom under ``name`` (+ `` #1`` or `` #2``).

    A create whose outcome is unknown is reconciled (whatever it may have made is deleted, its
    value being lost) and tried once more; RotationError if that happens twice.
    """
    name = name or intercom_secret_name(env, "-")
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


def journaled_orphans(
    live: Iterable[IntercomSecret],
    journaled: Iterable[tuple[str, str | None]],
    recorded: set[str],
) -> list[IntercomSecret]:
    """The live secrets a journal entry (name, id) of a dead run made that no version records."""
    entries = list(journaled)
    return [
        s
        for s in live
        if s.id not in recorded
        and any(s.id == i or (n and s.name.startswith(n + " #")) for n, i in entries)
    ]


def delete_intercom_orphans(
    client: IntercomClient,
    env: Environment,
    journaled: Iterable[tuple[str, str | None]],
    recorded: set[str],
) -> list[str]:
    """Delete the secrets journal entries ``(name, intercom id)`` of dead runs created at Intercom
    that no store version records (``recorded``). Returns the ids deleted."""
    deleted = []
    for secret in journaled_orphans(client.list(), journaled, recorded):
        client.delete(secret.id, missing_ok=True)
        deleted.append(secret.id)
        log.warning(
            "ivsecrets: deleted Intercom secret %s, created by a rotation of %s that died "
            "before storing it",
            secret.id,
            env,
        )
    return deleted


def delete_quietly(intercom: IntercomClient, secret_id: str, why: str) -> bool:
    """Delete an Intercom secret (already gone counts); log, never raise, if Intercom fails."""
    try:
        intercom.delete(secret_id, missing_ok=True)
    except IntercomAPIError as err:
        log.error("could not delete Intercom secret %s (%s): %s", secret_id, why, err)
        return False
    log.info("deleted Intercom secret %s: %s", secret_id, why)
    return True
