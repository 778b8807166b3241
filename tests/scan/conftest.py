"""Known secrets, artifact builders and a CLI runner for the scan tests."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ivsecrets.cli import cli
from ivsecrets.environments import Environment
from ivsecrets.scan import KnownSecret, KnownSecrets
from ivsecrets.secret import fingerprint
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C
from tests.conftest import KNOWN_SECRETS

IOS_PROD = Environment.of("ios", "prod")
WEB_PROD = Environment.of("web", "prod")
ANDROID_TEST = Environment.of("android", "test")


def known_set() -> KnownSecrets:
    """A current, a previous and a pending secret of three environments."""
    return KnownSecrets(
        [
            KnownSecret(fingerprint(SECRET_A), IOS_PROD, "current"),
            KnownSecret(fingerprint(SECRET_B), WEB_PROD, "previous", "v1"),
            KnownSecret(fingerprint(SECRET_C), ANDROID_TEST, "pending", "v3"),
        ]
    )


def assert_no_secret(text: str | bytes) -> None:
    """No 8-character piece of any known secret appears in ``text``."""
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for secret in KNOWN_SECRETS:
        for i in range(len(secret) - 7):
            assert secret[i : i + 8] not in shown, "a piece of a secret is in the output"


def zip_bytes(members: Mapping[str, bytes], *, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(members: Mapping[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def strings_xml(name: str, value: str) -> bytes:
    """An Android string resource, UTF-16LE with a BOM (as tools write it)."""
    text = f'<?xml version="1.0" encoding="utf-16"?>\n<resources>\n  <string name="{name}">'
    return "\ufeff".encode("utf-16-le") + (text + value + "</string>\n</resources>\n").encode(
        "utf-16-le"
    )


@dataclass
class ScanCli:
    runner: CliRunner
    workdir: Path

    def __call__(self, *args: str) -> Result:
        result = self.runner.invoke(cli, list(args), catch_exceptions=False)
        assert_no_secret(result.output)
        assert_no_secret(result.stderr)
        return result

    def pin(self, pins: Mapping[Environment, str], extra: str = "") -> Path:
        text = extra
        for env, value in pins.items():
            text += f"\n[environments.{env.platform.value}.{env.workspace}]\n"
            text += f'fingerprint = "{fingerprint(value)}"\n'
        path = self.workdir / "ivsecrets.toml"
        path.write_text(text)
        return path


@pytest.fixture
def scan_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScanCli:
    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.startswith("IVSECRETS_"):
            monkeypatch.delenv(var)
    return ScanCli(CliRunner(), tmp_path)
