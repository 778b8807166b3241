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

from ivsecrets.rotation.rotator import Rotator
from ivsecrets.rotation.run import LEASE_SECONDS
from ivsecrets.rotation.state import RotationResult, RotationState, check_secret_shape

__all__ = [
    "LEASE_SECONDS",
    "RotationResult",
    "RotationState",
    "Rotator",
    "check_secret_shape",
]
