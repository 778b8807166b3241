"""ivsecrets against the peers, on the same moto server, in one run.

Run: make bench-peers   (installs the peers into .venv: aws-secretsmanager-caching and
aws-lambda-powertools, the `bench` extra)

For each library: the cost of one `user_hash` on a warm cache (fetch the secret from the cache,
then HMAC it: what a backend does per request), the store calls a cold start of six secrets
makes, and the store calls 32 threads make on a cold cache for one secret.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import sys
import threading
import timeit
from collections.abc import Callable
from typing import Any

from _moto import REGION, moto_endpoint
from _quick import QUICK, announce

NAMES = [f"ivsecrets-{w}-{p}" for w in ("test", "prod") for p in ("web", "ios", "android")]


def best_ns(fn: Callable[[], object], number: int = 20_000) -> float:
    if QUICK:
        number = 100
    return min(timeit.repeat(fn, number=number, repeat=1 if QUICK else 5)) / number * 1e9


def counting_client(endpoint: str) -> tuple[Any, list[str]]:
    import boto3

    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    calls: list[str] = []
    client.meta.events.register(
        "before-call.secrets-manager.*", lambda **kw: calls.append(kw["model"].name)
    )
    return client, calls


def threads_cold(get: Callable[[], object]) -> None:
    barrier = threading.Barrier(32)

    def worker() -> None:
        barrier.wait()
        get()

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def ours(endpoint: str) -> tuple[float, int, int]:
    from ivsecrets import Secrets
    from ivsecrets.config import parse_config
    from ivsecrets.plugins.aws import AwsProvider

    config = parse_config(f'store = "aws"\n[stores.aws]\nregion = "{REGION}"\n')
    client, calls = counting_client(endpoint)
    secrets = Secrets(config, providers={"aws": AwsProvider(config.stores["aws"], client=client)})
    for name in NAMES:
        _, workspace, platform = name.split("-")
        secrets.hasher(platform, workspace).user_hash(user_id="42")
    cold = len(calls)
    hasher = secrets.hasher("ios", "prod")
    warm = best_ns(lambda: hasher.user_hash(user_id="user-1234567"))
    secrets.close()
    client2, calls2 = counting_client(endpoint)
    threaded = Secrets(config, providers={"aws": AwsProvider(config.stores["aws"], client=client2)})
    threads_cold(lambda: threaded.hasher("ios", "prod").user_hash(user_id="1"))
    threaded.close()
    return warm, cold, len(calls2)


def aws_caching(endpoint: str) -> tuple[float, int, int]:
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    client, calls = counting_client(endpoint)
    cache = SecretCache(config=SecretCacheConfig(), client=client)
    for name in NAMES:
        cache.get_secret_string(name)
    cold = len(calls)

    def per_request() -> str:
        key = cache.get_secret_string("ivsecrets-prod-ios").encode()
        return hmac.new(key, b"user-1234567", hashlib.sha256).hexdigest()

    warm = best_ns(per_request, number=5_000)
    client2, calls2 = counting_client(endpoint)
    cache2 = SecretCache(config=SecretCacheConfig(), client=client2)
    threads_cold(lambda: cache2.get_secret_string("ivsecrets-prod-ios"))
    return warm, cold, len(calls2)


def powertools(endpoint: str) -> tuple[float, int, int]:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    client, calls = counting_client(endpoint)
    provider = SecretsProvider(boto3_client=client)
    for name in NAMES:
        provider.get(name, max_age=300)

    def per_request() -> str:
        key = str(provider.get("ivsecrets-prod-ios", max_age=300)).encode()
        return hmac.new(key, b"user-1234567", hashlib.sha256).hexdigest()

    cold = len(calls)
    warm = best_ns(per_request)
    client2, calls2 = counting_client(endpoint)
    provider2 = SecretsProvider(boto3_client=client2)
    threads_cold(lambda: provider2.get("ivsecrets-prod-ios", max_age=300))
    return warm, cold, len(calls2)


def main() -> int:
    with moto_endpoint() as endpoint:
        client, _ = counting_client(endpoint)
        for i, name in enumerate(NAMES):
            client.create_secret(Name=name, SecretString=f"bench-secret-{i}-" + "x" * 30)
        rows = {"ivsecrets": ours(endpoint)}
        for name, module, fn in (
            ("aws-secretsmanager-caching", "aws_secretsmanager_caching", aws_caching),
            ("powertools parameters", "aws_lambda_powertools", powertools),
        ):
            # Only a missing peer is skipped: any other failure (ours included) is an error.
            if importlib.util.find_spec(module) is None:
                print(f"skipped {name}: not installed (make bench-peers installs the bench extra)")
                continue
            rows[name] = fn(endpoint)
    base = rows["ivsecrets"][0]
    announce()
    print(
        f"\n{'library':<28} {'warm user_hash ns':>18} {'x ours':>7} "
        f"{'cold calls (6)':>15} {'32 threads cold':>16}"
    )
    for name, (warm, cold, threaded) in rows.items():
        print(f"{name:<28} {warm:18.0f} {warm / base:7.1f} {cold:15d} {threaded:16d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
