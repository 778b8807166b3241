"""Without checkov, its tests are skipped in one line that says how to install it (issue 18, item
11), as the browser test does without chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.terraform import conftest


def test_without_checkov_its_tests_skip_in_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("IVSECRETS_CHECKOV", raising=False)
    monkeypatch.setattr(conftest, "REPO", tmp_path)  # no .tools/checkov there
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    assert conftest.find_checkov() is None
    with pytest.raises(pytest.skip.Exception) as info:
        conftest.skip_module_without_checkov()
    assert info.value.allow_module_level  # the module is skipped once, not test by test
    message = str(info.value)
    assert "\n" not in message and "no checkov found" in message
    assert "make setup" in message and "IVSECRETS_CHECKOV" in message


def test_a_checkov_that_is_there_is_found(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    checkov = tmp_path / ".tools" / "checkov" / "bin" / "checkov"
    checkov.parent.mkdir(parents=True)
    checkov.write_text("#!/bin/sh\n")
    checkov.chmod(0o755)
    monkeypatch.delenv("IVSECRETS_CHECKOV", raising=False)
    monkeypatch.setattr(conftest, "REPO", tmp_path)
    assert conftest.find_checkov() == str(checkov)
    conftest.skip_module_without_checkov()  # no skip
