"""Our own rules over the expanded modules: who may read or rotate which secret, encryption, names.

Each `*_findings` function compares a Stack (what tfparse expanded) with an Intent (what the
module was asked for) and returns a list of findings, empty when the module does what it should.
checkov covers the generic AWS checks; it has no rules for Google Secret Manager or Vault, and
none that knows which backend should read which secret, so these rules do that for all three.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tests.terraform.tfstack import Intent, Stack, address, as_list, instance_key

# --- AWS ------------------------------------------------------------------------------------------

AWS_READ_ACTIONS = frozenset(
    {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:BatchGetSecretValue",
        "kms:Decrypt",
    }
)
# Stage a value (PutSecretValue with AWSPENDING), promote it (UpdateSecretVersionStage) and tag
# each version with its Intercom secret id (docs/stores/aws.md, "IAM for a rotator").
AWS_ROTATOR_SECRET_ACTIONS = frozenset(
    {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
    }
)
AWS_ROTATOR_KEY_ACTIONS = frozenset({"kms:Decrypt", "kms:GenerateDataKey"})
# The rotation record in the lease table: read, and written with a condition
# (docs/stores/aws.md, "Where the rotation lease lives"); nothing else on DynamoDB.
AWS_ROTATOR_LEASE_ACTIONS = frozenset({"dynamodb:GetItem", "dynamodb:PutItem"})
KMS_KEY = "kms-key"
LEASE_TABLE = "lease-table"


@dataclass(frozen=True)
class Grant:
    """One action on one resource that an IAM statement allows (or denies)."""

    effect: str
    action: str
    # "secret:<platform/workspace>", KMS_KEY for the module's key, "*", or the literal value
    resource: str
    conditions: frozenset[str]  # condition variables, e.g. "kms:ViaService"


def aws_resource(stack: Stack, value: str) -> str:
    """Name what a policy's resource refers to (tfparse leaves unknown ARNs as resource ids)."""
    block = stack.by_id.get(value)
    if block is None:
        return value
    path = address(block)
    if ".aws_secretsmanager_secret.this[" in f".{path}":
        return f"secret:{instance_key(block)}"
    if ".aws_kms_key." in f".{path}":
        return KMS_KEY
    if ".aws_dynamodb_table.lease" in f".{path}":
        return LEASE_TABLE
    return path


def aws_grants(stack: Stack, document: dict[str, Any]) -> list[Grant]:
    grants = []
    for statement in as_list(document.get("statement")):
        conditions = frozenset(
            condition.get("variable", "") for condition in as_list(statement.get("condition"))
        )
        for action in statement.get("actions") or []:
            for resource in statement.get("resources") or []:
                grants.append(
                    Grant(
                        statement.get("effect", "Allow"),
                        action,
                        aws_resource(stack, resource),
                        conditions,
                    )
                )
    return grants


def secrets_with(grants: Iterable[Grant], action: str) -> set[str]:
    """Environment keys of the secrets on which `action` is allowed."""
    return {
        grant.resource.removeprefix("secret:")
        for grant in grants
        if grant.effect == "Allow"
        and grant.action == action
        and grant.resource.startswith("secret:")
    }


def aws_findings(stack: Stack, intent: Intent) -> list[str]:
    findings = secret_name_findings(
        intent, {key: secret.get("name") for key, secret in _aws_secrets(stack).items()}
    )
    findings += _aws_encryption_findings(stack)
    for key, secret in _aws_secrets(stack).items():
        window = secret.get("recovery_window_in_days")
        if not isinstance(window, int) or window < 7:
            findings.append(f"secret {key}: recovery_window_in_days {window!r} (must be 7-30)")
        if "tags" not in ignored_changes(stack, secret):
            findings.append(f"secret {key}: rotation's version tags are not in ignore_changes")
    for version in stack.blocks("aws_secretsmanager_secret_version"):
        if version.get("secret_string") is not None or version.get("secret_binary") is not None:
            findings.append(f"{address(version)} puts a secret value into Terraform state")
    findings += _aws_reader_findings(stack, intent)
    findings += _aws_rotator_findings(stack, intent)
    findings += _aws_resource_policy_findings(stack, intent)
    findings += precondition_findings(stack)
    return findings


def _aws_secrets(stack: Stack) -> dict[str, dict[str, Any]]:
    return stack.keyed("aws_secretsmanager_secret", "this")


