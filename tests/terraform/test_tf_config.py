"""The ivsecrets_config output parses with the library's loader and names the secrets created."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.tfstack import EXAMPLES, MODULES, STORES, TEST_VARIABLES, Intent, Stack, load

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Store options each module writes for the test variables.
EXPECTED_OPTIONS: dict[str, dict[str, Any]] = {
    "aws": {"region": "eu-west-1"},
    "gcp": {"project": "acme-identity"},
    "vault": {
        "url": "https://vault.example.com:8200",
        "mount": "secret",
        "kv_version": 2,
        "key": "value",
        "auth": "token",
    },
}


def created_names(stack: Stack, store: str) -> dict[tuple[str, str], str]:
    """(platform, workspace) => the name or path of the secret the module creates."""
    if store == "aws":
        found = {k: s["name"] for k, s in stack.keyed("aws_secretsmanager_secret", "this").items()}
    elif store == "gcp":
        secrets = stack.keyed("google_secret_manager_secret", "this")
        found = {k: s["secret_id"] for k, s in secrets.items()}
    else:
        endpoints = stack.keyed("vault_generic_endpoint", "secret")
        found = {k: e["path"].split("/metadata/", 1)[1] for k, e in endpoints.items()}
    return {tuple(key.split("/")): name for key, name in found.items()}  # type: ignore[misc]


@pytest.mark.parametrize("store", STORES)
def test_config_is_toml_naming_the_created_secrets(store: str, module_stacks: dict[str, Stack]):
    """Independent of the library: the TOML and its template agree with the resources."""
    stack = module_stacks[store]
    config = tomllib.loads(stack.output("ivsecrets_config"))
    assert config["store"] == store
    assert config["platforms"] == ["web", "ios", "android"]
    assert config["workspaces"] == ["test", "prod"]
    assert config["stores"] == {store: {"plugin": store, **EXPECTED_OPTIONS[store]}}
    intent = Intent.from_variables(
        store, {**TEST_VARIABLES[store], "name_template": config["reference"]}
    )
    assert {tuple(k.split("/")): v for k, v in intent.names.items()} == created_names(stack, store)


@pytest.mark.parametrize("store", STORES)
def test_config_parses_with_the_library_loader(store: str, module_stacks: dict[str, Stack]):
    from ivsecrets.config import parse_config

    stack = module_stacks[store]
    config = parse_config(stack.output("ivsecrets_config"), f"terraform/modules/{store}")
    references = {
        (environment.platform, environment.workspace): entry.reference
        for environment, entry in config.environments.items()
    }
    assert references == created_names(stack, store)
    assert {entry.store for entry in config.environments.values()} == {store}
    assert config.stores[store].plugin == store
    for option, value in EXPECTED_OPTIONS[store].items():
        assert config.stores[store].options[option] == value


@pytest.mark.parametrize("store", STORES)
def test_example_outputs_a_config_naming_its_secrets(store: str, example_stacks: dict[str, Stack]):
    stack = example_stacks[store]
    config = tomllib.loads(stack.output("ivsecrets_config"))
    intent = Intent.from_variables(
        store, {**stack.module_call(), "name_template": config["reference"]}
    )
    assert {tuple(k.split("/")): v for k, v in intent.names.items()} == created_names(stack, store)


@pytest.mark.parametrize("store", STORES)
def test_example_committed_config_extends_the_generated_one(
    store: str, example_stacks: dict[str, Stack], tmp_path: Path
) -> None:
    """The example's ivsecrets.toml extends what the apply writes, and its pins survive an apply."""
    from ivsecrets.config import load_config, parse_config
    from ivsecrets.config.pins import write_pin
    from ivsecrets.environments import Environment, Platform

    generated = example_stacks[store].output("ivsecrets_config")
    assert '# extends = "generated.toml"' in generated  # the header says how to keep pins
    (tmp_path / "generated.toml").write_text(generated)
    committed = tmp_path / "ivsecrets.toml"
    committed.write_text((EXAMPLES / store / "ivsecrets.toml").read_text(encoding="utf-8"))
    config = load_config(committed)
    assert config.files == (str(committed), str(tmp_path / "generated.toml"))
    generated_only = parse_config(generated, "generated.toml")
    assert {e: c.reference for e, c in config.environments.items()} == {
        e: c.reference for e, c in generated_only.environments.items()
    }
    assert config.stores[store].options == generated_only.stores[store].options
    assert config.workspace_settings["prod"].intercom_region == "us"

    # `ivsecrets rotate --update-config` pins into the committed file; the next apply rewrites
    # generated.toml, and the pin is still there.
    ios_prod = Environment(Platform.ios, "prod")
    write_pin(committed, ios_prod, "ivfp1:0123456789abcdef")
    (tmp_path / "generated.toml").write_text(generated)
    assert load_config(committed).environments[ios_prod].fingerprint == "ivfp1:0123456789abcdef"
    assert load_config(committed).environments[ios_prod].reference == (
        generated_only.environments[ios_prod].reference
    )


