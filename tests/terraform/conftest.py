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


#: How to get checkov, in the one line a run without it prints (as the browser test says it).
HOW_TO_RUN = (
    "make setup installs it into .tools/checkov (or set IVSECRETS_CHECKOV=/path/to/checkov, "
    "or put checkov on PATH), then make test"
)
NO_CHECKOV = f"the checkov tests did not run: no checkov found ({HOW_TO_RUN})"


def find_checkov() -> str | None:
    """checkov from IVSECRETS_CHECKOV, else the repo's tools venv (`make setup`), else PATH;
    None where there is none. IVSECRETS_CHECKOV is returned as given: naming no executable is a
    mistake, which the checkov run reports as a failure, not an absence."""
    given = os.environ.get("IVSECRETS_CHECKOV")
    if given:
        return given
    candidates = [str(REPO / ".tools" / "checkov" / "bin" / "checkov"), shutil.which("checkov")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def skip_module_without_checkov() -> None:
    """Skip the calling test module where there is no checkov: one skip, so one summary line,
    with the install command."""
    if find_checkov() is None:
        pytest.skip(NO_CHECKOV, allow_module_level=True)


@pytest.fixture(scope="session")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One checkov scan of: terraform/ (modules through the examples), the AWS module on its
    own, and deliberately broken copies, which must fail.

    Everything is copied into one directory so that checkov runs once.
    """
    checkov = find_checkov()
    if checkov is None:
        pytest.skip(NO_CHECKOV)
    if not os.access(checkov, os.X_OK):
        pytest.fail(f"IVSECRETS_CHECKOV={checkov} is not an executable", pytrace=False)
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
