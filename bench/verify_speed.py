"""How long `ivsecrets verify` takes for six environments on a local AWS (moto) server.

Run: make bench   (or .venv/bin/python bench/verify_speed.py; --quick: see bench/_quick.py)

Starts moto's ThreadedMotoServer on a free loopback port, seeds six secrets, then times the
library's verify() in-process (best of 5, store clients warm and cold) and the installed command
as a subprocess (interpreter start, imports and all). Also counts the store calls a cold start of
six hashers makes, and the calls verify() makes at 6, 60 and 150 environments: with versions read
by ListSecrets (10 names a call; DescribeSecret only for a secret mid-rotation) and, as before
that, one DescribeSecret per secret (the fallback when ListSecrets is denied).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _moto import REGION, moto_endpoint
from _quick import QUICK, announce

RUNS = 1 if QUICK else 5


def main() -> int:
    with moto_endpoint() as endpoint:
        return run(endpoint)


def run(endpoint: str) -> int:
    import boto3

    from ivsecrets import Secrets
    from ivsecrets.config import parse_config
    from ivsecrets.verification import verify

    text = f'store = "aws"\n[stores.aws]\nregion = "{REGION}"\nendpoint_url = "{endpoint}"\n'
    config = parse_config(text, "bench.toml")
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    for env, ec in config.environments.items():
        client.create_secret(
            Name=ec.reference,
            SecretString=f"bench-{env.platform.value}-{env.workspace}-" + "x" * 24,
        )

    cold = []
    for _ in range(RUNS):
        started = time.perf_counter()
        report = verify(config)
        cold.append(time.perf_counter() - started)
        assert report.exit_code == 0, report.to_json()
    secrets = Secrets(config)
    warm = []
    for _ in range(RUNS):
        started = time.perf_counter()
        verify(config, secrets=secrets)
        warm.append(time.perf_counter() - started)

    calls = []
    provider = Secrets(config).providers["aws"]
    provider.client().meta.events.register(  # type: ignore[attr-defined]
        "before-call.secrets-manager.*", lambda **kw: calls.append(kw["model"].name)
    )
    cold_start = Secrets(config, providers={"aws": provider})
    for env in config.environments:
        cold_start.hasher(env.platform, env.workspace).user_hash(user_id="42")
    cold_start.close()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ivsecrets.toml"
        path.write_text(text)
        exe = str(Path(sys.executable).parent / "ivsecrets")
        runs = []
        for _ in range(min(RUNS, 3)):
            started = time.perf_counter()
            done = subprocess.run(
                [exe, "--config", str(path), "verify", "--format", "json"],
                capture_output=True,
                check=False,
            )
            runs.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
    counts = {n: verify_calls(endpoint, n) for n in SIZES}
    announce()
    print("six environments on moto (loopback), best of runs")
    print(f"  verify() in-process, new store client each run : {min(cold) * 1000:7.1f} ms")
    print(f"  verify() in-process, store client reused       : {min(warm) * 1000:7.1f} ms")
    print(f"  `ivsecrets verify` subprocess (start-up incl.) : {min(runs) * 1000:7.1f} ms")
    print(f"  store calls for a cold start of six hashers    : {len(calls)} ({', '.join(calls)})")
    print("store calls one verify() makes (no rotation under way), before -> after ListSecrets")
    for n, (before, after) in counts.items():
        total = f"{sum(before.values()):3d} -> {sum(after.values()):3d}"
        print(f"  {n:3d} environments: {total}  ({_calls(before)} -> {_calls(after)})")
    fewer = all(sum(a.values()) < sum(b.values()) for b, a in counts.values())
    # The serving default (read_api = "describe-then-get", chosen for fleets: docs/stores/aws.md)
    # reads each environment a process uses with one GetSecretValue; "batch" would make it one.
    ok = (QUICK or min(runs) < 1.0) and calls == ["GetSecretValue"] * 6 and fewer
    print(
        "target: subprocess well under 1 s, one GetSecretValue per environment cold, verify"
        " with fewer calls than one DescribeSecret per secret:",
        "ok" if ok else "MISSED",
    )
    return 0 if ok else 1


SIZES = (6, 60, 150)


def verify_calls(endpoint: str, configured: int) -> tuple[Counter[str], Counter[str]]:
    """The calls of one verify() over ``configured`` environments seeded in moto: versions read
    one DescribeSecret per secret (before), then with ListSecrets (after); results must agree."""
    import boto3

    from ivsecrets import Secrets
    from ivsecrets.config import parse_config
    from ivsecrets.verification import verify

    names = ["test", "prod"] if configured == 6 else [f"v{i:03d}" for i in range(configured // 3)]
    quoted = ", ".join(f'"{n}"' for n in names)
    text = (
        f'store = "aws"\nworkspaces = [{quoted}]\n'
        f'[stores.aws]\nregion = "{REGION}"\nendpoint_url = "{endpoint}"\n'
    )
    config = parse_config(text, "bench.toml")
    client = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION)
    for ec in config.environments.values():
        with contextlib.suppress(client.exceptions.ResourceExistsException):
            client.create_secret(Name=ec.reference, SecretString=f"{ec.reference}-" + "x" * 32)
    counted = []
    reports = []
    for listing in (False, True):
        calls: Counter[str] = Counter()
        secrets = Secrets(config)
        provider = secrets.providers["aws"]
        provider._can_list = listing  # type: ignore[attr-defined]  # False: as before ListSecrets
        provider.client().meta.events.register(  # type: ignore[attr-defined]
            "before-call.secrets-manager.*", lambda model, _c=calls, **_: _c.update([model.name])
        )
        report = verify(config, secrets=secrets, intercom=None)
        assert report.exit_code == 0, report.to_json()
        reports.append(report.as_dict()["environments"])
        counted.append(calls)
    assert reports[0] == reports[1], "ListSecrets changed verify's results"
    return counted[0], counted[1]


def _calls(calls: Counter[str]) -> str:
    return ", ".join(f"{n} {name}" for name, n in sorted(calls.items()))


if __name__ == "__main__":
    sys.exit(main())
