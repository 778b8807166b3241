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


def test_the_scan_command_loads_only_its_own_subcommand(tmp_path: Path) -> None:
    # The CLI imports a subcommand's module when it runs: a pre-commit hook's `ivsecrets scan`
    # does not start by loading rotation, verification and the Intercom client.
    (tmp_path / "a.txt").write_text("nothing here\n")
    code = (
        "import sys\n"
        "from ivsecrets.cli import cli\n"
        "try:\n"
        "    cli(['--no-color', 'scan', sys.argv[1]], standalone_mode=False)\n"
        "finally:\n"
        "    print(sorted(set(sys.modules) & set(sys.argv[2:])))"
    )
    unwanted = [
        *("ivsecrets.api", "ivsecrets.cache", "ivsecrets.rotation", "ivsecrets.verification"),
        *("ivsecrets.intercom", "ivsecrets.cli.rotation", "ivsecrets.cli.verify"),
        "ivsecrets.cli.commands",
    ]
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), *unwanted],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
