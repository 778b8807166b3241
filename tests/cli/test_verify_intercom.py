"""``verification.verify()`` called from Python runs the Intercom check ``ivsecrets verify`` runs
(issue 18, item 9): the lister lives in the library, not in the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ivsecrets.config import load_config
from ivsecrets.verification import verify
from tests.cli.test_rotation_cli import invoke, rotate_cli  # noqa: F401  (the fixture)
from tests.servers._intercom_api import FakeIntercomAPI

Setup = tuple[Path, FakeIntercomAPI]


def _cli_intercom_check(config: Path, *options: str) -> list[tuple[str, str]]:
    result = invoke(config, "verify", "--format", "json", "--platform", "ios", *options)
    (env,) = (e for e in json.loads(result.stdout)["environments"] if e["workspace"] == "prod")
    return [(c["status"], c["message"]) for c in env["checks"] if c["name"] == "intercom"]


def _python_intercom_check(config: Path, **options: Any) -> list[tuple[str, str]]:
    report = verify(load_config(config), platforms=["ios"], workspaces=["prod"], **options)
    (env,) = report.environments
    return [(c.status.value, c.message) for c in env.checks if c.name == "intercom"]


def test_a_python_verify_runs_the_intercom_check_the_command_runs(
    rotate_cli: Setup,  # noqa: F811
) -> None:
    config, intercom = rotate_cli
    assert invoke(config, "rotate", "ios", "prod", "--from-intercom").exit_code == 0
    (live,) = intercom.state.live()
    checked = _python_intercom_check(config)
    assert checked == _cli_intercom_check(config)
    assert [status for status, _ in checked] == ["ok"]
    # Once Intercom no longer has the secret, both fail the same way.
    assert intercom.state.delete(live.id)
    checked = _python_intercom_check(config)
    assert checked == _cli_intercom_check(config)
    assert [status for status, _ in checked] == ["fail"]
    # intercom=None skips the check, as --no-intercom does.
    assert _python_intercom_check(config, intercom=None) == []
    assert _cli_intercom_check(config, "--no-intercom") == []
