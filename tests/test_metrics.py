"""Cache events as OpenTelemetry metrics (the otel extra) and the documented Prometheus path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import ivsecrets
from ivsecrets import Secrets, StaleSecretError
from ivsecrets.config import parse_config
from ivsecrets.testing import SECRET_B, FakeClock, MemoryStore

pytest.importorskip("opentelemetry.sdk.metrics")
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import ivsecrets.metrics

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
CONFIG = """
store = "mem"
reference = "{platform}-{workspace}"
[stores.mem]
plugin = "env"
[stores.mem.cache]
ttl = 0.1
max_stale = 0.3
backoff_base = 0.01
backoff_max = 0.02
"""
VALUES = {
    f"{p}-{w}": f"ivsMetrics_{p}_{w}_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4M"
    for p in ("web", "ios", "android")
    for w in ("test", "prod")
}


def exercise(secrets: Secrets, store: MemoryStore, clock: FakeClock) -> None:
    """A fetch, a rotation, stale serving, a throttled store and failing closed."""
    hasher = secrets.hasher("ios", "prod")
    hasher.user_hash(user_id="1")
    store.values["ios-prod"] = SECRET_B
    secrets.refresh()
    hasher.user_hash(user_id="1")
    store.down = True
    clock.advance(0.15)
    hasher.user_hash(user_id="1")  # stale
    clock.advance(0.35)
    with pytest.raises(StaleSecretError):
        hasher.user_hash(user_id="1")


def points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_the_documented_metrics_are_reported() -> None:
    reader = InMemoryMetricReader()
    store = MemoryStore(dict(VALUES))
    clock = FakeClock()
    secrets = Secrets(parse_config(CONFIG, "m.toml"), providers={"mem": store}, clock=clock)
    seen: list[str] = []
    secrets.caches["mem"].on_event = lambda event: seen.append(event.kind)
    ivsecrets.metrics.instrument(secrets, meter_provider=MeterProvider(metric_readers=[reader]))
    try:
        exercise(secrets, store, clock)
        found = points(reader)
    finally:
        secrets.close()
    documented = set(re.findall(r"^\| `(ivsecrets\.[a-z_.]+)` \|", DOC.read_text(), re.M))
    assert documented == set(ivsecrets.metrics.METRICS)
    assert documented - {"ivsecrets.store.throttles"} <= set(found), sorted(found)
    failures = found["ivsecrets.store.failures"]
    assert {p.attributes["error.type"] for p in failures} == {"unavailable"}
    assert {p.attributes["ivsecrets.environment"] for p in failures} == {"ios/prod"}
    ages = found["ivsecrets.secret.age"]
    assert [p.attributes["ivsecrets.environment"] for p in ages] == ["ios/prod"]
    assert 0.3 < ages[0].value < 5
    assert {"fetch", "rotated", "stale", "failure", "expired"} <= set(seen), "the hook chained"


def test_throttles_are_counted_apart() -> None:
    from ivsecrets.cache import CacheEvent
    from ivsecrets.environments import Environment
    from ivsecrets.errors import StoreThrottledError

    reader = InMemoryMetricReader()
    metrics = ivsecrets.metrics.CacheMetrics(MeterProvider(metric_readers=[reader]))
    metrics(
        CacheEvent("failure", "aws", Environment.of("web", "prod"), 0, StoreThrottledError("x"))
    )
    found = points(reader)
    assert found["ivsecrets.store.throttles"][0].value == 1
    assert found["ivsecrets.store.failures"][0].attributes["error.type"] == "throttled"


def test_the_documented_prometheus_client_snippet_counts_events() -> None:
    pytest.importorskip("prometheus_client")
    import prometheus_client

    text = DOC.read_text()
    code = text[text.index("```python\nfrom prometheus_client") + 10 :]
    code = code[: code.index("```")]
    registry = prometheus_client.CollectorRegistry()
    store = MemoryStore(dict(VALUES))
    config = parse_config(CONFIG, "m.toml")
    original = prometheus_client.Counter, prometheus_client.Histogram

    def counter(*args: Any, **kwargs: Any) -> Any:
        return original[0](*args, registry=registry, **kwargs)

    def histogram(*args: Any, **kwargs: Any) -> Any:
        return original[1](*args, registry=registry, **kwargs)

    namespace: dict[str, Any] = {}
    # The snippet as documented, with its Secrets built on the test's configuration and store.
    code = code.replace("from prometheus_client import Counter, Histogram\n", "")
    code = code.replace(
        "ivsecrets.Secrets(on_event=on_event)",
        "ivsecrets.Secrets(CONFIG, providers=PROVIDERS, on_event=on_event, clock=CLOCK)",
    )
    clock = FakeClock()
    namespace.update(
        Counter=counter, Histogram=histogram, CONFIG=config, PROVIDERS={"mem": store}, CLOCK=clock
    )
    exec(compile(code, str(DOC), "exec"), namespace)
    secrets = namespace["secrets"]
    try:
        exercise(secrets, store, clock)
    finally:
        ivsecrets.configure(None)
    assert registry.get_sample_value(
        "ivsecrets_store_reads_total", {"store": store.name, "outcome": "ok"}
    )
    stale = registry.get_sample_value(
        "ivsecrets_secret_events_total",
        {"store": store.name, "environment": "ios/prod", "kind": "stale"},
    )
    assert stale and stale >= 1
    rotated = registry.get_sample_value(
        "ivsecrets_secret_events_total",
        {"store": store.name, "environment": "ios/prod", "kind": "rotated"},
    )
    assert rotated == 1
