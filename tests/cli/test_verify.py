"""`ivsecrets verify` on the env and file stores (the real-server runs are in test_e2e.py)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from ivsecrets import fingerprint, user_hash
from tests.cli.conftest import SECRETS, Cli


def test_all_six_distinct_secrets_verify(run: Cli) -> None:
    result = run("verify")
    assert result.exit_code == 0, result.output
    assert "verified: 6 ok" in result.output


def test_ios_prod_pointing_at_web_prod_fails_and_names_both(run: Cli) -> None:
    run.write_config('[environments.ios.prod]\nreference = "IVSECRETS_WEB_PROD"\n')
    result = run("verify", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    by_env = {e["environment"]: e for e in doc["environments"]}
    distinct = next(c for c in by_env["ios/prod"]["checks"] if c["name"] == "distinct")
    assert distinct["status"] == "fail"
    assert "ios/prod and web/prod share one secret" in distinct["message"]
    assert by_env["web/prod"]["status"] == "fail"
    assert by_env["web/test"]["status"] == "ok"


def _failed_message(run: Cli, *args: str) -> str:
    result = run("verify", "--format", "json", *args)
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    return "\n".join(
        c["message"] for e in doc["environments"] for c in e["checks"] if c["status"] == "fail"
    )


def test_wrong_pin(run: Cli) -> None:
    run.write_config('[environments.web.prod]\nfingerprint = "ivfp1:0000000000000000"\n')
    message = _failed_message(run)
    assert "config pins ivfp1:0000000000000000" in message
    assert fingerprint(SECRETS["WEB_PROD"]) in message
    assert "ivsecrets fingerprint" in message


def test_correct_pin_and_known_hash_pass(run: Cli) -> None:
    good = user_hash(SECRETS["IOS_PROD"], user_id="42")
    run.write_config(f"""
[environments.ios.prod]
fingerprint = "{fingerprint(SECRETS["IOS_PROD"])}"
[[environments.ios.prod.known_hashes]]
user_id = "42"
user_hash = "{good}"
""")
    result = run("verify", "--format", "json", "--platform", "ios", "--workspace", "prod")
    assert result.exit_code == 0, result.output
    checks = {
        c["name"]: c["status"] for c in json.loads(result.stdout)["environments"][0]["checks"]
    }
    assert checks["pinned"] == "ok" and checks["known_hash"] == "ok"


def test_known_hash_from_another_secret_fails(run: Cli) -> None:
    run.write_config(f"""
