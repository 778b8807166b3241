"""The framework-neutral core: safe JSON, app ids, payloads, and the layering rule."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import jwt
import pytest

import ivsecrets.integrations
from ivsecrets import ConfigError, IdentifierError
from ivsecrets.config import parse_config
from ivsecrets.integrations.messenger import Messenger, identity_response, safe_json, user_fields
from ivsecrets.testing import SECRET_A
from tests.integrations.conftest import APP_ID

INTEGRATIONS = Path(ivsecrets.integrations.__file__).parent


def test_safe_json_cannot_close_the_script_or_open_a_comment() -> None:
    value = {"name": "</script><!--<script>&\u2028\u2029"}
    text = safe_json(value)
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        assert raw not in text
    assert json.loads(text) == value


def test_app_id_in_the_configuration_file_is_validated() -> None:
    config = parse_config('workspaces = ["prod"]\n[workspace.prod]\napp_id = "abc12def"\n')
    assert config.workspace_settings["prod"].app_id == "abc12def"
    with pytest.raises(ConfigError) as info:
        parse_config('workspaces = ["prod"]\n[workspace.prod]\napp_id = "ABC 12"\n', "ic.toml")
    assert info.value.file == "ic.toml" and info.value.key == "workspace.prod.app_id"
    assert "abc12def" in str(info.value.fix)


def test_a_configuration_file_without_app_id_names_the_key_to_add(tmp_path: Path) -> None:
    (tmp_path / "ivsecrets.toml").write_text('workspaces = ["test"]\n')
    with pytest.raises(ConfigError) as info:
        Messenger().app_id()  # the env var is ignored once a file exists
    assert info.value.key == "workspace.test.app_id" and info.value.file == "ivsecrets.toml"


def test_the_embedded_default_takes_the_app_id_from_the_environment() -> None:
    assert Messenger().app_id() == APP_ID
    assert (
        Messenger(workspace="prod")
        .problems()[0]
        .message.endswith(
            "[IVSECRETS_APP_ID_PROD]: no Intercom app id for this workspace "
            "(fix: set $IVSECRETS_APP_ID_PROD to the app id from Intercom's Messenger settings)"
        )
    )


def test_without_a_workspace_the_error_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVSECRETS_WORKSPACE")
    with pytest.raises(ConfigError, match="IVSECRETS_WORKSPACE"):
        Messenger().settings(None)


def test_user_fields_normalise_ids_and_dates_and_refuse_reserved_keys() -> None:
    aware = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert user_fields({"user_id": 7, "created_at": aware}) == {
        "user_id": "7",
        "created_at": 1704067200,
    }
    assert (
        user_fields({"email": "a@example.com", "created_at": date(2024, 1, 1)})["created_at"]
        == 1704067200
    )
    with pytest.raises(IdentifierError, match="user_hash"):
        user_fields({"user_id": "7", "user_hash": "forged"})
    with pytest.raises(IdentifierError):
        user_fields({"name": "no identifier"})


def test_jwt_mode_needs_a_user_id_and_user_hash_mode_takes_an_email() -> None:
    with pytest.raises(IdentifierError, match="user_id"):
        Messenger().settings({"email": "a@example.com"})
    settings = Messenger(mode="user_hash").settings({"email": "a@example.com"})
    assert settings["email"] == "a@example.com" and len(settings["user_hash"]) == 64


def test_tokens_last_an_hour_unless_told_otherwise() -> None:
    body = Messenger().identity("web", {"user_id": "42"})
    assert 3590 <= body["expires_at"] - time.time() <= 3601
    body = Messenger(expires_in=None).identity("web", {"user_id": "42"})
    assert body["expires_at"] is None
    assert "exp" not in jwt.decode(body["jwt"], SECRET_A, algorithms=["HS256"])


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="mode"):
        Messenger(mode="cookie")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="list"):
        Messenger(signed_user_fields="email")  # type: ignore[arg-type]


FORBIDDEN = ("ivsecrets.cli", "ivsecrets.plugins", "ivsecrets.rotation", "ivsecrets.verification")


@pytest.mark.parametrize("module", sorted(INTEGRATIONS.rglob("*.py")), ids=lambda p: p.name)
def test_integrations_import_only_the_core(module: Path) -> None:
    tree = ast.parse(module.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.startswith(FORBIDDEN)]


def test_import_ivsecrets_and_the_core_import_no_framework() -> None:
    code = (
        "import sys, ivsecrets, ivsecrets.integrations.messenger; "
        "print(sorted(m for m in ('django', 'flask', 'flask_login', 'fastapi', 'starlette', "
        "'jinja2', 'markupsafe', 'jwt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_identity_of_a_platform_the_workspace_does_not_use_is_404(tmp_path: Path) -> None:
    (tmp_path / "ivsecrets.toml").write_text(
        'workspaces = ["test"]\n[workspace.test]\nplatforms = ["web"]\napp_id = "abc12def"\n'
    )
    status, _, headers = identity_response(Messenger(), "ios", {"user_id": "42"})
    assert (status, headers["Cache-Control"]) == (404, "no-store")
    assert identity_response(Messenger(), "web", {"user_id": "42"})[0] == 200