def _aws_encryption_findings(stack: Stack) -> list[str]:
    findings = []
    keys = stack.blocks("aws_kms_key", "this")
    for key in keys:
        if key.get("enable_key_rotation") is not True:
            findings.append(f"{address(key)}: key rotation is not enabled")
        if not key.get("policy"):
            findings.append(f"{address(key)}: no key policy")
    for name, secret in _aws_secrets(stack).items():
        kms_key_id = secret.get("kms_key_id")
        referenced = aws_resource(stack, kms_key_id) if isinstance(kms_key_id, str) else None
        given_arn = isinstance(referenced, str) and referenced.startswith("arn:aws:kms:")
        if not (referenced == KMS_KEY and keys) and not given_arn:
            findings.append(f"secret {name} is not encrypted with a customer-managed KMS key")
    return findings


def _aws_reader_findings(stack: Stack, intent: Intent) -> list[str]:
    findings = []
    documents = stack.keyed("aws_iam_policy_document", "reader")
    policies = stack.keyed("aws_iam_policy", "reader")
    for name in sorted(set(documents) - set(intent.readers)):
        findings.append(f"reader policy {name} was not asked for")
    for name, expected in sorted(intent.readers.items()):
        document = documents.get(name)
        if document is None:
            findings.append(f"reader {name} has no policy document")
            continue
        if name not in policies or policies[name].get("policy") != document["id"]:
            findings.append(f"reader {name}: aws_iam_policy does not carry its policy document")
        grants = aws_grants(stack, document)
        for grant in grants:
            if grant.effect != "Allow":
                continue
            if "*" in grant.action or grant.action not in AWS_READ_ACTIONS:
                findings.append(f"reader {name} may {grant.action} (readers may only read)")
            elif grant.resource == "*" and grant.action != "secretsmanager:BatchGetSecretValue":
                findings.append(f"reader {name} may {grant.action} on every resource")
            elif grant.action == "kms:Decrypt":
                if grant.resource != KMS_KEY and not grant.resource.startswith("arn:aws:kms:"):
                    findings.append(f"reader {name} may decrypt with {grant.resource}")
                if "kms:ViaService" not in grant.conditions:
                    findings.append(f"reader {name} may decrypt outside Secrets Manager")
        for action in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"):
            got = secrets_with(grants, action)
            if got != expected:
                findings.append(
                    f"reader {name}: {action} on {sorted(got)}, "
                    f"should be exactly {sorted(expected)}"
                )
    return findings


def _aws_rotator_findings(stack: Stack, intent: Intent) -> list[str]:
    documents = stack.blocks("aws_iam_policy_document", "rotator")
    if len(documents) != 1:
        return [f"expected one rotator policy document, found {len(documents)}"]
    grants = aws_grants(stack, documents[0])
    findings = []
    for action in sorted(AWS_ROTATOR_SECRET_ACTIONS):
        missing = set(intent.environments) - secrets_with(grants, action)
        if missing:
            findings.append(f"rotator cannot {action} on {sorted(missing)}")
    secret_keys = {
        aws_resource(stack, secret["kms_key_id"])
        for secret in _aws_secrets(stack).values()
        if isinstance(secret.get("kms_key_id"), str)
    }
    for key in sorted(secret_keys):
        for action in sorted(AWS_ROTATOR_KEY_ACTIONS):
            if not any(g.action == action and g.resource == key for g in grants):
                findings.append(f"rotator cannot {action} with the secrets' KMS key {key}")
    for grant in grants:
        if "*" in grant.action or grant.resource == "*":
            findings.append(f"rotator may {grant.action} on {grant.resource}")
        if grant.action.startswith("dynamodb:") and (
            grant.action not in AWS_ROTATOR_LEASE_ACTIONS or grant.resource != LEASE_TABLE
        ):
            findings.append(f"rotator may {grant.action} on {grant.resource}")
    for action in sorted(AWS_ROTATOR_LEASE_ACTIONS):
        if not any(g.action == action and g.resource == LEASE_TABLE for g in grants):
            findings.append(f"rotator cannot {action} on the lease table")
    return findings + _aws_lease_table_findings(stack)


