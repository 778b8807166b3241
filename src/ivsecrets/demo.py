"""The main job on the embedded default, for a fresh machine: ``make demo``.

Puts six example secrets in this process's environment (unless ``IVSECRETS_<PLATFORM>_<WORKSPACE>``
variables are already set), loads them through the embedded default configuration exactly as a
backend would, and prints each environment's fingerprint, a sample ``user_hash`` and JWT, and the
wiring check. Secret values are never printed.
"""

from __future__ import annotations

import hashlib
import os
import sys

from ivsecrets.api import Secrets
from ivsecrets.config import load_config
from ivsecrets.environments import Environment
from ivsecrets.verification import verify


def _example_secret(env: Environment) -> str:
    # Deterministic, distinct and Intercom-shaped (43 base64url characters); never a real secret.
    digest = hashlib.sha256(f"ivsecrets demo {env}".encode()).digest()
    import base64

    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def main() -> int:
    config = load_config()
    seeded = 0
    for env, ec in config.environments.items():
        if ec.store == "env" and ec.reference not in os.environ:
            os.environ[ec.reference] = _example_secret(env)
            seeded += 1
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Config text, references and messages are data: they go to rich as Text, which is never
    # read as markup, so nothing here needs escaping (the CLI escapes with cli.output.markup;
    # the demo, an entry point beside the CLI, does not import it).
    console = Console(width=None if sys.stdout.isatty() else 110)

    def say(*parts: str | tuple[str, str]) -> None:
        console.print(console.highlighter(Text.assemble(*parts)))  # as rich shows a str

    say(
        "configuration: ",
        (config.source, "bold"),
        f" ({seeded} example secrets put in the environment)" if seeded else "",
    )
    secrets = Secrets(config)
    table = Table("environment", "reference", "fingerprint", "user_hash(user_id='42')")
    for env in config.expected_environments():
        hasher = secrets.hasher(env.platform, env.workspace)
        ec = config.environments[env]
        table.add_row(
            Text(str(env)),
            Text(f"{ec.store}:{ec.reference}"),
            Text(hasher.fingerprint),
            Text(hasher.user_hash(user_id="42")[:12] + "…"),
        )
    console.print(table)
    token = secrets.hasher("web", config.workspaces[-1]).messenger_jwt(
        user_id="42", expires_in=3600
    )
    say(f"messenger_jwt(user_id='42') for web/{config.workspaces[-1]}: {token[:24]}… (HS256)")
    stats = secrets.stats()
    say(
        f"store calls: {sum(s['fetches'] for s in stats.values())} for "
        f"{len(config.environments)} environments (batched, cached)"
    )
    # The deploy-pipeline check, as `ivsecrets verify` runs it.
    report = verify(config, secrets=secrets)
    secrets.close()
    for env_report in report.environments:
        for check in env_report.checks:
            if check.status.value in ("fail", "error", "warn"):
                say((f"✗ {env_report.environment} {check.name}: {check.message}", "red"))
    summary = report.as_dict()["summary"]
    verdict = ("✓ verified", "green") if report.exit_code == 0 else ("✗ not verified", "red")
    say(
        "ivsecrets verify: ",
        verdict,
        f" ({summary['ok']} of {len(report.environments)} environments ok)",
    )
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
