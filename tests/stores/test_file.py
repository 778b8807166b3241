"""The file store against real files, in both its modes: a directory of files, and one TOML or
JSON document of secrets; the read contract runs in each."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import AccessDeniedError, ConfigError
from ivsecrets.plugins.file import FileProvider
from ivsecrets.provider import Provider
from ivsecrets.testing import SECRET_A, SECRET_B, ProviderContract

_names = itertools.count()
IOS_PROD = Environment.of("ios", "prod")


def file_store(path: Path, **options: object) -> FileProvider:
    return FileProvider(
        StoreConfig("files", "file", MappingProxyType({"path": str(path), **options}))
    )


class TestDirectoryContract(ProviderContract):
    unknown_option = ("pth", "path")

    @pytest.fixture
    def provider(self, tmp_path: Path) -> Provider:
        return file_store(tmp_path)

    @pytest.fixture
    def seed(self, tmp_path: Path) -> Callable[[str], str]:
        def seed(value: str) -> str:
            name = f"secret{next(_names)}"
            path = tmp_path / name
            path.write_text(value)
            path.chmod(0o600)
            return name

        return seed


class TestDocumentContract(ProviderContract):
    """The document mode: each reference a top-level key of one file, rewritten per seed."""

    unknown_option = ("pth", "path")
    suffix = ".toml"

    @pytest.fixture
    def document(self, tmp_path: Path) -> Path:
        return tmp_path / f"secrets{self.suffix}"

    @pytest.fixture
    def provider(self, document: Path) -> Provider:
        return file_store(document)

    @pytest.fixture
    def seed(self, document: Path) -> Callable[[str], str]:
        seeded: dict[str, str] = {}

        def seed(value: str) -> str:
            name = f"secret{next(_names)}"
            seeded[name] = value
            if self.suffix == ".json":
                text = json.dumps(seeded)
            else:  # a JSON string is a TOML basic string too (the same escapes)
                text = "".join(f"{key} = {json.dumps(v)}\n" for key, v in seeded.items())
            document.write_text(text)
            document.chmod(0o600)
            return name

        return seed


class TestJsonDocumentContract(TestDocumentContract):
    suffix = ".json"


def test_group_readable_file_is_refused_unless_allowed(tmp_path: Path) -> None:
    secret = tmp_path / "ios_prod"
    secret.write_text(SECRET_A)
    secret.chmod(0o644)
    env = Environment.of("ios", "prod")
    with pytest.raises(AccessDeniedError, match="chmod 600"):
        file_store(tmp_path).load(env, "ios_prod")
    loaded = file_store(tmp_path, allow_insecure_permissions=True).load(env, "ios_prod")
    assert loaded.value.reveal() == SECRET_A.encode()


def test_toml_document_with_stages(tmp_path: Path) -> None:
    doc = tmp_path / "secrets.toml"
    doc.write_text(
        f'ios_prod = {{ current = "{SECRET_A}", previous = "old-one" }}\nweb_prod = "{SECRET_A}"\n'
    )
    doc.chmod(0o600)
    store = file_store(doc)
    env = Environment.of("ios", "prod")
    assert store.load(env, "ios_prod").value.reveal() == SECRET_A.encode()
    assert store.load(env, "ios_prod", Stage.previous).value.reveal() == b"old-one"
    assert store.load(env, "web_prod").value.reveal() == SECRET_A.encode()


def test_missing_path_option_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"stores\.files\.path"):
        FileProvider(StoreConfig("files", "file"))


def _secret_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def test_a_relative_path_is_relative_to_the_file_that_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discovery finds ivsecrets.toml from a subdirectory; its relative ``path`` still names the
    file next to it, not one in the working directory. With ``extends``, the file that set the
    option is the one it is relative to."""
    from ivsecrets.config import load_config

    (tmp_path / ".git").mkdir()
    (tmp_path / "base").mkdir()
    _secret_file(tmp_path / "secrets.toml", f'ios_prod = "{SECRET_A}"\n')
    _secret_file(tmp_path / "base" / "other.toml", f'ios_prod = "{SECRET_B}"\n')
    config = tmp_path / "ivsecrets.toml"
    config.write_text('store = "files"\n[stores.files]\nplugin = "file"\npath = "secrets.toml"\n')
    (tmp_path / "app" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "app" / "deep")
    store = load_config().stores["files"]
    assert FileProvider(store).load(IOS_PROD, "ios_prod").value.reveal() == SECRET_A.encode()
    (tmp_path / "base" / "generated.toml").write_text(
        '[stores.files]\nplugin = "file"\npath = "other.toml"\n'
    )
    config.write_text('extends = "base/generated.toml"\nstore = "files"\n')
    store = load_config().stores["files"]
    assert FileProvider(store).load(IOS_PROD, "ios_prod").value.reveal() == SECRET_B.encode()


def test_a_relative_path_of_the_embedded_default_stays_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _secret_file(tmp_path / "secrets.toml", f'ios_prod = "{SECRET_A}"\n')
    monkeypatch.chdir(tmp_path)
    provider = FileProvider(StoreConfig("f", "file", MappingProxyType({"path": "secrets.toml"})))
    assert provider.load(IOS_PROD, "ios_prod").value.reveal() == SECRET_A.encode()
