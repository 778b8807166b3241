"""The node-cache recipes in docs/recipes/: their configs load, agree with each other, and work.

Kubernetes: the kubelet updates a mounted Secret by writing a new timestamped directory and
swapping the ``..data`` symlink atomically; the file store must serve the new value on its next
refresh. Vault Agent: templates render each environment's secret to the file the config reads.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import yaml

from ivsecrets import Secrets
from ivsecrets.config import Config, load_config, parse_config
from ivsecrets.hashing import user_hash
from ivsecrets.provider import load_plugin
from ivsecrets.testing import SECRET_A, SECRET_B, SECRET_C, FakeClock

RECIPES = Path(__file__).resolve().parent.parent / "docs" / "recipes"
VALUES = {"web_prod": SECRET_A, "ios_prod": SECRET_B, "android_prod": SECRET_C}


def config_at(recipe: str, directory: Path, cache: str = "") -> Config:
    """The recipe's ivsecrets.toml with its path pointed at ``directory``."""
    text = (RECIPES / recipe / "ivsecrets.toml").read_text()
    text = text.replace('path = "/run/ivsecrets"', f'path = "{directory}"')
    if cache:
        text = re.sub(r"\[stores\.file\.cache\]\n(.*\n)*", f"[stores.file.cache]\n{cache}", text)
    return parse_config(text, f"{recipe}/ivsecrets.toml")


def reference_of(template_name: str, platform: str, workspace: str) -> str:
    template = load_plugin(template_name).default_reference
    assert template is not None
    return template.format(platform=platform, workspace=workspace)


# -- Kubernetes -----------------------------------------------------------------------------------


def test_the_kubernetes_recipe_agrees_with_itself() -> None:
    config = load_config(RECIPES / "kubernetes" / "ivsecrets.toml")
    external = yaml.safe_load((RECIPES / "kubernetes" / "external-secret.yaml").read_text())
    pod = yaml.safe_load((RECIPES / "kubernetes" / "pod.yaml").read_text())
    keys = {d["secretKey"]: d["remoteRef"]["key"] for d in external["spec"]["data"]}
    for env, ec in config.environments.items():
        assert ec.reference in keys, f"{env}: no key {ec.reference} in the ExternalSecret"
        wanted = reference_of("aws", env.platform.value, env.workspace)
        assert keys[ec.reference] == wanted, "the secret the aws store would read"
    volume = pod["spec"]["volumes"][0]
    assert volume["secret"]["secretName"] == external["spec"]["target"]["name"]
    assert volume["secret"]["defaultMode"] == 0o400, "the file store refuses group-readable files"
    mount = pod["spec"]["containers"][0]["volumeMounts"][0]
    assert mount["mountPath"] == config.stores["file"].options["path"]
    assert "subPath" not in mount, "subPath mounts are never updated"


class Kubelet:
    """Writes a Secret volume the way the kubelet's atomic writer does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.generation = 0

    def write(self, files: dict[str, str]) -> None:
        self.generation += 1
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + f"{self.generation:09d}"
        new = self.directory / stamp
        new.mkdir()
        for name, value in files.items():
            (new / name).write_text(value)
            (new / name).chmod(0o400)
        # The new ..data link is made beside the old one, then renamed over it: atomic.
        tmp = self.directory / "..data_tmp"
        tmp.symlink_to(stamp)
        old = (
            os.readlink(self.directory / "..data")
            if (self.directory / "..data").is_symlink()
            else None
        )
        os.rename(tmp, self.directory / "..data")
        for name in files:
            link = self.directory / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        if old is not None:
            for path in (self.directory / old).iterdir():
                path.chmod(0o600)
                path.unlink()
            (self.directory / old).rmdir()


def test_the_file_store_follows_the_kubelets_data_symlink_swap(tmp_path: Path) -> None:
    kubelet = Kubelet(tmp_path)
    kubelet.write(VALUES)
    assert os.readlink(tmp_path / "ios_prod") == "..data/ios_prod"
    assert os.readlink(tmp_path / "..data").startswith("..20")
    clock = FakeClock()
    config = config_at("kubernetes", tmp_path, "ttl = 0.4\nrefresh_ahead = 0.5\n")
    secrets = Secrets(config, clock=clock)
    hasher = secrets.hasher("ios", "prod")
    try:
        assert hasher.user_hash(user_id="1") == user_hash(SECRET_B, user_id="1")
        rotated = dict(VALUES, ios_prod="ivsK8s_rotated_Zq3k9Lw2Xr7Tn5Vb8Hc1Jd4Mf6Gp0")
        kubelet.write(rotated)
        # The refresher picks it up on its own (at the passes that fall due as the clock moves)...
        deadline = clock() + 5
        expected = user_hash(rotated["ios_prod"], user_id="1")
        while clock() < deadline and hasher.user_hash(user_id="1") != expected:
            clock.advance(0.02)
        assert hasher.user_hash(user_id="1") == expected
        # ... and an explicit refresh too.
        kubelet.write(VALUES)
        secrets.refresh()
        assert hasher.user_hash(user_id="1") == user_hash(SECRET_B, user_id="1")
    finally:
        secrets.close()


# -- Vault Agent ----------------------------------------------------------------------------------


def test_the_vault_agent_recipe_renders_what_the_config_reads(tmp_path: Path) -> None:
    hcl = (RECIPES / "vault-agent" / "agent.hcl").read_text()
    assert re.search(r'auto_auth\s*{\s*method\s+"\w+"', hcl), "one login per node"
    templates = re.findall(
        r'template\s*{\s*contents\s*=\s*"{{ with secret \\"secret/data/([^\\]+)\\" }}'
        r'{{ \.Data\.data\.value }}{{ end }}"\s*destination\s*=\s*"([^"]+)"\s*perms\s*=\s*"0400"',
        hcl,
    )
    rendered = {Path(destination).name: path for path, destination in templates}
    config = load_config(RECIPES / "vault-agent" / "ivsecrets.toml")
    store_path = config.stores["file"].options["path"]
    assert {str(Path(d).parent) for _, d in templates} == {store_path}
    for env, ec in config.environments.items():
        assert rendered.get(ec.reference) == reference_of(
            "vault", env.platform.value, env.workspace
        ), f"{env}: no template renders {ec.reference}"
    # What the agent does: render each file to a temporary name, then rename it into place.
    for name, value in VALUES.items():
        tmp = tmp_path / f".{name}.tmp"
        tmp.write_text(value)
        tmp.chmod(0o400)
        os.rename(tmp, tmp_path / name)
    secrets = Secrets(config_at("vault-agent", tmp_path))
    try:
        for name, value in VALUES.items():
            platform, workspace = name.split("_")
            got = secrets.hasher(platform, workspace).user_hash(user_id="7")
            assert got == user_hash(value, user_id="7")
    finally:
        secrets.close()


@pytest.mark.parametrize("recipe", ["kubernetes", "vault-agent"])
def test_the_recipes_are_documented(recipe: str) -> None:
    page = (RECIPES / f"{recipe}.md").read_text()
    for name in os.listdir(RECIPES / recipe):
        assert name in page, f"docs/recipes/{recipe}.md does not mention {name}"
