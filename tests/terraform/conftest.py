"""Fixtures for the offline Terraform checks: expanded modules and one checkov run per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.terraform.tfbreak import BROKEN_FOR_CHECKOV, break_copy
from tests.terraform.tfstack import (
    EXAMPLES,
    MODULES,
    REPO,
    STORES,
    TEST_VARIABLES,
    Stack,
    copy_tree,
    load,
)


@pytest.fixture(scope="session")
def module_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stack]:
    """Each module expanded with its test variables."""
    scratch = tmp_path_factory.mktemp("tfvars")
    return {
        store: load(MODULES / store, TEST_VARIABLES[store], scratch / store) for store in STORES
    }


@pytest.fixture(scope="session")
def example_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Stack]:
    """Each example expanded with its own defaults."""
    scratch = tmp_path_factory.mktemp("examples")
    return {store: load(EXAMPLES / store, None, scratch) for store in STORES}


def find_checkov() -> str:
    """checkov from IVSECRETS_CHECKOV, else the repo's tools venv (`make setup`), else PATH."""
    given = os.environ.get("IVSECRETS_CHECKOV")
    if given:
        if not os.access(given, os.X_OK):
            pytest.fail(f"IVSECRETS_CHECKOV={given} is not an executable", pytrace=False)
        return given
    candidates = [str(REPO / ".tools" / "checkov" / "bin" / "checkov"), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "checkov not found: set IVSECRETS_CHECKOV, run `make setup` (installs it into "
        ".tools/checkov), or put checkov on PATH",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov scan of: terraform/ (modules through the examples), the AWS module on its
    own, and deliberately broken copies, which must fail.

    Everything is copied into one directory so that checkov runs once.
    """
    checkov = find_checkov()
    scan = tmp_path_factory.mktemp("checkov")
    copy_tree(scan / "terraform")
    shutil.copytree(MODULES / "aws", scan / "aws-module")
    for name in BROKEN_FOR_CHECKOV:
        break_copy(name, scan / name)
    result = subprocess.run(
        [
            checkov,
            "--directory",
            str(scan),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--soft-fail",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"checkov failed to run:\n{result.stderr[-3000:]}"
    report = json.loads(result.stdout)
    # One framework gives one report; checkov gives a list when there are several.
    assert isinstance(report, dict), f"expected one terraform report, got {type(report)}"
    return report