def _aws_lease_table_findings(stack: Stack) -> list[str]:
    """The lease table: one, keyed by the secret's ARN (a string), on demand, encrypted with a
    customer-managed key, with point-in-time recovery."""
    tables = stack.blocks("aws_dynamodb_table", "lease")
    if len(tables) != 1:
        return [f"expected one lease table, found {len(tables)}"]
    (table,) = tables
    findings = []
    attributes = {a.get("name"): a.get("type") for a in as_list(table.get("attribute"))}
    if table.get("hash_key") != "secret_arn" or attributes != {"secret_arn": "S"}:
        findings.append("the lease table's key is not the string secret_arn")
    if table.get("billing_mode") != "PAY_PER_REQUEST":
        findings.append("the lease table is not on demand")
    (encryption,) = as_list(table.get("server_side_encryption")) or [{}]
    key = encryption.get("kms_key_arn")
    if encryption.get("enabled") is not True or not isinstance(key, str):
        findings.append("the lease table is not encrypted with a customer-managed KMS key")
    (recovery,) = as_list(table.get("point_in_time_recovery")) or [{}]
    if recovery.get("enabled") is not True:
        findings.append("the lease table has no point-in-time recovery")
    return findings


def _aws_resource_policy_findings(stack: Stack, intent: Intent) -> list[str]:
    """With deny_other_principals, each secret lets through exactly its readers and the rotator."""
    findings = []
    for key, document in stack.keyed("aws_iam_policy_document", "secret").items():
        expected = set(intent.rotator_principals) | set(intent.allowed_principals)
        for name, environments in intent.readers.items():
            if key in environments:
                expected |= set(intent.reader_principals.get(name, ()))
        let_through: set[str] = set()
        for statement in as_list(document.get("statement")):
            if statement.get("effect") != "Deny":
                continue
            for condition in as_list(statement.get("condition")):
                if condition.get("variable") == "aws:PrincipalArn":
                    let_through |= set(condition.get("values") or [])
        if let_through != expected:
            findings.append(
                f"secret {key}: resource policy lets through {sorted(let_through)}, "
                f"should be {sorted(expected)}"
            )
    return findings


# --- GCP ------------------------------------------------------------------------------------------

# Permissions of the predefined roles the module grants (Google's role reference).
GCP_ROLE_PERMISSIONS = {
    "roles/secretmanager.secretAccessor": frozenset({"secretmanager.versions.access"}),
    "roles/secretmanager.viewer": frozenset(
        {
            "secretmanager.locations.get",
            "secretmanager.locations.list",
            "secretmanager.secrets.get",
            "secretmanager.secrets.list",
            "secretmanager.versions.get",
            "secretmanager.versions.list",
        }
    ),
}
# What a reader may do: read values and metadata (docs/stores/gcp.md, "IAM").
GCP_READER_PERMISSIONS = frozenset().union(*GCP_ROLE_PERMISSIONS.values())
# What `ivsecrets rotate` calls (docs/stores/gcp.md, "IAM", rotator table).
GCP_ROTATOR_PERMISSIONS = frozenset(
    {
        "secretmanager.secrets.get",
        "secretmanager.secrets.update",
        "secretmanager.versions.access",
        "secretmanager.versions.add",
        "secretmanager.versions.destroy",
        "secretmanager.versions.disable",
        "secretmanager.versions.get",
    }
)


def gcp_findings(stack: Stack, intent: Intent) -> list[str]:
    secrets = stack.keyed("google_secret_manager_secret", "this")
    findings = secret_name_findings(
        intent, {key: secret.get("secret_id") for key, secret in secrets.items()}
    )
    for key, secret in secrets.items():
        if not _gcp_cmek(secret):
            findings.append(f"secret {key} is not encrypted with a customer-managed key (CMEK)")
        for attribute in ("version_aliases", "annotations"):
            if attribute not in ignored_changes(stack, secret):
                findings.append(f"secret {key}: rotation's {attribute} are not in ignore_changes")
    for version in stack.blocks("google_secret_manager_secret_version"):
        if version.get("secret_data") is not None:
            findings.append(f"{address(version)} puts a secret value into Terraform state")
    findings += _gcp_binding_findings(stack, intent, secrets)
    findings += precondition_findings(stack)
    return findings


