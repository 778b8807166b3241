"""What a fleet pays: refresh passes, used environments only, reads per API (moto over HTTP)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ivsecrets import Secrets
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.hashing import user_hash
from ivsecrets.plugins.aws import AwsProvider
from ivsecrets.testing import FakeClock
from ivsecrets.verification import verify
from tests.servers.aws import AwsSix, aws_boto_session, aws_config_text

IOS_PROD = Environment.of("ios", "prod")


@pytest.fixture
def clock() -> FakeClock:
    """The caches' time: the tests move it on instead of sleeping through refresh periods."""
    return FakeClock()


def recorded(
    provider: AwsProvider, clock: FakeClock | None = None
) -> list[tuple[float, str, dict[str, Any]]]:
    """(time, operation, parameters) of every API call the provider makes from now on."""
    calls: list[tuple[float, str, dict[str, Any]]] = []
    now = clock or time.monotonic

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((now(), model.name, dict(params)))

    provider.client().meta.events.register("before-parameter-build.secretsmanager.*", hook)
    return calls


def passes(calls: list[tuple[float, str, dict[str, Any]]], gap: float = 0.15) -> list[list[Any]]:
    """Calls grouped into bursts: calls less than ``gap`` seconds apart belong to one pass."""
    groups: list[list[Any]] = []
    for call in calls:
        if groups and call[0] - groups[-1][-1][0] < gap:
            groups[-1].append(call)
        else:
            groups.append([call])
    return groups


def fleet_secrets(
    aws_six: AwsSix, read_api: str, clock: FakeClock, **cache: float
) -> tuple[Secrets, Any]:
    settings = {"ttl": 1.0, "refresh_ahead": 0.5, "jitter": 0.1, **cache}
    text = aws_config_text(
        aws_six.endpoint_url, "".join(f"{k} = {v}\n" for k, v in settings.items())
    ).replace("[stores.aws]\n", f'[stores.aws]\nread_api = "{read_api}"\n')
    config = parse_config(text, "fleet.toml")
    provider = AwsProvider(config.stores["aws"], session=aws_boto_session())
    return Secrets(config, providers={"aws": provider}, clock=clock), recorded(provider, clock)


def serve(
    secrets: Secrets, environments: list[Environment], seconds: float, clock: FakeClock
) -> None:
    """Hash for each environment every 0.01 s of ``clock`` for ``seconds``."""
    hashers = [secrets.hasher(env.platform, env.workspace) for env in environments]
    deadline = clock() + seconds
    while clock() < deadline:
        for hasher in hashers:
            hasher.user_hash(user_id="42")
        clock.advance(0.01)


@pytest.mark.parametrize(
    ("read_api", "per_pass"),
    [("batch", ["BatchGetSecretValue"]), ("describe-then-get", ["DescribeSecret"] * 6)],
)
def test_six_environments_refresh_in_one_pass_per_period(
    aws_six: AwsSix, read_api: str, per_pass: list[str], clock: FakeClock
) -> None:
    secrets, calls = fleet_secrets(aws_six, read_api, clock)
    try:
        serve(secrets, list(aws_six.secrets), 0.1, clock)  # the cold load
        calls.clear()
        serve(secrets, list(aws_six.secrets), 2.3, clock)  # period: ttl * refresh_ahead = 0.5 s
    finally:
        secrets.close()
    groups = passes(calls)
    assert 3 <= len(groups) <= 5, [[c[1] for c in g] for g in groups]
    for group in groups:
        assert sorted(c[1] for c in group) == per_pass, "one pass, never one per secret"
    if read_api == "batch":
        assert all(len(g[0][2]["SecretIdList"]) == 6 for g in groups)


@pytest.mark.parametrize(
    ("read_api", "operation"),
    [
        ("batch", "BatchGetSecretValue"),
        ("describe-then-get", "DescribeSecret"),
        ("get", "GetSecretValue"),
    ],
)
def test_a_process_that_serves_one_environment_refreshes_one_secret(
    aws_six: AwsSix, read_api: str, operation: str, clock: FakeClock
) -> None:
    secrets, calls = fleet_secrets(aws_six, read_api, clock)
    try:
        serve(secrets, [IOS_PROD], 2.3, clock)
        stats = secrets.stats()["aws"]
    finally:
        secrets.close()
    _cold, *refreshes = passes(calls)
    assert refreshes, "the refresher ran"
    wanted = aws_six.references[IOS_PROD]
    for group in refreshes:
        assert [c[1] for c in group] == [operation]
        params = group[0][2]
        assert params.get("SecretIdList", [params.get("SecretId")]) == [wanted]
    assert stats["environments_loaded"] == (6 if read_api == "batch" else 1)
    assert stats["environments_used"] == 1


