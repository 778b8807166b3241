"""Load the Terraform modules offline with tfparse and describe what they were asked for.

tfparse evaluates a module with variables and expands `count`, `for_each` and (nested) dynamic
blocks, so the tests see real resource instances. An attribute it cannot know before apply (an
ARN) is replaced by the id of the resource it comes from, which is how a policy's `resources`
are traced back to secrets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tfparse

from ivsecrets.environments import Environment

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
MODULES = TERRAFORM / "modules"
EXAMPLES = TERRAFORM / "examples"

STORES = ("aws", "gcp", "vault")
PLATFORMS = ("web", "ios", "android")
WORKSPACES = ("test", "prod")

# The library's default references, which the modules' name_template defaults must match.
DEFAULT_TEMPLATES = {
    "aws": "ivsecrets-{workspace}-{platform}",
    "gcp": "ivsecrets-{workspace}-{platform}",
    "vault": "ivsecrets/{workspace}/{platform}",
}

ACCOUNT = "111122223333"

# Variables the tests load each module with: a web backend reading the web secret of prod, a
# mobile backend reading iOS and Android of prod, and a rotator. Same consumers for every store.
TEST_VARIABLES: dict[str, dict[str, Any]] = {
    "aws": {
        "region": "eu-west-1",
        "readers": {
            "web-backend": {
                "platforms": ["web"],
                "workspaces": ["prod"],
                "role_names": ["web-backend"],
                "principal_arns": [f"arn:aws:iam::{ACCOUNT}:role/web-backend"],
            },
            "mobile-backend": {
                "platforms": ["ios", "android"],
                "workspaces": ["prod"],
                "role_names": ["mobile-backend"],
                "principal_arns": [f"arn:aws:iam::{ACCOUNT}:role/mobile-backend"],
            },
        },
        "rotator": {
            "role_names": ["ivsecrets-rotator"],
            "principal_arns": [f"arn:aws:iam::{ACCOUNT}:role/ivsecrets-rotator"],
        },
        "deny_other_principals": True,
        "rotation_lambda_arn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:ivsecrets-rotate",
        "intercom_token_secret_arn": (
            f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:intercom-tokens-AbCdEf"
        ),
        "rotation_days": 30,
    },
    "gcp": {
        "project": "acme-identity",
        "kms_key_name": (
            "projects/acme-identity/locations/global/keyRings/ivsecrets/cryptoKeys/secrets"
        ),
        "readers": {
            "web-backend": {
                "platforms": ["web"],
                "workspaces": ["prod"],
                "members": ["serviceAccount:web@acme-identity.iam.gserviceaccount.com"],
            },
            "mobile-backend": {
                "platforms": ["ios", "android"],
                "workspaces": ["prod"],
                "members": ["serviceAccount:mobile@acme-identity.iam.gserviceaccount.com"],
            },
        },
        "rotator": {"members": ["serviceAccount:rotator@acme-identity.iam.gserviceaccount.com"]},
        "tags": {"team": "identity"},
    },
    "vault": {
        "vault_address": "https://vault.example.com:8200",
        "readers": {
            "web-backend": {"platforms": ["web"], "workspaces": ["prod"]},
            "mobile-backend": {"platforms": ["ios", "android"], "workspaces": ["prod"]},
        },
    },
}

# The GCP module with user-managed replication: every replica needs its own key.
GCP_REPLICAS_VARIABLES = {
    **TEST_VARIABLES["gcp"],
    "kms_key_name": None,
    "replicas": {
        "europe-west1": {
            "kms_key_name": "projects/acme-identity/locations/europe-west1/keyRings/r/cryptoKeys/k"
        },
        "europe-west4": {
            "kms_key_name": "projects/acme-identity/locations/europe-west4/keyRings/r/cryptoKeys/k"
        },
    },
}


def expand(template: str, platform: str, workspace: str) -> str:
    """Expand a reference template by the library's own rule (not a copy of it).

    >>> expand("ivsecrets-{workspace}-{platform}", "ios", "prod")
    'ivsecrets-prod-ios'
    >>> expand("IVSECRETS_{PLATFORM}_{WORKSPACE}", "web", "eu-prod")
    'IVSECRETS_WEB_EU_PROD'
    """
    return Environment.of(platform, workspace).expand(template)


def environment_key(platform: str, workspace: str) -> str:
    """The modules key every per-environment resource "platform/workspace"."""
    return f"{platform}/{workspace}"


@dataclass(frozen=True)
class Intent:
    """What a module was asked for: its environments, their names, and who reads which."""

    store: str
    platforms: tuple[str, ...]
    workspaces: tuple[str, ...]
    name_template: str
    # reader name => environment keys it must read, and nothing else
    readers: Mapping[str, frozenset[str]]
    # reader name => its identities: AWS principal ARNs, GCP members (none for Vault)
    reader_principals: Mapping[str, tuple[str, ...]]
    # the rotator's identities, likewise
    rotator_principals: tuple[str, ...] = ()
    # AWS: principals let through every secret's resource policy besides readers and rotator
    allowed_principals: tuple[str, ...] = ()
    mount_path: str = "secret"

    @classmethod
    def from_variables(cls, store: str, variables: Mapping[str, Any]) -> Intent:
        readers = variables.get("readers", {})
        rotator = variables.get("rotator") or {}
        return cls(
            store=store,
            platforms=tuple(variables.get("platforms", PLATFORMS)),
            workspaces=tuple(variables.get("workspaces", WORKSPACES)),
            name_template=variables.get("name_template", DEFAULT_TEMPLATES[store]),
            readers={
                name: frozenset(
                    environment_key(platform, workspace)
                    for platform in reader["platforms"]
                    for workspace in reader["workspaces"]
                )
                for name, reader in readers.items()
            },
            reader_principals={
                name: tuple(reader.get("members", reader.get("principal_arns", ())))
                for name, reader in readers.items()
            },
            rotator_principals=tuple(rotator.get("members", rotator.get("principal_arns", ()))),
            allowed_principals=tuple(variables.get("allowed_principal_arns", ())),
            mount_path=variables.get("mount_path", "secret"),
        )

    @property
    def environments(self) -> dict[str, tuple[str, str]]:
        """Environment key => (platform, workspace)."""
        return {
            environment_key(platform, workspace): (platform, workspace)
            for platform in self.platforms
            for workspace in self.workspaces
        }

    @property
    def names(self) -> dict[str, str]:
        """Environment key => the secret name (or Vault path) the library will look up."""
        return {
            key: expand(self.name_template, platform, workspace)
            for key, (platform, workspace) in self.environments.items()
        }


class Stack:
    """A module or example as tfparse expanded it."""

    def __init__(self, root: Path, parsed: Mapping[str, list[dict[str, Any]]]) -> None:
        self.root = root
        self.parsed = parsed
        self.by_id: dict[str, dict[str, Any]] = {}
        for blocks in parsed.values():
            for block in blocks:
                if isinstance(block, dict) and "id" in block:
                    self.by_id[block["id"]] = block

    def blocks(self, block_type: str, name: str | None = None) -> list[dict[str, Any]]:
        """Instances of a resource or data source type, optionally only those named `name`."""
        found = self.parsed.get(block_type, [])
        if name is None:
            return list(found)
        pattern = re.compile(rf"(^|\.){re.escape(block_type)}\.{re.escape(name)}(\[|$)")
        return [block for block in found if pattern.search(address(block))]

    def keyed(self, block_type: str, name: str) -> dict[str, dict[str, Any]]:
        """for_each instances of `block_type.name` by their key."""
        return {instance_key(block): block for block in self.blocks(block_type, name)}

    def output(self, name: str) -> Any:
        """A root output's value."""
        for block in self.parsed.get("output", []):
            if address(block) == f"output.{name}":
                return block["value"]
        raise KeyError(f"no output {name} in {self.root}")

    def module_call(self) -> dict[str, Any]:
        """The arguments of the (single) module call in an example."""
        calls = self.parsed.get("module", [])
        assert len(calls) == 1, f"{self.root} should call exactly one module"
        return calls[0]

    def source_lines(self, block: Mapping[str, Any]) -> str:
        """The HCL text of a block, read through the file and lines tfparse recorded."""
        meta = block["__tfmeta"]
        path = (self.root / meta["filename"]).resolve()
        lines = path.read_text(encoding="utf-8").splitlines()
        return "\n".join(lines[meta["line_start"] - 1 : meta["line_end"]])


