"""Logging in to Vault or OpenBao and keeping the token alive, for the ``vault`` store.

One :class:`VaultLogin` per store: it builds the hvac client on first use, logs in (token, AppRole,
Kubernetes or JWT auth), renews the token two thirds into its lease, logs in again when renewal
stops helping, and logs in again once when Vault answers 403 to a token it no longer accepts.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from time import monotonic
from typing import Any, TypeVar

from ivsecrets.errors import AccessDeniedError, MissingExtraError

__all__ = ["AUTH_METHODS", "CONVENTIONAL", "VaultLogin", "hvac", "requests_module"]

R = TypeVar("R")
_NEVER = float("inf")
AUTH_METHODS = ("token", "approle", "kubernetes", "jwt")
K8S_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
# Where each credential option may read from without ``allow_custom_credentials = true``: the
# names Vault's and OpenBao's CLIs read, the variables CI systems put an ID token in (GitLab's
# CI_JOB_JWT*, and VAULT_ID_TOKEN as its id_tokens examples name it), the Kubernetes service
# account token and projected tokens under /var/run/secrets/tokens/ (Kubernetes' examples).
CONVENTIONAL: dict[str, tuple[str, ...]] = {
    "token_env": ("VAULT_TOKEN", "BAO_TOKEN"),
    "role_id_env": ("VAULT_ROLE_ID", "BAO_ROLE_ID"),
    "secret_id_env": ("VAULT_SECRET_ID", "BAO_SECRET_ID"),
    "jwt_env": ("VAULT_JWT", "BAO_JWT", "VAULT_ID_TOKEN", "CI_JOB_JWT", "CI_JOB_JWT_V2"),
    "jwt_file": (
        K8S_TOKEN,
        "/run/secrets/kubernetes.io/serviceaccount/token",
        "/var/run/secrets/tokens/",
    ),
}


def hvac() -> Any:
    """The hvac module; MissingExtraError names the extra when it is not installed."""
    try:
        import hvac
    except ImportError:
        raise MissingExtraError("vault", "hvac", "vault") from None
    return hvac


def requests_module() -> Any:
    """The requests module (hvac's transport, installed with it); MissingExtraError names the
    extra when it is not installed."""
    try:
        import requests
    except ImportError:
        raise MissingExtraError("vault", "hvac", "vault") from None
    return requests


@dataclass
class VaultLogin:
    """The authenticated hvac client of one store. Thread-safe: logins and renewals are
    serialised, requests are not. ``given`` is an injected client (its token is used as it is
    with token auth); otherwise ``connect()`` builds one."""

    connect: Callable[[], Any]
    given: Any
    auth: str
    auth_mount: str
    token_env: str
    role: str
    role_id: str
    role_id_env: str
    secret_id_env: str
    jwt_env: str
    jwt_file: str

    def __post_init__(self) -> None:
        self._given = self.given
        self._connect = self.connect
        self.reset()

    def reset(self) -> None:
        # Not under the lock: in a forked child it may be held by a thread that no longer exists.
        self._lock = threading.Lock()
        self._client: Any = None
        self._generation = 0  # counts logins, so that concurrent 403s log in again only once
        self._renewable, self._lease, self._renew_at = False, 0, _NEVER

    def _authenticated(self) -> tuple[Any, int]:
        """The client with a live token, and the login generation that token belongs to."""
        client = self._client
        if client is not None and monotonic() < self._renew_at:
            return client, self._generation
        with self._lock:
            if self._client is None:
                client = self._given or self._connect()
                if self.auth == "token" and self._given is not None and client.token:
                    self._generation += 1  # an injected client's token is used as it is
                else:
                    self._login(client)
                self._client = client
            elif monotonic() >= self._renew_at:
                self._renew(self._client)
            return self._client, self._generation

    def _login(self, client: Any) -> None:
        """Get a new token: read it (token auth) or log in. The caller holds ``_lock``."""
        errors, mount = hvac().exceptions, self.auth_mount
        if self.auth == "token":
            token = self._env_token()
            if token == client.token:
                raise AccessDeniedError(f"Vault rejected the token in {self.token_env}")
            client.token = token
            try:
                data = client.auth.token.lookup_self()["data"]
            except errors.Forbidden as err:
                raise AccessDeniedError("Vault rejected the token (expired or revoked)") from err
            return self._leased(int(data.get("ttl") or 0), bool(data.get("renewable")))
        try:
            if self.auth == "approle":
                role_id_env = self.role_id_env
                role_id = self.role_id or os.environ.get(role_id_env)
                if not role_id:
                    raise AccessDeniedError(f"no AppRole role id: set role_id or {role_id_env}")
                secret_id = os.environ.get(self.secret_id_env)
                login = client.auth.approle.login(role_id, secret_id or None, mount_point=mount)
            elif self.auth == "kubernetes":
                login = client.auth.kubernetes.login(self.role, self._jwt(), mount_point=mount)
            else:
                login = client.auth.jwt.jwt_login(self.role, self._jwt(), path=mount)
        except (errors.InvalidRequest, errors.Forbidden, errors.InvalidPath) as err:
            reason = "; ".join(e.strip() for e in err.errors or ()) or type(err).__name__
            raise AccessDeniedError(f"{self.auth} login to Vault failed: {reason}") from err
        self._leased(int(login["auth"]["lease_duration"]), bool(login["auth"]["renewable"]))

    def _leased(self, lease: int, renewable: bool) -> None:
        self._generation += 1
        self._lease, self._renewable = lease, renewable
        self._renew_at = monotonic() + lease * 2 / 3 if lease else _NEVER

    def _renew(self, client: Any) -> None:
        """Renew the token two thirds into its lease; log in again once renewal stops helping."""
        if self._renewable:
            try:
                lease = int(client.auth.token.renew_self()["auth"]["lease_duration"])
            except hvac().exceptions.VaultError:
                lease = 0
            if lease > self._lease / 3:  # else the token is close to its max_ttl
                self._renew_at = monotonic() + lease * 2 / 3
                return
        if self.auth == "token":
            self._renew_at = _NEVER  # nothing to log in with: the variable is re-read after a 403
        else:
            self._login(client)

    def _env_token(self) -> str:
        token = os.environ.get(self.token_env, "").strip()
        if token:
            return token
        try:
            return (Path.home() / ".vault-token").read_text(encoding="utf-8").strip()
        except OSError:
            raise AccessDeniedError(f"no Vault token: set {self.token_env} or log in") from None

    def _jwt(self) -> str:
        if self.jwt_env and os.environ.get(self.jwt_env):
            return os.environ[self.jwt_env].strip()
        try:
            return Path(self.jwt_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise AccessDeniedError(f"cannot read {self.jwt_file}: {err.strerror}") from None

    def call(self, operation: Callable[[Any], R]) -> R:
        """Run one request. A 403 on a token Vault no longer accepts logs in again, once."""
        client, generation = self._authenticated()
        try:
            return operation(client)
        except hvac().exceptions.Forbidden:
            if not self._logged_in_again(client, generation):
                raise
        return operation(self._authenticated()[0])  # a second 403 propagates: no loop

    def _logged_in_again(self, client: Any, generation: int) -> bool:
        with self._lock:
            if self._generation != generation:
                return True  # another thread has logged in again meanwhile
            try:
                client.auth.token.lookup_self()
            except hvac().exceptions.Forbidden:
                self._login(client)  # the token expired or was revoked
                return True
            return False  # the token is valid: its policies deny this path
