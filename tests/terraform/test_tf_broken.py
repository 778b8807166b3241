"""The checks reject deliberately broken copies of the modules (see tfbreak.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform.tfbreak import BREAKAGES, break_copy
from tests.terraform.tfpolicy import aws_findings, gcp_findings, vault_findings
from tests.terraform.tfstack import TEST_VARIABLES, Intent, load

FINDINGS = {"aws": aws_findings, "gcp": gcp_findings, "vault": vault_findings}

# breakage => a finding it must produce
EXPECTED = {
    "aws-reader-reads-other-platforms": (
        "reader web-backend: secretsmanager:GetSecretValue on "
        "['android/prod', 'ios/prod', 'web/prod'], should be exactly ['web/prod']"
    ),
    "gcp-reader-reads-other-platforms": (
        "reader serviceAccount:web@acme-identity.iam.gserviceaccount.com reads "
        "['android/prod', 'ios/prod', 'web/prod'], should be exactly ['web/prod']"
    ),
    "vault-reader-reads-other-platforms": (
        "reader web-backend: policy covers ['secret/data/ivsecrets/prod/android', "
        "'secret/data/ivsecrets/prod/ios', 'secret/data/ivsecrets/prod/web', "
        "'secret/metadata/ivsecrets/prod/android', 'secret/metadata/ivsecrets/prod/ios', "
        "'secret/metadata/ivsecrets/prod/web'], should be "
        "['secret/data/ivsecrets/prod/web', 'secret/metadata/ivsecrets/prod/web']"
    ),
    "aws-no-kms-key": "secret web/prod is not encrypted with a customer-managed KMS key",
    "gcp-no-cmek": "secret web/prod is not encrypted with a customer-managed key (CMEK)",
    "aws-renamed": (
        "secret web/prod is named 'ivsecrets-web-prod'; the library looks up "
        "'ivsecrets-prod-web' (template 'ivsecrets-{workspace}-{platform}')"
    ),
    "gcp-renamed": (
        "secret ios/test is named 'ivsecrets-ios-test'; the library looks up "
        "'ivsecrets-test-ios' (template 'ivsecrets-{workspace}-{platform}')"
    ),
    "vault-renamed": (
        "secret android/prod is named 'ivsecrets/android/prod'; the library looks up "
        "'ivsecrets/prod/android' (template 'ivsecrets/{workspace}/{platform}')"
    ),
}


def test_every_breakage_has_an_expectation() -> None:
    assert set(EXPECTED) == set(BREAKAGES)


@pytest.mark.parametrize("name", sorted(BREAKAGES))
def test_rules_reject_broken_module(name: str, tmp_path: Path) -> None:
    store = BREAKAGES[name].store
    broken = break_copy(name, tmp_path / "module")
    stack = load(broken, TEST_VARIABLES[store], tmp_path / "vars")
    findings = FINDINGS[store](stack, Intent.from_variables(store, TEST_VARIABLES[store]))
    assert EXPECTED[name] in findings, "\n".join(findings)
