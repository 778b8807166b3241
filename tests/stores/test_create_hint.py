"""``ivsecrets verify`` on a secret that does not exist yet (issue 10, item 11): the hint comes
from the store, and following it literally makes verify pass. AWS through the real ``aws`` CLI
against moto, Vault through the real ``bao`` CLI against OpenBao."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ivsecrets.api import Secrets
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.testing import SECRET_A
from ivsecrets.verification import Check, verify
from tests.servers.aws import aws_config_text
from tests.servers.vault import BaoServer, bao_binary

IOS_PROD = Environment.of("ios", "prod")


def resolves(config_text: str) -> Check:
    config = parse_config(config_text, "hint.toml")
    secrets = Secrets(config)
    try:
        report = verify(config, secrets=secrets, platforms=["ios"], workspaces=["prod"])
    finally:
        secrets.close()
    return next(c for c in report.environments[0].checks if c.name == "resolves")


def follow(hint: str, tool: str, secret_file: Path, **env: str) -> None:
    """Run the command the hint gives, as a user would paste it (FILE is their file)."""
    command = hint.split("create it: ", 1)[1].split(" (FILE holds", 1)[0]
    argv = [arg.replace("FILE", str(secret_file)) for arg in shlex.split(command)]
    argv[0] = tool
    subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **env}, timeout=60)


def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "new-secret"
    path.write_text(SECRET_A)
    path.chmod(0o600)
    return path


@pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")
def test_the_aws_hint_creates_the_secret_and_verify_passes(
    aws_env: str, aws_client: Any, tmp_path: Path
) -> None:
    config_text = aws_config_text(aws_env)
    name = parse_config(config_text, "hint.toml").environments[IOS_PROD].reference
    check = resolves(config_text)
    assert check.status.value == "fail"
    assert f"aws secretsmanager create-secret --name {name} --secret-string file://FILE" in (
        check.message
    )
    assert "ivsecrets rotate" not in check.message  # it cannot create an AWS secret
    try:
        follow(check.message, "aws", secret_file(tmp_path))
        assert resolves(config_text).status.value == "ok"
    finally:
        aws_client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)


def test_the_vault_hint_creates_the_secret_and_verify_passes(
    bao_server: BaoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVS_HINT_TOKEN", bao_server.root_token)
    config_text = (
        'store = "vault"\nreference = "hint/{workspace}/{platform}"\n\n[stores.vault]\n'
        f'plugin = "vault"\nurl = "{bao_server.address}"\ntoken_env = "IVS_HINT_TOKEN"\n'
        "allow_custom_credentials = true\n"
    )
    check = resolves(config_text)
    assert check.status.value == "fail"
    assert "vault kv put -mount=secret hint/prod/ios value=@FILE" in check.message
    follow(
        check.message,
        bao_binary(),
        secret_file(tmp_path),
        VAULT_ADDR=bao_server.address,
        VAULT_TOKEN=bao_server.root_token,
    )
    assert resolves(config_text).status.value == "ok"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'store = "gcp"\n[stores.gcp]\nplugin = "gcp"\nproject = "p1"\n',
            "gcloud secrets create ivsecrets-prod-ios --data-file=FILE --project p1",
        ),
        (
            'store = "env"\n',
            "set the environment variable IVSECRETS_IOS_PROD",
        ),
    ],
)
def test_other_stores_name_their_own_way_to_create_it(
    text: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IVSECRETS_IOS_PROD", raising=False)
    config = parse_config(text, "hint.toml")
    ec = config.environments[IOS_PROD]
    secrets = Secrets(config)
    try:
        assert expected in secrets.providers[ec.store].create_hint(ec.reference)
    finally:
        secrets.close()


def test_the_file_store_names_the_file_to_write(tmp_path: Path) -> None:
    text = f'store = "files"\n[stores.files]\nplugin = "file"\npath = "{tmp_path}"\n'
    check = resolves(text)
    assert check.status.value == "fail"
    assert f"write the secret to {tmp_path}/" in check.message
    target = Path(check.message.split("write the secret to ", 1)[1].split(" (chmod", 1)[0])
    target.write_text(SECRET_A)
    target.chmod(0o600)
    assert resolves(text).status.value == "ok"
