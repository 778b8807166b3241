"""Packaging: the entry-point group, lazy SDK imports, the public API."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import ivsecrets
from ivsecrets.provider import Provider, load_plugin


def test_every_store_plugin_is_registered_in_the_entry_point_group() -> None:
    names = {ep.name for ep in entry_points(group="ivsecrets.providers")}
    assert {"env", "file", "aws", "vault", "gcp"} <= names
    for name in ("env", "file", "aws", "vault", "gcp"):
        cls = load_plugin(name)
        assert issubclass(cls, Provider) and cls.plugin == name


def test_import_ivsecrets_its_cli_and_plugins_import_no_cloud_sdk() -> None:
    code = (
        "import sys, ivsecrets, ivsecrets.cli; from ivsecrets.provider import load_plugin; "
        "[load_plugin(n) for n in ('aws', 'vault', 'gcp')]; "
        "print(sorted(m for m in ('boto3', 'botocore', 'hvac', 'google', 'grpc', 'requests') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_public_api_is_small_and_typed() -> None:
    # What a backend needs, and the errors it catches; everything else lives in its module.
    assert set(ivsecrets.__all__) == {
        *("get_hasher", "configure", "Secrets", "Hasher", "user_hash", "fingerprint"),
        *("load_config", "Platform", "IVSecretsError", "ConfigError", "IdentifierError"),
        *("StoreError", "StaleSecretError", "__version__"),
    }
    assert all(hasattr(ivsecrets, name) for name in ivsecrets.__all__)
    assert (Path(ivsecrets.__file__).parent / "py.typed").is_file()


def test_version_comes_from_the_package_metadata() -> None:
    from importlib.metadata import version

    assert ivsecrets.__version__ == version("ivsecrets")
    code = "import sys, ivsecrets; print('importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # read on first use only: `import ivsecrets` stays light


def test_exports_load_their_modules_on_first_use() -> None:
    # `import ivsecrets.scan` (a pre-commit hook) or `import ivsecrets.config` need not load the
    # cache, the hasher and the store protocol; the names still work, and are typed as before.
    code = (
        "import sys, ivsecrets\n"
        "print(sorted(m for m in ('ivsecrets.api', 'ivsecrets.cache', 'ivsecrets.hashing')"
        " if m in sys.modules))\n"
        "print(ivsecrets.user_hash('s3cre7', 'test@intercom.io')[:8], 'Hasher' in dir(ivsecrets))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "844240a2 True"]
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        ivsecrets.nosuch  # noqa: B018
