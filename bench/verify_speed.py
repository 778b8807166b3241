"""How long `ivsecrets verify` takes for six environments on a local AWS (moto) server.

Run: make bench   (or .venv/bin/python bench/verify_speed.py; --quick: see bench/_quick.py)

Starts moto's ThreadedMotoServer on a free loopback port, seeds six secrets, then times the
library's verify() in-process (best of 5, store clients warm and cold) and the installed command
as a subprocess (interpreter start, imports and all). Also counts the store calls a cold start of
six hashers makes.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
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
    announce()
    print("six environments on moto (loopback), best of runs")
    print(f"  verify() in-process, new store client each run : {min(cold) * 1000:7.1f} ms")
    print(f"  verify() in-process, store client reused       : {min(warm) * 1000:7.1f} ms")
    print(f"  `ivsecrets verify` subprocess (start-up incl.) : {min(runs) * 1000:7.1f} ms")
    print(f"  store calls for a cold start of six hashers    : {len(calls)} ({', '.join(calls)})")
    # The serving default (read_api = "describe-then-get", chosen for fleets: docs/stores/aws.md)
    # reads each environment a process uses with one GetSecretValue; "batch" would make it one.
    ok = (QUICK or min(runs) < 1.0) and calls == ["GetSecretValue"] * 6
    print(
        "target: subprocess well under 1 s, one GetSecretValue per environment cold:",
        "ok" if ok else "MISSED",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
