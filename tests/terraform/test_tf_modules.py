"""The modules, expanded offline with tfparse, create what the library and the consumers need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from ivsecrets.config import parse_config
from ivsecrets.plugins.aws.lease import DEFAULT_TABLE
from tests.terraform.tfpolicy import (
    GCP_ROTATOR_PERMISSIONS,
    KMS_KEY,
    LEASE_TABLE,
    aws_findings,
    aws_grants,
    gcp_findings,
    secrets_with,
    vault_findings,
    vault_policy_paths,
)
from tests.terraform.tfstack import (
    DEFAULT_TEMPLATES,
    GCP_REPLICAS_VARIABLES,
    MODULES,
    STORES,
    TEST_VARIABLES,
    Intent,
    Stack,
    as_list,
    load,
)

FINDINGS = {"aws": aws_findings, "gcp": gcp_findings, "vault": vault_findings}

SIX_AWS_NAMES = {
    "web/test": "ivsecrets-test-web",
    "web/prod": "ivsecrets-prod-web",
    "ios/test": "ivsecrets-test-ios",
    "ios/prod": "ivsecrets-prod-ios",
    "android/test": "ivsecrets-test-android",
    "android/prod": "ivsecrets-prod-android",
}


@pytest.mark.parametrize("store", STORES)
def test_module_follows_our_rules(store: str, module_stacks: dict[str, Stack]) -> None:
    intent = Intent.from_variables(store, TEST_VARIABLES[store])
    assert FINDINGS[store](module_stacks[store], intent) == []


@pytest.mark.parametrize("store", STORES)
def test_default_name_template_is_the_librarys(store: str, module_stacks: dict[str, Stack]) -> None:
    variables = {v["__tfmeta"]["label"]: v for v in module_stacks[store].parsed["variable"]}
    assert variables["name_template"]["default"] == DEFAULT_TEMPLATES[store]


@pytest.mark.parametrize("store", STORES)
def test_variables_are_validated(store: str) -> None:
    """platforms, workspaces and name_template refuse what the library would not accept."""
    text = (MODULES / store / "variables.tf").read_text(encoding="utf-8")
    for variable in ("platforms", "workspaces", "name_template", "readers"):
        block = text.split(f'variable "{variable}" {{', 1)[1].split("\n}\n", 1)[0]
        assert "validation {" in block, f"{store}: variable {variable} has no validation"
    assert '["web", "ios", "android"]' in text
    assert "^[a-z][a-z0-9_-]*$" in text


# --- AWS ------------------------------------------------------------------------------------------


def test_aws_six_secrets_named_like_the_library(module_stacks: dict[str, Stack]) -> None:
    secrets = module_stacks["aws"].keyed("aws_secretsmanager_secret", "this")
    assert {key: secret["name"] for key, secret in secrets.items()} == SIX_AWS_NAMES


def test_aws_secrets_use_the_modules_rotating_kms_key(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    (key,) = stack.blocks("aws_kms_key", "this")
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] >= 7
    for secret in stack.blocks("aws_secretsmanager_secret", "this"):
        assert secret["kms_key_id"] == key["id"]
        assert secret["recovery_window_in_days"] == 30


def test_aws_terraform_leaves_rotation_tags_alone(module_stacks: dict[str, Stack]) -> None:
    """Rotation tags versions ivsecrets:intercom:<VersionId>; an apply must not remove them."""
    stack = module_stacks["aws"]
    for secret in stack.blocks("aws_secretsmanager_secret", "this"):
        assert "ignore_changes = [tags]" in stack.source_lines(secret["lifecycle"])


def test_aws_given_kms_key_replaces_the_created_one(tmp_path: Path) -> None:
    arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    variables = {**TEST_VARIABLES["aws"], "kms_key_arn": arn}
    stack = load(MODULES / "aws", variables, tmp_path)
    assert stack.blocks("aws_kms_key") == []
    assert {s["kms_key_id"] for s in stack.blocks("aws_secretsmanager_secret")} == {arn}
    assert aws_findings(stack, Intent.from_variables("aws", variables)) == []


def test_aws_web_backend_reads_only_the_web_secret_of_prod(
    module_stacks: dict[str, Stack],
) -> None:
    stack = module_stacks["aws"]
    grants = aws_grants(stack, stack.keyed("aws_iam_policy_document", "reader")["web-backend"])
    assert secrets_with(grants, "secretsmanager:GetSecretValue") == {"web/prod"}
    assert {g.action for g in grants} == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
        "secretsmanager:BatchGetSecretValue",
        "kms:Decrypt",
    }
    (decrypt,) = [g for g in grants if g.action == "kms:Decrypt"]
    assert decrypt.resource == KMS_KEY
    assert {"kms:ViaService", "kms:EncryptionContext:SecretARN"} <= decrypt.conditions
    # AWS requires "*" for BatchGetSecretValue; it returns only what GetSecretValue allows.
    assert {g.resource for g in grants if g.resource == "*"} == {"*"}
    assert {g.action for g in grants if g.resource == "*"} == {"secretsmanager:BatchGetSecretValue"}


def test_aws_mobile_backend_reads_ios_and_android_of_prod(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    grants = aws_grants(stack, stack.keyed("aws_iam_policy_document", "reader")["mobile-backend"])
    assert secrets_with(grants, "secretsmanager:GetSecretValue") == {"ios/prod", "android/prod"}


def test_aws_rotator_can_stage_and_promote(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    (document,) = stack.blocks("aws_iam_policy_document", "rotator")
    grants = aws_grants(stack, document)
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"):
        assert secrets_with(grants, action) == set(SIX_AWS_NAMES)
    tagging = [g for g in grants if g.action == "secretsmanager:TagResource"]
    assert tagging and all("aws:TagKeys" in g.conditions for g in tagging)
    assert {g.action for g in grants if g.resource == KMS_KEY} >= {"kms:GenerateDataKey"}
    (token_reader,) = stack.blocks("aws_iam_policy", "intercom_token_reader")
    statement = json.loads(token_reader["policy"])["Statement"]
    assert statement == [
        {
            "Sid": "ReadTheIntercomApiTokens",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [TEST_VARIABLES["aws"]["intercom_token_secret_arn"]],
        }
    ]
    (attachment,) = stack.blocks("aws_iam_role_policy_attachment", "intercom_token_reader")
    assert attachment["role"] == "ivsecrets-rotator"


def test_aws_rotator_holds_the_lease_in_its_table_only(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    (document,) = stack.blocks("aws_iam_policy_document", "rotator")
    lease = {(g.action, g.resource) for g in aws_grants(stack, document) if "dynamodb" in g.action}
    assert lease == {("dynamodb:GetItem", LEASE_TABLE), ("dynamodb:PutItem", LEASE_TABLE)}
    (table,) = stack.blocks("aws_dynamodb_table", "lease")
    assert table["name"] == stack.output("lease_table_name") == DEFAULT_TABLE
    assert "lease_table" not in tomllib.loads(stack.output("ivsecrets_config"))["stores"]["aws"]


def test_aws_a_lease_table_of_another_name_is_written_into_the_config(tmp_path: Path) -> None:
    variables = {**TEST_VARIABLES["aws"], "lease_table_name": "acme-ivsecrets-lease"}
    stack = load(MODULES / "aws", variables, tmp_path)
    config = parse_config(stack.output("ivsecrets_config"), "terraform/modules/aws")
    assert config.stores["aws"].options["lease_table"] == "acme-ivsecrets-lease"
    assert stack.output("lease_table_name") == "acme-ivsecrets-lease"


def test_aws_policies_are_attached_to_the_given_roles(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    attachments = stack.keyed("aws_iam_role_policy_attachment", "reader")
    assert set(attachments) == {"web-backend/web-backend", "mobile-backend/mobile-backend"}
    (rotator,) = stack.blocks("aws_iam_role_policy_attachment", "rotator")
    assert rotator["role"] == "ivsecrets-rotator"


def test_aws_resource_policies_block_public_access(module_stacks: dict[str, Stack]) -> None:
    policies = module_stacks["aws"].keyed("aws_secretsmanager_secret_policy", "this")
    assert set(policies) == set(SIX_AWS_NAMES)
    assert all(policy["block_public_policy"] is True for policy in policies.values())


def test_aws_rotation_schedule_is_wired_to_the_lambda(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["aws"]
    lambda_arn = TEST_VARIABLES["aws"]["rotation_lambda_arn"]
    secret_ids = {
        key: s["id"] for key, s in stack.keyed("aws_secretsmanager_secret", "this").items()
    }
    rotations = stack.keyed("aws_secretsmanager_secret_rotation", "this")
    assert set(rotations) == set(SIX_AWS_NAMES)
    for key, rotation in rotations.items():
        assert rotation["secret_id"] == secret_ids[key]
        assert rotation["rotation_lambda_arn"] == lambda_arn
        assert rotation["rotate_immediately"] is False
        assert rotation["rotation_rules"]["automatically_after_days"] == 30
    permissions = stack.keyed("aws_lambda_permission", "rotation")
    assert {key: p["source_arn"] for key, p in permissions.items()} == secret_ids
    assert {p["principal"] for p in permissions.values()} == {"secretsmanager.amazonaws.com"}


def test_aws_without_rotation_lambda_has_no_schedule(tmp_path: Path) -> None:
    variables = {**TEST_VARIABLES["aws"], "rotation_lambda_arn": None}
    stack = load(MODULES / "aws", variables, tmp_path)
    assert stack.blocks("aws_secretsmanager_secret_rotation") == []
    assert stack.blocks("aws_lambda_permission") == []


def test_aws_values_never_enter_state() -> None:
    """No secret version resource: values come from `ivsecrets rotate`."""
    for path in (MODULES / "aws").glob("*.tf"):
        assert 'resource "aws_secretsmanager_secret_version"' not in path.read_text()


# --- GCP ------------------------------------------------------------------------------------------


def test_gcp_six_secrets_with_cmek_and_labels(module_stacks: dict[str, Stack]) -> None:
    """`tags`, as on AWS and Vault, are applied as GCP labels next to the module's own."""
    secrets = module_stacks["gcp"].keyed("google_secret_manager_secret", "this")
    assert {key: s["secret_id"] for key, s in secrets.items()} == SIX_AWS_NAMES
    for key, secret in secrets.items():
        platform, workspace = key.split("/")
        assert secret["project"] == "acme-identity"
        assert secret["labels"] == {
            "team": "identity",
            "managed-by": "terraform",
            "ivsecrets-platform": platform,
            "ivsecrets-workspace": workspace,
        }
        encryption = secret["replication"]["auto"]["customer_managed_encryption"]
        assert encryption["kms_key_name"] == TEST_VARIABLES["gcp"]["kms_key_name"]


