""".pre-commit-hooks.yaml: each hook's entry run on the staged files, as pre-commit runs it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ivsecrets.secret import fingerprint
from ivsecrets.testing import SECRET_A, SECRET_B
from tests.scan.conftest import assert_no_secret

ROOT = Path(__file__).parents[2]
HOOKS = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
BIN = Path(sys.executable).parent  # where the hook's environment has the ivsecrets command


def _matches(hook: dict[str, object], path: str) -> bool:
    """pre-commit's file selection: the ``files`` regex and (approximately) ``types``."""
    if not re.search(str(hook.get("files", "")), path):
        return False
    types = hook.get("types", ["file"])
    assert isinstance(types, list)
    return all(t == "file" or (t == "toml" and path.endswith(".toml")) for t in types)


def run_hook(repo: Path, hook_id: str) -> subprocess.CompletedProcess[str]:
    hook = HOOKS[hook_id]
    assert hook["language"] == "python"
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only", "--diff-filter=ACMR"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [path for path in staged if _matches(hook, path)]
    if not files:
        pytest.skip("pre-commit would not run the hook")  # pragma: no cover
    argv = [*shlex.split(hook["entry"]), *hook.get("args", []), *files]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVSECRETS_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    done = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    assert_no_secret(done.stdout + done.stderr)
    return done


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "ivsecrets.toml").write_text(
        f'[environments.ios.prod]\nfingerprint = "{fingerprint(SECRET_A)}"\n'
        f'[environments.web.prod]\nfingerprint = "{fingerprint(SECRET_B)}"\n'
    )
    return tmp_path


def stage(repo: Path, name: str, content: str | bytes) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    subprocess.run(["git", "add", name], cwd=repo, check=True)


def test_scan_hook_blocks_a_staged_secret(repo: Path) -> None:
    stage(repo, "app/config.js", f'export const IC = "{SECRET_B}";\n')
    stage(repo, "app/other.js", "export const x = 1;\n")
    done = run_hook(repo, "ivsecrets-scan")
    assert done.returncode == 1, done.stderr
    assert "app/config.js:1:20" in done.stdout and "web/prod" in done.stdout


def test_scan_hook_passes_clean_files(repo: Path) -> None:
    stage(repo, "README.md", "# hello\n")
    done = run_hook(repo, "ivsecrets-scan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clean" in done.stdout


def test_verify_config_hook_accepts_a_good_config_and_foreign_pyproject(repo: Path) -> None:
    stage(repo, "ivsecrets.toml", (repo / "ivsecrets.toml").read_text())
    stage(repo, "pyproject.toml", '[project]\nname = "app"\n')
    done = run_hook(repo, "ivsecrets-verify-config")
    assert done.returncode == 0, done.stderr
    assert "ivsecrets.toml: ok (6 environments, 2 pinned)" in done.stdout


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[environments.ios.prod]\nfingerprint = "ivfp1:xyz"\n', "not a fingerprint"),
        ("[environments.ios.prod\n", "not valid TOML"),
        (
            f'[environments.ios.prod]\nfingerprint = "{fingerprint(SECRET_A)}"\n'
            f'[environments.web.prod]\nfingerprint = "{fingerprint(SECRET_A)}"\n',
            "pin the same fingerprint",
        ),
    ],
)
def test_verify_config_hook_rejects(repo: Path, config: str, message: str) -> None:
    stage(repo, "ivsecrets.toml", config)
    done = run_hook(repo, "ivsecrets-verify-config")
    assert done.returncode == 2
    assert message in done.stderr


def test_verify_config_hook_reads_tool_ivsecrets_in_pyproject(repo: Path) -> None:
    stage(repo, "sub/pyproject.toml", '[tool.ivsecrets]\nworkspaces = ["Prod"]\n')
    done = run_hook(repo, "ivsecrets-verify-config")
    assert done.returncode == 2 and "invalid workspace name" in done.stderr
