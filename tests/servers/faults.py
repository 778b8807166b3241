"""Fault injection at every store and Intercom call of one rotator, on the real servers.

A :class:`Faults` object sits in one rotator's clients: botocore event hooks (AWS), a
``requests.Session`` (Vault), a gRPC client interceptor (GCP) and an Intercom ``transport``. Each
call gets a label (``"PutSecretValue AWSPENDING"``, ``"POST secret/data/p.pending"``,
``"UpdateSecret pending"``, ``"intercom POST /secure_mode_secrets"``), is counted, and may be hit
by a planned fault:

- ``before``: the call fails without reaching the server (connection refused);
- ``after``: the server applies the call, the answer is lost (timeout after sending);
- ``death``: the process dies before the call: this call and every later one of this rotator
  raise :class:`ProcessDeath`, so no clean-up reaches any server (``kill -9``);
- ``hook``: a function runs before the call (e.g. another rotator acts right then).

``down`` makes every later store call fail ``before`` (a store outage seen by this rotator only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ivsecrets.intercom.transport import (
    HTTPResponse,
    Transport,
    TransportError,
    http_client_transport,
)


class InjectedFault(ConnectionError):
    """A call failed (or its answer was lost) on purpose."""


class ProcessDeath(BaseException):
    """The rotator's process died: nothing it does any more reaches a server."""


@dataclass
class Planned:
    kind: str  # before | after | death | hook
    matches: Callable[[str], bool]
    nth: int = 1  # the nth matching call
    hook: Callable[[], None] | None = None
    seen: int = 0


@dataclass
class Faults:
    planned: list[Planned] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    fired: list[tuple[str, str]] = field(default_factory=list)
    dead: bool = False
    down: bool = False
    down_after: Callable[[str], bool] | None = None  # the store goes down once this call answered
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(
        self,
        kind: str,
        matches: str | Callable[[str], bool],
        nth: int = 1,
        hook: Callable[[], None] | None = None,
    ) -> Faults:
        test = (lambda label: matches in label) if isinstance(matches, str) else matches
        self.planned.append(Planned(kind, test, nth, hook))
        return self

    def at_call(self, index: int, kind: str) -> Faults:
        """A fault at the ``index``-th call from now, whatever it is."""
        start = len(self.calls)
        self.planned.append(Planned(kind, lambda _label: len(self.calls) - start == index, 1))
        return self

    def after_write(self, n: int) -> Faults:
        """The process dies right after its ``n``-th write (store or Intercom) was answered: at
        the next call it makes, whatever that is."""

        def due(_label: str) -> bool:
            return sum(map(is_write, self.calls[:-1])) >= n

        self.planned.append(Planned("death", due, 1))
        return self

    def _due(self, label: str) -> Planned | None:
        with self.lock:
            self.calls.append(label)
            for planned in self.planned:
                if planned.matches(label):
                    planned.seen += 1
                    if planned.seen == planned.nth:
                        self.planned.remove(planned)
                        self.fired.append((planned.kind, label))
                        return planned
        return None

    def call(self, label: str, send: Callable[[], Any], *, store: bool = True) -> Any:
        """Run ``send`` (the real call) under the plan; the wrappers below call this."""
        if self.dead:
            raise ProcessDeath(label)
        planned = self._due(label)
        kind = planned.kind if planned is not None else None
        if kind == "hook":
            assert planned is not None and planned.hook is not None
            planned.hook()
        if kind == "death":
            self.dead = True
            raise ProcessDeath(label)
        if kind == "before" or (store and self.down):
            raise InjectedFault(f"injected: {label} failed before reaching the server")
        result = send()
        if store and self.down_after is not None and self.down_after(label):
            self.down = True
            raise InjectedFault(f"injected: {label} applied, answer lost, store down")
        if kind == "after":
            raise InjectedFault(f"injected: {label} applied, answer lost")
        return result


_WRITES = (
    # AWS
    *("PutSecretValue", "UpdateSecretVersionStage", "TagResource", "UntagResource"),
    *("PutItem", "UpdateItem", "DeleteItem"),
    # Vault (HTTP verbs)
    *("POST ", "PUT ", "DELETE ", "PATCH "),
    # GCP
    *("AddSecretVersion", "UpdateSecret", "CreateSecret", "DestroySecretVersion"),
    *("DisableSecretVersion", "EnableSecretVersion"),
    # Intercom
    *("intercom POST", "intercom DELETE"),
)


