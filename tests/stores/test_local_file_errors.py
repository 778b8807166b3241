"""Issue 20, item 12: a store failure about a file on this machine (a symlink loop, a permission
denied) says what it is and names the file, without the "credentials and network" hint of a
remote store; and one loopback rule (ivsecrets.config.is_loopback) is the only one in src/."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from ivsecrets.config import load_config
from ivsecrets.environments import Environment
from ivsecrets.verification import verify

SRC = Path(__file__).resolve().parents[2] / "src" / "ivsecrets"
SECRET = "s3cr3t_value_for_the_local_file_tests_0123456789"


def file_store(tmp_path: Path) -> Path:
    """A file store directory with a good ``ios_prod`` and a config reading ios and web."""
    tmp_path.chmod(0o700)
    store = tmp_path / "s"
    store.mkdir(mode=0o700)
    good = store / "ios_prod"
    good.write_text(SECRET)
    good.chmod(0o600)
    config = tmp_path / "ivsecrets.toml"
    config.write_text(
        'platforms = ["web", "ios"]\nworkspaces = ["prod"]\nstore = "f"\n'
        f'[stores.f]\nplugin = "file"\npath = "{store}"\n'
    )
    return store


def resolves(tmp_path: Path, platform: str) -> Any:
    report = verify(load_config(tmp_path / "ivsecrets.toml"), intercom=None)
    env = Environment.of(platform, "prod")
    (found,) = [r for r in report.environments if r.environment == env]
    return resolving(found)


def resolving(report: Any) -> Any:
    (check,) = [c for c in report.checks if c.name == "resolves"]
    return check


def test_a_symlink_loop_is_named_as_such_and_spares_the_other_files(tmp_path: Path) -> None:
    store = file_store(tmp_path)
    (store / "web_prod").symlink_to(store / "loop")
    (store / "loop").symlink_to(store / "web_prod")
    check = resolves(tmp_path, "web")
    assert "symbolic link" in check.message
    assert str(store / "web_prod") in check.message
    assert "network" not in check.message and "credentials" not in check.message
    assert resolves(tmp_path, "ios").status.value == "ok"  # one bad file is not an outage


def test_a_permission_error_names_the_file_without_a_network_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = file_store(tmp_path)
    (store / "web_prod").write_text(SECRET)
    (store / "web_prod").chmod(0o600)
    real_open = os.open

    def denying(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("web_prod"):  # as root, chmod cannot deny a read
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denying)
    check = resolves(tmp_path, "web")
    assert "permission denied" in check.message.lower()
    assert str(store / "web_prod") in check.message
    assert "network" not in check.message


def test_a_remote_store_keeps_the_network_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from ivsecrets.config import parse_config

    config = parse_config(
        'platforms = ["web"]\nworkspaces = ["prod"]\nstore = "v"\n[stores.v]\nplugin = "vault"\n'
        'url = "http://127.0.0.1:9"\ntimeout = 0.5\n'
    )
    monkeypatch.setenv("VAULT_TOKEN", "hvs.not-a-real-token")
    (report,) = verify(config, intercom=None).environments
    assert "credentials and network" in resolving(report).message


# Loopback checks other than is_loopback: a host compared with a loopback name or address.
_LOOPBACK_COPY = re.compile(
    r"""(==|!=|\bin\b|startswith\()\s*\(?\s*["'](localhost|127\.|::1)"""
    r"""|["'](localhost|127\.0\.0\.1|::1)["']\s*(==|!=|\bin\b)"""
    r"""|\bis_loopback\b\s*=|ipaddress\.ip_address\([^)]*\)\.is_loopback"""
)


def test_one_loopback_rule_in_src() -> None:
    copies = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "config" / "network.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _LOOPBACK_COPY.search(line) or "import ipaddress" in line:
                copies.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert copies == []