def test_an_idle_environment_reloads_on_its_next_use(
    aws_six: AwsSix, aws_client: Any, clock: FakeClock
) -> None:
    # The batch read loads all six cold environments at once; web/test, never used, is then
    # left out of the refresh passes and, once expired, loaded by its next reader alone.
    secrets, calls = fleet_secrets(aws_six, "batch", clock, max_stale=30)
    web = Environment.of("web", "test")
    try:
        serve(secrets, [IOS_PROD], 1.6, clock)
        assert secrets.stats()["aws"]["environments_used"] == 1
        calls.clear()
        aws_client.put_secret_value(SecretId=aws_six.references[web], SecretString="x" * 40)
        assert secrets.hasher("web", "test").user_hash(user_id="1") == user_hash("x" * 40, "1")
    finally:
        secrets.close()
    lists = [c[2]["SecretIdList"] for c in calls]
    assert [aws_six.references[web]] in lists, lists
    assert all(ids in ([aws_six.references[web]], [aws_six.references[IOS_PROD]]) for ids in lists)


def test_a_per_secret_read_api_loads_only_the_environment_asked_for(
    aws_six: AwsSix, clock: FakeClock
) -> None:
    secrets, calls = fleet_secrets(aws_six, "describe-then-get", clock)
    try:
        secrets.hasher("ios", "prod").user_hash(user_id="1")
        stats = secrets.stats()["aws"]
    finally:
        secrets.close()
    assert [(c[1], c[2]["SecretId"]) for c in calls] == [
        ("GetSecretValue", aws_six.references[IOS_PROD])
    ]
    assert stats["environments_loaded"] == 1


def test_describe_then_get_fetches_a_value_only_when_the_version_changed(
    aws_six: AwsSix, aws_client: Any, clock: FakeClock
) -> None:
    secrets, calls = fleet_secrets(aws_six, "describe-then-get", clock)
    hasher = secrets.hasher("ios", "prod")
    try:
        hasher.user_hash(user_id="1")
        calls.clear()
        aws_client.put_secret_value(SecretId=aws_six.references[IOS_PROD], SecretString="y" * 40)
        deadline = clock() + 3
        while clock() < deadline and hasher.user_hash(user_id="1") != user_hash("y" * 40, "1"):
            clock.advance(0.02)
        assert hasher.user_hash(user_id="1") == user_hash("y" * 40, "1")
    finally:
        secrets.close()
    gets = [c for c in calls if c[1] == "GetSecretValue"]
    assert len(gets) == 1, [c[1] for c in calls]


def test_verify_reuses_the_values_it_loaded(aws_seed: Callable[..., str], aws_env: str) -> None:
    n = 150
    workspaces = [f"w{i:03d}" for i in range(n // 3)]
    text = aws_config_text(aws_env).replace(
        'store = "aws"\n', f'store = "aws"\nworkspaces = {workspaces!r}\n'.replace("'", '"')
    )
    config = parse_config(text, "verify150.toml")
    assert len(config.environments) == n
    for env, ec in config.environments.items():
        aws_seed(f"ivs150_{env.platform.value}_{env.workspace}_Zq3k9Lw2Xr7Tn5Vb", ec.reference)
    provider = AwsProvider(config.stores["aws"], session=aws_boto_session())
    calls = recorded(provider)
    secrets = Secrets(config, providers={"aws": provider})
    try:
        report = verify(config, secrets=secrets)
    finally:
        secrets.close()
    assert report.exit_code == 0, report.to_json()
    assert len(calls) <= n + math.ceil(n / 20), {c[1] for c in calls}


def test_previous_lookups_are_negatively_cached(aws_six: AwsSix, clock: FakeClock) -> None:
    secrets, calls = fleet_secrets(aws_six, "describe-then-get", clock, ttl=60)
    hasher = secrets.hasher("ios", "prod")
    try:
        good = hasher.user_hash(user_id="1")
        calls.clear()
        barrier = threading.Barrier(8)

        def bad() -> None:
            barrier.wait()
            assert not hasher.verify("0" * 64, user_id="1")

        threads = [threading.Thread(target=bad) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _ in range(20):
            assert not hasher.verify("f" * 64, user_id="1")
        assert hasher.verify(good, user_id="1")
    finally:
        secrets.close()
    assert [c[1] for c in calls] == ["GetSecretValue"], "one lookup of AWSPREVIOUS, then cached"