def _gcp_cmek(secret: dict[str, Any]) -> bool:
    for replication in as_list(secret.get("replication")):
        for auto in as_list(replication.get("auto")):
            keys = as_list(auto.get("customer_managed_encryption"))
            return bool(keys) and all(key.get("kms_key_name") for key in keys)
        for user_managed in as_list(replication.get("user_managed")):
            replicas = as_list(user_managed.get("replicas"))
            return bool(replicas) and all(
                key.get("kms_key_name")
                for replica in replicas
                for key in as_list(replica.get("customer_managed_encryption")) or [{}]
            )
    return False


def _gcp_binding_findings(
    stack: Stack, intent: Intent, secrets: dict[str, dict[str, Any]]
) -> list[str]:
    by_secret_id = {secret.get("secret_id"): key for key, secret in secrets.items()}
    role_permissions = dict(GCP_ROLE_PERMISSIONS)
    for role in stack.blocks("google_project_iam_custom_role"):
        name = f"projects/{role.get('project')}/roles/{role.get('role_id')}"
        role_permissions[name] = frozenset(role.get("permissions") or ())

    # member => environment => permissions held there
    held: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    findings = []
    for binding in stack.blocks("google_secret_manager_secret_iam_member"):
        environment = by_secret_id.get(binding.get("secret_id"), f"?{binding.get('secret_id')}")
        role = binding.get("role", "?")
        if role not in role_permissions:
            findings.append(f"{binding.get('member')} holds unknown role {role} on {environment}")
        held[binding.get("member", "?")][environment] |= role_permissions.get(role, set())

    readers_of: dict[str, set[str]] = defaultdict(set)  # member => environments it should read
    for name, environments in intent.readers.items():
        for member in intent.reader_principals.get(name, ()):
            readers_of[member] |= environments
    for member, by_environment in sorted(held.items()):
        if member in intent.rotator_principals:
            for environment in sorted(intent.environments):
                missing = GCP_ROTATOR_PERMISSIONS - by_environment.get(environment, set())
                if missing:
                    findings.append(f"rotator {member} lacks {sorted(missing)} on {environment}")
        elif member in readers_of:
            for environment, permissions in sorted(by_environment.items()):
                extra = permissions - GCP_READER_PERMISSIONS
                if extra:
                    findings.append(f"reader {member} may {sorted(extra)} on {environment}")
            read = {
                environment
                for environment, permissions in by_environment.items()
                if "secretmanager.versions.access" in permissions
            }
            if read != readers_of[member]:
                findings.append(
                    f"reader {member} reads {sorted(read)}, "
                    f"should be exactly {sorted(readers_of[member])}"
                )
        else:
            findings.append(f"{member} holds roles on {sorted(by_environment)} unasked")
    for member in sorted(set(readers_of) - set(held)):
        findings.append(f"reader {member} holds no role")
    for member in sorted(set(intent.rotator_principals) - set(held)):
        findings.append(f"rotator {member} holds no role")
    return findings


# --- Vault ----------------------------------------------------------------------------------------

VAULT_READ_CAPABILITIES = frozenset({"read"})


def vault_policy_paths(policy: str) -> dict[str, set[str]]:
    """Path => capabilities of a policy written in Vault's JSON syntax."""
    return {
        path: set(rule.get("capabilities", []))
        for path, rule in json.loads(policy).get("path", {}).items()
    }


def vault_findings(stack: Stack, intent: Intent) -> list[str]:
    endpoints = stack.keyed("vault_generic_endpoint", "secret")
    mount = intent.mount_path
    paths = {
        key: endpoint.get("path", "").removeprefix(f"{mount}/metadata/")
        for key, endpoint in endpoints.items()
    }
    findings = secret_name_findings(intent, paths)
    for key, endpoint in endpoints.items():
        if not endpoint.get("path", "").startswith(f"{mount}/metadata/"):
            findings.append(f"secret {key}: {endpoint.get('path')} is not KV v2 metadata")
        if endpoint.get("disable_delete") is not True:
            findings.append(f"secret {key}: terraform destroy would delete every version")
    for kv in stack.blocks("vault_kv_secret_v2"):
        if kv.get("data_json") is not None:
            findings.append(f"{address(kv)} puts a secret value into Terraform state")
    for mount_block in stack.blocks("vault_mount"):
        if str((mount_block.get("options") or {}).get("version")) != "2":
            findings.append(f"{address(mount_block)} is not KV version 2")

    def data(key: str) -> str:
        return f"{mount}/data/{intent.names[key]}"

    def metadata(key: str) -> str:
        return f"{mount}/metadata/{intent.names[key]}"

    policies = stack.keyed("vault_policy", "reader")
    for name in sorted(set(policies) - set(intent.readers)):
        findings.append(f"reader policy {name} was not asked for")
    for name, environments in sorted(intent.readers.items()):
        if name not in policies:
            findings.append(f"reader {name} has no policy")
            continue
        granted = vault_policy_paths(policies[name]["policy"])
        expected = {data(key) for key in environments} | {metadata(key) for key in environments}
        if set(granted) != expected:
            findings.append(
                f"reader {name}: policy covers {sorted(granted)}, should be {sorted(expected)}"
            )
        for path, capabilities in sorted(granted.items()):
            if not capabilities <= VAULT_READ_CAPABILITIES:
                findings.append(f"reader {name} may {sorted(capabilities)} on {path}")
            if "*" in path or "+" in path:
                findings.append(f"reader {name}: wildcard path {path}")
        findings += _vault_role_findings(stack, name, policies[name].get("name"))

    rotators = stack.blocks("vault_policy", "rotator")
    if len(rotators) != 1:
        return [*findings, f"expected one rotator policy, found {len(rotators)}"]
    granted = vault_policy_paths(rotators[0]["policy"])
    for key in sorted(intent.environments):
        # Stage at <path>.pending, write <path> with check-and-set, record versions in its
        # custom_metadata, destroy the pending version (src/ivsecrets/plugins/vault.py).
        pending = f"{intent.names[key]}.pending"
        needed = {
            data(key): {"create", "read", "update"},
            metadata(key): {"read", "update"},
            f"{mount}/data/{pending}": {"create", "read", "update"},
            f"{mount}/metadata/{pending}": {"read"},
            f"{mount}/destroy/{pending}": {"update"},
        }
        for path, capabilities in needed.items():
            missing = capabilities - granted.get(path, set())
            if missing:
                findings.append(f"rotator cannot {sorted(missing)} {path}")
    findings += precondition_findings(stack)
    return findings


def _vault_role_findings(stack: Stack, reader: str, policy_name: str | None) -> list[str]:
    roles = [
        role
        for role_type in ("vault_approle_auth_backend_role", "vault_kubernetes_auth_backend_role")
        for role in stack.blocks(role_type, "reader")
        if instance_key(role) == reader
    ]
    if not roles:
        return []  # auth_method = "none": the consumer logs in some other way
    if [role.get("token_policies") for role in roles] != [[policy_name]]:
        return [f"reader {reader}: auth role does not carry exactly its policy {policy_name}"]
    return []


# --- Shared ---------------------------------------------------------------------------------------


def secret_name_findings(intent: Intent, names: dict[str, Any]) -> list[str]:
    """The module creates one secret per environment, named as the library will look it up."""
    findings = []
    for key in sorted(set(intent.names) - set(names)):
        findings.append(f"no secret for {key}")
    for key in sorted(set(names) - set(intent.names)):
        findings.append(f"secret {key} was not asked for")
    for key in sorted(set(names) & set(intent.names)):
        if names[key] != intent.names[key]:
            findings.append(
                f"secret {key} is named {names[key]!r}; the library looks up "
                f"{intent.names[key]!r} (template {intent.name_template!r})"
            )
    return findings


def ignored_changes(stack: Stack, block: dict[str, Any]) -> set[str]:
    """Attributes in the block's `lifecycle { ignore_changes = [...] }`.

    tfparse drops the references in ignore_changes, so this reads the lifecycle block's text.
    """
    lifecycle = block.get("lifecycle")
    if not lifecycle:
        return set()
    found = re.search(r"ignore_changes\s*=\s*\[([^\]]*)\]", stack.source_lines(lifecycle))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", found.group(1))) if found else set()


def precondition_findings(stack: Stack) -> list[str]:
    """tfparse evaluates lifecycle preconditions; one that is false would stop `terraform plan`."""
    findings = []
    for blocks in stack.parsed.values():
        for block in blocks:
            lifecycle = block.get("lifecycle") if isinstance(block, dict) else None
            for precondition in as_list((lifecycle or {}).get("precondition")):
                if precondition.get("condition") is False:
                    findings.append(
                        f"{address(block)}: precondition fails: {precondition.get('error_message')}"
                    )
    return findings