[[environments.ios.prod.known_hashes]]
user_id = "42"
user_hash = "{user_hash(SECRETS["WEB_PROD"], user_id="42")}"
""")
    assert "does not reproduce the recorded hash for user_id=42" in _failed_message(run)


def test_missing_environment_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVSECRETS_ANDROID_PROD")
    message = _failed_message(run)
    assert "no secret in store 'env' at 'IVSECRETS_ANDROID_PROD'" in message
    assert "create it" in message


def test_whitespace_padded_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_TEST", SECRETS["IOS_TEST"] + "\n")
    assert "surrounding whitespace" in _failed_message(run)


def test_empty_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_TEST", "")
    message = _failed_message(run)
    assert "the secret is empty in store 'env' at 'IVSECRETS_IOS_TEST'" in message


def test_json_wrapped_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_TEST", json.dumps({"secret": SECRETS["IOS_TEST"]}))
    message = _failed_message(run)
    assert "is a JSON object" in message and "'#<key>'" in message and "secret" in message
    run.write_config('[environments.ios.test]\nreference = "IVSECRETS_IOS_TEST#secret"\n')
    assert run("verify").exit_code == 0


def test_implausibly_short_secret(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_IOS_TEST", "bar")
    assert "not the length of an Intercom secret" in _failed_message(run)


def test_store_denied_access_exits_3(run: Cli) -> None:
    secrets_dir = run.workdir / "secrets"
    secrets_dir.mkdir()
    for name, value in SECRETS.items():
        (secrets_dir / name.lower()).write_text(value)
        os.chmod(secrets_dir / name.lower(), 0o644)  # group/other readable: refused
    run.write_config(
        f'store = "files"\nreference = "{{platform}}_{{workspace}}"\n'
        f'[stores.files]\nplugin = "file"\npath = "{secrets_dir}"\n'
    )
    result = run("verify")
    assert result.exit_code == 3, result.output
    assert "denied access" in result.output and "INCOMPLETE" in result.output
    for path in secrets_dir.iterdir():
        path.chmod(0o600)
    assert run("verify").exit_code == 0


def test_broken_config_exits_2_naming_file_and_key(run: Cli) -> None:
    path = run.write_config('[cache]\nttl = "five minutes"\n')
    result = run("verify")
    assert result.exit_code == 2
    assert f"{path.name}: [cache.ttl]: must be a float" in result.stderr
    result = run("--config", "nope.toml", "verify")
    assert result.exit_code == 2 and "nope.toml" in result.stderr


def test_junit_and_github_formats(run: Cli) -> None:
    run.write_config('[environments.ios.prod]\nreference = "IVSECRETS_WEB_PROD"\n')
    junit = run("verify", "--format", "junit")
    assert junit.exit_code == 1
    suite = ET.fromstring(junit.stdout).find("testsuite")
    assert suite is not None and suite.get("failures") == "2"
    failing = [
        case.get("classname") for case in suite.iter("testcase") if case.find("failure") is not None
    ]
    assert sorted(failing) == ["ivsecrets.ios/prod", "ivsecrets.web/prod"]
    github = run("verify", "--format", "github")
    assert github.exit_code == 1
    lines = github.stdout.splitlines()
    assert any(
        line.startswith("::error title=ivsecrets verify ios/prod distinct::") for line in lines
    )
    assert lines[-1].startswith("::notice")


def test_platform_and_workspace_filters(run: Cli) -> None:
    result = run("verify", "--format", "json", "--platform", "web", "--workspace", "test")
    doc = json.loads(result.stdout)
    assert [e["environment"] for e in doc["environments"]] == ["web/test"]


def test_intentionally_absent_platform_is_not_required(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVSECRETS_ANDROID_PROD")
    run.write_config('[workspace.prod]\nplatforms = ["web", "ios"]\n')
    result = run("verify", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["environments"]) == 5


@pytest.mark.parametrize(
    ("table", "typo", "meant"),
    [
        ('[stores.aws]\nregoin = "eu-west-1"\n', "stores.aws.regoin", "region"),
        ('[stores.aws]\nprofle = "prod"\n', "stores.aws.profle", "profile"),
        ('[stores.file]\npth = "/run/secrets"\n', "stores.file.pth", "path"),
        ('[stores.env]\nprefix = "X"\n', "stores.env.prefix", None),
    ],
)
def test_an_unknown_store_option_exits_2_naming_file_key_and_fix(
    run: Cli, table: str, typo: str, meant: str | None
) -> None:
    path = run.write_config(table)
    result = run("verify", "--config", str(path))
    assert result.exit_code == 2, result.output
    assert f"{path}: [{typo}]: unknown option" in result.stderr
    if meant is not None:
        assert f"did you mean '{meant}'?" in result.stderr


def test_global_options_work_before_and_after_the_subcommand(run: Cli) -> None:
    path = run.write_config('[cache]\nttl = "five minutes"\n', name="deploy.toml")
    assert run("verify", "--config", str(path)).exit_code == 2
    assert run("--config", str(path), "verify").exit_code == 2
    # Given after the subcommand, it wins over the one before it.
    good = run.write_config("[cache]\nttl = 60\n", name="good.toml")
    assert run("--config", str(path), "verify", "--config", str(good)).exit_code == 0
    ok = run("verify", "-q", "--no-color")
    assert ok.exit_code == 0 and ok.stdout == ""
