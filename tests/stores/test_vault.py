"""The vault store against a real OpenBao dev server (tests/servers/vault.py)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import pytest

import ivsecrets
from ivsecrets.api import Secrets
from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConfigError,
    InvalidSecretError,
    RotationError,
    SecretNotFoundError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.vault import VaultProvider
from ivsecrets.provider import Provider
from ivsecrets.secret import SecretValue, fingerprint
from ivsecrets.testing import (
    SECRET_A,
    SECRET_B,
    SECRET_C,
    Denial,
    FakeClock,
    Outage,
    ProviderFactory,
    RemoteProviderContract,
    Seed,
    WritableProviderContract,
)
from tests.servers.vault import (
    TOKEN_ENV,
    AppRoleLogin,
    BaoServer,
    RecordingSession,
    VaultSix,
    make_six,
    read_policy,
    rotate_policy,
    seed_secret,
)

_names = itertools.count()
IOS_PROD, WEB_PROD = Environment.of("ios", "prod"), Environment.of("web", "prod")


def vault_store(server: BaoServer, **options: object) -> StoreConfig:
    """A store configuration pointing at ``server`` (token auth through TOKEN_ENV by default).

    The tests' own variable and file names keep a developer's VAULT_TOKEN out of them: they
    are custom credentials (tests/stores/test_credential_policy.py tests the policy)."""
    defaults: dict[str, object] = {
        "url": server.address,
        "token_env": TOKEN_ENV,
        "allow_custom_credentials": True,
    }
    return StoreConfig("vault", "vault", MappingProxyType({**defaults, **options}))


def approle_provider(
    server: BaoServer,
    login: AppRoleLogin,
    monkeypatch: pytest.MonkeyPatch,
    session: RecordingSession | None = None,
) -> VaultProvider:
    # Credentials are read at login time: each provider gets variables of its own.
    name = login.role_name.replace("-", "_").upper()
    role_id_env, secret_id_env = f"{name}_ROLE_ID", f"{name}_SECRET_ID"
    monkeypatch.setenv(role_id_env, login.role_id)
    monkeypatch.setenv(secret_id_env, login.secret_id)
    store = vault_store(
        server, auth="approle", role_id_env=role_id_env, secret_id_env=secret_id_env
    )
    return VaultProvider(store, session=session)


def expected_hash(secret: str, user_id: str = "42") -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def _root_token(monkeypatch: pytest.MonkeyPatch, bao_server: BaoServer) -> None:
    monkeypatch.setenv(TOKEN_ENV, bao_server.root_token)


@pytest.fixture(scope="module")
def contract_server() -> Iterator[BaoServer]:
    """The contract's own server: its outages kill it, and a dev server forgets all when killed."""
    server = BaoServer()
    try:
        server.start()
        yield server
    finally:
        server.close()


class TestVaultContract(RemoteProviderContract, WritableProviderContract):
    json_payloads = False  # a reference's #key names a KV field, resolved by the plugin
    extra, sdk_package, sdk_modules = "vault", "hvac", ("hvac", "requests")
    fail_fast_options = {"timeout": 1.0}
    unreachable_message = "cannot reach Vault"
    denied_message = "denied"
    unknown_option = ("mout", "mount")

    @pytest.fixture
    def provider_factory(self, contract_server: BaoServer) -> ProviderFactory:
        return lambda **options: VaultProvider(vault_store(contract_server, **options))

    @pytest.fixture
    def seeded(self) -> dict[str, str]:
        """What ``seed`` wrote in this test (path: value), to write again after an outage."""
        return {}

    @pytest.fixture
    def seed(self, contract_server: BaoServer, seeded: dict[str, str]) -> Seed:
        admin = contract_server.admin()

        def seed(value: str) -> str:
            path = seed_secret(admin, f"contract/{next(_names)}", value)
            seeded[path] = value
            return path

        return seed

    @pytest.fixture
    def outage(self, contract_server: BaoServer, seeded: dict[str, str]) -> Outage:
        @contextmanager
        def killed() -> Iterator[None]:
            contract_server.stop(kill=True)
            try:
                yield
            finally:  # the same port and root token, but empty: write the secrets again
                contract_server.start()
                admin = contract_server.admin()
                for path, value in seeded.items():
                    seed_secret(admin, path, value)

        return killed

    @pytest.fixture
    def denied_setup(
        self,
        bao_server: BaoServer,
        vault_seed: Callable[..., str],
        vault_approle: Callable[..., AppRoleLogin],
        monkeypatch: pytest.MonkeyPatch,
    ) -> Denial:
        allowed = vault_seed(f"allowed/{next(_names)}", SECRET_A)
        denied = vault_seed(f"denied/{next(_names)}", SECRET_B)
        login = vault_approle(read_policy(allowed))
        return Denial(approle_provider(bao_server, login, monkeypatch), allowed, denied)

    @pytest.fixture
    def injected(self, contract_server: BaoServer) -> tuple[VaultProvider, Any]:
        client = contract_server.admin()  # logged in as root: used as it is
        return VaultProvider(vault_store(contract_server), client=client), client

    def client_of(self, provider: Provider) -> object:
        assert isinstance(provider, VaultProvider)
        client: object = provider._login._authenticated()[0]  # no public accessor: logs in
        return client


