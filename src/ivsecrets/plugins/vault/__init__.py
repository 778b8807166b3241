"""The ``vault`` store: HashiCorp Vault or OpenBao, KV version 2 (rotation) or 1 (read-only).

Reference: a path inside the KV mount, e.g. ``ivsecrets/prod/ios``; the secret is the field
``key`` (default ``value``) of its data, and ``path#field`` names another field. Options and the
policies readers and rotators need are in docs/stores/vault.md.

Readers make one call: the current secret is always the latest version at the path. Rotation
keeps its state beside it, every write compare-and-set:

- *stage* writes the new value to the sibling path ``<path>.pending``, which a reader's policy on
  ``<path>`` does not grant; its version id is ``pending:<version of the .pending path>``;
- *promote* writes it to the path with ``cas=<current version>``, records the new current and
  previous versions (and per version the Intercom secret id and where it came from) in the
  path's ``custom_metadata``, then destroys the pending version;
- *rollback* writes the previous value again, as a new version;
- *retire* records ``ivsecrets_retired_version``: that version is no longer served as previous.

Other version ids are KV version numbers. Until a rotation records one (and after a write made
outside ivsecrets, such as ``vault kv put``), previous is the version before the latest.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Stage
from ivsecrets.errors import (
    AccessDeniedError,
    ConcurrentRotationError,
    InvalidSecretError,
    RotationError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.vault.auth import AUTH_METHODS, VaultLogin, hvac
from ivsecrets.plugins.vault.transport import same_host_only, warn_if_unprotected
from ivsecrets.provider import Fetched, Option, Reference, WritableProvider
from ivsecrets.secret import SecretValue, VersionInfo

if TYPE_CHECKING:
    import requests

__all__ = ["VaultProvider"]

_PENDING = ".pending"
_LEASE = ".lease"  # the rotation record: lease, journal of intent, promotion times
_INTERCOM = "ivsecrets_intercom_secret_id"  # kept beside the value in <path>.pending
_K8S_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass(frozen=True)
class _Version:
    """One KV v2 version as read: its number, data and the path's custom_metadata."""

    number: int
    meta: dict[str, str]
    created_at: datetime | None
    data: dict[str, Any] = dataclasses.field(repr=False)  # the secret values: never in a repr


