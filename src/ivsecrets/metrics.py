"""OpenTelemetry metrics from the cache's events (``pip install 'ivsecrets[otel]'``).

``instrument(secrets)`` hooks a :class:`~ivsecrets.api.Secrets` (the default one behind
``get_hasher`` if none is given) into an OpenTelemetry ``MeterProvider`` (the global one unless
``meter_provider`` is given). It never touches the hot path: hashes are not counted; what leaves
the hot path is (store calls, failures, stale serving, rotations). The SDK, readers and exporters
(OTLP, Prometheus, ...) are the application's choice; this module needs only ``opentelemetry-api``
and imports it when called, so ``import ivsecrets`` stays light.

Metrics (docs/metrics.md lists them with their meaning), every one with the attribute
``ivsecrets.store`` (the configured store name) and, where an environment is known,
``ivsecrets.environment`` (``platform/workspace``, one of the configured environments: bounded):

=====================================  =========  ==============================================
name                                   kind       what
=====================================  =========  ==============================================
``ivsecrets.store.fetches``            counter    successful store reads (cold loads, refreshes)
``ivsecrets.store.fetch.duration``     histogram  seconds per store read
``ivsecrets.store.failures``           counter    failed reads; ``error.type`` is one of
                                                  not_found, access_denied, throttled,
                                                  unavailable, invalid, other
``ivsecrets.store.throttles``          counter    failed reads the store throttled
``ivsecrets.secret.stale_served``      counter    hashes served with a stale secret
``ivsecrets.secret.expired``           counter    hashes refused past ``max_stale``
``ivsecrets.secret.rotations_seen``    counter    new current secrets installed
``ivsecrets.secret.age``               gauge      seconds since the served secret was loaded
=====================================  =========  ==============================================
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ivsecrets.api import Secrets, default_secrets
from ivsecrets.cache import CacheEvent, SecretCache
from ivsecrets.errors import (
    AccessDeniedError,
    InvalidSecretError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

__all__ = ["METRICS", "CacheMetrics", "error_type", "instrument"]

METRICS = (
    "ivsecrets.store.fetches",
    "ivsecrets.store.fetch.duration",
    "ivsecrets.store.failures",
    "ivsecrets.store.throttles",
    "ivsecrets.secret.stale_served",
    "ivsecrets.secret.expired",
    "ivsecrets.secret.rotations_seen",
    "ivsecrets.secret.age",
)
_ERROR_TYPES: tuple[tuple[type[StoreError], str], ...] = (
    (SecretNotFoundError, "not_found"),
    (AccessDeniedError, "access_denied"),
    (StoreThrottledError, "throttled"),
    (StoreUnavailableError, "unavailable"),
    (InvalidSecretError, "invalid"),
)


def error_type(error: StoreError | None) -> str:
    """A bounded label for a store error: not_found, access_denied, throttled, ... or other."""
    for cls, name in _ERROR_TYPES:
        if isinstance(error, cls):
            return name
    return "other"


class CacheMetrics:
    """Turns :class:`~ivsecrets.cache.CacheEvent` s into OpenTelemetry instruments.

    Call it with an event (it is an ``on_event`` hook); :func:`instrument` wires it for you.
    Thread-safe: OpenTelemetry instruments are.
    """

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        try:
            from opentelemetry import metrics
        except ImportError:
            raise ImportError(
                "ivsecrets.metrics needs opentelemetry-api: pip install 'ivsecrets[otel]'"
            ) from None
        meter = (meter_provider or metrics.get_meter_provider()).get_meter("ivsecrets")
        self._caches: list[SecretCache] = []
        self._lock = threading.Lock()
        self.fetches = meter.create_counter(
            "ivsecrets.store.fetches", unit="{read}", description="successful store reads"
        )
        self.duration = meter.create_histogram(
            "ivsecrets.store.fetch.duration", unit="s", description="seconds per store read"
        )
        self.failures = meter.create_counter(
            "ivsecrets.store.failures", unit="{read}", description="failed store reads"
        )
        self.throttles = meter.create_counter(
            "ivsecrets.store.throttles", unit="{read}", description="store reads throttled"
        )
        self.stale = meter.create_counter(
            "ivsecrets.secret.stale_served",
            unit="{hash}",
            description="hashes served with a stale secret while the store fails",
        )
        self.expired = meter.create_counter(
            "ivsecrets.secret.expired",
            unit="{hash}",
            description="hashes refused: the store failed for longer than max_stale",
        )
        self.rotations = meter.create_counter(
            "ivsecrets.secret.rotations_seen",
            unit="{rotation}",
            description="new current secrets installed",
        )
        meter.create_observable_gauge(
            "ivsecrets.secret.age",
            callbacks=[self._ages],
            unit="s",
            description="seconds since the secret served now was loaded from its store",
        )

    def watch(self, caches: Iterable[SecretCache]) -> None:
        """Report the age of the secrets these caches serve (``ivsecrets.secret.age``)."""
        with self._lock:
            self._caches.extend(c for c in caches if c not in self._caches)

    def __call__(self, event: CacheEvent) -> None:
        attributes = {"ivsecrets.store": event.store}
        if event.environment is not None:
            attributes["ivsecrets.environment"] = str(event.environment)
        kind = event.kind
        if kind == "fetch":
            self.fetches.add(1, attributes)
            self.duration.record(event.duration, attributes)
        elif kind == "failure":
            label = error_type(event.error)
            self.failures.add(1, {**attributes, "error.type": label})
            if label == "throttled":
                self.throttles.add(1, attributes)
        elif kind == "stale":
            self.stale.add(1, attributes)
        elif kind == "expired":
            self.expired.add(1, attributes)
        elif kind == "rotated":
            self.rotations.add(1, attributes)

    def _ages(self, options: Any) -> Iterable[Any]:
        from opentelemetry.metrics import Observation

        with self._lock:
            caches = list(self._caches)
        for cache in caches:
            now = cache.clock()  # the clock its snapshots' times were read from
            for env, slot in cache.slots.items():
                keys = slot.keys
                if keys.secret is None or slot.idle:
                    continue
                yield Observation(
                    now - keys.loaded_at,
                    {"ivsecrets.store": cache.provider.name, "ivsecrets.environment": str(env)},
                )


def instrument(
    secrets: Secrets | None = None, *, meter_provider: MeterProvider | None = None
) -> CacheMetrics:
    """Send the cache events of ``secrets`` (default: the one behind ``get_hasher``) to OTel.

    A hook already set (``Secrets(on_event=...)``) keeps being called, after the metrics.
    """
    secrets = secrets if secrets is not None else default_secrets()
    metrics = CacheMetrics(meter_provider)
    for cache in secrets.caches.values():
        cache.on_event = _chain(metrics, cache.on_event)
    metrics.watch(secrets.caches.values())
    return metrics


def _chain(
    first: Callable[[CacheEvent], None], then: Callable[[CacheEvent], None] | None
) -> Callable[[CacheEvent], None]:
    if then is None:
        return first

    def both(event: CacheEvent) -> None:
        first(event)
        then(event)

    return both
