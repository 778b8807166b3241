"""The ``vault`` store: HashiCorp Vault or OpenBao, KV version 2 (rotation) or 1 (read-only).

Reference: a path inside the KV mount, e.g. ``ivsecrets/prod/ios``; the secret is the field
``key`` (default ``value``) of its data, and ``path#field`` names another field. Options and the
policies readers and rotators need are in docs/stores/vault.md.

Readers make one call: the current secret is always the latest version at the path (a version
by its KV number; ``pending:N`` for the sibling path ``<path>.pending`` a rotation stages at).
Rotation, every write compare-and-set, is :class:`~ivsecrets.plugins.vault.rotation.VaultRotation`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Stage
from ivsecrets.errors import (
    AccessDeniedError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.vault.auth import (
    AUTH_METHODS,
    CONVENTIONAL,
    K8S_TOKEN,
    VaultLogin,
    hvac,
    requests_module,
)
from ivsecrets.plugins.vault.rotation import (
    INTERCOM,
    PENDING,
    VaultRotation,
    meta_key,
    pending_number,
    previous_number,
    secret_field,
)
from ivsecrets.plugins.vault.transport import same_host_only, warn_if_unprotected
from ivsecrets.provider import ALLOW_CUSTOM_CREDENTIALS, Fetched, Option, Reference

if TYPE_CHECKING:
    import requests

__all__ = ["VaultProvider"]


def _source(kind: str, name: str, default: str, help: str, example: str | None = None) -> Option:
    """A credential variable or file option (its conventional values: auth.CONVENTIONAL)."""
    return Option(str, default, help, example, credential=kind, conventional=CONVENTIONAL[name])


class VaultProvider(VaultRotation):
    """Reads (and, on KV v2, rotates) secrets in Vault or OpenBao through hvac.

    ``client`` (an ``hvac.Client``) or ``session`` (a ``requests.Session``) may be injected;
    otherwise a client is built on first use from the options and ``VAULT_*`` variables.
    Thread-safe: logins and renewals are serialised, reads are not.
    """

    plugin = "vault"
    default_reference = "ivsecrets/{workspace}/{platform}"
    resolves_key = True
    # fmt: off
    options = {
        "url": Option(
            str, "", "server address (else VAULT_ADDR)", '"https://vault.example:8200"',
            credential="url",
        ),
        "mount": Option(str, "secret", "KV mount", '"secret"'),
        "kv_version": Option(
            int, 2, "KV engine version: 2 rotates, 1 only reads", "2", choices=(1, 2)
        ),
        "key": Option(str, "value", "field of each KV secret that holds the secret", '"value"'),
        "namespace": Option(str, "", "Vault Enterprise namespace (else VAULT_NAMESPACE)", '"team"'),
        "ca_cert": Option(str, "", "CA bundle (else VAULT_CACERT)", '"/etc/ssl/vault-ca.pem"'),
        "verify": Option(bool, True, "verify the server's TLS certificate", "true"),
        "client_cert": Option(str, "", "TLS client certificate (else VAULT_CLIENT_CERT)"),
        "client_key": Option(str, "", "TLS client key (else VAULT_CLIENT_KEY)"),
        "timeout": Option(float, 10.0, "seconds per request", "10"),
        "auth": Option(
            str, "token", " | ".join(AUTH_METHODS), '"token"',
            choices=AUTH_METHODS, what="auth method",
        ),
        "auth_mount": Option(str, "", "mount of the auth method (default: its name)", '"approle"'),
        "approle_mount": Option(str, "approle", "the AppRole mount (older name of auth_mount)"),
        "token_env": _source(
            "variable", "token_env", "VAULT_TOKEN", "variable with the token", '"VAULT_TOKEN"'
        ),
        "role": Option(str, "", "role to log in as (kubernetes, jwt)", '"ivsecrets-reader"'),
        "role_id": Option(str, "", "AppRole role id (not secret)"),
        "role_id_env": _source(
            "variable", "role_id_env", "VAULT_ROLE_ID", "variable with the role id",
            '"VAULT_ROLE_ID"',
        ),
        "secret_id_env": _source(
            "variable", "secret_id_env", "VAULT_SECRET_ID", "…the secret id", '"VAULT_SECRET_ID"'
        ),
        "jwt_env": _source(
            "variable", "jwt_env", "", "variable holding the JWT (auth = jwt)", '"VAULT_JWT"'
        ),
        "jwt_file": _source(
            "file", "jwt_file", "", "file holding the JWT (kubernetes: the service account token)"
        ),
        "allow_custom_credentials": ALLOW_CUSTOM_CREDENTIALS,
    }
    # fmt: on

    def __init__(
        self, store: StoreConfig, *, client: Any = None, session: requests.Session | None = None
    ) -> None:
        if "secret_id" in store.options:
            fix = "put it in an environment variable and name that in secret_id_env"
            raise store.error("secret_id", "a secret id must not be in the configuration", fix)
        super().__init__(store)
        self.mount: str = self.option("mount").strip("/")
        self.field: str = self.option("key")
        self.kv_version: int = self.option("kv_version")
        self.auth: str = self.option("auth")
        # What involves several options; each option alone was checked against its declaration.
        self.role: str = self.option("role")
        if self.auth in ("kubernetes", "jwt") and not self.role:
            raise store.error("role", f"auth = {self.auth!r} needs the Vault role to log in as")
        self.jwt_env: str = self.option("jwt_env")
        self.jwt_file: str = self.option("jwt_file") or (
            K8S_TOKEN if self.auth == "kubernetes" else ""
        )
        if self.auth == "jwt" and not (self.jwt_env or self.jwt_file):
            raise store.error("jwt_env", "auth = 'jwt' needs jwt_env or jwt_file")
        mount = self.option("approle_mount") if self.auth == "approle" else self.auth
        self.auth_mount: str = (self.option("auth_mount") or mount).strip("/")
        self.token_env: str = self.option("token_env")
        self._session = session
        self._warned = False  # about a plaintext or unverified connection: once per store
        self._login = VaultLogin(
            self._build,
            client,
            self.auth,
            self.auth_mount,
            self.token_env,
            self.role,
            self.option("role_id"),
            self.option("role_id_env"),
            self.option("secret_id_env"),
            self.jwt_env,
            self.jwt_file,
        )

    # -- the client, login and renewal ----------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        self._login.reset()

    def _setting(self, option: str, variable: str) -> str:
        return str(self.option(option) or os.environ.get(variable, ""))

    def _build(self) -> Any:
        url = self._setting("url", "VAULT_ADDR")
        if not url:
            raise self.store.error("url", "no Vault address", 'url = "https://..." or VAULT_ADDR')
        ca_cert = self._setting("ca_cert", "VAULT_CACERT")
        cert = self._setting("client_cert", "VAULT_CLIENT_CERT")
        if not self._warned:  # once per store
            self._warned = True
            warn_if_unprotected(self.name, url, verify=bool(self.option("verify")))
        verify: bool | str = (ca_cert or True) if self.option("verify") else False
        client_cert = (cert, self._setting("client_key", "VAULT_CLIENT_KEY")) if cert else None
        session = self._session
        if session is None:
            # hvac lets a given session's `verify` win over its own argument: set ours on it.
            session = requests_module().Session()
            session.verify, session.cert = verify, client_cert
        return hvac().Client(
            url=url,
            token="",  # hvac must not look for a token by itself: _login decides
            verify=verify,
            cert=client_cert,
            timeout=self.capped(self.option("timeout")),
            namespace=self._setting("namespace", "VAULT_NAMESPACE") or None,
            session=same_host_only(session),
        )

    # -- reading --------------------------------------------------------------------------------

    def _kv(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method of hvac's ``secrets.kv.v2`` (or ``v1``) on our mount."""
        engine = f"v{self.kv_version}"
        return self._login.call(
            lambda c: getattr(getattr(c.secrets.kv, engine), method)(
                *args, mount_point=self.mount, **kwargs
            )
        )

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        path, field = ref.name.strip("/"), ref.key or self.field
        if self.kv_version == 1:
            if stage is not Stage.current or version is not None:
                raise SecretNotFoundError("a KV version 1 mount keeps no other versions")
            return Fetched(secret_field(self._kv("read_secret", path)["data"], field))
        if version is not None and version.startswith("pending:"):
            stage, found = Stage.pending, self._read(path + PENDING, pending_number(version))
        elif version is not None:
            if not version.isdigit():
                raise SecretNotFoundError(f"'{version}' is not a KV version number or pending:N")
            found = self._read(path, int(version))
        else:
            found = self._read(path + PENDING if stage is Stage.pending else path)
            if stage is Stage.previous:
                number = previous_number(found)
                if number is None:
                    raise SecretNotFoundError("no previous version (none yet, or retired)")
                found = self._read(path, number)
        if stage is Stage.pending:
            version, intercom = f"pending:{found.number}", found.data.get(INTERCOM)
        else:
            version, intercom = (
                str(found.number),
                found.meta.get(meta_key("intercom", found.number)),
            )
        value = secret_field(found.data, field)
        return Fetched(value, version, found.created_at, intercom or None, stage)

    def create_hint(self, reference: str) -> str:
        """A ``vault kv put`` line (the value from a file, never argv)."""
        ref = Reference.parse(reference)
        field = ref.key or self.field
        return (
            f"create it: vault kv put -mount={self.mount} {ref.name.strip('/')} {field}=@FILE "
            "(FILE holds the secret; `bao kv put` for OpenBao); or fix the reference"
        )

    def _translate(self, err: Exception) -> StoreError | None:
        if isinstance(err, ImportError):  # MissingExtraError: passed on as it is
            return None
        http = requests_module()
        errors = hvac().exceptions
        if isinstance(err, errors.InvalidPath):
            return SecretNotFoundError(f"no such secret or version in KV mount '{self.mount}'")
        if isinstance(err, (errors.Forbidden, errors.Unauthorized)):
            return AccessDeniedError("Vault denied access: the token's policies do not allow it")
        if isinstance(err, errors.RateLimitExceeded):
            return StoreThrottledError("Vault rate limit exceeded (HTTP 429)")
        if isinstance(err, errors.VaultError):  # sealed, 5xx, a request Vault found invalid
            return StoreUnavailableError("Vault failed: " + "; ".join(err.errors or ["?"]))
        if isinstance(err, (http.ConnectionError, http.Timeout)):
            return StoreUnavailableError(f"cannot reach Vault: {type(err).__name__}")
        return None
