"""An in-process GCP Secret Manager: the real client talks gRPC to it on a 127.0.0.1 port.

Google ships no emulator, so this implements the SecretManagerService calls ivsecrets reads and
rotates with (secrets, versions, aliases, annotations, etags, enable/disable/destroy, CRC32C) using
the client package's own proto-plus message types, registered with
``grpc.method_handlers_generic_handler``. Replication, TTLs, IAM policies, ListSecrets and list
filters are not modelled.

Callers and permissions: every call may carry a caller name in the ``x-ivsecrets-caller`` metadata
header (``default`` when absent; :func:`connect` sets it). ``state.grants[caller]`` is the set of
secret ids that caller may use; a caller without an entry may use every secret. Other switches:
``state.corrupt`` (secret ids whose payloads come back with a wrong CRC32C) and ``state.fail_all``
(a status code every call fails with, e.g. RESOURCE_EXHAUSTED) and ``state.hooks`` (method name ->
a function run once, under the state lock, just before that method: e.g. to change a secret's etag
behind a client's back).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import google_crc32c
import grpc
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.cloud.secretmanager_v1.types import resources, service
from google.protobuf import empty_pb2

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
CALLER_HEADER = "x-ivsecrets-caller"
State = resources.SecretVersion.State
# Reconnect quickly after the server is restarted (gRPC's default backoff starts at 1 s).
FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
]

_NAME = re.compile(
    r"^(?P<secret>(?P<parent>projects/[^/]+(?:/locations/[^/]+)?)/secrets/(?P<id>[^/]+))"
    r"(?:/versions/(?P<version>[^/]+))?$"
)
_SECRET_ID = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
_UPDATABLE = {"labels", "annotations", "version_aliases"}


class _Status(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class StoredVersion:
    number: int
    data: bytes
    created: datetime = field(default_factory=_now)
    state: State = State.ENABLED
    etag: int = 1
    checksummed: bool = False
    destroyed: datetime | None = None


@dataclass
class StoredSecret:
    name: str
    created: datetime = field(default_factory=_now)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    versions: dict[int, StoredVersion] = field(default_factory=dict)
    etag: int = 1


class GcpState:
    """Everything the server holds; survives a stop/start of the server."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: dict[str, StoredSecret] = {}
        self.grants: dict[str, set[str]] = {}
        self.corrupt: set[str] = set()
        self.fail_all: grpc.StatusCode | None = None
        self.hooks: dict[str, Callable[[], None]] = {}
        self.calls: Counter[str] = Counter()

    def reset_switches(self) -> None:
        """Drop grants, corruption, hooks and forced failures (secrets stay)."""
        self.grants.clear()
        self.corrupt.clear()
        self.hooks.clear()
        self.fail_all = None


def _etag(n: int) -> str:
    return f'"{n}"'


def _split(name: str) -> re.Match[str]:
    match = _NAME.match(name)
    if match is None or not _SECRET_ID.match(match["id"]):
        raise _Status(grpc.StatusCode.INVALID_ARGUMENT, f"invalid resource name [{name}]")
    return match


