"""action.yml: its steps' shell commands, run as the runner would, against the env store.

The runner's part is played here: inputs (with their defaults) substituted into each step's
``env``, ``if`` conditions evaluated, ``$GITHUB_PATH`` and ``$GITHUB_OUTPUT`` honoured between
steps. The install step is pointed at this checkout (``github.action_path``), installing into a
fresh virtual environment that sees the test environment's packages (no network).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import pytest
import yaml

from ivsecrets.secret import fingerprint
from tests.conftest import KNOWN_SECRETS
from tests.scan.conftest import assert_no_secret

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
SIX = {
    "WEB_TEST": "ivsT_web1Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0Ys2Ue9",
    "IOS_TEST": "ivsT_ios1Kj8Wq1Ne4Lr7Tx2Vc5Hb9Md3Pf6Gs0Yu2Ao",
    "ANDROID_TEST": "ivsT_and1Pl4Mn7Bv1Cx8Za5Sd2Fg9Hj3Kl6Qw0Er2T",
    "WEB_PROD": "ivsP_web1Rt3Yu6Io9Pa2Sd5Fg8Hj1Kl4Zx7Cv0Bn3Mq",
    "IOS_PROD": "ivsP_ios1Wq2Er5Ty8Ui1Op4As7Df0Gh3Jk6Lz9Xc2Vb",
    "ANDROID_PROD": "ivsP_and1Mn1Bv4Cx7Za0Sd3Fg6Hj9Kl2Qw5Er8Ty1U",
}
KNOWN_SECRETS.update(SIX.values())  # no log record and no step output may carry one


@dataclass
class Run:
    outcomes: dict[str, str] = field(default_factory=dict)  # step id -> success/failure/skipped
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    logs: str = ""

    def output(self, name: str) -> str:
        """An output of the action, through its ``value`` expression."""
        expression = ACTION["outputs"][name]["value"]
        step, key = re.fullmatch(
            r"\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}", expression
        ).groups()  # type: ignore[union-attr]
        return self.outputs.get(step, {}).get(key, "")


def _expression(text: str, inputs: Mapping[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name == "github.action_path":
            return str(ROOT)
        if name.startswith("inputs."):
            return inputs[name.removeprefix("inputs.")]
        raise AssertionError(f"unexpected expression {name}")

    return re.sub(r"\$\{\{(.*?)\}\}", substitute, text)


def _condition(text: str, inputs: Mapping[str, str], failed: bool) -> bool:
    expression = re.fullmatch(r"\$\{\{(.*)\}\}", text.strip()).group(1)  # type: ignore[union-attr]
    expression = re.sub(r"inputs\.([\w-]+)", lambda m: repr(inputs[m.group(1)]), expression)
    # No status function: success(); !cancelled() and always() also run after a failure.
    if "cancelled()" not in expression and "always()" not in expression and failed:
        return False
    expression = expression.replace("!cancelled()", "True").replace("always()", "True")
    expression = expression.replace("&&", " and ").replace("||", " or ")
    return bool(eval(expression, {"__builtins__": {}}))


def run_action(workdir: Path, python: Path, env: Mapping[str, str], **given: str) -> Run:
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    unknown = set(given) - set(inputs)
    assert not unknown, unknown
    inputs.update(given)
    inputs["python"] = str(python)
    path_file, output_file = workdir / "github_path", workdir / "github_output"
    path_file.write_text("")
    run, failed = Run(), False
    assert ACTION["runs"]["using"] == "composite"
    for step in ACTION["runs"]["steps"]:
        step_id = step["id"]
        if "if" in step and not _condition(step["if"], inputs, failed):
            run.outcomes[step_id] = "skipped"
            continue
        if failed and "if" not in step:
            run.outcomes[step_id] = "skipped"
            continue
        assert step["shell"] == "bash" and "uses" not in step
        added = [line for line in path_file.read_text().splitlines() if line]
        step_env = {
            **env,
            "PATH": os.pathsep.join([*reversed(added), env["PATH"]]),
            "GITHUB_PATH": str(path_file),
            "GITHUB_OUTPUT": str(output_file),
            **{k: _expression(str(v), inputs) for k, v in step.get("env", {}).items()},
        }
        assert "${{" not in step["run"], "inputs reach the script through env only"
        output_file.write_text("")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=workdir,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        run.logs += f"## {step_id} -> {done.returncode}\n{done.stdout}{done.stderr}"
        run.outputs[step_id] = dict(
            line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line
        )
        run.outcomes[step_id] = "success" if done.returncode == 0 else "failure"
        failed = failed or done.returncode != 0
    assert_no_secret(run.logs)
    return run


@pytest.fixture(scope="module")
def runner_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv that sees this environment's packages, as a runner's Python would have."""
    target = tmp_path_factory.mktemp("runner") / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # pip, setuptools and ivsecrets' dependencies from the test environment; ivsecrets itself
    # is what the action installs.
    (Path(purelib) / "test_env.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return python


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "notes.txt").write_text("nothing secret here\n")
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVSECRETS_")}
    env.update({f"IVSECRETS_{name}": value for name, value in SIX.items()})
    env.update(extra)
    return env


# The build backend (setuptools, wheel) comes from pip's cache as in `make setup`; no dependency is
# fetched: they are the test environment's.
INSTALL = {"pip-args": "--no-deps --force-reinstall"}


def test_verify_and_scan_clean(workdir: Path, runner_python: Path) -> None:
    run = run_action(
        workdir, runner_python, _env(), scan="true", **{"scan-paths": "build"}, **INSTALL
    )
    assert run.outcomes == {"install": "success", "verify": "success", "scan": "success"}, run.logs
    assert "::notice title=ivsecrets verify::6 ok" in run.logs
    sarif = workdir / run.output("sarif-file")
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(sarif.read_text()))
    assert run.output("scan-exit-code") == "0"


def test_scan_finds_a_leak_fails_and_leaves_the_sarif(workdir: Path, runner_python: Path) -> None:
    leaked = SIX["IOS_PROD"]
    (workdir / "build" / "app.js").write_text(f'var ic = "{leaked}";\n')
    (workdir / "ivsecrets.toml").write_text(
        f'[environments.ios.prod]\nfingerprint = "{fingerprint(leaked)}"\n'
    )
    run = run_action(
        workdir,
        runner_python,
        _env(),
        config="ivsecrets.toml",
        scan="true",
        **{"scan-paths": "build\nivsecrets.toml", "verify-format": "json"},
        **INSTALL,
    )
    assert run.outcomes == {"install": "success", "verify": "success", "scan": "failure"}, run.logs
    log = json.loads((workdir / "ivsecrets.sarif").read_text())
    jsonschema.Draft4Validator(SCHEMA).validate(log)
    [result] = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "build/app.js"
    assert run.output("scan-exit-code") == "1" and run.output("sarif-file") == "ivsecrets.sarif"


def test_findings_need_not_fail_and_scan_runs_after_a_failed_verify(
    workdir: Path, runner_python: Path
) -> None:
    (workdir / "build" / "app.js").write_text(f'var ic = "{SIX["WEB_TEST"]}";\n')
    env = _env()
    del env["IVSECRETS_ANDROID_PROD"]
    run = run_action(
        workdir,
        runner_python,
        env,
        scan="true",
        **{
            "scan-paths": "build",
            "scan-from-store": "true",
            "fail-on-findings": "false",
            "scan-format": "github",
            "scan-output": "scan.txt",
        },
        **INSTALL,
    )
    assert run.outcomes == {"install": "success", "verify": "failure", "scan": "success"}, run.logs
    assert "::error title=ivsecrets verify android/prod" in run.logs
    assert run.output("scan-exit-code") == "1"
    annotations = (workdir / "scan.txt").read_text()
    assert "::error file=build/app.js,line=1,col=11" in annotations and "web/test" in annotations


def test_scan_is_off_by_default(workdir: Path, runner_python: Path) -> None:
    run = run_action(workdir, runner_python, _env(), **INSTALL)
    assert run.outcomes == {"install": "success", "verify": "success", "scan": "skipped"}


def test_the_action_runs_its_own_checkout_with_extras_syntax(workdir: Path) -> None:
    install = ACTION["runs"]["steps"][0]["run"]
    script = install.replace('"$IVSECRETS_PYTHON" -m pip install', "echo").split("\n")
    script = [line for line in script if "sysconfig" not in line]
    for package, extras, expected in [
        ("", "aws,vault", f"{ROOT}[aws,vault]"),
        ("ivsecrets==0.1.0", "gcp", "ivsecrets[gcp]==0.1.0"),
        ("ivsecrets", "", "ivsecrets"),
    ]:
        done = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            env={
                "PATH": os.environ["PATH"],
                "IVSECRETS_PACKAGE": package,
                "IVSECRETS_EXTRAS": extras,
                "IVSECRETS_PIP_ARGS": "",
                "IVSECRETS_ACTION_PATH": str(ROOT),
                "IVSECRETS_PYTHON": sys.executable,
            },
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.split()[-1] == expected
