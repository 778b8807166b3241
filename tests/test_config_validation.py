"""Issue 10 items 8, 19 and 23 (configuration part): store names, Intercom settings, bad input."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

import ivsecrets.config
from ivsecrets import ConfigError, Secrets, load_config
from ivsecrets.config import FINGERPRINT_PATTERN, WORKSPACE_PATTERN, is_loopback, parse_config

# --- item 8: built-in plugin names work as store names; unknown names get a did-you-mean -------


@pytest.mark.parametrize("plugin", ["aws", "vault", "gcp", "file", "env"])
def test_builtin_plugin_name_as_store_without_table(plugin: str) -> None:
    config = parse_config(f'store = "{plugin}"', "ivsecrets.toml")
    store = config.stores[plugin]
    assert (store.name, store.plugin, dict(store.options)) == (plugin, plugin, {})
    assert {ec.store for ec in config.environments.values()} == {plugin}
    assert "env" not in config.stores or plugin == "env"


def test_builtin_plugin_name_per_environment() -> None:
    config = parse_config('[environments.ios.prod]\nstore = "vault"\n', "ivsecrets.toml")
    assert config.environment("ios", "prod").store == "vault"
    assert config.environment("ios", "prod").reference == "ivsecrets/prod/ios"
    assert config.stores["vault"].plugin == "vault"
    assert config.environment("web", "prod").store == "env"


def test_unknown_store_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config('store = "avs"', "ivsecrets.toml")
    assert info.value.key == "store"
    assert "did you mean 'aws'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config('[stores.main]\nplugin = "aws"\n[environments.ios.prod]\nstore = "mian"\n')
    assert info.value.key == "environments.ios.prod.store"
    assert "did you mean 'main'" in str(info.value)


def test_unknown_store_value_is_hidden_in_message_and_fix() -> None:
    pasted = "ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9Rt3"
    for text in (f'store = "{pasted}"', f'[environments.ios.prod]\nstore = "{pasted}"\n'):
        with pytest.raises(ConfigError) as info:
            parse_config(text, "ivsecrets.toml")
        assert "ivsA_" not in str(info.value)
        assert "ivsA_" not in (info.value.fix or "")


def test_unknown_plugin_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "ivsecrets.toml"
    path.write_text('store = "x"\nreference = "r-{platform}"\n[stores.x]\nplugin = "avs"\n')
    with pytest.raises(ConfigError) as info:
        Secrets(load_config(path))
    assert info.value.file == str(path)
    assert info.value.key == "stores.x.plugin"
    assert "no store plugin named 'avs'" in str(info.value)
    assert "did you mean 'aws'" in str(info.value)


# --- item 19: the Intercom base URL and token variable --------------------------------------


def workspace(lines: str) -> str:
    return f'workspaces = ["prod"]\n[workspace.prod]\n{lines}\n'


@pytest.mark.parametrize(
    "url",
    [
        "https://api.intercom.io",
        "https://api.eu.intercom.io/",
        "https://api.au.intercom.io",
        "http://127.0.0.1:8080",
        "https://localhost:9443",
        "http://[::1]:7000",
    ],
)
def test_intercom_hosts_and_loopback_are_accepted(url: str) -> None:
    config = parse_config(workspace(f'intercom_base_url = "{url}"'))
    assert config.workspace_settings["prod"].intercom_base_url == url


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://evil.example.com", "not one of Intercom's API hosts"),
        ("https://api.intercom.io.evil.example.com", "not one of Intercom's API hosts"),
        ("http://api.intercom.io", "https"),
        ("https://api.intercom.io:8443", "port"),
        ("ftp://127.0.0.1", "http or https"),
        ("http://127.0.0.1:99999", "port"),
        ("http://127.0.0.1:0", "port"),
        ("http://[::1", "not a valid URL"),
        ("https://user:pw@api.intercom.io", "user name or password"),
        ("api.intercom.io", "http or https"),
    ],
)
def test_other_intercom_base_urls_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(workspace(f'intercom_base_url = "{url}"'), "ivsecrets.toml")
    assert info.value.key == "workspace.prod.intercom_base_url"
    assert fragment in str(info.value)
    assert "pw@" not in str(info.value)


def test_custom_host_needs_the_explicit_switch() -> None:
    config = parse_config(
        workspace(
            'intercom_base_url = "https://intercom-proxy.example.com"\n'
            "allow_custom_intercom_host = true"
        )
    )
    settings = config.workspace_settings["prod"]
    assert settings.intercom_base_url == "https://intercom-proxy.example.com"
    assert settings.allow_custom_intercom_host is True
    with pytest.raises(ConfigError, match="port"):
        parse_config(
            workspace(
                'intercom_base_url = "https://x.example.com:70000"\n'
                "allow_custom_intercom_host = true"
            )
        )
    with pytest.raises(ConfigError, match="must be a bool"):
        parse_config(workspace('allow_custom_intercom_host = "yes"'))


@pytest.mark.parametrize(
    "name",
    [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "VAULT_TOKEN",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GITHUB_TOKEN",
        "GH_TOKEN",
        "ACTIONS_RUNTIME_TOKEN",
        "CI_JOB_TOKEN",
        "NPM_TOKEN",
        "DATABASE_URL",
        "IVSECRETS_IOS_PROD",  # an identity-verification secret of the embedded default
        "IVSECRETS_CONFIG",
    ],
)
def test_token_variable_of_another_credential_is_refused(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(workspace(f'intercom_token_env = "{name}"'), "ivsecrets.toml")
    assert info.value.key == "workspace.prod.intercom_token_env"
    assert "credential" in str(info.value) or "secret" in str(info.value)


@pytest.mark.parametrize("name", ["lower_case", "", "A-B", "1ABC", "TOKEN\n", "TOKEN X"])
def test_token_variable_must_be_a_variable_name(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(workspace(f"intercom_token_env = {name!r}".replace("'", '"')))
    assert info.value.key == "workspace.prod.intercom_token_env"


def test_the_refused_list_is_documented() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for name in ivsecrets.config.REFUSED_TOKEN_VARIABLES:
        assert name in readme, name
    assert "allow_custom_intercom_host" in readme


def test_own_token_variables_are_accepted() -> None:
    config = parse_config(workspace('intercom_token_env = "INTERCOM_TOKEN_PROD"'))
    assert config.workspace_settings["prod"].intercom_token_env == "INTERCOM_TOKEN_PROD"


# --- item 23: bad input stays inside the error hierarchy -------------------------------------


def test_patterns_refuse_a_trailing_newline() -> None:
    assert not WORKSPACE_PATTERN.fullmatch("prod\n")
    assert not FINGERPRINT_PATTERN.fullmatch("ivfp1:0123456789abcdef\n")
    assert not FINGERPRINT_PATTERN.match("ivfp1:0123456789abcdef\n")
    with pytest.raises(ConfigError, match="invalid workspace name"):
        parse_config('workspaces = ["prod\\n"]')
    with pytest.raises(ConfigError, match="not a fingerprint"):
        parse_config('[environments.ios.prod]\nfingerprint = "ivfp1:0123456789abcdef\\n"\n')


@pytest.mark.parametrize(
    "text",
    ["x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 5000 + "1" + "}" * 5000],
)
def test_deeply_nested_toml_is_a_config_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nested"):
        parse_config(text, "deep.toml")
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="nested") as info:
        load_config(path)
    assert info.value.file == str(path)


def test_deep_tables_are_a_config_error() -> None:
    text = "[" + ".".join(["a"] * 3000) + "]\nx = 1\n"
    with pytest.raises(ConfigError, match="nested"):
        parse_config(text, "deep.toml")


def chained(err: BaseException) -> list[BaseException]:
    found = []
    current: BaseException | None = err
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def test_non_utf8_file_keeps_no_bytes(tmp_path: Path) -> None:
    marker = b"ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1"
    path = tmp_path / "ivsecrets.toml"
    path.write_bytes(b'store = "env"\n# ' + marker + b"\xff\xfe\n")
    with pytest.raises(ConfigError, match="UTF-8") as info:
        load_config(path)
    assert info.value.file == str(path)
    for err in chained(info.value):
        for value in [*err.args, *vars(err).values()]:
            assert marker not in (value if isinstance(value, bytes) else str(value).encode())
    assert len(chained(info.value)) == 1
    # Neither the library's frames (what capture_locals or Sentry would record) hold the bytes.
    for frame, _ in traceback.walk_tb(info.value.__traceback__):
        if frame.f_code.co_filename == __file__:
            continue
        for value in frame.f_locals.values():
            assert marker not in (value if isinstance(value, bytes) else str(value).encode())


def test_bad_toml_keeps_no_document(tmp_path: Path) -> None:
    path = tmp_path / "ivsecrets.toml"
    path.write_text("# ivsA_Zq3k9Lw2Xr7Tn5Vb8Hc1\nstore = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert len(chained(info.value)) == 1
    for frame, _ in traceback.walk_tb(info.value.__traceback__):
        for value in frame.f_locals.values():
            assert "ivsA_" not in str(value)


# --- issue 18: one rule for the Intercom URL, one for loopback ------------------------------


@pytest.mark.parametrize(
    ("url", "allow_custom"),
    [
        ("https://api.intercom.io", False),
        ("https://api.eu.intercom.io:8443", False),
        ("http://api.intercom.io", False),
        ("http://127.0.0.2:8080", False),
        ("https://[0:0:0:0:0:0:0:1]:9443", False),
        ("http://localhost:0", False),
        ("https://api.intercom.io/?x=1", False),
        ("https://collector.example", False),
        ("https://collector.example", True),
        ("http://collector.example", True),
        ("https://user:pw@api.intercom.io", True),
        ("http://[::1", False),
    ],
)
def test_the_client_and_the_configuration_apply_one_rule(url: str, allow_custom: bool) -> None:
    from ivsecrets.intercom import IntercomClient

    def refused(call: Callable[[], object]) -> str | None:
        try:
            call()
        except ConfigError as err:
            return err.problem
        return None

    text = workspace(
        f'intercom_base_url = "{url}"\nallow_custom_intercom_host = {str(allow_custom).lower()}'
    )
    by_config = refused(lambda: parse_config(text))
    by_client = refused(lambda: IntercomClient("tok", base_url=url, allow_custom_host=allow_custom))
    assert by_config == by_client


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0:0:0:0:0:0:0:1", True),
        ("", False),
        ("localhost.example", False),
        ("10.0.0.1", False),
        ("::2", False),
        ("169.254.169.254", False),
    ],
)
def test_one_loopback_rule(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