def test_gcp_user_managed_replication_has_a_key_per_replica(tmp_path: Path) -> None:
    stack = load(MODULES / "gcp", GCP_REPLICAS_VARIABLES, tmp_path)
    for secret in stack.blocks("google_secret_manager_secret", "this"):
        replicas = as_list(secret["replication"]["user_managed"]["replicas"])
        assert {
            r["location"]: r["customer_managed_encryption"]["kms_key_name"] for r in replicas
        } == {
            location: replica["kms_key_name"]
            for location, replica in GCP_REPLICAS_VARIABLES["replicas"].items()
        }
    assert gcp_findings(stack, Intent.from_variables("gcp", GCP_REPLICAS_VARIABLES)) == []


def test_gcp_refuses_google_managed_keys_by_default(tmp_path: Path) -> None:
    variables = {**TEST_VARIABLES["gcp"], "kms_key_name": None}
    stack = load(MODULES / "gcp", variables, tmp_path)
    findings = gcp_findings(stack, Intent.from_variables("gcp", variables))
    assert "secret web/prod is not encrypted with a customer-managed key (CMEK)" in findings
    assert any("precondition fails: require_cmek is set" in f for f in findings)


def test_gcp_readers_get_exactly_their_secrets(module_stacks: dict[str, Stack]) -> None:
    bindings = module_stacks["gcp"].blocks("google_secret_manager_secret_iam_member", "reader")
    web = {
        (b["secret_id"], b["role"])
        for b in bindings
        if b["member"] == "serviceAccount:web@acme-identity.iam.gserviceaccount.com"
    }
    assert web == {
        ("ivsecrets-prod-web", "roles/secretmanager.secretAccessor"),
        ("ivsecrets-prod-web", "roles/secretmanager.viewer"),
    }


