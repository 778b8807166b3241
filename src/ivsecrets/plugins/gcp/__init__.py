"""The ``gcp`` store: Google Cloud Secret Manager (``pip install 'ivsecrets[gcp]'``).

Reference: a secret id (``ivsecrets-prod-ios``, in the configured project and location) or a full
name ``projects/P[/locations/L]/secrets/S[/versions/V]``, optionally ending in ``#json_key``.
Options are declared in ``GcpProvider.options``: ``project`` (else Application Default Credentials'
project or ``$GOOGLE_CLOUD_PROJECT``), ``location`` (regional secrets and endpoint), ``endpoint``,
``insecure`` (plaintext gRPC to a local test server; never for Google's endpoints), ``timeout``.

Reading costs one AccessSecretVersion call: a secret rotated by ivsecrets carries the version
aliases ``current``, ``previous`` and ``pending``; one that never was is read at ``latest``. The
payload's CRC32C is checked. Rotation moves the aliases with ``UpdateSecret`` guarded by the
secret's etag (compare-and-set) and records each version's Intercom secret id in the secret's
annotations as ``ivsecrets-intercom-<version>``.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from ivsecrets.config import StoreConfig
from ivsecrets.environments import Environment, Stage
from ivsecrets.errors import (
    AccessDeniedError,
    MissingExtraError,
    SecretNotFoundError,
    StoreError,
    StoreThrottledError,
    StoreUnavailableError,
)
from ivsecrets.plugins.gcp.rotation import ANNOTATION, GcpRotation, crc32c, sdk, version_number
from ivsecrets.provider import ALLOW_CUSTOM_CREDENTIALS, Fetched, Option, Reference
from ivsecrets.secret import Secret as SecretRecord
from ivsecrets.secret import VersionInfo

if TYPE_CHECKING:
    from google.cloud.secretmanager_v1 import Secret, SecretManagerServiceClient

log = logging.getLogger("ivsecrets")
_NAME = re.compile(
    r"^(?P<secret>projects/[^/]+(?:/locations/[^/]+)?/secrets/[^/]+)"
    r"(?:/versions/(?P<version>[^/]+))?$"
)
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
# Local servers come and go in tests; gRPC's default reconnect backoff would start at 1 s.
_FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


# The gRPC transport logs whole requests and responses at DEBUG (GOOGLE_SDK_PYTHON_LOGGING_SCOPE).
_SDK_LOGGER = "google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc"


def _close(client: SecretManagerServiceClient) -> None:
    transport: Any = client.transport  # close() is untyped
    transport.close()


class GcpProvider(GcpRotation):
    """Reads (and rotates) secrets in GCP Secret Manager. Thread-safe.

    ``client`` is an optional ready ``SecretManagerServiceClient``; without one, a client is built
    on first use from Application Default Credentials and the options.
    """

    plugin = "gcp"
    default_reference = "ivsecrets-{workspace}-{platform}"
    options = {
        "project": Option(
            str, "", "project id (else the credentials' or GOOGLE_CLOUD_PROJECT)", '"my-project"'
        ),
        "location": Option(
            str,
            "",
            "region of regional secrets (and their endpoint)",
            '"europe-west1"',
            pattern="[a-z][a-z0-9-]*",  # it names the endpoint's host: no dot, slash or colon
        ),
        # Google's API hosts (private.googleapis.com, Private Service Connect's *.p.googleapis.com
        # included), else loopback, unless allow_custom_credentials = true.
        "endpoint": Option(
            str,
            "",
            "another API endpoint",
            '"127.0.0.1:8085"',
            credential="endpoint",
            conventional=(".googleapis.com",),
        ),
        "insecure": Option(bool, False, "plaintext gRPC to a local test server", "false"),
        "timeout": Option(
            float, 5.0, "seconds per read, retries included", "5", minimum=0, exclusive_minimum=True
        ),
        "allow_custom_credentials": ALLOW_CUSTOM_CREDENTIALS,
    }
    sdk_loggers = (_SDK_LOGGER,)

    def __init__(
        self, store: StoreConfig, *, client: SecretManagerServiceClient | None = None
    ) -> None:
        super().__init__(store)
        self.project: str | None = self.option("project") or None
        self.location: str | None = self.option("location") or None
        self.endpoint: str | None = self.option("endpoint") or None
        self.insecure: bool = self.option("insecure")
        self.timeout: float = self.option("timeout")
        if self.insecure and not self.endpoint:
            raise store.error("insecure", "needs an endpoint", fix='endpoint = "127.0.0.1:8085"')
        self._client = self.lazy_client(self._build_client, injected=client, close=_close)
        self._adc_project: str | None = None
        self._retry: Any = None
        # Secret name -> the version `latest` had when the secret had no `current` alias.
        self._latest_seen: dict[str, str] = {}

    @staticmethod
    def sdk_record_allowed(record: logging.LogRecord) -> bool:
        """Drop the SDK's debug records of calls that carry secret payloads (either way)."""
        rpc = str(getattr(record, "rpcName", ""))
        return not rpc.endswith(("AccessSecretVersion", "AddSecretVersion"))

    # -- clients ------------------------------------------------------------------------------

    def client(self) -> SecretManagerServiceClient:
        """The Secret Manager client, built on first use. Raises MissingExtraError."""
        return self._client.get()

    def _build_client(self) -> SecretManagerServiceClient:
        try:  # (not `from google.cloud import ...`: that finds a stale package attribute)
            import google.cloud.secretmanager_v1 as secretmanager_v1
        except ImportError:
            raise MissingExtraError("gcp", "google-cloud-secret-manager", "gcp") from None
        if self.insecure:
            import grpc
            from google.cloud.secretmanager_v1.services.secret_manager_service import transports

            channel = grpc.insecure_channel(self.endpoint, options=_FAST_RECONNECT)
            transport = transports.SecretManagerServiceGrpcTransport(channel=channel)
            return secretmanager_v1.SecretManagerServiceClient(transport=transport)
        import google.auth

        credentials, self._adc_project = google.auth.default(
            scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        endpoint = self.endpoint or (
            f"secretmanager.{self.location}.rep.googleapis.com" if self.location else None
        )
        return secretmanager_v1.SecretManagerServiceClient(
            credentials=credentials, client_options={"api_endpoint": endpoint} if endpoint else None
        )

    def reset(self) -> None:
        """Drop (and close) a client built here; an injected client is kept."""
        super().reset()
        self._latest_seen.clear()

    def _read_options(self) -> dict[str, Any]:
        """Per-call retry and deadline: retry UNAVAILABLE briefly, never past ``timeout``."""
        if self._retry is None:
            from google.api_core.retry import Retry, if_exception_type

            self._retry = Retry(
                predicate=if_exception_type(sdk().ServiceUnavailable),
                initial=0.1,
                maximum=1.0,
                multiplier=2.0,
                timeout=self.capped(self.timeout),
            )
        return {"retry": self._retry, "timeout": self.capped(self.timeout)}

    # -- names --------------------------------------------------------------------------------

    def _names(self, ref: Reference) -> tuple[str, str | None]:
        """The secret's resource name and the version the reference pins, if any."""
        match = _NAME.match(ref.name)
        if match is not None:
            return match["secret"], match["version"]
        if not _SECRET_ID.match(ref.name):
            raise SecretNotFoundError(
                "not a secret id nor a name like projects/P/secrets/S[/versions/V]"
            )
        location = f"/locations/{self.location}" if self.location else ""
        return f"projects/{self._project()}{location}/secrets/{ref.name}", None

    def _project(self) -> str:
        if self.project:
            return self.project
        self.client()  # building it from Application Default Credentials finds their project
        project = self._adc_project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            raise self.store.error(
                "project",
                "no GCP project configured or found in the credentials",
                fix='project = "my-project", or set GOOGLE_CLOUD_PROJECT',
            )
        return project

    # -- reading ------------------------------------------------------------------------------

    def batches_serving(self) -> bool:
        """One access per secret: a cold load reads only the environment asked for."""
        return False

    def _fetch(self, ref: Reference, stage: Stage, version: str | None) -> Fetched:
        name, pinned = self._names(ref)
        if version is not None:
            return self._access(name, version, stage)
        if pinned is not None:
            if stage is not Stage.current:
                raise SecretNotFoundError(f"the reference pins version {pinned}: no {stage} stage")
            return self._access(name, pinned, stage)
        if stage is not Stage.current:
            return self._access(name, stage.value, stage)
        seen = self._latest_seen.get(name)
        if seen is not None:
            try:
                latest = self._access(name, "latest", stage)
            except sdk().FailedPrecondition:
                latest = None  # `latest` was staged and then destroyed (an aborted rotation)
            if latest is not None and latest.version == seen:
                return latest
            # A new version appeared: a rotation may have staged it and added the aliases.
            self._latest_seen.pop(name, None)
        try:
            return self._access(name, "current", stage)
        except sdk().NotFound:
            pass
        latest = self._access(name, "latest", stage)
        self._latest_seen[name] = str(latest.version)
        return latest

    def _access(self, name: str, version: str, stage: Stage) -> Fetched:
        response = self.client().access_secret_version(
            name=f"{name}/versions/{version}", **self._read_options()
        )
        data = response.payload.data
        if "data_crc32c" in response.payload and response.payload.data_crc32c != crc32c(data):
            raise StoreUnavailableError(
                "the payload failed its CRC32C check (corrupted in transit)"
            )
        return Fetched(value=data, version=version_number(response.name), stage=stage)

    def create_hint(self, reference: str) -> str:
        """A ``gcloud secrets create`` line (the value from a file, never argv)."""
        ref = Reference.parse(reference)
        match = _NAME.match(ref.name)
        if match is not None:
            parts = match["secret"].split("/")
            secret, project = parts[-1], parts[1]
            location = parts[3] if parts[2] == "locations" else self.location
        else:
            secret, project, location = ref.name, self.project, self.location
        flags = f" --project {project}" if project else ""
        flags += f" --location {location}" if location else ""
        content = f"a JSON object with the key '{ref.key}'" if ref.key else "the secret"
        return (
            f"create it: gcloud secrets create {secret} --data-file=FILE{flags} (FILE holds "
            f"{content}), or with terraform/modules/gcp; or fix the reference"
        )

    def _translate(self, err: Exception) -> StoreError | None:
        try:
            from google.api_core import exceptions as api
            from google.auth import exceptions as auth
        except ImportError:
            return None
        if isinstance(err, api.RetryError):
            cause = err.cause
            return (self._translate(cause) if isinstance(cause, Exception) else None) or (
                StoreUnavailableError(f"GCP Secret Manager kept failing: {err.message}")
            )
        if isinstance(err, api.GoogleAPICallError):
            detail = f"GCP Secret Manager: {type(err).__name__}: {err.message}"
            # FAILED_PRECONDITION on a read: the version is disabled or destroyed.
            if isinstance(err, (api.NotFound, api.InvalidArgument, api.FailedPrecondition)):
                return SecretNotFoundError(detail)
            if isinstance(err, (api.PermissionDenied, api.Unauthenticated)):
                return AccessDeniedError(detail)
            if isinstance(err, api.TooManyRequests):  # includes ResourceExhausted
                return StoreThrottledError(detail)
            return StoreUnavailableError(detail)
        if isinstance(err, (auth.DefaultCredentialsError, auth.RefreshError)):
            return AccessDeniedError(f"no usable Google credentials: {err}")
        if isinstance(err, auth.TransportError):
            return StoreUnavailableError(f"cannot reach Google: {type(err).__name__}")
        return None

    def _stage_versions(
        self,
        environment: Environment | None,
        reference: str,
        current: SecretRecord | None = None,
    ) -> list[VersionInfo]:
        """Current, previous and pending by alias, with their Intercom secret ids."""
        ref = Reference.parse(reference)
        try:
            name, pinned = self._names(ref)
            secret = None if pinned else self._get_secret(name)
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, environment) from err
        if secret is None or not secret.version_aliases:  # never rotated: current is `latest`
            return super()._stage_versions(environment, reference, current)
        found = []
        for stage in Stage:
            number = secret.version_aliases.get(stage.value)
            if number is not None:
                try:
                    found.append(self._info(environment, ref, secret, number, stage))
                except SecretNotFoundError:
                    continue
        return found

    def _info(
        self,
        environment: Environment | None,
        ref: Reference,
        secret: Secret,
        number: int,
        stage: Stage,
    ) -> VersionInfo:
        loaded = self.load(environment, str(ref), stage, version=str(number))
        try:
            meta = self.client().get_secret_version(
                name=f"{secret.name}/versions/{number}", **self._read_options()
            )
        except Exception as err:  # translated at the boundary
            raise self._as_store_error(err, ref, environment) from err
        intercom_id = secret.annotations.get(f"{ANNOTATION}{number}")
        return VersionInfo(str(number), (stage,), loaded.fingerprint, meta.create_time, intercom_id)