def address(block: Mapping[str, Any]) -> str:
    return str(block["__tfmeta"].get("path", ""))


def instance_key(block: Mapping[str, Any]) -> str:
    """The for_each key of a resource instance, '' for a single instance.

    >>> instance_key({"__tfmeta": {"path": 'module.m.aws_iam_policy.reader["web-backend"]'}})
    'web-backend'
    """
    match = re.search(r'\["([^"]*)"\]$', address(block))
    return match.group(1) if match else ""


def as_list(value: Any) -> list[Any]:
    """tfparse gives a single nested block as a dict and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def load(root: Path, variables: Mapping[str, Any] | None, scratch: Path) -> Stack:
    """Expand the module or example at `root` with `variables` (written as a tfvars.json)."""
    vars_paths = []
    if variables is not None:
        scratch.mkdir(parents=True, exist_ok=True)
        vars_file = scratch / "test.tfvars.json"
        vars_file.write_text(json.dumps(variables), encoding="utf-8")
        # tfparse resolves vars files relative to the module directory.
        vars_paths.append(os.path.relpath(vars_file, root))
    return Stack(root, tfparse.load_from_path(str(root), vars_paths=vars_paths))


def copy_tree(destination: Path) -> Path:
    """Copy terraform/ to `destination` (for patching), keeping modules/ and examples/ together."""
    shutil.copytree(TERRAFORM, destination, ignore=shutil.ignore_patterns(".terraform*"))
    return destination


def patch(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace `old` by `new` in a copied file, failing loudly when the text moved."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not found in {path}; update the broken-copy test"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def tf_files(root: Path = TERRAFORM) -> Iterator[Path]:
    """HCL files under `root`."""
    for pattern in ("*.tf", "*.tfvars"):
        yield from sorted(root.rglob(pattern))