PROVIDERS = {"aws": "AwsProvider", "gcp": "GcpProvider", "vault": "VaultProvider"}


@pytest.mark.parametrize("store", STORES)
def test_store_plugin_accepts_the_written_options(store: str, module_stacks: dict[str, Stack]):
    """The plugin validates its options when built (no network: clients are built on first use)."""
    import importlib

    from ivsecrets.config import parse_config

    config = parse_config(module_stacks[store].output("ivsecrets_config"), f"modules/{store}")
    plugin = getattr(importlib.import_module(f"ivsecrets.plugins.{store}"), PROVIDERS[store])
    plugin(config.stores[store])


# Templates every store accepts (GCP secret ids allow only A-Z a-z 0-9 _ -): upper-case
# placeholders, lower-case ones, and both in one template.
NAMING_TEMPLATES = (
    "IVSECRETS_{PLATFORM}_{WORKSPACE}",
    "ivsecrets-{workspace}-{platform}",
    "{workspace}_{PLATFORM}-{WORKSPACE}_{platform}",
)


@pytest.mark.parametrize("template", NAMING_TEMPLATES)
@pytest.mark.parametrize("store", STORES)
def test_module_names_secrets_as_the_library_resolves_its_config(
    store: str, template: str, tmp_path: Path
) -> None:
    """One naming rule: for a workspace with a dash, what the module creates is what the library
    resolves from the module's own ivsecrets_config (`{WORKSPACE}` of eu-prod is EU_PROD)."""
    from ivsecrets.config import parse_config

    variables = {
        **TEST_VARIABLES[store],
        "workspaces": ["test", "eu-prod"],
        "name_template": template,
        "readers": {},
    }
    stack = load(MODULES / store, variables, tmp_path)
    config = parse_config(stack.output("ivsecrets_config"), f"terraform/modules/{store}")
    resolved = {
        (environment.platform, environment.workspace): entry.reference
        for environment, entry in config.environments.items()
    }
    created = created_names(stack, store)
    assert len(created) == 6
    assert created == resolved
    if template == NAMING_TEMPLATES[0]:
        assert created[("ios", "eu-prod")] == "IVSECRETS_IOS_EU_PROD"


def test_module_workspace_validation_is_the_library_pattern() -> None:
    """Every workspace name check in the modules' variables is the library's WORKSPACE_PATTERN."""
    from ivsecrets.config import WORKSPACE_PATTERN

    for store in STORES:
        text = (MODULES / store / "variables.tf").read_text(encoding="utf-8")
        checks = re.findall(r'can\(regex\("([^"]*)", w\)\)', text)
        assert len(checks) == 2, f"{store}: expected the workspaces and readers' checks"
        assert set(checks) == {WORKSPACE_PATTERN.pattern}, store
