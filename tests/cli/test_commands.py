"""fingerprint, hash, jwt, diagnose, status, init."""

from __future__ import annotations

import json

import jwt as pyjwt
import pytest

from ivsecrets import fingerprint, user_hash
from ivsecrets.config import parse_config
from tests.cli.conftest import SECRETS, Cli


def test_fingerprint_prints_pins_that_verify_accepts(run: Cli) -> None:
    result = run("fingerprint")
    assert result.exit_code == 0
    assert f'fingerprint = "{fingerprint(SECRETS["IOS_PROD"])}"' in result.stdout
    config = run.write_config(result.stdout)
    assert parse_config(config.read_text()).environment("ios", "prod").fingerprint
    assert run("verify").exit_code == 0


def test_fingerprint_previous_and_json(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD_PREVIOUS", SECRETS["WEB_TEST"][::-1])
    doc = json.loads(run("fingerprint", "--previous", "--format", "json").stdout)
    assert doc["schema_version"] == 1
    doc = {e["environment"]: e for e in doc["environments"]}
    assert doc["web/prod"]["previous"] == fingerprint(SECRETS["WEB_TEST"][::-1])
    assert doc["ios/prod"]["previous"] is None


def test_hash_and_jwt(run: Cli) -> None:
    result = run("hash", "ios", "prod", "--user-id", "42")
    assert result.stdout.strip() == user_hash(SECRETS["IOS_PROD"], user_id="42")
    result = run("hash", "web", "test", "--email", "a@example.com")
    assert result.stdout.strip() == user_hash(SECRETS["WEB_TEST"], email="a@example.com")
    assert run("hash", "web", "test").exit_code == 2  # no identifier: a usage error
    token = run(
        "jwt",
        "android",
        "prod",
        "--user-id",
        "42",
        "--email",
        "a@example.com",
        "--expires-in",
        "60",
        "--claim",
        "plan=pro",
        "--claim",
        "seats=3",
    ).stdout
    claims = pyjwt.decode(token.strip(), SECRETS["ANDROID_PROD"], algorithms=["HS256"])
    assert claims["user_id"] == "42" and claims["plan"] == "pro" and claims["seats"] == 3
    assert run("jwt", "web", "prod", "--user-id", "1", "--claim", "novalue").exit_code == 2


@pytest.mark.parametrize(
    ("platform", "workspace", "made_with", "identifier", "cause"),
    [
        ("ios", "prod", "IOS_PROD", {"user_id": "42"}, "correct"),
        ("ios", "prod", "WEB_PROD", {"user_id": "42"}, "other_environment"),
        ("ios", "prod", "IOS_TEST", {"user_id": "42"}, "other_environment"),
        ("ios", "prod", "IOS_PROD", {"email": "a@example.com"}, "email_instead_of_user_id"),
    ],
)
def test_diagnose_causes(
    run: Cli, platform: str, workspace: str, made_with: str, identifier: dict[str, str], cause: str
) -> None:
    given = user_hash(SECRETS[made_with], **identifier)
    result = run(
        "diagnose",
        platform,
        workspace,
        "--user-hash",
        given,
        "--user-id",
        "42",
        "--email",
        "a@example.com",
        "--format",
        "json",
    )
    doc = json.loads(result.stdout)
    assert doc["cause"] == cause, doc
    assert result.exit_code == (0 if cause == "correct" else 1)
    if cause == "other_environment":
        env = made_with.lower().replace("_", "/")
        assert doc["environment"] == env and env in doc["message"]


def test_diagnose_previous_version(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    old = "ivsO_old0Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9"
    monkeypatch.setenv("IVSECRETS_IOS_PROD_PREVIOUS", old)
    result = run(
        "diagnose", "ios", "prod", "--user-hash", user_hash(old, user_id="42"), "--user-id", "42"
    )
    assert result.exit_code == 1
    assert result.stdout.startswith("previous_version:")
    assert "unfinished rotation" in result.stdout


def test_diagnose_uppercase_on_mobile_but_not_web(run: Cli) -> None:
    upper = user_hash(SECRETS["IOS_PROD"], user_id="42").upper()
    result = run("diagnose", "ios", "prod", "--user-hash", upper, "--user-id", "42")
    assert result.stdout.startswith("uppercase_hex:") and result.exit_code == 1
    upper = user_hash(SECRETS["WEB_PROD"], user_id="42").upper()
    assert run("diagnose", "web", "prod", "--user-hash", upper, "--user-id", "42").exit_code == 0


def test_diagnose_unknown(run: Cli) -> None:
    result = run("diagnose", "ios", "prod", "--user-hash", "0" * 64, "--user-id", "42")
    assert result.exit_code == 1 and result.stdout.startswith("unknown:")


def test_status_json(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVSECRETS_WEB_PROD_PENDING", SECRETS["WEB_TEST"][::-1])
    doc = json.loads(run("status", "--format", "json").stdout)
    assert doc["schema_version"] == 1
    rows = {r["environment"]: r for r in doc["environments"]}
    assert rows["web/prod"]["versions"]["current"]["fingerprint"] == fingerprint(
        SECRETS["WEB_PROD"]
    )
    assert "pending" in rows["web/prod"]["versions"]
    table = run("status").stdout
    assert "rotation in flight" in table


@pytest.mark.parametrize("store", ["env", "file", "aws", "vault", "gcp"])
def test_init_writes_a_config_the_loader_accepts(run: Cli, store: str) -> None:
    result = run("init", "--store", store, "--workspace", "test", "--workspace", "prod")
    assert result.exit_code == 0, result.output
    config = parse_config((run.workdir / "ivsecrets.toml").read_text())
    assert config.stores[store].plugin == store
    assert len(config.environments) == 6
    assert run("init", "--store", store).exit_code == 2  # refuses to overwrite
    assert run("init", "--store", store, "--force").exit_code == 0


def test_init_comments_out_what_environment_variables_provide(run: Cli) -> None:
    """An init template never overrides VAULT_ADDR or AWS_REGION with a placeholder."""
    assert run("init", "--store", "vault").exit_code == 0
    text = (run.workdir / "ivsecrets.toml").read_text()
    assert "\n# url = " in text and "\nurl = " not in text
    assert "\nauth = " not in text  # token auth, the docs' first example, is the default
    assert run("init", "--store", "file", "--force").exit_code == 0
    assert '\npath = "/run/secrets"' in (run.workdir / "ivsecrets.toml").read_text()


def test_init_names_an_unknown_plugin_with_a_close_match(run: Cli) -> None:
    result = run("init", "--store", "avs")
    assert result.exit_code == 2
    assert "no store plugin named 'avs'" in result.stderr and "did you mean 'aws'?" in result.stderr
