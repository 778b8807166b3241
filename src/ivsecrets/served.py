"""What a running process signs with: each environment's served fingerprint, age and state.

A process exposes this document (``ivsecrets serve``'s ``GET /v1/health``, the framework
integrations' health routes, an OpenTelemetry attribute) so that ``ivsecrets verify --fleet`` can
compare what the fleet serves with what the store holds. It never holds a value: fingerprints only.

The document (``SCHEMA`` names its version)::

    {"schema": "ivsecrets.served/1",
     "process": {"pid": 4242, "host": "web-7f9c"},
     "environments": [
        {"environment": "ios/prod", "platform": "ios", "workspace": "prod", "store": "aws",
         "state": "fresh",              # fresh | stale | expired | cold | failed
         "fingerprint": "ivfp1:…",      # the secret signed with now; None when cold/failed
         "previous_fingerprint": None,  # the previous secret verify() accepts, if loaded
         "version": "…",                # the store's version id, when it reports one
         "age_seconds": 12.5}           # since the served secret was loaded; None when cold
     ]}
"""

from __future__ import annotations

import os
import socket
from typing import Any

from ivsecrets.api import Secrets, default_secrets

__all__ = ["SCHEMA", "STATES", "served"]

SCHEMA = "ivsecrets.served/1"
#: ``fresh``: within ttl; ``stale``: past ttl, served while the store fails (up to max_stale);
#: ``expired``: past max_stale, refused; ``cold``: never loaded by this process;
#: ``failed``: never loaded, the last attempt failed.
STATES = ("fresh", "stale", "expired", "cold", "failed")


def served(secrets: Secrets | None = None) -> dict[str, Any]:
    """The served-fingerprints document of ``secrets`` (the process default when None).

    Reads the caches only: no store call, no clock of its own beyond each cache's.
    """
    secrets = secrets if secrets is not None else default_secrets()
    rows: list[dict[str, Any]] = []
    for store, cache in secrets.caches.items():
        now = cache.clock()
        for environment, slot in sorted(cache.slots.items()):
            keys = slot.keys
            secret = keys.secret
            previous = slot.previous[2] if slot.previous is not None else None
            if secret is None:
                state = "failed" if keys.error is not None else "cold"
            elif now < keys.fresh_until:
                state = "fresh"
            elif now < keys.stale_until:
                state = "stale"
            else:
                state = "expired"
            rows.append(
                {
                    "environment": str(environment),
                    "platform": str(environment.platform),
                    "workspace": environment.workspace,
                    "store": store,
                    "state": state,
                    "fingerprint": secret.fingerprint if secret is not None else None,
                    "previous_fingerprint": previous.fingerprint if previous is not None else None,
                    "version": secret.version if secret is not None else None,
                    "age_seconds": round(now - keys.loaded_at, 3) if secret is not None else None,
                }
            )
    rows.sort(key=lambda row: row["environment"])
    return {
        "schema": SCHEMA,
        "process": {"pid": os.getpid(), "host": socket.gethostname()},
        "environments": rows,
    }
