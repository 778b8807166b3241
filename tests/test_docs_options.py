"""Each store's documented options are exactly the options its plugin declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivsecrets.provider import load_plugin

DOCS = Path(__file__).resolve().parent.parent / "docs" / "stores"


def documented_options(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    table = text[text.index("### Options") :]
    table = table[: table.index("\n\n", table.index("| option |"))]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names.update(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    return names


@pytest.mark.parametrize("plugin", ["aws", "gcp", "vault"])
def test_the_options_table_matches_the_declared_options(plugin: str) -> None:
    assert documented_options(DOCS / f"{plugin}.md") == set(load_plugin(plugin).options)


def _policy_paths(hcl: str) -> dict[str, set[str]]:
    found = re.findall(r'path "([^"]+)"\s*\{\s*capabilities = \[([^\]]*)\]', hcl)
    return {path: set(re.findall(r'"(\w+)"', caps)) for path, caps in found}


def test_the_documented_vault_rotator_policy_is_the_one_the_tests_rotate_with() -> None:
    """docs/stores/vault.md's rotator policy grants what tests/servers/vault.py logs in with
    (and a whole rotation runs through that one), the rotation record's `.lease` entry included."""
    from tests.servers.vault import rotate_policy

    text = (DOCS / "vault.md").read_text(encoding="utf-8")
    section = text[text.index("## Policy for a rotator") :]
    documented = _policy_paths(section[: section.index("```", section.index("```hcl") + 6)])
    assert documented == _policy_paths(rotate_policy("ivsecrets/prod/ios"))