# -- reading -------------------------------------------------------------------------------------


def test_field_reference_and_missing_field(bao_server: BaoServer, vault_admin: Any) -> None:
    path = f"fields/{next(_names)}"
    vault_admin.secrets.kv.v2.create_or_update_secret(path, {"ios": SECRET_A, "web": SECRET_B})
    provider = VaultProvider(vault_store(bao_server))
    assert provider.load(IOS_PROD, f"{path}#ios").value.reveal() == SECRET_A.encode()
    assert provider.load(WEB_PROD, f"{path}#web").value.reveal() == SECRET_B.encode()
    with pytest.raises(InvalidSecretError, match=r"no field 'value' \(fields: ios, web\)") as info:
        provider.load(IOS_PROD, path)
    assert SECRET_A not in str(info.value) and SECRET_B not in str(info.value)
    # The `key` option changes the default field; rotation refuses a path shared by two fields.
    keyed = VaultProvider(vault_store(bao_server, key="web"))
    assert keyed.load(WEB_PROD, path).value.reveal() == SECRET_B.encode()
    with pytest.raises(RotationError, match="one secret per path"):
        keyed.stage(path, SecretValue(SECRET_C))


def test_get_hasher_end_to_end(vault_six: VaultSix) -> None:
    ivsecrets.configure(vault_six.config)
    for environment, secret in vault_six.secrets.items():
        hasher = ivsecrets.get_hasher(environment.platform, environment.workspace)
        assert hasher.user_hash(user_id="42") == expected_hash(secret)
        assert hasher.fingerprint == fingerprint(secret)
    assert len(set(vault_six.secrets.values())) == 6


def test_versions_and_verify_during_a_rotation(vault_six: VaultSix) -> None:
    secrets = Secrets(vault_six.config)
    try:
        provider, ref = secrets.provider(IOS_PROD), vault_six.path(IOS_PROD)
        old = vault_six.secrets[IOS_PROD]
        hasher = secrets.hasher("ios", "prod")
        current = provider.load(IOS_PROD, ref)
        staged = provider.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_new")
        assert staged.version == "pending:1"
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
        secrets.refresh()
        assert hasher.user_hash(user_id="42") == expected_hash(SECRET_B)
        assert hasher.verify(expected_hash(old), user_id="42")  # previous still accepted
        now = provider.load(IOS_PROD, ref)
        assert (now.version, now.intercom_secret_id) == ("2", "ic_new")
        assert provider.load(IOS_PROD, ref, version="1").value.reveal() == old.encode()
    finally:
        secrets.close()


# -- access control and login ----------------------------------------------------------------------


