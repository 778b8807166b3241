"""checkov passes on the AWS module and the examples, and fails on a module without its KMS key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.terraform.conftest import skip_module_without_checkov
from tests.terraform.tfbreak import BROKEN_FOR_CHECKOV

skip_module_without_checkov()

# Every skip in terraform/ must be listed here with why it is safe, and carry the same reason in
# a `#checkov:skip=CHECK:reason` comment next to the resource.
EXPECTED_SKIPS = {
    # Secrets Manager rotation is optional: `ivsecrets rotate` rotates from the deploy pipeline,
    # and aws_secretsmanager_secret_rotation (for_each over the secrets) schedules the rotation
    # Lambda when one is given. checkov's graph check cannot link a for_each rotation to its
    # secret, so it fails even when rotation is configured.
    "CKV2_AWS_57",
}


def checks(report: dict[str, Any], kind: str, under: str) -> list[dict[str, Any]]:
    """`kind` ("failed", "passed" or "skipped") checks on files under `under` in the scan."""
    return [
        check
        for check in report["results"].get(f"{kind}_checks", [])
        if check["file_path"].startswith(f"/{under}/")
    ]


def describe(found: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{c['check_id']} {c['resource']} {c['file_path']}: {c['check_name']}" for c in found
    )


def test_checkov_passes_on_modules_and_examples(checkov_report: dict[str, Any]) -> None:
    assert checkov_report["summary"]["parsing_errors"] == 0
    for root in ("terraform", "aws-module"):
        failed = checks(checkov_report, "failed", root)
        assert failed == [], describe(failed)


def test_checkov_really_looked_at_the_secrets(checkov_report: dict[str, Any]) -> None:
    """Guard against a vacuous pass: the CMK check ran on the module and through each example."""
    for root in ("aws-module", "terraform/modules/aws"):
        passed = {c["check_id"] for c in checks(checkov_report, "passed", root)}
        assert {"CKV_AWS_149", "CKV_AWS_111", "CKV_AWS_356"} <= passed, root
    example = {c["check_id"] for c in checks(checkov_report, "passed", "terraform/examples/gcp")}
    assert "CKV_GCP_43" in example  # the example's Cloud KMS key rotates


def test_every_skip_is_expected_and_explained(checkov_report: dict[str, Any]) -> None:
    skipped = checks(checkov_report, "skipped", "terraform") + checks(
        checkov_report, "skipped", "aws-module"
    )
    assert skipped, "the CKV2_AWS_57 skip disappeared: drop it from EXPECTED_SKIPS"
    for check in skipped:
        reason = check["check_result"].get("suppress_comment") or ""
        assert check["check_id"] in EXPECTED_SKIPS, describe([check])
        assert reason and reason != "No comment provided", f"unexplained skip: {describe([check])}"


def test_skip_comments_carry_reasons() -> None:
    """Every `#checkov:skip=` in terraform/ names a check and gives a reason after the colon."""
    terraform = Path(__file__).resolve().parents[2] / "terraform"
    for path in terraform.rglob("*.tf"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "checkov:skip=" in line:
                check, _, reason = line.split("checkov:skip=", 1)[1].partition(":")
                assert check in EXPECTED_SKIPS, f"{path}: {line.strip()}"
                assert len(reason.strip()) > 20, f"{path}: skip without a reason: {line.strip()}"


def test_checkov_rejects_a_secret_without_kms_key(checkov_report: dict[str, Any]) -> None:
    for name in BROKEN_FOR_CHECKOV:
        failed = {(c["check_id"], c["resource"]) for c in checks(checkov_report, "failed", name)}
        assert ("CKV_AWS_149", "aws_secretsmanager_secret.this") in failed, name
