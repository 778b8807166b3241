"""The README's layer table names every layer and module of pyproject's import-linter contract,
in order (issue 18, item 10): the table is what a newcomer reads, the contract what holds."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def contract_layers() -> list[list[str]]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = (
        c for c in pyproject["tool"]["importlinter"]["contracts"] if c["type"] == "layers"
    )
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


def readme_rows() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| layer | modules |") :].split("\n\n")[0].splitlines()[2:]
    rows = []
    for line in table:
        _, layer, modules, _ = line.split("|")
        # The module names: `name` or `name/`, not what a parenthesis says about them.
        names = re.findall(r"`([a-z_]+)/?`", re.sub(r"\([^)]*\)", "", modules))
        rows.append((layer.strip(), names))
    return rows


def test_the_readme_layer_table_is_the_import_linter_contract() -> None:
    layers = contract_layers()
    rows = readme_rows()
    assert [layer for layer, _ in rows] == ["entry points", "workflows", "adapters", "core"]
    # The first three rows are the contract's first three layers; the core is the rest, in order.
    for (layer, names), expected in zip(rows[:3], layers[:3], strict=True):
        assert sorted(names) == sorted(expected), layer
    core = [name for layer in layers[3:] for name in layer]
    assert rows[3][1] == core, "the core row lists the core layers top to bottom"