class SecretManagerFake:
    """The service: one method per RPC, each called with the state lock held."""

    def __init__(self, state: GcpState) -> None:
        self.state = state

    # -- plumbing -------------------------------------------------------------------------------

    def handler(self) -> grpc.GenericRpcHandler:
        methods: dict[str, tuple[Any, Callable[[Any], bytes]]] = {
            "CreateSecret": (service.CreateSecretRequest, resources.Secret.serialize),
            "GetSecret": (service.GetSecretRequest, resources.Secret.serialize),
            "UpdateSecret": (service.UpdateSecretRequest, resources.Secret.serialize),
            "DeleteSecret": (service.DeleteSecretRequest, empty_pb2.Empty.SerializeToString),
            "AddSecretVersion": (
                service.AddSecretVersionRequest,
                resources.SecretVersion.serialize,
            ),
            "GetSecretVersion": (
                service.GetSecretVersionRequest,
                resources.SecretVersion.serialize,
            ),
            "AccessSecretVersion": (
                service.AccessSecretVersionRequest,
                service.AccessSecretVersionResponse.serialize,
            ),
            "ListSecretVersions": (
                service.ListSecretVersionsRequest,
                service.ListSecretVersionsResponse.serialize,
            ),
            "EnableSecretVersion": (
                service.EnableSecretVersionRequest,
                resources.SecretVersion.serialize,
            ),
            "DisableSecretVersion": (
                service.DisableSecretVersionRequest,
                resources.SecretVersion.serialize,
            ),
            "DestroySecretVersion": (
                service.DestroySecretVersionRequest,
                resources.SecretVersion.serialize,
            ),
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    self._call(name), request_deserializer=req.deserialize, response_serializer=ser
                )
                for name, (req, ser) in methods.items()
            },
        )

    def _call(self, method: str) -> Callable[[Any, grpc.ServicerContext], Any]:
        impl = getattr(self, method)

        def call(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                with self.state.lock:
                    self.state.calls[method] += 1
                    hook = self.state.hooks.pop(method, None)
                    if hook is not None:
                        hook()
                    if self.state.fail_all is not None:
                        raise _Status(self.state.fail_all, "failing on purpose (state.fail_all)")
                    resource = _resource(method, request)
                    self._authorize(context, method, resource)
                    return impl(request)
            except _Status as status:
                context.abort(status.code, status.message)

        return call

    def _authorize(self, context: grpc.ServicerContext, method: str, resource: str) -> None:
        caller = dict(context.invocation_metadata()).get(CALLER_HEADER, "default")
        allowed = self.state.grants.get(str(caller))
        if allowed is not None and _split(resource)["id"] not in allowed:
            raise _Status(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission denied for {method} on resource '{resource}' (or it may not exist).",
            )

    def _secret(self, name: str) -> StoredSecret:
        secret = self.state.secrets.get(_split(name)["secret"])
        if secret is None:
            raise _Status(
                grpc.StatusCode.NOT_FOUND, f"Secret [{_split(name)['secret']}] not found."
            )
        return secret

    def _version(self, name: str) -> tuple[StoredSecret, StoredVersion]:
        secret, wanted = self._secret(name), _split(name)["version"] or ""
        if wanted.isdigit():
            number: int | None = int(wanted)
        elif wanted == "latest":
            number = max(secret.versions, default=None)
        else:
            number = secret.aliases.get(wanted)
        if number is None or number not in secret.versions:
            raise _Status(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")
        return secret, secret.versions[number]

    @staticmethod
    def _secret_message(secret: StoredSecret) -> resources.Secret:
        return resources.Secret(
            name=secret.name,
            create_time=secret.created,
            labels=secret.labels,
            annotations=secret.annotations,
            version_aliases=secret.aliases,
            etag=_etag(secret.etag),
            replication=resources.Replication(automatic=resources.Replication.Automatic()),
        )

    @staticmethod
    def _version_message(secret: StoredSecret, version: StoredVersion) -> resources.SecretVersion:
        return resources.SecretVersion(
            name=f"{secret.name}/versions/{version.number}",
            create_time=version.created,
            destroy_time=version.destroyed,
            state=version.state,
            etag=_etag(version.etag),
            client_specified_payload_checksum=version.checksummed,
        )

    # -- secrets --------------------------------------------------------------------------------

    def CreateSecret(self, request: service.CreateSecretRequest) -> resources.Secret:
        name = f"{request.parent}/secrets/{request.secret_id}"
        if name in self.state.secrets:
            raise _Status(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
        secret = StoredSecret(
            name, labels=dict(request.secret.labels), annotations=dict(request.secret.annotations)
        )
        if request.secret.version_aliases:
            raise _Status(grpc.StatusCode.INVALID_ARGUMENT, "a new secret has no versions to alias")
        self.state.secrets[name] = secret
        return self._secret_message(secret)

    def GetSecret(self, request: service.GetSecretRequest) -> resources.Secret:
        return self._secret_message(self._secret(request.name))

    def UpdateSecret(self, request: service.UpdateSecretRequest) -> resources.Secret:
        secret = self._secret(request.secret.name)
        if request.secret.etag and request.secret.etag != _etag(secret.etag):
            raise _Status(grpc.StatusCode.FAILED_PRECONDITION, "etag mismatch: secret changed")
        paths = list(request.update_mask.paths)
        if not paths or not set(paths) <= _UPDATABLE:
            raise _Status(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported update_mask {paths}")
        aliases = dict(request.secret.version_aliases)
        if "version_aliases" in paths:
            for alias, number in aliases.items():
                version = secret.versions.get(number)
                if not _ALIAS.match(alias) or alias in ("latest", "NEW"):
                    raise _Status(grpc.StatusCode.INVALID_ARGUMENT, f"invalid alias {alias!r}")
                if version is None or version.state == State.DESTROYED:
                    raise _Status(grpc.StatusCode.INVALID_ARGUMENT, f"no version {number} to alias")
            if len(aliases) > 50:
                raise _Status(grpc.StatusCode.INVALID_ARGUMENT, "no more than 50 aliases")
            secret.aliases = aliases
        if "annotations" in paths:
            secret.annotations = dict(request.secret.annotations)
        if "labels" in paths:
            secret.labels = dict(request.secret.labels)
        secret.etag += 1
        return self._secret_message(secret)

    def DeleteSecret(self, request: service.DeleteSecretRequest) -> empty_pb2.Empty:
        secret = self._secret(request.name)
        if request.etag and request.etag != _etag(secret.etag):
            raise _Status(grpc.StatusCode.FAILED_PRECONDITION, "etag mismatch: secret changed")
        del self.state.secrets[secret.name]
        return empty_pb2.Empty()

    # -- versions -------------------------------------------------------------------------------

    def AddSecretVersion(self, request: service.AddSecretVersionRequest) -> resources.SecretVersion:
        secret = self._secret(request.parent)
        data = request.payload.data
        checksummed = "data_crc32c" in request.payload
        if checksummed and request.payload.data_crc32c != google_crc32c.value(data):
            raise _Status(grpc.StatusCode.INVALID_ARGUMENT, "data_crc32c does not match the data")
        version = StoredVersion(max(secret.versions, default=0) + 1, data, checksummed=checksummed)
        secret.versions[version.number] = version
        return self._version_message(secret, version)

    def GetSecretVersion(self, request: service.GetSecretVersionRequest) -> resources.SecretVersion:
        return self._version_message(*self._version(request.name))

    def AccessSecretVersion(
        self, request: service.AccessSecretVersionRequest
    ) -> service.AccessSecretVersionResponse:
        secret, version = self._version(request.name)
        if version.state != State.ENABLED:
            raise _Status(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{secret.name}/versions/{version.number} is in {version.state.name} state.",
            )
        crc = google_crc32c.value(version.data)
        if _split(secret.name)["id"] in self.state.corrupt:
            crc ^= 0xFFFFFFFF
        return service.AccessSecretVersionResponse(
            name=f"{secret.name}/versions/{version.number}",
            payload=resources.SecretPayload(data=version.data, data_crc32c=crc),
        )

    def ListSecretVersions(
        self, request: service.ListSecretVersionsRequest
    ) -> service.ListSecretVersionsResponse:
        secret = self._secret(request.parent)
        newest_first = [secret.versions[n] for n in sorted(secret.versions, reverse=True)]
        start = int(request.page_token or 0)
        end = start + (request.page_size or 25)
        return service.ListSecretVersionsResponse(
            versions=[self._version_message(secret, v) for v in newest_first[start:end]],
            next_page_token=str(end) if end < len(newest_first) else "",
            total_size=len(newest_first),
        )

    def _change_state(self, request: Any, state: State) -> resources.SecretVersion:
        secret, version = self._version(request.name)
        if request.etag and request.etag != _etag(version.etag):
            raise _Status(grpc.StatusCode.FAILED_PRECONDITION, "etag mismatch: version changed")
        if version.state == State.DESTROYED:
            raise _Status(grpc.StatusCode.FAILED_PRECONDITION, "the version is destroyed")
        version.state = state
        version.etag += 1
        if state == State.DESTROYED:
            version.data, version.destroyed = b"", _now()
        return self._version_message(secret, version)

    def EnableSecretVersion(self, request: Any) -> resources.SecretVersion:
        return self._change_state(request, State.ENABLED)

    def DisableSecretVersion(self, request: Any) -> resources.SecretVersion:
        return self._change_state(request, State.DISABLED)

    def DestroySecretVersion(self, request: Any) -> resources.SecretVersion:
        return self._change_state(request, State.DESTROYED)


def _resource(method: str, request: Any) -> str:
    if method == "CreateSecret":
        return f"{request.parent}/secrets/{request.secret_id}"
    if method == "UpdateSecret":
        return str(request.secret.name)
    if method in ("AddSecretVersion", "ListSecretVersions"):
        return str(request.parent)
    return str(request.name)


class _Caller(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """Adds the caller header to every call on a channel."""

    def __init__(self, caller: str) -> None:
        self.caller = caller

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        metadata = [*(details.metadata or ()), (CALLER_HEADER, self.caller)]
        return continuation(details._replace(metadata=metadata), request)


def connect(address: str, caller: str | None = None) -> SecretManagerServiceClient:
    """A real SecretManagerServiceClient talking to the fake at ``address`` as ``caller``."""
    channel = grpc.insecure_channel(address, options=FAST_RECONNECT)
    if caller is not None:
        channel = grpc.intercept_channel(channel, _Caller(caller))
    return SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))


class GcpServer:
    """The fake on one 127.0.0.1 port. ``stop()`` then ``start()`` keeps the port and the state."""

    def __init__(self, state: GcpState | None = None) -> None:
        self.state = state or GcpState()
        self.port = 0
        self._server: grpc.Server | None = None
        self._pool: ThreadPoolExecutor | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gcp-fake")
        server = grpc.server(pool, handlers=[SecretManagerFake(self.state).handler()])
        port = server.add_insecure_port(self.address)
        if not port:
            pool.shutdown()
            raise RuntimeError(f"cannot bind {self.address}")
        self.port = port
        server.start()
        self._server, self._pool = server, pool

    def stop(self) -> None:
        """Stop at once: in-flight calls are cancelled, new ones find the port closed."""
        server, pool = self._server, self._pool
        self._server = self._pool = None
        if server is not None:
            server.stop(grace=None).wait()
        if pool is not None:
            pool.shutdown(wait=True)

    def restart(self) -> None:
        self.stop()
        self.start()
