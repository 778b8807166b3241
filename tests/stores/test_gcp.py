"""The gcp store: the real client over gRPC to the in-process server in tests/servers/."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

import grpc
import pytest

import ivsecrets
from ivsecrets.config import StoreConfig, parse_config
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConcurrentRotationError,
    ConfigError,
    SecretNotFoundError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.hashing import user_hash
from ivsecrets.plugins.gcp import GcpProvider
from ivsecrets.secret import SecretValue, fingerprint
from ivsecrets.testing import (
    SECRET_A,
    SECRET_B,
    SECRET_C,
    Denial,
    Outage,
    ProviderFactory,
    RemoteProviderContract,
    Seed,
    WritableProviderContract,
)
from tests.servers._gcp_service import GcpServer, connect
from tests.servers.gcp import GcpSix, add_version, create_secret

IOS_PROD, WEB_PROD = Environment.of("ios", "prod"), Environment.of("web", "prod")


def store(**options: object) -> StoreConfig:
    return StoreConfig("gcp", "gcp", MappingProxyType(options))


@pytest.fixture
def admin_provider(gcp_client: Any, gcp_project: str) -> GcpProvider:
    """A provider with the admin client injected, reading ``gcp_project``."""
    return GcpProvider(store(project=gcp_project), client=gcp_client)


class TestGcpContract(RemoteProviderContract, WritableProviderContract):
    extra, sdk_package = "gcp", "google-cloud-secret-manager"
    sdk_modules = ("google.cloud.secretmanager_v1", "grpc", "google_crc32c")
    fail_fast_options = {"timeout": 0.3}
    unreachable_message = "GCP Secret Manager: ServiceUnavailable"
    denied_message = "PermissionDenied"
    unknown_option = ("projet", "project")

    @pytest.fixture
    def provider_factory(
        self, gcp_server: GcpServer, gcp_project: str
    ) -> Iterator[ProviderFactory]:
        built: list[GcpProvider] = []

        def factory(**options: object) -> GcpProvider:
            address, project = gcp_server.address, gcp_project
            built.append(
                GcpProvider(store(project=project, endpoint=address, insecure=True, **options))
            )
            return built[-1]

        yield factory
        for provider in built:
            provider.reset()  # closes the gRPC channel it built

    @pytest.fixture
    def seed(self, gcp_seed: Seed) -> Seed:
        return gcp_seed

    @pytest.fixture
    def outage(self, gcp_server: GcpServer) -> Outage:
        @contextmanager
        def stopped() -> Iterator[None]:
            gcp_server.stop()
            try:
                yield
            finally:
                gcp_server.start()  # same port, same state

        return stopped

    @pytest.fixture
    def denied_setup(
        self, seed: Seed, gcp_server: GcpServer, provider_factory: ProviderFactory
    ) -> Denial:
        allowed, denied = seed(SECRET_A), seed(SECRET_B)
        # Clients built from options are the server's "default" caller (reset after the test).
        gcp_server.state.grants["default"] = {allowed}
        return Denial(provider_factory(), allowed, denied)

    @pytest.fixture
    def injected(self, gcp_client: Any, gcp_project: str) -> tuple[GcpProvider, Any]:
        return GcpProvider(store(project=gcp_project), client=gcp_client), gcp_client


# -- issue 3 "Done when" -------------------------------------------------------------------------


def test_hashers_end_to_end_from_configuration_alone(
    gcp_six: GcpSix, gcp_server: GcpServer, secrets_of: Any
) -> None:
    secrets = secrets_of(parse_config(gcp_six.config_text))
    for env, secret in gcp_six.secrets.items():
        hasher = secrets.hasher(env.platform, env.workspace)
        assert hasher.user_hash(user_id="42") == user_hash(secret, user_id="42")
        assert hasher.fingerprint == fingerprint(secret)
    # A refresh of never-rotated secrets reads `latest` directly: one call per secret, and never
    # the scarce metadata quota (GetSecret, ListSecretVersions).
    gcp_server.state.calls.clear()
    secrets.refresh()
    assert dict(gcp_server.state.calls) == {"AccessSecretVersion": 6}


def test_get_hasher_with_the_readme_config(
    gcp_six: GcpSix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ivsecrets.toml"
    path.write_text(gcp_six.config_text)
    monkeypatch.setenv("IVSECRETS_CONFIG", str(path))
    for env, secret in gcp_six.secrets.items():
        hasher = ivsecrets.get_hasher(env.platform.value, env.workspace)
        assert hasher.user_hash(email="a@b.c") == user_hash(secret, email="a@b.c")


def test_missing_secret_fails_its_environment_only(
    gcp_six: GcpSix, gcp_client: Any, secrets_of: Any
) -> None:
    gcp_client.delete_secret(name=gcp_six.secret_name(IOS_PROD))
    secrets = secrets_of(gcp_six.config)
    with pytest.raises(SecretNotFoundError, match="not found") as info:
        secrets.hasher("ios", "prod").user_hash(user_id="42")
    assert info.value.environment == IOS_PROD
    assert info.value.reference == gcp_six.references[IOS_PROD]
    web = gcp_six.secrets[WEB_PROD]
    assert secrets.hasher("web", "prod").user_hash(user_id="42") == user_hash(web, user_id="42")


# -- reading -------------------------------------------------------------------------------------


def test_full_names_pinned_versions_and_json_keys(
    admin_provider: GcpProvider, gcp_client: Any, gcp_project: str
) -> None:
    name = create_secret(gcp_client, f"projects/{gcp_project}", "doc", json.dumps({"k": SECRET_A}))
    add_version(gcp_client, name, json.dumps({"k": SECRET_B}))
    assert admin_provider.load(IOS_PROD, name + "#k").value.reveal() == SECRET_B.encode()
    pinned = admin_provider.load(IOS_PROD, name + "/versions/1#k")
    assert (pinned.value.reveal(), pinned.version) == (SECRET_A.encode(), "1")
    with pytest.raises(SecretNotFoundError, match="pins version 1"):
        admin_provider.load(IOS_PROD, name + "/versions/1#k", Stage.previous)
    with pytest.raises(SecretNotFoundError, match="not a secret id"):
        admin_provider.load(IOS_PROD, "no such/secret")


def test_regional_secrets_use_location_names(gcp_client: Any, gcp_project: str) -> None:
    parent = f"projects/{gcp_project}/locations/europe-west1"
    create_secret(gcp_client, parent, "regional", SECRET_A)
    provider = GcpProvider(store(project=gcp_project, location="europe-west1"), client=gcp_client)
    assert provider.load(IOS_PROD, "regional").value.reveal() == SECRET_A.encode()
    with pytest.raises(SecretNotFoundError):
        GcpProvider(store(project=gcp_project), client=gcp_client).load(IOS_PROD, "regional")


def test_regional_endpoint_and_project_come_from_options_and_adc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import google.auth
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setattr(
        google.auth, "default", lambda scopes=None: (AnonymousCredentials(), "adc-project")
    )
    provider = GcpProvider(store(location="europe-west1"))
    try:
        assert provider._project() == "adc-project"
        assert provider.client().api_endpoint == "secretmanager.europe-west1.rep.googleapis.com"
    finally:
        provider.reset()


def test_missing_credentials_are_access_denied(monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(scopes: Any = None) -> Any:
        raise DefaultCredentialsError("Your default credentials were not found.")

    monkeypatch.setattr(google.auth, "default", no_credentials)
    with pytest.raises(AccessDeniedError, match="no usable Google credentials"):
        GcpProvider(store(project="p")).load(IOS_PROD, "ivsecrets-prod-ios")


def test_corrupted_payload_is_unavailable(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_server: GcpServer
) -> None:
    ref = gcp_seed(SECRET_A)
    gcp_server.state.corrupt.add(ref)
    with pytest.raises(StoreUnavailableError, match="CRC32C") as info:
        admin_provider.load(IOS_PROD, ref)
    assert SECRET_A not in str(info.value)


def test_throttling_is_its_own_error_and_stops_the_batch(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_server: GcpServer
) -> None:
    refs = {IOS_PROD: gcp_seed(SECRET_A), WEB_PROD: gcp_seed(SECRET_B)}
    gcp_server.state.fail_all = grpc.StatusCode.RESOURCE_EXHAUSTED
    gcp_server.state.calls.clear()
    results = admin_provider.load_many(refs)
    assert all(isinstance(err, StoreThrottledError) for err in results.values())
    assert gcp_server.state.calls["AccessSecretVersion"] == 1


def test_disabled_version_is_not_found(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_client: Any, gcp_project: str
) -> None:
    ref = gcp_seed(SECRET_A)
    gcp_client.disable_secret_version(name=f"projects/{gcp_project}/secrets/{ref}/versions/1")
    with pytest.raises(SecretNotFoundError, match="DISABLED"):
        admin_provider.load(IOS_PROD, ref)


def test_a_warm_reader_of_latest_does_not_serve_a_staged_version(
    gcp_six: GcpSix, admin_provider: GcpProvider, gcp_server: GcpServer
) -> None:
    # The reader remembers that the secret had no aliases and reads `latest`; staging adds a
    # version (the new `latest`), which makes the reader look for the `current` alias again.
    ref = gcp_six.references[IOS_PROD]
    reader = gcp_six.provider
    assert reader.load(IOS_PROD, ref).value.reveal() == gcp_six.secrets[IOS_PROD].encode()
    gcp_server.state.calls.clear()
    assert reader.load(IOS_PROD, ref).version == "1"
    assert gcp_server.state.calls["AccessSecretVersion"] == 1
    admin_provider.stage(ref, SecretValue(SECRET_B))
    loaded = reader.load(IOS_PROD, ref)
    assert (loaded.value.reveal(), loaded.version) == (gcp_six.secrets[IOS_PROD].encode(), "1")


# -- rotation ------------------------------------------------------------------------------------


def _secret(client: Any, project: str, ref: str) -> Any:
    return client.get_secret(name=f"projects/{project}/secrets/{ref}")


def _state(client: Any, project: str, ref: str, number: str) -> str:
    name = f"projects/{project}/secrets/{ref}/versions/{number}"
    return str(client.get_secret_version(name=name).state.name)


def test_rotation_moves_aliases_and_records_intercom_ids(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_client: Any, gcp_project: str
) -> None:
    ref = gcp_seed(SECRET_A)
    staged = admin_provider.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
    secret = _secret(gcp_client, gcp_project, ref)
    assert dict(secret.version_aliases) == {"current": 1, "pending": 2}
    assert dict(secret.annotations) == {"ivsecrets-intercom-2": "ic_b"}
    admin_provider.promote(ref, pending_version="2", expected_current_version="1")
    secret = _secret(gcp_client, gcp_project, ref)
    assert dict(secret.version_aliases) == {"current": 2, "previous": 1}
    info = {v.version: v for v in admin_provider.versions(IOS_PROD, ref)}
    assert info["2"].intercom_secret_id == "ic_b"
    assert info["2"].created_at is not None and staged.created_at is not None
    admin_provider.retire_previous(ref, expected_previous_version="1")
    assert dict(_secret(gcp_client, gcp_project, ref).version_aliases) == {"current": 2}
    assert _state(gcp_client, gcp_project, ref, "1") == "DISABLED"
    admin_provider.retire_previous(ref, expected_previous_version="1")  # a re-run is a no-op
    admin_provider.stage(ref, SecretValue(SECRET_C))
    admin_provider.discard_pending(ref, pending_version="3")
    assert _state(gcp_client, gcp_project, ref, "3") == "DESTROYED"
    assert dict(_secret(gcp_client, gcp_project, ref).annotations) == {
        "ivsecrets-intercom-2": "ic_b"
    }


def test_promote_loses_to_a_concurrent_change_without_writing(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_server: GcpServer
) -> None:
    ref = gcp_seed(SECRET_A)
    staged = admin_provider.stage(ref, SecretValue(SECRET_B))
    name = f"projects/{admin_provider.project}/secrets/{ref}"

    def someone_else_writes() -> None:  # between our GetSecret and UpdateSecret
        gcp_server.state.secrets[name].etag += 1

    gcp_server.state.hooks["UpdateSecret"] = someone_else_writes
    with pytest.raises(ConcurrentRotationError, match="etag"):
        admin_provider.promote(
            ref, pending_version=str(staged.version), expected_current_version="1"
        )
    assert gcp_server.state.secrets[name].aliases == {"current": 1, "pending": 2}
    assert admin_provider.load(IOS_PROD, ref).value.reveal() == SECRET_A.encode()


def test_rotating_a_json_key_keeps_the_other_keys(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str]
) -> None:
    ref = gcp_seed(json.dumps({"ios": SECRET_A, "web": SECRET_C}))
    staged = admin_provider.stage(ref + "#ios", SecretValue(SECRET_B))
    assert staged.version is not None
    admin_provider.promote(
        ref + "#ios", pending_version=staged.version, expected_current_version="1"
    )
    assert admin_provider.load(IOS_PROD, ref + "#ios").value.reveal() == SECRET_B.encode()
    assert admin_provider.load(WEB_PROD, ref + "#web").value.reveal() == SECRET_C.encode()
    previous = admin_provider.load(IOS_PROD, ref + "#ios", Stage.previous)
    assert previous.value.reveal() == SECRET_A.encode()


def test_rollback_refuses_a_disabled_previous_version(
    admin_provider: GcpProvider, gcp_seed: Callable[..., str], gcp_client: Any, gcp_project: str
) -> None:
    ref = gcp_seed(SECRET_A)
    admin_provider.stage(ref, SecretValue(SECRET_B))
    admin_provider.promote(ref, pending_version="2", expected_current_version="1")
    gcp_client.disable_secret_version(name=f"projects/{gcp_project}/secrets/{ref}/versions/1")
    from ivsecrets.errors import RotationError

    with pytest.raises(RotationError, match="DISABLED"):
        admin_provider.rollback(ref, expected_current_version="2")
    assert admin_provider.load(IOS_PROD, ref).value.reveal() == SECRET_B.encode()


# -- options and clients -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"projet": "p"}, "stores.gcp.projet"),
        ({"insecure": True}, "stores.gcp.insecure"),
        ({"timeout": 0}, "stores.gcp.timeout"),
        ({"timeout": "5"}, "stores.gcp.timeout"),
    ],
)
def test_bad_options_name_the_key(options: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        GcpProvider(store(**options))


def test_a_secret_id_needs_a_project(
    gcp_server: GcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    client = connect(gcp_server.address)
    try:
        with pytest.raises(ConfigError, match="GOOGLE_CLOUD_PROJECT"):
            GcpProvider(store(), client=client).load(IOS_PROD, "ivsecrets-prod-ios")
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
        with pytest.raises(SecretNotFoundError, match="projects/from-env/secrets"):
            GcpProvider(store(), client=client).load(IOS_PROD, "ivsecrets-prod-ios")
    finally:
        client.transport.close()
