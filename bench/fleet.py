"""Fleet benchmark: what a fleet of P processes costs each store, against its published quotas.

Run: .venv/bin/python bench/fleet.py   (about a minute; needs the test extra: moto, grpcio)

For each store and read API it runs one ivsecrets process (a ``Secrets`` with a shortened ttl, so
a run takes seconds) on a local server: moto for AWS, our agent server over moto for
``aws-agent``, the in-process gRPC server for GCP. It counts, per API, the store calls of the cold
load and of each refresh pass, for 6, 60 and 150 environments used and for a process that serves
one environment of six. It then scales them to the defaults (a refresh pass every
ttl x refresh_ahead = 240 s) and prints, per store and API, the calls per process per hour and the
largest fleet that stays within half of the published quota: in steady state, and during a rolling
restart of the whole fleet within 10 minutes (every process loads cold once in 600 s while the
others keep refreshing).

For ``aws-agent`` the store is called by the node's agent, not by the processes: the figures are
per node and measured with 1 and 8 processes on the node, to show they do not depend on it.
Vault has no published request quota (its cost is one login per process and one read per secret
per pass); it is left out of the table.
"""

from __future__ import annotations

import logging
import math
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.servers, bench._moto

from bench._quick import QUICK, announce

# Published quotas, requests per second, and where they are published.
AWS_QUOTAS_URL = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"
GCP_QUOTAS_URL = "https://cloud.google.com/secret-manager/quotas"
QUOTAS: dict[tuple[str, str], tuple[float, str]] = {
    ("aws", "BatchGetSecretValue"): (100.0, AWS_QUOTAS_URL + " (not adjustable)"),
    ("aws", "GetSecretValue"): (10_000.0, AWS_QUOTAS_URL),
    ("aws", "DescribeSecret"): (40_000.0, AWS_QUOTAS_URL),
    ("gcp", "AccessSecretVersion"): (90_000.0 / 60, GCP_QUOTAS_URL + " (90,000 per minute)"),
}
PERIOD = 300.0 * 0.8  # the default ttl x refresh_ahead: one refresh pass per 240 s
AGENT_TTL = 300.0  # the AWS Secrets Manager Agent's default ttl_seconds
ROLLOUT = 600.0  # a rolling restart of the whole fleet within 10 minutes
# The ttl of the measured process (longer with many environments: see below).
SHORT_TTL = 0.2 if QUICK else 0.5
SHORT_AGENT_TTL = 1.0 if QUICK else 2.0  # the measured agent's ttl_seconds (> processes' ttl)
# (environments used, environments configured); quick mode: the six the verdict is about.
SIZES = [(6, 6)] if QUICK else [(1, 6), (6, 6), (60, 60), (150, 150)]
PROCESSES = (1, 2) if QUICK else (1, 8)  # processes per node for the agent


@dataclass
class Measured:
    store: str
    read_api: str
    used: int
    configured: int
    cold: Counter[str]  # calls per process for the cold load
    per_pass: Counter[str]  # calls per process per refresh pass (a mean: may be fractional)
    per_node: bool = False  # the agent: calls per node (per agent ttl), whatever the processes


