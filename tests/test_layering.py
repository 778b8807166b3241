"""The layers of DESIGN.md hold: imports only point down, plugins import only the core, no cycles.

The contracts live in pyproject.toml (``[tool.importlinter]``); ``lint-imports`` checks them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CORE = {
    *("api", "cache", "hashing", "prekeyed", "provider", "config", "secret", "environments"),
    *("error_codes", "errors"),
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("ivsecrets", exclude_type_checking_imports=True)


def test_import_linter_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    # lint_imports configures logging and disables the loggers that exist: the log-scanning
    # tests that run after this one in the same process would then capture nothing.
    loggers = [
        x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)
    ]
    disabled = {logger: logger.disabled for logger in loggers}
    try:
        assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0
    finally:
        for logger, was in disabled.items():
            logger.disabled = was


def test_store_plugins_import_only_the_core(graph: grimp.ImportGraph) -> None:
    shim = "ivsecrets.plugins.aws_lambda"  # the Lambda's old handler path, a one-line re-export
    for plugin in graph.find_children("ivsecrets.plugins") - {shim}:
        for module in {plugin} | graph.find_descendants(plugin):
            for imported in graph.find_modules_directly_imported_by(module):
                if not imported.startswith("ivsecrets."):
                    continue  # the standard library or the store's SDK
                top = imported.split(".")[1]
                inside = imported == plugin or imported.startswith(plugin + ".")
                assert top in CORE or inside, f"{module} imports {imported}"


def test_no_import_cycles(graph: grimp.ImportGraph) -> None:
    modules = sorted(graph.modules)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if not imported.startswith("ivsecrets"):
                continue
            if state.get(imported) == 1:
                cycle = [*path[path.index(imported) :], imported] if imported in path else path
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if imported not in state:
                visit(imported, [*path, imported])
        state[module] = 2

    for module in modules:
        if module not in state:
            visit(module, [module])


def test_the_layering_check_sees_an_upward_import() -> None:
    """The check would catch the defect this layout fixed: a workflow importing from above."""
    graph = grimp.build_graph("ivsecrets", exclude_type_checking_imports=True)
    graph.add_import(importer="ivsecrets.rotation", imported="ivsecrets.cli.app")
    found = graph.find_illegal_dependencies_for_layers(
        layers=("ivsecrets.cli", "ivsecrets.rotation"), containers=set()
    )
    assert found, "an upward import went unnoticed"


def test_the_core_does_not_import_the_rotation_workflow(graph: grimp.ImportGraph) -> None:
    """The lease and journal protocol is a workflow (ivsecrets.rotation.lease): the core, stores
    included, keeps only the record's compare-and-set read and write."""
    for top in sorted(CORE):
        chain = graph.find_shortest_chain(
            importer=f"ivsecrets.{top}", imported="ivsecrets.rotation", as_packages=True
        )
        assert chain is None, "the core imports the rotation workflow: " + " -> ".join(chain)
