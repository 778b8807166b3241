"""An environment's place in a cache (``_Slot``) and the immutable snapshot readers see (``_Keys``).

``Hasher.user_hash`` reads ``slot.keys.inner``/``outer`` without a lock or a clock; everything
else about a snapshot is for the cache's slow path (:class:`~ivsecrets.cache.SecretCache`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ivsecrets.environments import Environment
from ivsecrets.errors import StoreError
from ivsecrets.prekeyed import PrekeyedHmac
from ivsecrets.secret import Secret

if TYPE_CHECKING:
    from ivsecrets.cache.serving import SecretCache

NEVER = float("inf")


@dataclass(frozen=True)
class _Keys:
    """An immutable snapshot of one environment's secret, as readers see it.

    ``inner``/``outer`` (the HMAC pads the hot path uses) are the readers' gate: set on a snapshot
    that is fresh and marked used, None on a probe (installed, not yet read), on one past
    ``fresh_until`` (the expiry thread clears them) and on a cold slot. The hot path reads no
    clock: a None pad sends it to :meth:`SecretCache.keys`.

    ``view``: on a snapshot served stale, the same snapshot with its pads, made by its first stale
    reader (``SecretCache._stale_view``), so that the next stale reads allocate nothing while
    the hot path still leaves through the slow path (which counts them and enforces max_stale).
    """

    mac: PrekeyedHmac | None = None
    inner: Any = None
    outer: Any = None
    secret: Secret | None = None
    loaded_at: float = -NEVER
    refresh_at: float = -NEVER
    fresh_until: float = -NEVER
    stale_until: float = -NEVER
    error: StoreError | None = None
    retry_at: float = -NEVER
    view: _Keys | None = field(default=None, repr=False, compare=False)


_COLD = _Keys()


class _Slot:
    """One environment in the cache. ``keys`` is replaced whole, never mutated.

    ``used``: a reader read it since the last refresh pass; ``idle``: a pass skipped it as unused.
    """

    __slots__ = ("cache", "environment", "idle", "keys", "previous", "reference", "used")

    def __init__(self, cache: SecretCache, environment: Environment, reference: str) -> None:
        self.cache = cache
        self.environment = environment
        self.reference = reference
        self.keys: _Keys = _COLD
        self.previous: tuple[float, PrekeyedHmac | None, Secret | None] | None = None
        self.used = False
        self.idle = False


def _armed(keys: _Keys) -> _Keys:
    """``keys`` with its pads set, for a reader to use."""
    assert keys.mac is not None
    return replace(keys, inner=keys.mac.inner, outer=keys.mac.outer, view=None)
