"""The scan workflow imports only the core, and ``import ivsecrets`` does not import it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ivsecrets.scan

CORE = {
    "ivsecrets.config",
    "ivsecrets.secret",
    "ivsecrets.environments",
    "ivsecrets.errors",
    "ivsecrets.api",
    "ivsecrets.provider",
}


def test_scan_imports_only_the_core_and_itself() -> None:
    package = Path(ivsecrets.scan.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                if name == "ivsecrets" or name.startswith("ivsecrets."):
                    assert name in CORE or name.startswith("ivsecrets.scan"), (module.name, name)


def test_import_ivsecrets_does_not_import_scan() -> None:
    code = "import sys, ivsecrets; print('ivsecrets.scan' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
