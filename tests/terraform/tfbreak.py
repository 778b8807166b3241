"""Deliberately broken copies of the modules, which the checks must reject.

Each breakage is a small text patch of one module file, the kind of slip a reviewer could miss.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.terraform.tfstack import MODULES, patch


@dataclass(frozen=True)
class Breakage:
    store: str
    file: str
    old: str
    new: str


# Reader policies built from every platform instead of the reader's own.
_READER_SCOPE = (
    "for pair in setproduct(reader.platforms, reader.workspaces)",
    "for pair in setproduct(var.platforms, reader.workspaces)",
)
# Platform and workspace swapped in the name: ivsecrets-web-prod instead of ivsecrets-prod-web.
_SWAPPED_NAME = (
    '"{platform}", env.platform), "{workspace}", env.workspace)',
    '"{platform}", env.workspace), "{workspace}", env.platform)',
)

BREAKAGES = {
    "aws-reader-reads-other-platforms": Breakage("aws", "main.tf", *_READER_SCOPE),
    "gcp-reader-reads-other-platforms": Breakage("gcp", "main.tf", *_READER_SCOPE),
    "vault-reader-reads-other-platforms": Breakage("vault", "main.tf", *_READER_SCOPE),
    "aws-no-kms-key": Breakage(
        "aws", "main.tf", "  kms_key_id              = local.kms_key_arn\n", ""
    ),
    "gcp-no-cmek": Breakage(
        "gcp",
        "main.tf",
        "kms_key_names = var.kms_key_name == null ? [] : [var.kms_key_name]",
        "kms_key_names = []",
    ),
    "aws-renamed": Breakage("aws", "main.tf", *_SWAPPED_NAME),
    "gcp-renamed": Breakage("gcp", "main.tf", *_SWAPPED_NAME),
    "vault-renamed": Breakage("vault", "main.tf", *_SWAPPED_NAME),
}

# The breakage checkov must catch as well (CKV_AWS_149, secret encrypted with a CMK).
BROKEN_FOR_CHECKOV = ("aws-no-kms-key",)


def break_copy(name: str, destination: Path) -> Path:
    """Copy the module that breakage `name` patches to `destination` and apply it."""
    breakage = BREAKAGES[name]
    shutil.copytree(MODULES / breakage.store, destination)
    patch(destination / breakage.file, breakage.old, breakage.new)
    return destination