def test_gcp_rotator_can_add_versions_and_move_aliases(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["gcp"]
    (role,) = stack.blocks("google_project_iam_custom_role", "rotator")
    assert set(role["permissions"]) == GCP_ROTATOR_PERMISSIONS
    bindings = stack.blocks("google_secret_manager_secret_iam_member", "rotator")
    assert {(b["secret_id"], b["role"]) for b in bindings} == {
        (name, f"projects/acme-identity/roles/{role['role_id']}") for name in SIX_AWS_NAMES.values()
    }


def test_gcp_rotator_object_names_members_and_role_id(tmp_path: Path) -> None:
    """`rotator = { members, role_id }`, the same input name as on AWS and Vault."""
    member = "serviceAccount:rotator@acme-identity.iam.gserviceaccount.com"
    variables = {**TEST_VARIABLES["gcp"], "rotator": {"members": [member], "role_id": "ivsRot"}}
    stack = load(MODULES / "gcp", variables, tmp_path / "custom")
    (role,) = stack.blocks("google_project_iam_custom_role", "rotator")
    assert role["role_id"] == "ivsRot"
    assert stack.output("rotator_role") == "projects/acme-identity/roles/ivsRot"
    bindings = stack.blocks("google_secret_manager_secret_iam_member", "rotator")
    assert {(b["member"], b["role"]) for b in bindings} == {
        (member, "projects/acme-identity/roles/ivsRot")
    }
    assert len(bindings) == 6

    without = load(MODULES / "gcp", {**TEST_VARIABLES["gcp"], "rotator": {}}, tmp_path / "none")
    assert without.blocks("google_project_iam_custom_role") == []
    assert without.blocks("google_secret_manager_secret_iam_member", "rotator") == []
    assert without.output("rotator_role") is None


def test_gcp_terraform_leaves_aliases_and_annotations_to_rotation(
    module_stacks: dict[str, Stack],
) -> None:
    stack = module_stacks["gcp"]
    for secret in stack.blocks("google_secret_manager_secret", "this"):
        lifecycle = stack.source_lines(secret["lifecycle"])
        assert "ignore_changes = [version_aliases, annotations]" in lifecycle


# --- Vault ----------------------------------------------------------------------------------------


def test_vault_six_paths_in_a_kv2_mount(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["vault"]
    (mount,) = stack.blocks("vault_mount", "kv")
    assert (mount["path"], mount["type"], mount["options"]) == ("secret", "kv", {"version": "2"})
    endpoints = stack.keyed("vault_generic_endpoint", "secret")
    assert {key: e["path"] for key, e in endpoints.items()} == {
        key: f"secret/metadata/ivsecrets/{key.split('/')[1]}/{key.split('/')[0]}"
        for key in SIX_AWS_NAMES
    }
    for endpoint in endpoints.values():
        assert endpoint["disable_delete"] is True
        assert set(json.loads(endpoint["data_json"])) == {"max_versions"}


def test_vault_reader_policy_reads_only_its_paths(module_stacks: dict[str, Stack]) -> None:
    policy = module_stacks["vault"].keyed("vault_policy", "reader")["web-backend"]
    assert vault_policy_paths(policy["policy"]) == {
        "secret/data/ivsecrets/prod/web": {"read"},
        "secret/metadata/ivsecrets/prod/web": {"read"},
    }


def test_vault_rotator_policy_writes_data_and_metadata(module_stacks: dict[str, Stack]) -> None:
    (policy,) = module_stacks["vault"].blocks("vault_policy", "rotator")
    paths = vault_policy_paths(policy["policy"])
    assert {path: caps for path, caps in paths.items() if "/prod/ios" in path} == {
        "secret/data/ivsecrets/prod/ios": {"create", "read", "update"},
        "secret/metadata/ivsecrets/prod/ios": {"read", "update"},
        "secret/data/ivsecrets/prod/ios.pending": {"create", "read", "update"},
        "secret/metadata/ivsecrets/prod/ios.pending": {"read"},
        "secret/destroy/ivsecrets/prod/ios.pending": {"update"},
        "secret/data/ivsecrets/prod/ios.lease": {"create", "read", "update"},
        "secret/metadata/ivsecrets/prod/ios.lease": {"read"},
    }
    assert len(paths) == 6 * 7


def test_vault_approle_per_consumer(module_stacks: dict[str, Stack]) -> None:
    stack = module_stacks["vault"]
    roles = stack.keyed("vault_approle_auth_backend_role", "reader")
    assert {name: r["token_policies"] for name, r in roles.items()} == {
        "web-backend": ["ivsecrets-reader-web-backend"],
        "mobile-backend": ["ivsecrets-reader-mobile-backend"],
    }
    assert {r["backend"] for r in roles.values()} == {"approle"}
    (rotator,) = stack.blocks("vault_approle_auth_backend_role", "rotator")
    assert rotator["token_policies"] == ["ivsecrets-rotator"]


def test_vault_kubernetes_roles_instead_of_approle(tmp_path: Path) -> None:
    variables = {
        **TEST_VARIABLES["vault"],
        "auth_method": "kubernetes",
        "readers": {
            "web-backend": {
                "platforms": ["web"],
                "workspaces": ["prod"],
                "kubernetes_service_accounts": ["web"],
                "kubernetes_namespaces": ["backend"],
            }
        },
        "rotator": {"kubernetes_service_accounts": ["rotator"], "kubernetes_namespaces": ["ops"]},
    }
    stack = load(MODULES / "vault", variables, tmp_path)
    assert stack.blocks("vault_approle_auth_backend_role") == []
    (role,) = stack.blocks("vault_kubernetes_auth_backend_role", "reader")
    assert role["backend"] == "kubernetes"
    assert role["bound_service_account_names"] == ["web"]
    assert role["bound_service_account_namespaces"] == ["backend"]
    assert vault_findings(stack, Intent.from_variables("vault", variables)) == []


def test_vault_existing_mount(tmp_path: Path) -> None:
    variables = {**TEST_VARIABLES["vault"], "create_mount": False, "mount_path": "kv"}
    stack = load(MODULES / "vault", variables, tmp_path)
    assert stack.blocks("vault_mount") == []
    assert vault_findings(stack, Intent.from_variables("vault", variables)) == []


def test_vault_values_never_enter_state() -> None:
    for path in (MODULES / "vault").glob("*.tf"):
        assert 'resource "vault_kv_secret_v2"' not in path.read_text()
