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
    # Each row is a run of the contract's layers, top to bottom, and together they are all of it.
    position = 0
    for layer, names in rows:
        taken: list[str] = []
        while position < len(layers) and set(layers[position]) <= set(names) - set(taken):
            taken += layers[position]
            position += 1
        assert sorted(taken) == sorted(names), f"{layer}: {names} against the contract {layers}"
    assert position == len(layers), f"layers the table leaves out: {layers[position:]}"
    # The core row says each module may import only those after it: its order is the contract's.
    depth = {name: index for index, layer in enumerate(layers) for name in layer}
    core = [depth[name] for name in rows[-1][1]]
    assert core == sorted(core), "the core row lists the core layers top to bottom"