def test_a_policy_denial_does_not_log_in_again(
    vault_six: VaultSix,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The denial itself is in the contract (RemoteProviderContract); this is Vault's 403 handling:
    # a 403 on a valid token is the policy's answer, not an expired token to log in again for.
    login = vault_approle(read_policy(vault_six.path(WEB_PROD)))
    session = RecordingSession()
    provider = approle_provider(vault_six.server, login, monkeypatch, session)
    assert provider.load(WEB_PROD, vault_six.path(WEB_PROD)).fingerprint
    with pytest.raises(AccessDeniedError, match="denied"):
        provider.load(IOS_PROD, vault_six.path(IOS_PROD))
    assert session.count("/auth/approle/login") == 1


def test_revoked_token_logs_in_again_once(
    vault_six: VaultSix,
    vault_admin: Any,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = vault_approle(read_policy(vault_six.path(WEB_PROD)), secret_id_num_uses=10)
    session = RecordingSession()
    provider = approle_provider(vault_six.server, login, monkeypatch, session)
    ref, value = vault_six.path(WEB_PROD), vault_six.secrets[WEB_PROD].encode()
    assert provider.load(WEB_PROD, ref).value.reveal() == value
    vault_admin.auth.token.revoke_accessor(session.logins[-1])
    assert provider.load(WEB_PROD, ref).value.reveal() == value
    assert session.count("/auth/approle/login") == 2
    left = vault_admin.auth.approle.read_secret_id(login.role_name, login.secret_id)
    assert left["data"]["secret_id_num_uses"] == 8

    # Token revoked and the secret id destroyed: one failed login, a clean error, no loop.
    vault_admin.auth.approle.destroy_secret_id(login.role_name, login.secret_id)
    vault_admin.auth.token.revoke_accessor(session.logins[-1])
    with pytest.raises(AccessDeniedError, match="approle login to Vault failed") as info:
        provider.load(WEB_PROD, ref)
    assert info.value.environment == WEB_PROD
    assert session.count("/auth/approle/login") == 3
    assert login.secret_id not in str(info.value)


def test_reset_drops_the_client_and_the_next_read_logs_in_afresh(
    vault_six: VaultSix,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = vault_approle(read_policy(vault_six.path(WEB_PROD)))
    session = RecordingSession()
    provider = approle_provider(vault_six.server, login, monkeypatch, session)
    assert session.count("/login") == 0  # nothing happens before the first read
    provider.load(WEB_PROD, vault_six.path(WEB_PROD))
    provider.load(WEB_PROD, vault_six.path(WEB_PROD))
    provider.reset()  # what the cache does in a forked child
    provider.load(WEB_PROD, vault_six.path(WEB_PROD))
    assert session.count("/auth/approle/login") == 2
    assert session.count("/data/" + vault_six.path(WEB_PROD)) == 3  # one call per read


def test_token_is_renewed_before_it_expires(
    vault_six: VaultSix,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    login = vault_approle(read_policy(vault_six.path(WEB_PROD)), token_ttl="2s")
    session = RecordingSession()
    provider = approle_provider(vault_six.server, login, monkeypatch, session)
    ref = vault_six.path(WEB_PROD)
    provider.load(WEB_PROD, ref)
    time.sleep(1.4)  # past two thirds of the 2 s lease
    provider.load(WEB_PROD, ref)
    assert session.count("/auth/token/renew-self") == 1
    time.sleep(0.8)  # past the original expiry: the renewed token still works
    provider.load(WEB_PROD, ref)
    assert session.count("/auth/approle/login") == 1


def test_bad_token_and_missing_credentials_are_access_denied(
    vault_six: VaultSix, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = vault_six.path(WEB_PROD)
    monkeypatch.setenv(TOKEN_ENV, "not-a-token")
    with pytest.raises(AccessDeniedError, match="rejected the token"):
        VaultProvider(vault_store(vault_six.server)).load(WEB_PROD, ref)
    monkeypatch.delenv("IVS_TEST_ROLE_ID", raising=False)
    store = vault_store(vault_six.server, auth="approle", role_id_env="IVS_TEST_ROLE_ID")
    with pytest.raises(AccessDeniedError, match="no AppRole role id"):
        VaultProvider(store).load(WEB_PROD, ref)


def test_jwt_login(vault_six: VaultSix, vault_admin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    jwt = pytest.importorskip("jwt")
    rsa = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.rsa")
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    mount = f"jwt{next(_names)}"
    vault_admin.sys.enable_auth_method("jwt", path=mount)
    vault_admin.auth.jwt.configure(jwt_validation_pubkeys=[public.decode()], path=mount)
    vault_admin.sys.create_or_update_policy(mount, read_policy(vault_six.path(WEB_PROD)))
    vault_admin.auth.jwt.create_role(
        "deploy",
        role_type="jwt",
        user_claim="sub",
        bound_audiences=["ivsecrets"],
        allowed_redirect_uris=[],
        token_policies=[mount],
        path=mount,
    )
    now = int(time.time())
    claims = {"sub": "ci", "aud": "ivsecrets", "iat": now, "exp": now + 300}
    monkeypatch.setenv("IVS_TEST_JWT", jwt.encode(claims, key, algorithm="RS256"))
    store = vault_store(
        vault_six.server, auth="jwt", role="deploy", jwt_env="IVS_TEST_JWT", auth_mount=mount
    )
    provider = VaultProvider(store)
    loaded = provider.load(WEB_PROD, vault_six.path(WEB_PROD))
    assert loaded.value.reveal() == vault_six.secrets[WEB_PROD].encode()
    with pytest.raises(AccessDeniedError):
        provider.load(IOS_PROD, vault_six.path(IOS_PROD))


class _TokenReviewAPI(BaseHTTPRequestHandler):
    """Kubernetes' TokenReview endpoint, which Vault's kubernetes auth calls: it vouches for
    service account shop/web and records the tokens it was asked about."""

    reviewed: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.reviewed.append(review["spec"]["token"])
        user = {"username": "system:serviceaccount:shop:web", "uid": "uid-1"}
        body = json.dumps({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                           "status": {"authenticated": True, "user": user}}).encode()  # fmt: skip
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_kubernetes_login(vault_six: VaultSix, vault_admin: Any, tmp_path: Path) -> None:
    ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "cluster-ca")])
    now = datetime.now(timezone.utc)
    ca = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name, serial_number=1)
        .public_key(key.public_key())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TokenReviewAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mount = f"k8s{next(_names)}"
        vault_admin.sys.enable_auth_method("kubernetes", path=mount)
        vault_admin.auth.kubernetes.configure(
            kubernetes_host=f"http://127.0.0.1:{server.server_port}",
            kubernetes_ca_cert=ca.public_bytes(serialization.Encoding.PEM).decode(),
            disable_local_ca_jwt=True,
            mount_point=mount,
        )
        vault_admin.sys.create_or_update_policy(mount, read_policy(vault_six.path(WEB_PROD)))
        vault_admin.auth.kubernetes.create_role(
            "web",
            bound_service_account_names=["web"],
            bound_service_account_namespaces=["shop"],
            policies=[mount],
            mount_point=mount,
        )
        jwt = pytest.importorskip("jwt")
        claims = {
            "iss": "kubernetes/serviceaccount",
            "sub": "system:serviceaccount:shop:web",
            "kubernetes.io/serviceaccount/namespace": "shop",
            "kubernetes.io/serviceaccount/service-account.name": "web",
            "kubernetes.io/serviceaccount/service-account.uid": "uid-1",
        }
        token_file = tmp_path / "token"  # stands in for the pod's service account token mount
        token_file.write_text(jwt.encode(claims, key, algorithm="ES256"))
        store = vault_store(
            vault_six.server,
            auth="kubernetes",
            role="web",
            jwt_file=str(token_file),
            auth_mount=mount,
        )
        loaded = VaultProvider(store).load(WEB_PROD, vault_six.path(WEB_PROD))
        assert loaded.value.reveal() == vault_six.secrets[WEB_PROD].encode()
        assert _TokenReviewAPI.reviewed[-1] == token_file.read_text()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- failures ------------------------------------------------------------------------------------


def test_sealed_vault_serves_stale_and_recovers_after_unseal(
    private_bao_server: BaoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    six = make_six(private_bao_server, monkeypatch, cache={"ttl": 0.2, "max_stale": 30})
    provider = VaultProvider(six.config.stores["vault"])
    clock = FakeClock()
    with closing(Secrets(six.config, providers={"vault": provider}, clock=clock)) as secrets:
        hasher = secrets.hasher("ios", "prod")
        good = expected_hash(six.secrets[IOS_PROD])
        assert hasher.user_hash(user_id="42") == good
        with private_bao_server.sealed():
            with pytest.raises(StoreUnavailableError, match="sealed"):
                provider.load(IOS_PROD, six.path(IOS_PROD))
            clock.advance(0.3)  # past the ttl: served stale
            assert hasher.user_hash(user_id="42") == good
        secrets.refresh()  # the data survived the outage, and the token too
        assert provider.load(IOS_PROD, six.path(IOS_PROD)).fingerprint == hasher.fingerprint


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_options(monkeypatch: pytest.MonkeyPatch) -> None:
    server = BaoServer(tls=True)
    try:
        server.start()
        path = seed_secret(server.admin(), "tls/ios", SECRET_A)
        monkeypatch.delenv("VAULT_CACERT", raising=False)
        with pytest.raises(StoreUnavailableError, match="SSLError"):
            VaultProvider(vault_store(server)).load(IOS_PROD, path)
        trusted = VaultProvider(vault_store(server, ca_cert=str(server.ca_cert)))
        assert trusted.load(IOS_PROD, path).value.reveal() == SECRET_A.encode()
        unverified = VaultProvider(vault_store(server, verify=False))
        assert unverified.load(IOS_PROD, path).value.reveal() == SECRET_A.encode()
        monkeypatch.setenv("VAULT_CACERT", str(server.ca_cert))
        assert VaultProvider(vault_store(server)).load(IOS_PROD, path).fingerprint
    finally:
        server.close()


def test_rate_limit_is_throttled(bao_server: BaoServer, vault_admin: Any) -> None:
    mount = f"throttled{next(_names)}"  # a mount of its own: quotas apply to whole mounts
    vault_admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    vault_admin.secrets.kv.v2.create_or_update_secret("ios", {"value": SECRET_A}, mount_point=mount)
    vault_admin.write_data(
        f"sys/quotas/rate-limit/{mount}", data={"path": f"{mount}/", "rate": 1, "interval": "1m"}
    )
    provider = VaultProvider(vault_store(bao_server, mount=mount))
    with pytest.raises(StoreThrottledError, match="rate limit"):
        for _ in range(5):
            provider.load(IOS_PROD, "ios")


def test_kv_version_1_reads_but_cannot_rotate(bao_server: BaoServer, vault_admin: Any) -> None:
    mount = f"kv1-{next(_names)}"
    vault_admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    vault_admin.secrets.kv.v1.create_or_update_secret("ios", {"value": SECRET_A}, mount_point=mount)
    provider = VaultProvider(vault_store(bao_server, mount=mount, kv_version=1))
    assert provider.load(IOS_PROD, "ios").value.reveal() == SECRET_A.encode()
    with pytest.raises(SecretNotFoundError):
        provider.load(IOS_PROD, "ios", Stage.previous)
    with pytest.raises(SecretNotFoundError):
        provider.load(IOS_PROD, "missing")
    with pytest.raises(RotationError, match="KV version 1"):
        provider.stage("ios", SecretValue(SECRET_B))


# -- rotation details ----------------------------------------------------------------------------


def test_pending_lives_at_a_sibling_path_a_reader_cannot_read(
    vault_six: VaultSix,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = vault_six.path(WEB_PROD)
    rotator = VaultProvider(vault_store(vault_six.server))
    staged = rotator.stage(ref, SecretValue(SECRET_B))
    reader = approle_provider(
        vault_six.server, vault_approle(read_policy(ref)), monkeypatch, RecordingSession()
    )
    assert reader.load(WEB_PROD, ref).value.reveal() == vault_six.secrets[WEB_PROD].encode()
    with pytest.raises(AccessDeniedError):
        reader.load(WEB_PROD, ref, Stage.pending)
    assert rotator.load(WEB_PROD, ref, version=staged.version).value.reveal() == SECRET_B.encode()


def test_documented_policies_suffice_for_reading_and_rotating(
    vault_six: VaultSix,
    vault_approle: Callable[..., AppRoleLogin],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ref = vault_six.path(WEB_PROD)
    rotator = approle_provider(vault_six.server, vault_approle(rotate_policy(ref)), monkeypatch)
    reader = approle_provider(vault_six.server, vault_approle(read_policy(ref)), monkeypatch)
    old = rotator.load(WEB_PROD, ref)
    staged = rotator.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
    assert staged.version is not None
    rotator.discard_pending(ref, pending_version=staged.version)
    staged = rotator.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
    assert staged.version is not None
    rotator.promote(ref, pending_version=staged.version, expected_current_version=old.version)
    new = reader.load(WEB_PROD, ref)
    assert (new.value.reveal(), new.intercom_secret_id) == (SECRET_B.encode(), "ic_b")
    assert reader.load(WEB_PROD, ref, Stage.previous).fingerprint == old.fingerprint
    rotator.rollback(ref, expected_current_version=str(new.version))
    rolled_back = reader.load(WEB_PROD, ref)
    assert rolled_back.fingerprint == old.fingerprint
    assert reader.load(WEB_PROD, ref, Stage.previous).value.reveal() == SECRET_B.encode()
    rotator.retire_previous(ref, expected_previous_version=str(new.version))
    with pytest.raises(SecretNotFoundError):
        reader.load(WEB_PROD, ref, Stage.previous)
    # The rotator's policy reaches no other environment.
    with pytest.raises(AccessDeniedError):
        rotator.stage(vault_six.path(IOS_PROD), SecretValue(SECRET_C))


def test_promote_resumed_after_a_crash_finishes_the_bookkeeping(
    vault_six: VaultSix, vault_admin: Any
) -> None:
    ref = vault_six.path(WEB_PROD)
    provider = VaultProvider(vault_store(vault_six.server))
    old = provider.load(WEB_PROD, ref)
    staged = provider.stage(ref, SecretValue(SECRET_B), intercom_secret_id="ic_b")
    assert staged.version is not None
    # The first run wrote the new version, then died before recording it in the metadata.
    vault_admin.secrets.kv.v2.create_or_update_secret(ref, {"value": SECRET_B}, cas=1)
    assert provider.load(WEB_PROD, ref, Stage.previous).version == old.version  # already served
    provider.promote(ref, pending_version=staged.version, expected_current_version=old.version)
    by_stage = {s: v for v in provider.versions(WEB_PROD, ref) for s in v.stages}
    assert by_stage[Stage.current].intercom_secret_id == "ic_b"
    assert by_stage[Stage.previous].fingerprint == old.fingerprint
    assert Stage.pending not in by_stage


def test_outside_write_moves_previous_and_metadata_stays_small(
    vault_six: VaultSix, vault_admin: Any
) -> None:
    ref = vault_six.path(WEB_PROD)
    provider = VaultProvider(vault_store(vault_six.server))
    for value in (SECRET_A, SECRET_B, SECRET_C, SECRET_A, SECRET_B, SECRET_C):
        current = provider.load(WEB_PROD, ref)
        staged = provider.stage(ref, SecretValue(value), intercom_secret_id=f"ic_{value[:4]}")
        assert staged.version is not None
        provider.promote(
            ref, pending_version=staged.version, expected_current_version=current.version
        )
    meta = vault_admin.secrets.kv.v2.read_secret_metadata(ref)["data"]["custom_metadata"]
    assert len(meta) <= 8, meta
    assert SECRET_C not in str(meta) and SECRET_B not in str(meta)
    # `vault kv put` outside ivsecrets: previous is then the version before the latest.
    vault_admin.secrets.kv.v2.create_or_update_secret(ref, {"value": "manual-" + SECRET_A})
    assert provider.load(WEB_PROD, ref, Stage.previous).value.reveal() == SECRET_C.encode()
    vault_admin.secrets.kv.v2.create_or_update_secret(ref, {"value": "manual2-" + SECRET_A})
    assert (
        provider.load(WEB_PROD, ref, Stage.previous).value.reveal()
        == b"manual-" + SECRET_A.encode()
    )


# -- configuration and packaging -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"secret_id": "s.123"}, r"stores\.vault\.secret_id.*must not be in the configuration"),
        ({"mout": "secret"}, r"stores\.vault\.mout.*unknown option"),
        ({"auth": "ldap"}, r"unknown auth method 'ldap'"),
        ({"auth": "kubernetes"}, r"needs the Vault role"),
        ({"auth": "jwt", "role": "r"}, r"needs jwt_env or jwt_file"),
        ({"kv_version": 3}, r"must be 1 or 2"),
    ],
)
def test_configuration_errors(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        VaultProvider(StoreConfig("vault", "vault", MappingProxyType(options)))
    assert "s.123" not in str(info.value)


def test_missing_address_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with pytest.raises(ConfigError, match=r"stores\.vault\.url.*VAULT_ADDR"):
        VaultProvider(StoreConfig("vault", "vault")).load(IOS_PROD, "ivsecrets/prod/ios")
