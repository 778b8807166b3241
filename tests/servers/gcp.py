"""Fixtures for the in-process GCP Secret Manager server (implemented in ``_gcp_service.py``).

``gcp_server_session``
    session-scoped :class:`GcpServer` on a free 127.0.0.1 port, stopped at the end;
``gcp_server``
    the same server for one test: running when the test starts, restarted if the test stopped
    it, and its switches (``state.grants``, ``corrupt``, ``fail_all``, ``hooks``) reset after;
``gcp_client``
    an admin ``SecretManagerServiceClient`` (caller ``admin``, never restricted by grants);
``gcp_project``
    a fresh project id per test, so tests never see each other's secrets;
``gcp_seed``
    ``seed(value, secret_id=None) -> secret_id``: a new secret in ``gcp_project`` with one version;
``gcp_six``
    the six default environments seeded with distinct secrets: a :class:`GcpSix` with
    ``config_text`` (README-style TOML: the ``gcp`` store pointed at the server), ``config``,
    ``provider``, ``secrets`` ({Environment: value}) and ``references`` ({Environment: secret id}).

Clients built from configuration send no caller header: they are the ``default`` caller, so
``gcp_server.state.grants["default"] = {...}`` restricts them (e.g. an ``ivsecrets`` subprocess).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ivsecrets.config import Config, parse_config
from ivsecrets.environments import Environment
from ivsecrets.plugins.gcp import GcpProvider

if TYPE_CHECKING:  # the server module imports grpc and the SDK: only when a fixture is used
    from tests.servers._gcp_service import GcpServer

__all__ = ["GcpSix", "add_version", "create_secret", "gcp_store_toml", "secret_value"]

_projects = itertools.count(1)
_secret_ids = itertools.count(1)


def gcp_store_toml(address: str, project: str, name: str = "gcp", **options: Any) -> str:
    """The ``[stores.NAME]`` table pointing the gcp plugin at the test server."""
    lines = [
        f"[stores.{name}]",
        'plugin = "gcp"',
        f'project = "{project}"',
        f'endpoint = "{address}"',
        "insecure = true",
    ]
    lines += [f"{key} = {_toml(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def add_version(client: Any, secret_name: str, value: str | bytes) -> str:
    """Add a version through the admin API; returns its number."""
    import google_crc32c

    data = value.encode() if isinstance(value, str) else value
    version = client.add_secret_version(
        parent=secret_name, payload={"data": data, "data_crc32c": google_crc32c.value(data)}
    )
    return str(version.name.rsplit("/", 1)[-1])


def create_secret(client: Any, parent: str, secret_id: str, value: str | bytes | None) -> str:
    """Create a secret (and its first version, unless ``value`` is None); returns its name."""
    secret = client.create_secret(
        parent=parent, secret_id=secret_id, secret={"replication": {"automatic": {}}}
    )
    if value is not None:
        add_version(client, secret.name, value)
    return str(secret.name)


def secret_value(*parts: str) -> str:
    """A distinct, Intercom-shaped (43 chars of base64url) secret value for a test."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class GcpSix:
    """Six environments seeded on the test server, and a configuration that reads them."""

    server: GcpServer
    project: str
    config_text: str
    config: Config
    provider: GcpProvider
    secrets: dict[Environment, str] = field(default_factory=dict)
    references: dict[Environment, str] = field(default_factory=dict)

    def secret_name(self, environment: Environment) -> str:
        return f"projects/{self.project}/secrets/{self.references[environment]}"


@pytest.fixture(scope="session")
def gcp_server_session() -> Iterator[GcpServer]:
    """The in-process Secret Manager for the whole session."""
    from tests.servers._gcp_service import GcpServer

    server = GcpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gcp_server(gcp_server_session: GcpServer) -> Iterator[GcpServer]:
    """The server for one test: running at the start, restored (running, no switches) after."""
    server = gcp_server_session
    server.start()
    yield server
    server.start()
    server.state.reset_switches()


@pytest.fixture(scope="session")
def gcp_client(gcp_server_session: GcpServer) -> Iterator[Any]:
    """An admin client (caller ``admin``) for seeding and inspecting the server."""
    from tests.servers._gcp_service import connect

    client = connect(gcp_server_session.address, caller="admin")
    yield client
    client.transport.close()


@pytest.fixture
def gcp_project() -> str:
    return f"ivsecrets-test-{next(_projects)}"


@pytest.fixture
def gcp_seed(gcp_server: GcpServer, gcp_client: Any, gcp_project: str) -> Callable[..., str]:
    """``seed(value, secret_id=None)``: create a secret in ``gcp_project``; returns its id."""

    def seed(value: str | bytes, secret_id: str | None = None) -> str:
        secret_id = secret_id or f"secret-{next(_secret_ids)}"
        create_secret(gcp_client, f"projects/{gcp_project}", secret_id, value)
        return secret_id

    return seed


@pytest.fixture
def gcp_six(gcp_server: GcpServer, gcp_client: Any, gcp_project: str) -> Iterator[GcpSix]:
    """Six environments under the default names (``ivsecrets-{workspace}-{platform}``).

    Append TOML to ``config_text`` (e.g. a ``[stores.gcp.cache]`` table) and re-parse it to
    tune the configuration.
    """
    config_text = 'store = "gcp"\n\n' + gcp_store_toml(gcp_server.address, gcp_project)
    config = parse_config(config_text)
    six = GcpSix(gcp_server, gcp_project, config_text, config, GcpProvider(config.stores["gcp"]))
    for env, ec in config.environments.items():
        value = secret_value(gcp_project, str(env))
        create_secret(gcp_client, f"projects/{gcp_project}", ec.reference, value)
        six.secrets[env] = value
        six.references[env] = ec.reference
    yield six
    six.provider.reset()
