"""Fleet benchmark: what a fleet of P processes costs each store, against its published quotas.

Run: .venv/bin/python bench/fleet.py   (about a minute; needs the test extra: moto, grpcio)

For each store and read API it runs one ivsecrets process (a ``Secrets`` with a shortened ttl, so
a run takes seconds) on a local server: moto for AWS, our agent server over moto for
``aws-agent``, the in-process gRPC server for GCP. It counts, per API, the store calls of the cold
load and of each refresh pass, for 6, 60 and 150 environments used and for a process that serves
one environment of six. It then scales them to the defaults and prints, per store and API, the
calls per process per hour and the largest fleet that stays within half of the published quota: in
steady state, and during a rolling restart of the whole fleet within 10 minutes (every process
loads cold once in 600 s while the others keep refreshing).

The refresh period is the cache's mean: a pass is due ttl x refresh_ahead x (1 - jitter x U) after
the last one, U uniform in [0, 1), so on average ttl x refresh_ahead x (1 - jitter / 2) = 0.76 x
300 s = 228 s with the defaults (derived from ``CacheSettings``; the run also measures it and
prints it). AWS publishes two readings of its serving quotas: the 2025-03 What's New gives
GetSecretValue 10,000/s and DescribeSecret 40,000/s, each on its own; copies of the quotas page give
a *combined* 10,000/s for both. Both are computed; the headline is the combined (conservative) one.
The rotation spike (every secret rotated at once: each process's next pass reads each new value,
one GetSecretValue per secret on top of its DescribeSecret) is a row of its own.

For ``aws-agent`` the store is called by the node's agent, not by the processes: the figures are
per node and measured with 1 and 8 processes on the node, to show they do not depend on it.
Vault has no published request quota (its cost is one login per process and one read per secret
per pass); it is left out of the table.
"""

from __future__ import annotations

import itertools
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

from ivsecrets.config.model import CacheSettings

# Published quotas, requests per second, and where they are published.
AWS_QUOTAS_URL = "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html"
AWS_NEWS = "AWS What's New, 2025-03"
GCP_QUOTAS_URL = "https://cloud.google.com/secret-manager/quotas"
QUOTAS: dict[tuple[str, str], tuple[float, str]] = {
    ("aws", "BatchGetSecretValue"): (100.0, AWS_QUOTAS_URL + " (not adjustable)"),
    ("aws", "GetSecretValue"): (10_000.0, AWS_NEWS + " (separate reading)"),
    ("aws", "DescribeSecret"): (40_000.0, AWS_NEWS + " (separate reading)"),
    ("gcp", "AccessSecretVersion"): (90_000.0 / 60, GCP_QUOTAS_URL + " (90,000 per minute)"),
}
# The other reading (copies of the quotas page; /work/shared/DESIGN.md: plan with it): one quota
# for DescribeSecret and GetSecretValue together.
COMBINED = "Describe+Get"
COMBINED_APIS = ("DescribeSecret", "GetSecretValue")
COMBINED_QUOTA = (10_000.0, AWS_QUOTAS_URL + " (combined reading, not adjustable)")
DEFAULTS = CacheSettings()
# The mean refresh period, as a fraction of ttl: ttl x refresh_ahead x (1 - jitter x U), U uniform.
PERIOD_FACTOR = DEFAULTS.refresh_ahead * (1.0 - DEFAULTS.jitter / 2)  # 0.76
PERIOD = DEFAULTS.ttl * PERIOD_FACTOR  # one refresh pass per 228 s on average
HEADLINE_ENVS = 6  # the verdict is about the six default environments
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
    period_ratio: float = math.nan  # measured mean time between refresh passes / ttl
    scheduled: tuple[float, ...] = ()  # each pass's drawn delay to the next one / ttl
    spike: Counter[str] | None = None  # calls in the pass after every used secret was rotated


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
        f"\n[stores.{store}.cache]\nttl = {ttl or short_ttl(configured)}\n"
        f"refresh_ahead = {DEFAULTS.refresh_ahead}\njitter = {DEFAULTS.jitter}\n"
    )


def run_process(
    secrets: Any,
    store: str,
    used: list[Any],
    calls: Callable[[], Counter[str]],
    rotate: Callable[[], None] | None = None,
) -> tuple[Counter[str], Counter[str], float, tuple[float, ...], Counter[str] | None]:
    """Serve ``used`` environments through three refresh passes: (cold calls, calls per pass,
    mean time between pass starts / ttl, each load's scheduled delay to its refresh / ttl).

    ``calls()`` is the store's call count so far; it is read under the cache's fetch lock, so no
    pass is half counted. A pass is seen when its count goes up (polled every 5 ms), so the
    time between pass starts includes the local store's call time and up to 5 ms of polling; the
    scheduled delay (``refresh_at - loaded_at`` of the snapshot each pass installs: the cache's
    own jitter draw) does not. With ``rotate`` (which rotates every used secret in the store),
    then also the calls of the next pass: the rotation spike.
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
    seen, seen_at = passes_at_start, [time.monotonic()]  # the cold load counts as a pass start
    slot = cache.slots[used[0]]
    scheduled: dict[float, float] = {}  # loaded_at: (refresh_at - loaded_at) / ttl
    while time.monotonic() < deadline:
        for hasher in hashers:
            hasher.user_hash(user_id="1")
        time.sleep(0.005)
        keys = slot.keys
        if keys.secret is not None:
            scheduled[keys.loaded_at] = (keys.refresh_at - keys.loaded_at) / cache.settings.ttl
        now_passes = cache.stats()["refresh_passes"]
        if now_passes > seen:
            seen = now_passes
            seen_at.append(time.monotonic())
        if now_passes - passes_at_start >= 3:
            break
    end, passes_at_end = snapshot()
    passes = max(1, passes_at_end - passes_at_start)
    per_pass = Counter({api: n / passes for api, n in (end - after_cold).items()})
    intervals = [b - a for a, b in itertools.pairwise(seen_at)]
    ratio = sum(intervals) / len(intervals) / cache.settings.ttl if intervals else math.nan
    spike = None if rotate is None else spike_calls(cache, hashers, rotate, calls)
    return after_cold - before, per_pass, ratio, tuple(scheduled.values()), spike


def spike_calls(
    cache: Any, hashers: list[Any], rotate: Callable[[], None], calls: Callable[[], Counter[str]]
) -> Counter[str]:
    """Rotate every used secret, then count the calls of the next refresh pass (whole)."""
    with cache._fetch_lock:  # between two passes
        rotate()
        before, passes = calls(), cache.stats()["refresh_passes"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and cache.stats()["refresh_passes"] == passes:
        for hasher in hashers:
            hasher.user_hash(user_id="1")
        time.sleep(0.005)
    with cache._fetch_lock:  # that pass has finished
        return calls() - before


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
    admin = aws_boto_session().client("secretsmanager", endpoint_url=endpoint)
    envs = list(config.environments)[:used]

    def rotate() -> None:  # a new AWSCURRENT version for every used secret
        for env in envs:
            ref = config.environments[env].reference
            admin.put_secret_value(SecretId=ref, SecretString=f"ivsFleet_rotated_{time.time_ns()}")

    spiked = rotate if read_api == "describe-then-get" else None
    try:
        cold, per_pass, ratio, drawn, spike = run_process(
            secrets, "aws", envs, lambda: Counter(counts), spiked
        )
    finally:
        secrets.close()
    return Measured(
        "aws",
        read_api,
        used,
        configured,
        cold,
        per_pass,
        period_ratio=ratio,
        scheduled=drawn,
        spike=spike,
    )


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
        cold, per_pass, ratio, drawn, _ = run_process(
            secrets, "gcp", envs, lambda: Counter(server.state.calls)
        )
    finally:
        secrets.close()
    label = "rotated (alias)" if rotated else "never rotated"
    return Measured(
        "gcp", label, used, configured, cold, per_pass, period_ratio=ratio, scheduled=drawn
    )


# -- the table ----------------------------------------------------------------------------------


@dataclass
class Row:
    store: str
    label: str  # the read API, or what the row is about
    envs: str  # used/configured
    api: str
    quota: float  # requests/s
    cold: float  # calls per process for the cold load
    per_hour: float  # calls per process (per node for the agent) per hour
    steady_max: float  # largest fleet within half the quota (during the spike, for a spike row)
    restart_max: float  # ... during a rolling restart (nan: not applicable)
    unit: str = ""


def quota_of(store: str, api: str) -> float:
    if api == COMBINED:
        return COMBINED_QUOTA[0]
    return QUOTAS.get((store.removesuffix("-agent"), api), (math.inf, ""))[0]


def row(
    m: Measured, label: str, api: str, cold: float, per_pass: float, spike: bool = False
) -> Row:
    period = AGENT_TTL if m.per_node else PERIOD
    half = quota_of(m.store, api) / 2
    steady_rate = per_pass / period  # calls/s per process (per node for the agent)
    restart_rate = steady_rate + cold / ROLLOUT
    steady_max = half / steady_rate if steady_rate else math.inf
    restart_max = math.nan if spike else (half / restart_rate if restart_rate else math.inf)
    envs = f"{m.used}/{m.configured}"
    unit = " nodes" if m.per_node else ""
    return Row(
        m.store, label, envs, api, quota_of(m.store, api), cold, per_pass * 3600 / period,
        steady_max, restart_max, unit,
    )  # fmt: skip


def spike_pass(m: Measured) -> Counter[str]:
    """Calls per process in the pass after every secret was rotated at once: measured where the
    run rotated them, else what describe-then-get does (each used secret's AWSCURRENT has
    moved, so its DescribeSecret is followed by one GetSecretValue for the new value). ``get``,
    ``batch``, the agent and GCP read the value on every pass anyway: a rotation costs them
    nothing more."""
    if m.spike is not None:
        return m.spike
    return m.per_pass + Counter({"GetSecretValue": m.used})


def fleet_rows(m: Measured) -> list[Row]:
    """Per API (separate reading), the combined DescribeSecret + GetSecretValue row where a
    measurement calls both, and for describe-then-get the rotation spike."""
    apis = sorted(set(m.cold) | set(m.per_pass))
    rows = [row(m, m.read_api, api, m.cold[api], m.per_pass[api]) for api in apis]
    both = m.store == "aws" and all(api in apis for api in COMBINED_APIS)
    if both:
        cold = sum(m.cold[api] for api in COMBINED_APIS)
        rows.append(row(m, m.read_api, COMBINED, cold, sum(m.per_pass[a] for a in COMBINED_APIS)))
    if m.store == "aws" and m.read_api == "describe-then-get":
        spike = spike_pass(m)
        label = m.read_api + ": spike"
        rows.append(row(m, label, "GetSecretValue", 0, spike["GetSecretValue"], spike=True))
        total = sum(spike[api] for api in COMBINED_APIS)
        rows.append(row(m, label, COMBINED, 0, total, spike=True))
    return rows


def fmt(n: float) -> str:
    if math.isnan(n):
        return "-"
    if math.isinf(n):
        return "unbounded"
    return f"{int(n):,}"


HEADER = (
    f"{'store':<9} {'read_api':<25} {'envs':>7} {'API':<20} {'cold':>5} {'calls/h':>8} "
    f"{'quota/s':>8} {'max fleet steady':>17} {'max fleet restart':>18}"
)


def table(measured: list[Measured]) -> list[str]:
    lines = [HEADER, "-" * len(HEADER)]
    for m in measured:
        for r in fleet_rows(m):
            lines.append(
                f"{r.store:<9} {r.label:<25} {r.envs:>7} {r.api:<20} {r.cold:>5.0f} "
                f"{r.per_hour:>8.0f} {fmt(r.quota):>8} {fmt(r.steady_max) + r.unit:>17} "
                f"{fmt(r.restart_max) + (r.unit if r.restart_max == r.restart_max else ''):>18}"
            )
    return lines


def default_rows(measured: list[Measured]) -> list[Row]:
    """The rows the verdict is about: aws, describe-then-get, the six default environments."""
    return [
        r
        for m in measured
        if m.store == "aws" and m.read_api == "describe-then-get"
        if m.used == m.configured == HEADLINE_ENVS
        for r in fleet_rows(m)
    ]


def headline(measured: list[Measured]) -> dict[str, float]:
    """The largest fleet within half of every AWS quota, steady or restarting, per reading, and
    during a rotation of every secret at once."""
    rows = default_rows(measured)
    steady = [r for r in rows if not r.label.endswith("spike")]
    spike = [r for r in rows if r.label.endswith("spike")]

    def least(rs: list[Row]) -> float:
        return min(min(r.steady_max, r.restart_max) for r in rs)

    return {
        "separate": least([r for r in steady if r.api != COMBINED]),
        "combined": least([r for r in steady if r.api == COMBINED]),
        "spike separate": min(r.steady_max for r in spike if r.api != COMBINED),
        "spike combined": min(r.steady_max for r in spike if r.api == COMBINED),
    }


def load_of(measured: list[Measured], processes: int) -> dict[str, float]:
    """What ``processes`` processes (aws, describe-then-get, six environments) make, calls/s."""
    m = next(
        m
        for m in measured
        if m.store == "aws" and m.read_api == "describe-then-get"
        if m.used == m.configured == HEADLINE_ENVS
    )
    describe = processes * m.per_pass["DescribeSecret"] / PERIOD
    restart_get = processes * m.cold["GetSecretValue"] / ROLLOUT
    spike_get = processes * spike_pass(m)["GetSecretValue"] / PERIOD
    return {"describe": describe, "restart get": restart_get, "spike get": spike_get}


def pct(n: float, quota: float) -> str:
    return f"{100 * n / quota:.1f} %"


def summary(measured: list[Measured]) -> list[str]:
    """The verdict lines under the table (the docs quote them)."""
    h = headline(measured)
    get_q, describe_q = QUOTAS[("aws", "GetSecretValue")][0], QUOTAS[("aws", "DescribeSecret")][0]
    comb_q = COMBINED_QUOTA[0]
    ok = h["combined"] >= 100_000
    load = load_of(measured, 100_000)
    d, r, g = load["describe"], load["restart get"], load["spike get"]
    ratios = [m.period_ratio for m in measured if not math.isnan(m.period_ratio)]
    between = sum(ratios) / len(ratios) if ratios else math.nan
    drawn = [d for m in measured for d in m.scheduled]
    mean_drawn = sum(drawn) / len(drawn) if drawn else math.nan
    return [
        f"refresh period: {PERIOD_FACTOR:.3f} x ttl = {PERIOD:.0f} s, the mean of ttl x "
        f"refresh_ahead x (1 - jitter x U) (refresh_ahead {DEFAULTS.refresh_ahead}, jitter "
        f"{DEFAULTS.jitter}), used above; measured here: {mean_drawn:.3f} x ttl scheduled by the "
        f"cache (mean of {len(drawn)} loads), {between:.3f} x ttl between pass starts (mean over "
        f"{len(ratios)} processes; the local store's call time and 5 ms polling included, "
        "negligible against a 300 s ttl)",
        f"with the defaults (aws, read_api = describe-then-get, {HEADLINE_ENVS} environments), the "
        "largest fleet within half of every AWS quota, steady or restarting:",
        f"  combined reading (DescribeSecret + GetSecretValue {fmt(comb_q)}/s, the headline): "
        f"{fmt(h['combined'])} processes "
        f"{'(>= 100,000: ok)' if ok else '(< 100,000: MISSED)'}",
        f"  separate reading (GetSecretValue {fmt(get_q)}/s, DescribeSecret "
        f"{fmt(describe_q)}/s): {fmt(h['separate'])} processes",
        f"  rotation spike (every secret rotated at once; one pass): {fmt(h['spike combined'])} "
        f"processes (combined reading), {fmt(h['spike separate'])} (separate reading)",
        f"100,000 processes make {fmt(d)} DescribeSecret/s in steady state "
        f"({pct(d, describe_q)} of {fmt(describe_q)}/s separate, {pct(d, comb_q)} of the combined "
        f"{fmt(comb_q)}/s); a rolling restart adds {fmt(r)} GetSecretValue/s "
        f"({pct(d + r, comb_q)} combined); a rotation of "
        f"every secret adds {fmt(g)} GetSecretValue/s for one period ({pct(g, get_q)} of "
        f"{fmt(get_q)}/s separate, {pct(d + g, comb_q)} combined)",
    ]


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
        f"defaults\n(a refresh pass every {PERIOD:.0f} s on average; rolling restart within "
        f"{ROLLOUT:.0f} s; largest fleet within half of each quota; {COMBINED}: the combined "
        "reading of AWS's quotas; spike: the pass after every secret was rotated)\n"
    )
    print("\n".join(table(measured)))
    print("\nquotas:")
    for (store, api), (quota, source) in QUOTAS.items():
        print(f"  {store} {api}: {quota:,.0f}/s  {source}")
        if (store, api) == ("aws", "DescribeSecret"):
            print(f"  aws {COMBINED}: {COMBINED_QUOTA[0]:,.0f}/s  {COMBINED_QUOTA[1]}")
    print(
        "  vault: no published request quota; one login per process lifetime (renewed), one read"
        " per used secret per pass"
    )
    print()
    print("\n".join(summary(measured)))
    ok = headline(measured)["combined"] >= 100_000
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
