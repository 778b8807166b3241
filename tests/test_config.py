"""Configuration: where it is found, what it means, and errors that name file, key and fix."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ivsecrets import ConfigError, Platform, load_config
from ivsecrets.config import parse_config
from ivsecrets.environments import Environment
from ivsecrets.secret import SecretValue


def test_embedded_default_reads_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    config = load_config()
    assert config.source == "<embedded default>"
    assert len(config.environments) == 6
    ec = config.environment("ios", "prod")
    assert (ec.store, ec.reference) == ("env", "IVSECRETS_IOS_PROD")
    assert config.stores["env"].plugin == "env"


def test_search_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IVSECRETS_CONFIG", raising=False)
    (tmp_path / "pyproject.toml").write_text('[tool.ivsecrets]\nworkspaces = ["prod"]\n')
    assert load_config().workspaces == ("prod",)
    (tmp_path / "ivsecrets.toml").write_text('workspaces = ["test"]\n')
    assert load_config().workspaces == ("test",)
    other = tmp_path / "other.toml"
    other.write_text('workspaces = ["eu"]\n')
    monkeypatch.setenv("IVSECRETS_CONFIG", str(other))
    assert load_config().workspaces == ("eu",)
    assert load_config(tmp_path / "ivsecrets.toml").workspaces == ("test",)


def test_full_configuration() -> None:
    config = parse_config(
        """
platforms = ["web", "ios"]
workspaces = ["test", "prod", "eu"]
store = "aws"
reference = "intercom/{workspace}/{platform}#secret"

[cache]
ttl = 60
max_stale = 600

[stores.aws]
region = "eu-west-1"
[stores.aws.cache]
ttl = 30

[stores.vault]
plugin = "vault"
url = "https://vault.example.com"

[workspace.eu]
intercom_region = "eu"
platforms = ["web"]

[environments.ios.prod]
store = "vault"
reference = "intercom/prod/ios"
fingerprint = "ivfp1:0123456789abcdef"
intercom_secret_id = "17"
max_age_days = 90
[[environments.ios.prod.known_hashes]]
user_id = "42"
user_hash = "aa747c502a898200f9e4fa21bac68136f886a0e27aec70ba06daf2e2a5cb5597"
""",
        "ivsecrets.toml",
    )
    assert config.expected_environments() == (
        Environment(Platform.web, "test"),
        Environment(Platform.ios, "test"),
        Environment(Platform.web, "prod"),
        Environment(Platform.ios, "prod"),
        Environment(Platform.web, "eu"),
    )
    assert config.environment("web", "eu").reference == "intercom/eu/web#secret"
    ios = config.environment("ios", "prod")
    assert (ios.store, ios.reference, ios.fingerprint) == (
        "vault",
        "intercom/prod/ios",
        "ivfp1:0123456789abcdef",
    )
    assert ios.known_hashes[0].user_id == "42" and ios.max_age_days == 90
    assert config.stores["aws"].plugin == "aws"
    assert config.stores["aws"].cache.ttl == 30 and config.stores["vault"].cache.ttl == 60
    assert config.stores["aws"].options == {"region": "eu-west-1"}
    assert config.workspace_settings["eu"].intercom_region == "eu"
    assert config.workspace_settings["prod"].intercom_token_env == "IVSECRETS_INTERCOM_TOKEN_PROD"


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ("workspace = 3", "workspace", "must be a table"),
        ("platfroms = []", "platfroms", "unknown key"),
        ('platforms = ["windows"]', "platforms", "unknown platform"),
        ('workspaces = ["Prod"]', "workspaces", "invalid workspace name"),
        ('store = "avs"', "store", "no store named 'avs'"),
        ("[cache]\nttl = -1", "cache.ttl", "non-negative"),
        ('[cache]\nttl = "5m"', "cache.ttl", "must be a float"),
        (
            "[environments.ios.staging]\nreference = 'x'",
            "environments.ios.staging",
            "not one this configuration expects",
        ),
        (
            "[environments.ios.prod]\nfingerprint = 'abc'",
            "environments.ios.prod.fingerprint",
            "not a fingerprint",
        ),
        ("[workspace.eu]\nintercom_region = 'eu'", "workspace.eu", "not in workspaces"),
        (
            "[workspace.prod]\nintercom_region = 'mars'",
            "workspace.prod.intercom_region",
            "unknown Intercom region",
        ),
        (
            'store = "x"\n[stores.x]\nplugin = "custom"',
            "environments.web.test.reference",
            "has no default reference",
        ),
    ],
)
def test_errors_name_file_key_and_fix(text: str, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "conf/ivsecrets.toml")
    err = info.value
    assert err.file == "conf/ivsecrets.toml"
    assert err.key == key
    assert fragment in str(err)
    assert str(err).startswith("conf/ivsecrets.toml: [")


def test_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("store = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(bad)
    assert info.value.file == str(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_a_secret_pasted_into_config_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('[cache]\nttl = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"')
    assert "ivsA_" not in str(info.value)


def test_secret_value_hides_itself() -> None:
    value = SecretValue("hunter2-hunter2")
    for shown in (repr(value), str(value), f"{value}", f"{value!r}", "%s" % (value,)):  # noqa: UP031
        assert "hunter2" not in shown and "ivfp1:" in shown
    with pytest.raises(TypeError):
        pickle.dumps(value)
    with pytest.raises(AttributeError):
        value.x = 1  # type: ignore[attr-defined]
    assert value == SecretValue(b"hunter2-hunter2") and value != SecretValue("other")
    assert value.reveal() == b"hunter2-hunter2"
