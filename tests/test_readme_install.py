"""The README install section, what `make demo` installs, the Development section (issue 10)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert found, f"README has no '## {title}' section"
    return found.group(1)


def test_readme_says_how_to_install_it_in_a_backend() -> None:
    install = _section("Install")
    for extra in ("aws", "vault", "gcp"):
        assert f"pip install 'ivsecrets[{extra}]'" in install
    assert "pip install ivsecrets\n" in install or "pip install ivsecrets " in install
    assert "pip install -e '.[aws]'" in install  # from a checkout
    assert README.index("## Install") < README.index("## Using it in a backend")


def test_every_extra_the_readme_names_exists() -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    for name in re.findall(r"ivsecrets\[([a-z,]+)\]", README):
        for extra in name.split(","):
            assert extra in extras, f"README names the extra '{extra}', pyproject has none"


def test_development_section_links_only_inside_the_repository() -> None:
    development = _section("Development")
    links = re.findall(r"\]\(([^)]+)\)", development) + re.findall(
        r"<(https?://[^>]+)>", development
    )
    for link in links:
        target = link.split("#")[0]
        assert not re.match(r"[a-z]+:", target), f"links outside the repository: {link}"
        assert (REPO / target).resolve().is_relative_to(REPO), link
        assert (REPO / target).exists(), f"broken link: {link}"
    assert "/work/" not in development and "shared/" not in development


def test_every_relative_link_in_the_readme_resolves() -> None:
    for link in re.findall(r"\]\(([^)]+)\)", README):
        target = link.split("#")[0]
        if re.match(r"[a-z]+:", target) or not target:
            continue
        assert (REPO / target).resolve().is_relative_to(REPO), link
        assert (REPO / target).exists(), f"broken link: {link}"


def _dry_run(workdir: Path, target: str) -> str:
    result = subprocess.run(
        ["make", "-n", target, "PYTHON=python3"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_installs_only_the_package_and_make_test_still_installs_the_test_extra(
    tmp_path: Path,
) -> None:
    # What the Makefile's install stamps depend on: the project and the C passes it compiles.
    for name in ("Makefile", "pyproject.toml", "setup.py", "src/ivsecrets/scan/_runs.c"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    demo = _dry_run(tmp_path, "demo")
    installs = [line for line in demo.splitlines() if "pip install" in line and " -e " in line]
    assert installs and all(line.endswith(" -e .") for line in installs), demo
    # What `make demo` leaves behind: the venv's python and whatever it touched as done.
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    for line in demo.splitlines():
        if line.startswith("touch "):
            (tmp_path / line.split()[1]).touch()
    test = _dry_run(tmp_path, "test")
    assert "-e '.[test]'" in test, f"make test after make demo skips the test extra:\n{test}"
    assert "-m venv .venv" not in test  # and reuses the demo's venv
