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
