"""A client for Intercom's identity-verification secret API (``/secure_mode_secrets``, Preview).

Three calls: :meth:`IntercomClient.list` (metadata only), :meth:`IntercomClient.create` (the new
secret, returned once, wrapped in a :class:`~ivsecrets.secret.SecretValue` at once) and
:meth:`IntercomClient.delete`. One client talks to one workspace with that workspace's bearer token.

Only the standard library is used (``http.client``), so the rotation works whatever extras are
installed: ``requests`` comes with the ``gcp`` and ``vault`` extras but not with ``aws``.

Bounds: ``timeout`` is the deadline of one call, retries, waits and slow answers included; a body
over ``max_response_bytes`` (1 MiB) is not read and raises :class:`IntercomAPIError`. The base URL
must be one of Intercom's API hosts over https (or loopback, for tests) unless the caller passes
``allow_custom_host=True``, as the workspace setting ``allow_custom_intercom_host`` does: the
configuration's own check (:func:`~ivsecrets.config.check_intercom_base_url`) decides.

Retries: 429 (waiting ``Retry-After`` or ``X-RateLimit-Reset`` when sent), 5xx and connection
failures are retried with jittered exponential backoff, a bounded number of times. ``create`` is the
exception: Intercom's POST is not idempotent, so once a request may have reached Intercom (5xx, or
the connection failed after sending) it raises :class:`IntercomAmbiguousCreateError` instead of
retrying, and :meth:`IntercomClient.reconcile_create` finds what it may have created.

No token or secret ever appears in a message, a repr or a log record, nor in a traceback's locals
or chained exceptions: the token travels as :class:`~ivsecrets.intercom.transport.RequestHeaders`.
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from time import monotonic
from typing import Any
from urllib.parse import quote

from ivsecrets.config import (
    INTERCOM_BASE_URLS,
    WorkspaceConfig,
    api_base_url,
    check_intercom_base_url,
    default_token_variable,
)
from ivsecrets.environments import Platform
from ivsecrets.error_codes import Failure, http_failure
from ivsecrets.errors import ConfigError, IntercomAPIError
from ivsecrets.intercom.errors import (
    IntercomAmbiguousCreateError,
    IntercomRateLimitedError,
    IntercomUnavailableError,
)
from ivsecrets.intercom.records import (
    CreatedIntercomSecret,
    IntercomSecret,
    RecordedSecretCheck,
    check_recorded_secret,
    possibly_created,
    secrets_for_platform,
)
from ivsecrets.intercom.responses import (
    created_secret,
    detail,
    error_for,
    json_object,
    parse_secret,
)
from ivsecrets.intercom.retry import RetryPolicy, retry_after
from ivsecrets.intercom.transport import (
    MAX_RESPONSE_BYTES,
    HTTPResponse,
    RequestHeaders,
    ResponseTooLargeError,
    Transport,
    TransportError,
    http_client_transport,
)
from ivsecrets.secret import SecretValue

__all__ = ["API_VERSION", "REGION_BASE_URLS", "IntercomClient", "RetryPolicy"]

log = logging.getLogger("ivsecrets.intercom")

# The /secure_mode_secrets endpoints exist only in Intercom's Preview API version.
API_VERSION = "Preview"
REGION_BASE_URLS: Mapping[str, str] = INTERCOM_BASE_URLS


class IntercomClient:
    """Intercom's secret API for one workspace. Thread-safe: it holds no connection state.

    Every method raises :class:`IntercomAuthError` on 401/403, :class:`IntercomRateLimitedError` or
    :class:`IntercomUnavailableError` once retries are exhausted, and :class:`IntercomAPIError` for
    any other error answer.
    """

    def __init__(
        self,
        token: str | SecretValue,
        *,
        base_url: str = REGION_BASE_URLS["us"],
        workspace: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        api_version: str = API_VERSION,
        allow_custom_host: bool = False,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.workspace = workspace
        self.base_url = "(unchecked)"  # the repr works even while a check below fails
        try:
            self._token = _checked_token(token, workspace)
        finally:
            del token  # from here on only the SecretValue holds it, whether or not it passed
        # The configuration's own check: one rule for where a workspace's token may go.
        check_intercom_base_url(
            base_url,
            allow_custom=allow_custom_host,
            key=f"workspace.{workspace}.intercom_base_url" if workspace else None,
        )
        self.base_url = base_url.rstrip("/")
        if not timeout > 0:
            raise ConfigError("the Intercom client's timeout must be a positive number of seconds")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.api_version = api_version
        self.max_response_bytes = max_response_bytes
        self._transport: Transport = transport or functools.partial(
            http_client_transport, max_body=max_response_bytes
        )
        self._sleep = sleep

    @classmethod
    def from_workspace(
        cls,
        workspace: WorkspaceConfig,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> IntercomClient:
        """A client for ``workspace``: its region (or ``intercom_base_url``) and the token in the
        environment variable ``intercom_token_env`` names. ConfigError names that variable if unset.
        ``options`` go to the constructor (``timeout``, ``retry``, ``transport``, ``sleep``). A base
        URL off Intercom's hosts needs ``allow_custom_intercom_host = true`` in the workspace.
        """
        variable = workspace.intercom_token_env or default_token_variable(workspace.name)
        # Never a local bound to os.environ: its repr, in a traceback's locals, shows every secret.
        token = _token_from(os.environ if environ is None else environ, variable)
        if token is None:
            raise ConfigError(
                f"the Intercom API token for workspace '{workspace.name}' is not set: "
                f"environment variable {variable} is unset or empty",
                key=f"workspace.{workspace.name}.intercom_token_env",
                fix=f"export {variable}=<an Intercom access token for this workspace>",
            )
        base_url = api_base_url(workspace)
        options.setdefault("allow_custom_host", workspace.allow_custom_intercom_host)
        return cls(token, base_url=base_url, workspace=workspace.name, **options)

    def __repr__(self) -> str:
        return f"IntercomClient(workspace={self.workspace!r}, base_url={self.base_url!r})"

    def list(self) -> list[IntercomSecret]:
        """Every live secret of the workspace, metadata only."""
        response, _ = self._send("list", "GET", "/secure_mode_secrets")
        if response.status != 200:
            raise self._failed("list", response)
        data = json_object("list", response, self.workspace).get("data")
        if not isinstance(data, list):
            raise IntercomAPIError(
                "Intercom API: list answered without a 'data' array",
                status=response.status,
                workspace=self.workspace,
            )
        return [parse_secret("list", item, response.status, self.workspace) for item in data]

    def create(
        self, platforms: Iterable[Platform | str] | Platform | str, *, name: str | None = None
    ) -> CreatedIntercomSecret:
        """Create a secret enabled for ``platforms`` and return it with its value.

        ``name`` defaults to one unique to this call, which :meth:`reconcile_create` relies on.
        Raises ValueError when no platform is given and :class:`IntercomAmbiguousCreateError`
        when the outcome is unknown. Never retried once the request may have reached Intercom.
        """
        wanted = _platforms(platforms)
        if not wanted:
            raise ValueError("a secret must be enabled for at least one platform")
        if name is None:
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            labels = "+".join(p.value for p in wanted)
            name = f"ivsecrets {labels} {self.workspace or ''} {stamp} {secrets.token_hex(3)}"
            name = " ".join(name.split())
        payload: dict[str, object] = {"name": name}
        payload.update({f"supports_{p.value}": p in wanted for p in Platform})
        sent_at = datetime.now(timezone.utc)

        def ambiguous(status: int | None, why: str, secret_id: str | None = None) -> Exception:
            return IntercomAmbiguousCreateError(
                f"Intercom API: create {why}; a secret may have been created at Intercom "
                f"(name {name!r}): reconcile by listing secrets before creating again",
                status=status,
                workspace=self.workspace,
                name=name,
                platforms=wanted,
                sent_at=sent_at,
                secret_id=secret_id,
            )

        try:
            response, _ = self._send(
                "create", "POST", "/secure_mode_secrets", json.dumps(payload).encode(), create=True
            )
        except TransportError as err:
            raise ambiguous(None, f"got no answer ({err})") from err
        if response.status >= 500:
            why = f"failed with HTTP {response.status}{detail(response, self._token)}"
            raise ambiguous(response.status, why)
        if response.status not in (200, 201):
            raise self._failed("create", response)
        secret, data = created_secret(response.body)
        if secret is None:
            secret_id = data.get("id") if isinstance(data, dict) else None
            raise ambiguous(
                response.status,
                "succeeded but its answer holds no readable secret",
                secret_id if isinstance(secret_id, str) else None,
            )
        metadata = parse_secret("create", data, response.status, self.workspace)
        log.info(
            "created Intercom secret %s for %s (workspace %s, %s)",
            metadata.id,
            "+".join(p.value for p in wanted),
            self.workspace,
            secret.fingerprint,
        )
        return CreatedIntercomSecret(metadata, secret)

    def delete(self, secret_id: str, *, missing_ok: bool = False) -> bool:
        """Delete (soft-delete at Intercom) one secret; True if this call deleted it.

        A secret that is already gone raises :class:`IntercomNotFoundError`, or returns False with
        ``missing_ok=True`` (idempotent use). A 404 after an earlier attempt of this same call may
        have reached Intercom counts as deleted by this call.
        """
        path = "/secure_mode_secrets/" + quote(secret_id, safe="")
        response, maybe_applied = self._send("delete", "DELETE", path)
        if response.status in (200, 202, 204):
            log.info("deleted Intercom secret %s (workspace %s)", secret_id, self.workspace)
            return True
        if response.status == 404:
            if maybe_applied:
                return True
            if missing_ok:
                return False
        raise self._failed("delete", response, secret_id)

    def secrets_for(self, platform: Platform | str) -> builtins.list[IntercomSecret]:
        """The live secrets enabled for ``platform``, newest first (one list call)."""
        return secrets_for_platform(self.list(), platform)

    def check(self, secret_id: str, platform: Platform | str) -> RecordedSecretCheck:
        """Whether a recorded secret id still exists and is enabled for ``platform``."""
        return check_recorded_secret(self.list(), secret_id, platform)

    def reconcile_create(
        self, error: IntercomAmbiguousCreateError
    ) -> builtins.list[IntercomSecret]:
        """The secrets the failed create may have made (same name and platforms, created no
        earlier than a few minutes before it was sent). Their values are lost: delete them."""
        return possibly_created(
            self.list(), error.secret_id, error.name, error.platforms, error.sent_at
        )

    # --- internals --------------------------------------------------------------------------------

    def _send(
        self, op: str, method: str, path: str, body: bytes | None = None, *, create: bool = False
    ) -> tuple[HTTPResponse, bool]:
        """Send with retries; returns the final response and whether an earlier attempt may have
        reached Intercom. For create, a possibly-delivered attempt is returned, never retried."""
        plain = {
            "Accept": "application/json",
            "Intercom-Version": self.api_version,
            "User-Agent": "ivsecrets",
        }
        if body is not None:
            plain["Content-Type"] = "application/json"
        headers = RequestHeaders(plain, self._token)
        url = self.base_url + path
        deadline = monotonic() + self.timeout
        maybe_applied = False
        attempt = 0
        while True:
            attempt += 1
            last = attempt >= self.retry.attempts
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise self._late(op, attempt - 1)
            try:
                response = self._transport(method, url, headers, body, remaining)
            except ResponseTooLargeError as err:
                raise IntercomAPIError(
                    f"Intercom API: {op} answered with a body over the size limit ({err})",
                    status=err.status,
                    workspace=self.workspace,
                ) from err
            except TransportError as err:
                if create and err.sent:
                    raise  # create() reports it as ambiguous
                if monotonic() >= deadline:
                    raise self._late(op, attempt) from err
                if last:
                    raise IntercomUnavailableError(
                        f"Intercom API: {op} failed after {attempt} attempts: {err}",
                        workspace=self.workspace,
                    ) from err
                maybe_applied = maybe_applied or err.sent
                self._pause(op, attempt, self.retry.backoff(attempt), str(err), deadline)
                continue
            if len(response.body) > self.max_response_bytes:  # an injected transport's answer
                raise IntercomAPIError(
                    f"Intercom API: {op} answered with a body over the "
                    f"{self.max_response_bytes}-byte limit",
                    status=response.status,
                    workspace=self.workspace,
                )
            log.debug("Intercom %s: HTTP %d (attempt %d)", op, response.status, attempt)
            failure = http_failure(response.status)
            if failure is Failure.throttled:
                wait = retry_after(response.headers)
                too_long = wait is not None and (
                    wait > self.retry.max_retry_after or wait >= deadline - monotonic()
                )
                if last or too_long:
                    raise IntercomRateLimitedError(
                        f"Intercom API: {op} rate limited (HTTP 429) after {attempt} attempts"
                        + (f"; retry after {wait:.0f}s" if wait is not None else ""),
                        workspace=self.workspace,
                        retry_after=wait,
                    )
                delay = wait if wait is not None else self.retry.backoff(attempt)
                self._pause(op, attempt, delay, "HTTP 429", deadline)
                continue
            if failure is Failure.unavailable and not create:
                if last:
                    raise IntercomUnavailableError(
                        f"Intercom API: {op} failed with HTTP {response.status} after "
                        f"{attempt} attempts{detail(response, self._token)}",
                        status=response.status,
                        workspace=self.workspace,
                    )
                maybe_applied = True
                self._pause(
                    op, attempt, self.retry.backoff(attempt), f"HTTP {response.status}", deadline
                )
                continue
            return response, maybe_applied

    def _late(self, op: str, attempts: int) -> IntercomUnavailableError:
        return IntercomUnavailableError(
            f"Intercom API: {op} did not complete within the {self.timeout:g} s timeout "
            f"({attempts} attempt{'s' if attempts != 1 else ''})",
            workspace=self.workspace,
        )

    def _pause(self, op: str, attempt: int, delay: float, why: str, deadline: float) -> None:
        if delay >= deadline - monotonic():
            raise self._late(op, attempt)
        log.warning(
            "Intercom %s attempt %d failed (%s); retrying in %.2fs (workspace %s)",
            op,
            attempt,
            why,
            delay,
            self.workspace,
        )
        self._sleep(delay)

    def _failed(self, op: str, response: HTTPResponse, secret_id: str | None = None) -> Exception:
        return error_for(
            op, response, workspace=self.workspace, token=self._token, secret_id=secret_id
        )


def _platforms(value: Iterable[Platform | str] | Platform | str) -> tuple[Platform, ...]:
    items = [value] if isinstance(value, (str, Platform)) else list(value)
    return tuple(dict.fromkeys(Platform.parse(p) for p in items))


def _checked_token(token: str | SecretValue, workspace: str | None) -> SecretValue:
    """The token as a SecretValue: stripped, one line of visible ASCII (what an HTTP header can
    carry). The ConfigError never shows it."""
    text = token.reveal().decode("utf-8", "replace") if isinstance(token, SecretValue) else token
    del token
    text = text.strip()
    problem = None
    if not text:
        problem = "is empty"
    elif any(c in text for c in "\r\n"):
        problem = "spans lines"
    elif not all("!" <= c <= "~" for c in text):
        problem = "holds characters an HTTP header cannot carry (only visible ASCII)"
    if problem is not None:
        del text
        raise ConfigError(
            f"the Intercom API token {problem}"
            + (f" (workspace '{workspace}')" if workspace else "")
        )
    return SecretValue("Bearer " + text)


def _token_from(environ: Mapping[str, str], variable: str) -> SecretValue | None:
    text = environ.get(variable, "").strip()
    return SecretValue(text) if text else None