def is_write(label: str) -> bool:
    """Whether a call changes a server's state (its label, as the wrappers below make it)."""
    return label.startswith(_WRITES) and "/login" not in label


# -- AWS: botocore event hooks ---------------------------------------------------------------


def aws_client(endpoint_url: str, faults: Faults, service: str = "secretsmanager") -> Any:
    """A client of ``service`` (secretsmanager, or dynamodb: the rotation lease's table) whose
    calls go through ``faults``."""
    from tests.servers.aws import REGION, aws_boto_session

    client = aws_boto_session().client(service, endpoint_url=endpoint_url, region_name=REGION)
    events = client.meta.service_model.service_id.hyphenize()
    local = threading.local()

    def label(params: dict[str, Any], model: Any, **_: Any) -> None:
        stages = params.get("VersionStages") or [params.get("VersionStage") or ""]
        local.label = f"{model.name} {' '.join(s for s in stages if s)}".strip()

    def before(model: Any, **_: Any) -> None:
        local.sent = False
        name = getattr(local, "label", model.name)
        local.pending_label = name
        if faults.dead:
            raise ProcessDeath(name)
        planned = faults._due(name)
        local.planned = planned
        if planned is not None and planned.kind == "hook" and planned.hook is not None:
            planned.hook()
        if planned is not None and planned.kind == "death":
            faults.dead = True
            raise ProcessDeath(name)
        if (planned is not None and planned.kind == "before") or faults.down:
            raise InjectedFault(f"injected: {name} failed before reaching the server")

    def after(model: Any, **_: Any) -> None:
        name = getattr(local, "pending_label", model.name)
        planned = getattr(local, "planned", None)
        local.planned = None
        if faults.down_after is not None and faults.down_after(name):
            faults.down = True
            raise InjectedFault(f"injected: {name} applied, answer lost, store down")
        if planned is not None and planned.kind == "after":
            raise InjectedFault(f"injected: {name} applied, answer lost")

    client.meta.events.register(f"before-parameter-build.{events}.*", label)
    client.meta.events.register(f"before-call.{events}.*", before)
    client.meta.events.register(f"after-call.{events}.*", after)
    return client


# -- Vault: a requests session ---------------------------------------------------------------


def vault_session(faults: Faults) -> Any:
    import requests

    class FaultySession(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kw: Any) -> Any:
            path = str(url).split("/v1/", 1)[-1].split("?", 1)[0]
            label = f"{str(method).upper()} {path}"
            return faults.call(
                label, lambda: super(FaultySession, self).request(method, url, *args, **kw)
            )

    return FaultySession()


# -- GCP: a gRPC client interceptor -----------------------------------------------------------


def gcp_client(address: str, faults: Faults) -> Any:
    import grpc
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
        SecretManagerServiceGrpcTransport,
    )

    class Interceptor(grpc.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            method = str(details.method).rsplit("/", 1)[-1]
            extra = ""
            if method == "UpdateSecret":
                extra = " " + ",".join(sorted(request.secret.version_aliases))
            label = f"{method}{extra}"

            def send() -> Any:
                outcome = continuation(details, request)
                outcome.result()  # raises the RPC's own error, if any
                return outcome

            return faults.call(label, send)

    channel = grpc.intercept_channel(grpc.insecure_channel(address), Interceptor())
    return SecretManagerServiceClient(transport=SecretManagerServiceGrpcTransport(channel=channel))


# -- Intercom: the client's transport -----------------------------------------------------------


def intercom_transport(faults: Faults, inner: Transport = http_client_transport) -> Transport:
    def transport(
        method: str, url: str, headers: Any, body: bytes | None, timeout: float
    ) -> HTTPResponse:
        label = f"intercom {method} /{url.split('/', 3)[-1]}"
        if faults.dead:
            raise ProcessDeath(label)
        planned = faults._due(label)
        if planned is not None and planned.kind == "hook" and planned.hook is not None:
            planned.hook()
        if planned is not None and planned.kind == "death":
            faults.dead = True
            raise ProcessDeath(label)
        if planned is not None and planned.kind == "before":
            raise TransportError("injected: connection refused", sent=False)
        response = inner(method, url, headers, body, timeout)
        if planned is not None and planned.kind == "after":
            raise TransportError("injected: no answer", sent=True)
        return response

    return transport