class VaultProvider(WritableProvider):
    """Reads (and, on KV v2, rotates) secrets in Vault or OpenBao through hvac.

    ``client`` (an ``hvac.Client``) or ``session`` (a ``requests.Session``) may be injected;
    otherwise a client is built on first use from the options and ``VAULT_*`` variables.
    Thread-safe: logins and renewals are serialised, reads are not.
    """

    plugin = "vault"
    resolves_key = True
    # fmt: off
    options = {
        "url": Option(str, "", "server address (else VAULT_ADDR)", '"https://vault.example:8200"'),
        "mount": Option(str, "secret", "KV mount", '"secret"'),
        "kv_version": Option(int, 2, "KV engine version: 2 rotates, 1 only reads", "2"),
        "key": Option(str, "value", "field of each KV secret that holds the secret", '"value"'),
        "namespace": Option(str, "", "Vault Enterprise namespace (else VAULT_NAMESPACE)", '"team"'),
        "ca_cert": Option(str, "", "CA bundle (else VAULT_CACERT)", '"/etc/ssl/vault-ca.pem"'),
        "verify": Option(bool, True, "verify the server's TLS certificate", "true"),
        "client_cert": Option(str, "", "TLS client certificate (else VAULT_CLIENT_CERT)"),
        "client_key": Option(str, "", "TLS client key (else VAULT_CLIENT_KEY)"),
        "timeout": Option(float, 10.0, "seconds per request", "10"),
        "auth": Option(str, "token", "token | approle | kubernetes | jwt", '"token"'),
        "auth_mount": Option(str, "", "mount of the auth method (default: its name)", '"approle"'),
        "approle_mount": Option(str, "approle", "the AppRole mount (older name of auth_mount)"),
        "token_env": Option(str, "VAULT_TOKEN", "variable with the token", '"VAULT_TOKEN"'),
        "role": Option(str, "", "role to log in as (kubernetes, jwt)", '"ivsecrets-reader"'),
        "role_id": Option(str, "", "AppRole role id (not secret)"),
        "role_id_env": Option(str, "VAULT_ROLE_ID", "variable with the role id", '"VAULT_ROLE_ID"'),
        "secret_id_env": Option(str, "VAULT_SECRET_ID", "…the secret id", '"VAULT_SECRET_ID"'),
        "jwt_env": Option(str, "", "variable holding the JWT (auth = jwt)", '"VAULT_JWT"'),
        "jwt_file": Option(str, "", "file holding the JWT (kubernetes: the service account token)"),
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
        if self.kv_version not in (1, 2):
            raise store.error("kv_version", f"must be 1 or 2, got {self.kv_version}")
        self.auth: str = self.option("auth")
        if self.auth not in AUTH_METHODS:
            raise store.error("auth", f"unknown auth method {self.auth!r}", ", ".join(AUTH_METHODS))
        self.role: str = self.option("role")
        if self.auth in ("kubernetes", "jwt") and not self.role:
            raise store.error("role", f"auth = {self.auth!r} needs the Vault role to log in as")
        self.jwt_env: str = self.option("jwt_env")
        self.jwt_file: str = self.option("jwt_file") or (
            _K8S_TOKEN if self.auth == "kubernetes" else ""
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
            import requests

            # hvac lets a given session's `verify` win over its own argument: set ours on it.
            session = requests.Session()
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
            return Fetched(_field(self._kv("read_secret", path)["data"], field))
        if version is not None and version.startswith("pending:"):
            stage, found = Stage.pending, self._read(path + _PENDING, _pending_number(version))
        elif version is not None:
            if not version.isdigit():
                raise SecretNotFoundError(f"'{version}' is not a KV version number or pending:N")
            found = self._read(path, int(version))
        else:
            found = self._read(path + _PENDING if stage is Stage.pending else path)
            if stage is Stage.previous:
                number = _previous_number(found)
                if number is None:
                    raise SecretNotFoundError("no previous version (none yet, or retired)")
                found = self._read(path, number)
        if stage is Stage.pending:
            version, intercom = f"pending:{found.number}", found.data.get(_INTERCOM)
        else:
            version, intercom = str(found.number), found.meta.get(_key("intercom", found.number))
        value = _field(found.data, field)
        return Fetched(value, version, found.created_at, intercom or None, stage)

    def _read(self, path: str, number: int | None = None) -> _Version:
        got = self._kv("read_secret_version", path, version=number, raise_on_deleted_version=True)
        meta = got["data"]["metadata"]
        return _Version(
            int(meta["version"]),
            meta.get("custom_metadata") or {},
            _time(meta.get("created_time")),
            data=got["data"]["data"] or {},
        )

    def _maybe(self, path: str, number: int | None = None) -> _Version | None:
        try:
            return self._read(path, number)
        except hvac().exceptions.InvalidPath:
            return None

    def create_hint(self, reference: str) -> str:
        """A ``vault kv put`` line (the value from a file, never argv)."""
        ref = Reference.parse(reference)
        field = ref.key or self.field
        return (
            f"create it: vault kv put -mount={self.mount} {ref.name.strip('/')} {field}=@FILE "
            "(FILE holds the secret; `bao kv put` for OpenBao); or fix the reference"
        )

    def _translate(self, err: Exception) -> StoreError | None:
        import requests

        errors = hvac().exceptions
        if isinstance(err, errors.InvalidPath):
            return SecretNotFoundError(f"no such secret or version in KV mount '{self.mount}'")
        if isinstance(err, (errors.Forbidden, errors.Unauthorized)):
            return AccessDeniedError("Vault denied access: the token's policies do not allow it")
        if isinstance(err, errors.RateLimitExceeded):
            return StoreThrottledError("Vault rate limit exceeded (HTTP 429)")
        if isinstance(err, errors.VaultError):  # sealed, 5xx, a request Vault found invalid
            return StoreUnavailableError("Vault failed: " + "; ".join(err.errors or ["?"]))
        if isinstance(err, (requests.ConnectionError, requests.Timeout)):
            return StoreUnavailableError(f"cannot reach Vault: {type(err).__name__}")
        return None

    # -- rotation (KV v2) -----------------------------------------------------------------------

    def _stage(
        self, ref: Reference, value: SecretValue, intercom_secret_id: str | None
    ) -> VersionInfo:
        path, field = self._rotatable(ref)
        self._head(path, field)  # refuses a path shared by several fields
        for _attempt in range(3):
            live, latest = self._pending_state(path)
            if live is not None:
                staged = self._read(path + _PENDING, live)
                if SecretValue(str(staged.data.get(field, ""))) != value:
                    raise ConcurrentRotationError(f"pending:{live} holds another value")
                return _pending_info(staged, value)
            data = {field: _text(value), _INTERCOM: intercom_secret_id or ""}
            written = self._put(path + _PENDING, data, latest)
            if written is not None:
                return _pending_info(written, value)
        raise ConcurrentRotationError("another rotation is staging a value at the same time")

    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None:
        path, field = self._rotatable(ref)
        number = _pending_number(pending_version)
        head = self._head(path, field)
        staged = self._maybe(path + _PENDING, number)
        current = str(head.number) if head else None
        if current == expected_current_version:
            if staged is None:
                raise RotationError(f"{pending_version} no longer exists (discarded?)")
            value = _field(staged.data, field)
            written = self._put(path, {field: value}, head.number if head else 0)
            if written is None:
                raise ConcurrentRotationError("the current version changed during the promote")
            meta = head.meta if head else {}
            self._record(path, meta, written.number, current, pending_version, _intercom(staged))
        elif head is not None and _promoted(head, staged, field, pending_version):
            if head.meta.get("ivsecrets_current_version") != current:  # the first run died here
                previous, intercom = str(head.number - 1), _intercom(staged)
                self._record(path, head.meta, head.number, previous, pending_version, intercom)
        else:
            raise ConcurrentRotationError(f"current is {current}, not {expected_current_version}")
        self._destroy_pending(path, number)

    def _rollback(self, ref: Reference, expected_current_version: str) -> None:
        path, field = self._rotatable(ref)
        head = self._head(path, field)
        if head is None:
            raise SecretNotFoundError("there is no secret to roll back")
        if str(head.number) != expected_current_version:
            if head.meta.get(_key("source", head.number)) == f"rollback:{expected_current_version}":
                return  # a resumed rollback that already happened
            raise ConcurrentRotationError(
                f"current is {head.number}, not {expected_current_version}"
            )
        number = _previous_number(head)
        old = self._maybe(path, number) if number is not None else None
        if old is None:
            raise RotationError("there is no previous version to roll back to (retired?)")
        written = self._put(path, {field: _field(old.data, field)}, head.number)
        if written is None:
            raise ConcurrentRotationError("the current version changed during the rollback")
        intercom, source = head.meta.get(_key("intercom", number)), f"rollback:{head.number}"
        self._record(path, head.meta, written.number, str(head.number), source, intercom)

    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None:
        path, _ = self._rotatable(ref)
        head = self._read(path)
        if head.meta.get("ivsecrets_retired_version") == expected_previous_version:
            return  # retired already
        number = _previous_number(head)
        if number is None:
            raise RotationError("there is no previous version to retire")
        if str(number) != expected_previous_version:
            raise ConcurrentRotationError(f"previous is {number}, not {expected_previous_version}")
        retired = {**head.meta, "ivsecrets_retired_version": str(number), **_stamp()}
        self._kv("update_metadata", path, custom_metadata=retired)

    def _discard_pending(self, ref: Reference, pending_version: str) -> None:
        path, _ = self._rotatable(ref)
        number = _pending_number(pending_version)
        live, _latest = self._pending_state(path)
        if live != number:
            raise ConcurrentRotationError(
                f"{pending_version} is no longer pending (pending is "
                f"{'pending:' + str(live) if live is not None else 'nothing'})"
            )
        self._destroy_pending(path, number)

    # The rotation record lives at the sibling path ``<path>.lease`` (field ``record``), written
    # with ``cas=<the version read>``: custom_metadata cannot be written compare-and-set.

    def _read_record(self, ref: Reference) -> tuple[str | None, Any]:
        path, _ = self._rotatable(ref)
        found = self._maybe(path + _LEASE)
        if found is None:
            try:
                meta = self._kv("read_secret_metadata", path + _LEASE)["data"]
            except hvac().exceptions.InvalidPath:
                return None, 0
            return None, int(meta["current_version"])
        return str(found.data.get("record") or "") or None, found.number

    def _write_record(self, ref: Reference, text: str, token: Any) -> bool:
        path, _ = self._rotatable(ref)
        return self._put(path + _LEASE, {"record": text}, int(token or 0)) is not None

    def _rotatable(self, ref: Reference) -> tuple[str, str]:
        if self.kv_version != 2:
            raise RotationError(f"store '{self.name}' is KV version 1: rotation needs version 2")
        return ref.name.strip("/"), ref.key or self.field

    def _head(self, path: str, field: str) -> _Version | None:
        """The latest version at ``path``, if any; RotationError if it holds other fields."""
        head = self._maybe(path)
        if head is not None and set(head.data) - {field}:
            raise RotationError(f"{path} holds other fields: rotation needs one secret per path")
        return head

    def _pending_state(self, path: str) -> tuple[int | None, int]:
        """(the live version of ``<path>.pending`` or None, its latest version, for cas)."""
        try:
            meta = self._kv("read_secret_metadata", path + _PENDING)["data"]
        except hvac().exceptions.InvalidPath:
            return None, 0
        latest = int(meta["current_version"])
        info = meta["versions"].get(str(latest), {})
        live = latest > 0 and not info.get("destroyed") and not info.get("deletion_time")
        return (latest if live else None), latest

    def _put(self, path: str, data: dict[str, Any], cas: int) -> _Version | None:
        """Write a new version with check-and-set; None if ``cas`` no longer matched."""
        try:
            written = self._kv("create_or_update_secret", path, data, cas=cas)["data"]
        except hvac().exceptions.InvalidRequest as err:
            if any("check-and-set" in e for e in err.errors or ()):
                return None
            raise
        return _Version(int(written["version"]), {}, _time(written.get("created_time")), data=data)

    def _record(
        self,
        path: str,
        meta: dict[str, str],
        current: int,
        previous: str | None,
        source: str,
        intercom: str | None,
    ) -> None:
        """Record a new current version in custom_metadata. Entries of older versions are
        pruned so that ours stay few (Vault allows 64 keys); keys that are not ours are kept."""
        kept = (f"_{current}", f"_{previous}")
        state = {
            k: v for k, v in meta.items() if not k.startswith("ivsecrets_") or k.endswith(kept)
        }
        state.update(_stamp(), ivsecrets_current_version=str(current))
        state[_key("source", current)] = source
        if previous is not None:
            state["ivsecrets_previous_version"] = previous
        if intercom:
            state[_key("intercom", current)] = intercom
        self._kv("update_metadata", path, custom_metadata=state)

    def _destroy_pending(self, path: str, number: int) -> None:
        try:
            self._kv("destroy_secret_versions", path + _PENDING, [number])
        except hvac().exceptions.InvalidPath:
            pass


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    fields = ", ".join(sorted(k for k in data if k != _INTERCOM)) or "none"
    # Raise with neither the entry nor a wrong-typed value in this frame: error reporters that
    # capture frame locals would otherwise receive every field of the KV secret.
    del data
    if isinstance(value, str):
        return value
    missing = value is None
    del value
    if missing:
        raise InvalidSecretError(f"the KV secret has no field '{name}' (fields: {fields})")
    raise InvalidSecretError(f"field '{name}' of the KV secret is not a string")


def _key(kind: str, number: int | None) -> str:
    """The custom_metadata key holding ``kind`` (intercom, source) for one version."""
    return f"ivsecrets_{kind}_{number}"


def _previous_number(head: _Version) -> int | None:
    """The version served as previous: the one a rotation recorded, while the version it wrote
    is still the latest; else the version before the latest (after a ``vault kv put``, say)."""
    meta = head.meta
    if meta.get("ivsecrets_current_version") == str(head.number):
        previous = meta.get("ivsecrets_previous_version", "")
    else:
        previous = str(head.number - 1)
    if not previous.isdigit() or previous in ("0", meta.get("ivsecrets_retired_version")):
        return None
    return int(previous)


def _promoted(head: _Version, staged: _Version | None, field: str, pending: str) -> bool:
    """Whether the path already holds what ``pending`` staged (a resumed promote)."""
    if staged is not None:
        return SecretValue(str(head.data.get(field, ""))) == SecretValue(
            str(staged.data.get(field))
        )
    return head.meta.get(_key("source", head.number)) == pending


def _intercom(staged: _Version | None) -> str | None:
    return (staged.data.get(_INTERCOM) or None) if staged is not None else None


def _pending_info(staged: _Version, value: SecretValue) -> VersionInfo:
    version = f"pending:{staged.number}"
    created, intercom = staged.created_at, _intercom(staged)
    return VersionInfo(version, (Stage.pending,), value.fingerprint, created, intercom)


def _pending_number(version: str) -> int:
    prefix, _, number = version.partition(":")
    if prefix != "pending" or not number.isdigit():
        raise RotationError(f"'{version}' is not a pending version id (pending:N)")
    return int(number)


def _text(value: SecretValue) -> str:
    try:
        return value.reveal().decode("utf-8")
    except UnicodeDecodeError:
        raise RotationError("Vault KV stores text: the new secret is not UTF-8") from None


def _stamp() -> dict[str, str]:
    return {"ivsecrets_updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _time(text: str | None) -> datetime | None:
    """Parse Vault's RFC 3339 times (nanoseconds, ``Z``: too much for Python 3.10's parser)."""
    found = re.match(r"(.{19})(\.\d{1,6})?\d*(Z|[+-]\d\d:\d\d)$", text or "")
    if not found:
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.fromisoformat(found[1] + (found[2] or "") + zone)
