"""Terraform files are formatted as `terraform fmt` would leave them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.terraform.hclfmt import HclFormatError, format_hcl, unformatted_lines
from tests.terraform.tfstack import TERRAFORM, tf_files

FILES = list(tf_files())


def test_there_are_files_to_check() -> None:
    assert len(FILES) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(TERRAFORM)))
def test_file_is_canonically_formatted(path: Path) -> None:
    assert unformatted_lines(path) == []


CANONICAL = """\
resource "aws_kms_key" "this" {
  count = var.enabled ? 1 : 0

  description         = "ivsecrets"
  enable_key_rotation = true # rotates yearly
  tags                = merge(local.tags, { name = "x" })
  policy = jsonencode({
    Statement = [for s in local.statements : s if !s.skip]
  })
}
"""


def test_canonical_text_is_unchanged() -> None:
    assert format_hcl(CANONICAL) == CANONICAL


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  description         =", "  description ="),  # `=` not aligned
        ("  count = var", "    count = var"),  # indented too far
        ("  count = var", "count = var"),  # not indented
        ("? 1 : 0", "?1 : 0"),  # operator spacing
        ("merge(local.tags,", "merge( local.tags,"),  # space after a bracket
        ("{ name", "{name"),  # inline object without spaces
        ('"x" })', '"x" }) '),  # trailing whitespace
        ("true # rotates", "true  # rotates"),  # comment not aligned
        ("if !s.skip", "if ! s.skip"),  # space after unary not
    ],
)
def test_unformatted_text_is_caught(old: str, new: str, tmp_path: Path) -> None:
    assert old in CANONICAL
    path = tmp_path / "main.tf"
    path.write_text(CANONICAL.replace(old, new, 1), encoding="utf-8")
    assert unformatted_lines(path) != []


def test_unknown_syntax_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "main.tf"
    path.write_text("a = 1\n/* spans\nlines */\n", encoding="utf-8")
    (problem,) = unformatted_lines(path)
    assert "not supported" in problem
    with pytest.raises(HclFormatError):
        format_hcl('a = "unterminated\n')


def test_heredocs_are_kept_verbatim() -> None:
    text = "a = <<-EOT\n    keep   this\n  EOT\nbb = 1\n"
    assert format_hcl(text) == "a  = <<-EOT\n    keep   this\n  EOT\nbb = 1\n"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on PATH")
def test_terraform_fmt_agrees_where_available() -> None:
    """Where terraform is installed, the real formatter must agree too."""
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(TERRAFORM)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout
