"""The examples are full stacks that pass our rules; the pipelines verify after applying; the
READMEs document every input and output."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.terraform.tfpolicy import aws_findings, gcp_findings, vault_findings
from tests.terraform.tfstack import EXAMPLES, MODULES, STORES, TERRAFORM, Intent, Stack

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FINDINGS = {"aws": aws_findings, "gcp": gcp_findings, "vault": vault_findings}
PIPELINES = sorted((EXAMPLES / "pipeline").glob("*.yml"))


@pytest.mark.parametrize("store", STORES)
def test_example_follows_our_rules(store: str, example_stacks: dict[str, Stack]) -> None:
    stack = example_stacks[store]
    call = stack.module_call()
    assert call["source"] == f"../../modules/{store}"
    assert FINDINGS[store](stack, Intent.from_variables(store, call)) == []


@pytest.mark.parametrize("store", STORES)
def test_example_separates_web_and_mobile_backends(store: str, example_stacks: dict[str, Stack]):
    readers = example_stacks[store].module_call()["readers"]
    assert readers["web-backend-prod"]["platforms"] == ["web"]
    assert readers["web-backend-prod"]["workspaces"] == ["prod"]
    assert sorted(readers["mobile-backend-prod"]["platforms"]) == ["android", "ios"]


def pipeline_commands(path: Path) -> list[str]:
    """Shell lines a GitHub Actions workflow or a GitLab CI file runs, in order."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    commands: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "run" and isinstance(value, str):
                    commands.extend(value.splitlines())
                elif key in ("script", "before_script") and isinstance(value, list):
                    commands.extend(str(line) for line in value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return [command.strip() for command in commands if command.strip()]


def test_there_are_github_and_gitlab_pipelines() -> None:
    assert {path.name for path in PIPELINES} == {"github-actions.yml", "gitlab-ci.yml"}


@pytest.mark.parametrize("path", PIPELINES, ids=lambda path: path.name)
def test_pipeline_applies_then_verifies_the_written_config(path: Path) -> None:
    commands = pipeline_commands(path)

    def first(pattern: str) -> tuple[int, re.Match[str]]:
        for index, command in enumerate(commands):
            if match := re.search(pattern, command):
                return index, match
        raise AssertionError(f"{path.name} never runs {pattern!r}:\n" + "\n".join(commands))

    apply, _ = first(r"^terraform apply\b")
    written, output = first(r"^terraform output -raw ivsecrets_config > (\S+)$")
    verified, verify = first(r"\bivsecrets verify --config (\S+)$")
    assert apply < written < verified
    # Verified: the example's committed file, which extends the one the apply just wrote, so that
    # no apply overwrites its pins (issue 10, item 17).
    generated, checked = output.group(1), verify.group(1)
    assert generated != checked
    example = re.search(r"terraform/examples/(\w+)", path.read_text(encoding="utf-8"))
    assert example is not None
    directory = EXAMPLES / example.group(1)
    committed = tomllib.loads((directory / checked).read_text(encoding="utf-8"))
    assert committed["extends"] == generated
    assert generated in (directory / ".gitignore").read_text(encoding="utf-8").splitlines()


def documented_names(readme: str, heading: str) -> set[str]:
    """Backquoted names in the first column of the table under `## heading`."""
    section = readme.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


@pytest.mark.parametrize("store", STORES)
def test_module_readme_documents_every_input_and_output(
    store: str, module_stacks: dict[str, Stack]
) -> None:
    readme = (MODULES / store / "README.md").read_text(encoding="utf-8")
    parsed = module_stacks[store].parsed
    variables = {block["__tfmeta"]["label"] for block in parsed["variable"]}
    outputs = {block["__tfmeta"]["label"] for block in parsed["output"]}
    assert documented_names(readme, "Inputs") == variables
    assert documented_names(readme, "Outputs") == outputs
    assert re.search(rf'source += ".*modules/{store}"', readme), "no usage example"
    assert "ivsecrets verify --config" in readme


def test_terraform_readme_links_every_module_and_example() -> None:
    readme = (TERRAFORM / "README.md").read_text(encoding="utf-8")
    for store in STORES:
        assert f"(modules/{store}/README.md)" in readme
        assert f"(examples/{store}/)" in readme
    assert "(examples/pipeline/)" in readme
