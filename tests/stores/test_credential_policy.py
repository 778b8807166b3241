"""Issue 20, item 11: one policy for every option that sends a credential somewhere or names
where one is read from. The configuration file decides where the store's token goes and which
variable or file it is read from, so by default it may only name the store's conventional
variables and files, and plain http only to this machine; ``allow_custom_credentials = true`` in
the store's table lifts both."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivsecrets.config import load_config
from ivsecrets.errors import ConfigError
from ivsecrets.provider import Option, Provider, load_plugin


def built(tmp_path: Path, plugin: str, lines: str) -> Provider:
    """The store ``s`` of a configuration file holding ``lines`` in ``[stores.s]``."""
    path = tmp_path / "ivsecrets.toml"
    path.write_text(f'[stores.s]\nplugin = "{plugin}"\n{lines}\n', encoding="utf-8")
    return load_plugin(plugin)(load_config(path).stores["s"])


REFUSED = [
    # (plugin, option = value, what the problem says)
    ("vault", 'url = "http://vault.example:8200"', "plain http"),
    ("vault", 'url = "ftp://vault.example"', "http or https"),
    ("vault", 'token_env = "AWS_SECRET_ACCESS_KEY"', "not one of the variables"),
    ("vault", 'role_id_env = "GITHUB_TOKEN"', "not one of the variables"),
    ("vault", 'secret_id_env = "DATABASE_PASSWORD"', "not one of the variables"),
    ("vault", 'jwt_env = "AWS_SESSION_TOKEN"', "not one of the variables"),
    ("vault", 'jwt_file = "/home/me/.ssh/id_ed25519"', "not one of the files"),
    (
        "vault",
        'jwt_file = "/var/run/secrets/tokens/../../../../etc/shadow"',
        "not one of the files",
    ),
    ("vault", 'jwt_file = "/var/run/secrets/tokens/a/b"', "not one of the files"),
    ("aws", 'endpoint_url = "http://secretsmanager.us-east-1.amazonaws.com"', "plain http"),
    ("aws", 'endpoint_url = "http://localstack:4566"', "not one of the hosts"),
    ("aws", 'endpoint_url = "https://collector.example"', "not one of the hosts"),
    ("aws", 'endpoint_url = "https://secretsmanager.amazonaws.com.evil.example"', "not one of"),
    ("aws", 'lease_endpoint_url = "https://collector.example"', "not one of the hosts"),
    ("gcp", 'endpoint = "collector.example:443"', "not one of the hosts"),
    ("gcp", 'endpoint = "collector.example:8085"\ninsecure = true', "not one of the hosts"),
]


@pytest.mark.parametrize(("plugin", "line", "problem"), REFUSED)
def test_a_custom_credential_is_refused_naming_file_key_and_fix(
    tmp_path: Path, plugin: str, line: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        built(tmp_path, plugin, line)
    option = line.partition(" =")[0]
    assert info.value.file == str(tmp_path / "ivsecrets.toml")
    assert info.value.key == f"stores.s.{option}"
    assert problem in info.value.problem
    assert info.value.fix is not None
    if "http or https" not in problem:
        assert "allow_custom_credentials = true in [stores.s]" in info.value.fix


@pytest.mark.parametrize(
    ("plugin", "line"),
    [(p, line) for p, line, problem in REFUSED if "http or https" not in problem],
)
def test_allow_custom_credentials_accepts_each(tmp_path: Path, plugin: str, line: str) -> None:
    provider = built(tmp_path, plugin, f"{line}\nallow_custom_credentials = true")
    assert provider.option("allow_custom_credentials") is True


@pytest.mark.parametrize(
    ("plugin", "line"),
    [
        ("vault", 'url = "http://127.0.0.1:8200"'),
        ("vault", 'url = "http://localhost:8200"'),
        ("vault", 'url = "http://[::1]:8200"'),
        ("vault", 'url = "https://vault.example:8200"'),
        ("vault", 'token_env = "VAULT_TOKEN"'),
        ("vault", 'token_env = "BAO_TOKEN"'),
        ("vault", 'role_id_env = "VAULT_ROLE_ID"\nsecret_id_env = "VAULT_SECRET_ID"'),
        ("vault", 'auth = "jwt"\nrole = "r"\njwt_env = "CI_JOB_JWT_V2"'),
        ("vault", 'auth = "jwt"\nrole = "r"\njwt_env = "VAULT_ID_TOKEN"'),
        (
            "vault",
            'auth = "kubernetes"\nrole = "r"\n'
            'jwt_file = "/var/run/secrets/kubernetes.io/serviceaccount/token"',
        ),
        ("vault", 'auth = "jwt"\nrole = "r"\njwt_file = "/var/run/secrets/tokens/vault-token"'),
        ("aws", 'endpoint_url = "http://127.0.0.1:4566"'),
        ("aws", 'endpoint_url = "https://secretsmanager-fips.us-east-1.amazonaws.com"'),
        ("aws", 'endpoint_url = "https://vpce-1a2b.secretsmanager.us-east-1.vpce.amazonaws.com"'),
        ("aws", 'endpoint_url = "https://secretsmanager.cn-north-1.amazonaws.com.cn"'),
        ("aws", 'lease_endpoint_url = "https://dynamodb.us-east-1.api.aws"'),
        ("gcp", 'endpoint = "127.0.0.1:8085"\ninsecure = true'),
        ("gcp", 'endpoint = "secretmanager.europe-west1.rep.googleapis.com"'),
        ("gcp", 'endpoint = "secretmanager-psc1.p.googleapis.com:443"'),
    ],
)
def test_conventional_values_and_loopback_http_are_accepted(
    tmp_path: Path, plugin: str, line: str
) -> None:
    built(tmp_path, plugin, line)


def test_the_defaults_are_conventional() -> None:
    for plugin in ("vault", "aws", "gcp"):
        cls = load_plugin(plugin)
        assert cls.options["allow_custom_credentials"].default is False
        for option in cls.options.values():
            if option.credential and option.default:
                assert option.credential_problem(option.default) is None


def test_a_gcp_location_cannot_steer_the_endpoint(tmp_path: Path) -> None:
    """``location`` builds the regional endpoint's host name."""
    with pytest.raises(ConfigError) as info:
        built(tmp_path, "gcp", 'location = "x.evil.example/"')
    assert info.value.key == "stores.s.location"


def test_a_plugin_declaring_credentials_must_declare_the_escape_hatch() -> None:
    with pytest.raises(TypeError, match="allow_custom_credentials"):

        class Careless(Provider):
            options = {
                "token_env": Option(str, "", "x", credential="variable", conventional=("T",))
            }

            def _fetch(self, *args: object) -> object:  # type: ignore[override]
                raise NotImplementedError

    with pytest.raises(TypeError, match="credential"):
        Option(str, "", "x", credential="colour")