def workspaces_for(configured: int) -> list[str]:
    return ["test", "prod"] if configured == 6 else [f"w{i:03d}" for i in range(configured // 3)]


def short_ttl(configured: int) -> float:
    """A ttl far longer than a cold load of ``configured`` secrets takes on a local server, as
    300 s is in production, so that refresh passes are not split by a slow cold load."""
    return max(SHORT_TTL, 0.05 * configured)


def config_text(store: str, configured: int, options: str, ttl: float | None = None) -> str:
    names = ", ".join(f'"{w}"' for w in workspaces_for(configured))
    return (
        f'store = "{store}"\nworkspaces = [{names}]\n\n[stores.{store}]\n{options}'
        f"\n[stores.{store}.cache]\nttl = {ttl or short_ttl(configured)}\nrefresh_ahead = 0.8\n"
        "jitter = 0.1\n"
    )


def run_process(
    secrets: Any, store: str, used: list[Any], calls: Callable[[], Counter[str]]
) -> tuple[Counter[str], Counter[str]]:
    """Serve ``used`` environments through three refresh passes: (cold calls, calls per pass).

    ``calls()`` is the store's call count so far; it is read under the cache's fetch lock, so no
    pass is half counted.
    """
    cache = secrets.caches[store]

    def snapshot() -> tuple[Counter[str], int]:
        with cache._fetch_lock:
            return calls(), cache.stats()["refresh_passes"]

    before, _ = snapshot()
    hashers = [secrets.hasher(env.platform, env.workspace) for env in used]
    for hasher in hashers:
        hasher.user_hash(user_id="1")
    after_cold, passes_at_start = snapshot()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for hasher in hashers:
            hasher.user_hash(user_id="1")
        time.sleep(0.005)
        if cache.stats()["refresh_passes"] - passes_at_start >= 3:
            break
    end, passes_at_end = snapshot()
    passes = max(1, passes_at_end - passes_at_start)
    per_pass = Counter({api: n / passes for api, n in (end - after_cold).items()})
    return after_cold - before, per_pass


# -- AWS ----------------------------------------------------------------------------------------


def seed_aws(client: Any, config: Any) -> None:
    for env, ec in config.environments.items():
        value = f"ivsFleet_{env.platform.value}_{env.workspace}_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4M"
        with suppress(client.exceptions.ResourceExistsException):
            client.create_secret(Name=ec.reference, SecretString=value)


def measure_aws(endpoint: str, read_api: str, used: int, configured: int) -> Measured:
    from tests.servers.aws import aws_boto_session

    import ivsecrets
    from ivsecrets.config import parse_config
    from ivsecrets.plugins.aws import AwsProvider

    options = f'region = "us-east-1"\nendpoint_url = "{endpoint}"\nread_api = "{read_api}"\n'
    config = parse_config(config_text("aws", configured, options), "fleet.toml")
    seed_aws(aws_boto_session().client("secretsmanager", endpoint_url=endpoint), config)
    provider = AwsProvider(config.stores["aws"], session=aws_boto_session())
    counts: Counter[str] = Counter()
    provider.client().meta.events.register(
        "before-call.secretsmanager.*", lambda model, **_: counts.update([model.name])
    )
    secrets = ivsecrets.Secrets(config, providers={"aws": provider})
    try:
        envs = list(config.environments)[:used]
        cold, per_pass = run_process(secrets, "aws", envs, lambda: Counter(counts))
    finally:
        secrets.close()
    return Measured("aws", read_api, used, configured, cold, per_pass)


def measure_agent(endpoint: str, used: int, configured: int, processes: int) -> Measured:
    """Store calls per agent ttl on one node running ``processes`` processes."""
    from tests.servers.aws import aws_boto_session
    from tests.servers.aws_agent import AgentServer

    import ivsecrets
    from ivsecrets.config import parse_config

    client = aws_boto_session().client("secretsmanager", endpoint_url=endpoint)
    with tempfile.TemporaryDirectory() as tmp:
        token_file = Path(tmp) / "awssmatoken"
        token_file.write_text("bench-token")
        agent_ttl = max(SHORT_AGENT_TTL, 0.05 * configured)
        agent = AgentServer(client, "bench-token", token_file, ttl=agent_ttl)
        options = f'endpoint = "{agent.url}"\ntoken_file = "{token_file}"\n'
        # The processes refresh far more often than the agent's entries expire, so the agent
        # refreshes each entry once per its ttl, as under a steady request rate.
        text = config_text("aws-agent", configured, options, ttl=SHORT_TTL)
        config = parse_config(text, "agent.toml")
        seed_aws(client, config)
        envs = list(config.environments)[:used]
        nodes = [ivsecrets.Secrets(config) for _ in range(processes)]
        try:
            for secrets in nodes:
                for env in envs:
                    secrets.hasher(env.platform, env.workspace).user_hash(user_id="1")
            cold = Counter({"GetSecretValue": agent.store_calls})
            agent.store_calls = 0
            started = time.monotonic()
            while time.monotonic() - started < 3.5 * agent_ttl:
                for secrets in nodes:
                    for env in envs:
                        secrets.hasher(env.platform, env.workspace).user_hash(user_id="1")
                time.sleep(0.01)
            # The agent calls the store for a secret at most once per its ttl, whatever the
            # number of processes asking: check it on every pair of calls for one secret, and
            # count the node's rate as that bound (E secrets per agent ttl).
            last: dict[Any, float] = {}
            shortest = math.inf
            for when, key in agent.store_log:
                if key in last:
                    shortest = min(shortest, when - last[key])
                last[key] = when
            bounded = shortest >= agent_ttl * 0.99
            per_ttl = float(used) if bounded else agent.store_calls / 3
        finally:
            for secrets in nodes:
                secrets.close()
            agent.stop()
    return Measured(
        "aws-agent",
        f"agent, {processes} proc/node",
        used,
        configured,
        cold,
        Counter({"GetSecretValue": per_ttl}),
        per_node=True,
    )


# -- GCP ----------------------------------------------------------------------------------------


@contextmanager
def gcp_server() -> Iterator[Any]:
    from tests.servers._gcp_service import GcpServer

    server = GcpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def measure_gcp(server: Any, used: int, configured: int, rotated: bool) -> Measured:
    from tests.servers._gcp_service import connect
    from tests.servers.gcp import create_secret, gcp_store_toml, secret_value

    import ivsecrets
    from ivsecrets.config import parse_config

    project = f"fleet-{configured}-{used}-{int(rotated)}"
    options = gcp_store_toml(server.address, project).split("\n", 1)[1]
    config = parse_config(config_text("gcp", configured, options), "gcp.toml")
    admin = connect(server.address, caller="admin")
    for env, ec in config.environments.items():
        name = create_secret(
            admin, f"projects/{project}", ec.reference, secret_value(project, str(env))
        )
        if rotated:  # as `ivsecrets rotate` leaves it: a `current` alias
            admin.update_secret(
                secret={"name": name, "version_aliases": {"current": 1}},
                update_mask={"paths": ["version_aliases"]},
            )
    admin.transport.close()
    secrets = ivsecrets.Secrets(config)
    try:
        envs = list(config.environments)[:used]
        cold, per_pass = run_process(secrets, "gcp", envs, lambda: Counter(server.state.calls))
    finally:
        secrets.close()
    label = "rotated (alias)" if rotated else "never rotated"
    return Measured("gcp", label, used, configured, cold, per_pass)


# -- the table ----------------------------------------------------------------------------------


def fleet_rows(m: Measured) -> list[tuple[str, float, float, float, float]]:
    """Per API: (api, cold calls, calls/hour, largest fleet steady, largest fleet restart)."""
    rows = []
    period = AGENT_TTL if m.per_node else PERIOD
    for api in sorted(set(m.cold) | set(m.per_pass)):
        quota = QUOTAS.get((m.store.removesuffix("-agent"), api), (math.inf, ""))[0]
        half = quota / 2
        steady_rate = m.per_pass[api] / period  # calls/s per process (per node for the agent)
        restart_rate = steady_rate + m.cold[api] / ROLLOUT
        steady_max = half / steady_rate if steady_rate else math.inf
        restart_max = half / restart_rate if restart_rate else math.inf
        rows.append((api, m.cold[api], m.per_pass[api] * 3600 / period, steady_max, restart_max))
    return rows


def fmt(n: float) -> str:
    if math.isinf(n):
        return "unbounded"
    return f"{int(n):,}"


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("ivsecrets").setLevel(logging.ERROR)
    from bench._moto import moto_endpoint

    measured: list[Measured] = []
    with moto_endpoint() as endpoint:
        for used, configured in SIZES:
            for read_api in ("describe-then-get", "get", "batch"):
                measured.append(measure_aws(endpoint, read_api, used, configured))
        for used, configured in SIZES:
            for processes in PROCESSES:
                measured.append(measure_agent(endpoint, used, configured, processes))
    with gcp_server() as server:
        for used, configured in SIZES:
            for rotated in (False, True):
                measured.append(measure_gcp(server, used, configured, rotated))

    announce()
    print(
        "ivsecrets fleet arithmetic: store calls measured on local servers, scaled to the "
        f"defaults\n(a refresh pass every {PERIOD:.0f} s; rolling restart within {ROLLOUT:.0f} s;"
        " largest fleet within half of each quota)\n"
    )
    header = (
        f"{'store':<9} {'read_api':<22} {'envs':>8} {'API':<20} {'cold':>5} {'calls/h':>8} "
        f"{'quota/s':>8} {'max fleet steady':>17} {'max fleet restart':>18}"
    )
    print(header)
    print("-" * len(header))
    verdict: list[float] = []
    for m in measured:
        envs = f"{m.used}/{m.configured}"
        for api, cold, per_hour, steady_max, restart_max in fleet_rows(m):
            quota = QUOTAS.get((m.store.removesuffix("-agent"), api), (math.inf, ""))[0]
            unit = " nodes" if m.per_node else ""
            print(
                f"{m.store:<9} {m.read_api:<22} {envs:>8} {api:<20} {cold:>5.0f} "
                f"{per_hour:>8.0f} {fmt(quota):>8} {fmt(steady_max) + unit:>17} "
                f"{fmt(restart_max) + unit:>18}"
            )
            if m.store == "aws" and m.read_api == "describe-then-get" and m.configured == 6:
                verdict += [steady_max, restart_max]
    print("\nquotas:")
    for (store, api), (quota, source) in QUOTAS.items():
        print(f"  {store} {api}: {quota:,.0f}/s  {source}")
    print(
        "  vault: no published request quota; one login per process lifetime (renewed), one read"
        " per used secret per pass"
    )
    smallest = min(verdict)
    ok = smallest >= 100_000
    print(
        f"\nwith the defaults (aws, read_api = describe-then-get, six environments): the largest "
        f"fleet within half of every AWS quota is {fmt(smallest)} processes "
        f"{'(>= 100,000: ok)' if ok else '(< 100,000: MISSED)'}"
    )
    agent = [m for m in measured if m.per_node]
    same = all(
        a.per_pass == b.per_pass and a.cold == b.cold
        for a in agent
        for b in agent
        if a.used == b.used and a.configured == b.configured
    )
    print(
        "aws-agent: store calls per node "
        + ("do not depend" if same else "DEPEND")
        + f" on the processes per node ({' and '.join(map(str, PROCESSES))} measured)"
    )
    return 0 if ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
