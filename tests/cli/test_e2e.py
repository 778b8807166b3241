"""The installed ``ivsecrets`` command as a subprocess against the real test servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivsecrets import fingerprint
from ivsecrets.environments import Environment
from ivsecrets.testing import SECRET_C
from tests.cli.schemas import check_output

EXE = str(Path(sys.executable).parent / "ivsecrets")
STORES = ["aws", "gcp", "vault"]


@dataclass
class Run:
    config: Path
    secrets: dict[Environment, str]

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [EXE, "--config", str(self.config), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "NO_COLOR": "1"},
        )
        for value in [*self.secrets.values(), SECRET_C]:
            assert value not in result.stdout and value not in result.stderr
        check_output(args, result.stdout)
        return result


@pytest.fixture(params=STORES)
def e2e(request: pytest.FixtureRequest, tmp_path: Path) -> Run:
    six = request.getfixturevalue(f"{request.param}_six")
    config = tmp_path / "ivsecrets.toml"
    config.write_text(six.config_text)
    return Run(config, dict(six.secrets))


def test_verify_passes_then_catches_ios_pointing_at_web(e2e: Run) -> None:
    result = e2e("verify", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["summary"]["ok"] == 6
    text = e2e.config.read_text()
    web = json.loads(result.stdout)["environments"][3]
    assert web["environment"] == "web/prod"
    e2e.config.write_text(text + f'\n[environments.ios.prod]\nreference = "{web["reference"]}"\n')
    result = e2e("verify")
    assert result.returncode == 1
    assert "ios/prod and web/prod share one secret" in result.stdout


def test_fingerprint_status_hash_and_rotation_by_hand(e2e: Run) -> None:
    pins = e2e("fingerprint", "--format", "json")
    assert pins.returncode == 0, pins.stderr
    ios = Environment.of("ios", "prod")
    by_env = {e["environment"]: e for e in json.loads(pins.stdout)["environments"]}
    assert by_env["ios/prod"]["fingerprint"] == fingerprint(e2e.secrets[ios])
    assert e2e("hash", "ios", "prod", "--user-id", "42").returncode == 0
    rotated = e2e("rotate", "ios", "prod", "--update-config", stdin=SECRET_C + "\n")
    assert rotated.returncode == 0, rotated.stderr
    assert fingerprint(SECRET_C) in rotated.stdout
    assert f'fingerprint = "{fingerprint(SECRET_C)}"' in e2e.config.read_text()
    status = json.loads(e2e("status", "--format", "json").stdout)
    row = next(r for r in status["environments"] if r["environment"] == "ios/prod")
    assert row["versions"]["current"]["fingerprint"] == fingerprint(SECRET_C)
    assert row["versions"]["previous"]["fingerprint"] == fingerprint(e2e.secrets[ios])
    report = e2e("verify", "--format", "json")
    assert report.returncode == 0
    ios_checks = next(
        e for e in json.loads(report.stdout)["environments"] if e["environment"] == "ios/prod"
    )["checks"]
    (unfinished,) = [c for c in ios_checks if c["name"] == "rotation"]
    assert unfinished["status"] == "warn"
    assert (
        f"previous secret {fingerprint(e2e.secrets[ios])} is still accepted"
        in unfinished["message"]
    )
    assert "'ivsecrets rotate ios prod --finish' after " in unfinished["message"]
    back = e2e("rollback", "ios", "prod")
    assert back.returncode == 0, back.stderr
    assert f"the pin {fingerprint(SECRET_C)} in {e2e.config} now fails" in back.stderr
    result = e2e("verify", "--format", "json")
    assert result.returncode == 1  # the pin now names the rolled-back secret
    assert "config pins" in result.stdout


def test_unreachable_store_exits_3(e2e: Run, request: pytest.FixtureRequest) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    text = e2e.config.read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith(("endpoint_url =", "url =")):
            line = f'{line.split("=")[0]}= "http://127.0.0.1:{port}"'
        elif line.startswith("endpoint ="):  # gcp: and a short deadline instead of 5 s
            line = f'endpoint = "127.0.0.1:{port}"\ntimeout = 1'
        lines.append(line)
    text = "\n".join(lines)
    e2e.config.write_text(text + "\n[cache]\nmax_stale = 0\n")
    result = e2e("verify")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "unreachable" in result.stdout


def test_broken_config_exits_2(e2e: Run) -> None:
    e2e.config.write_text(e2e.config.read_text() + "\n[cache]\nttl = 0\n")
    result = e2e("verify")
    assert result.returncode == 2
    assert "[cache.ttl]" in result.stderr and str(e2e.config) in result.stderr
