"""How rotation maps onto KV version 2, for the ``vault`` store.

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
outside ivsecrets, such as ``vault kv put``), previous is the version before the latest. The
rotation record (lease, journal, promotion times) is the field ``record`` of ``<path>.lease``.
"""

from __future__ import annotations

import dataclasses
import re
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ivsecrets.environments import Stage
from ivsecrets.errors import (
    ConcurrentRotationError,
    InvalidSecretError,
    RotationError,
    SecretNotFoundError,
)
from ivsecrets.plugins.vault.auth import hvac
from ivsecrets.provider import Reference, WritableProvider
from ivsecrets.secret import SecretValue, VersionInfo

__all__ = [
    "INTERCOM",
    "PENDING",
    "KvVersion",
    "VaultRotation",
    "meta_key",
    "pending_number",
    "previous_number",
    "secret_field",
]

PENDING = ".pending"
_LEASE = ".lease"  # the rotation record: lease, journal of intent, promotion times
INTERCOM = "ivsecrets_intercom_secret_id"  # kept beside the value in <path>.pending


@dataclass(frozen=True)
class KvVersion:
    """One KV v2 version as read: its number, data and the path's custom_metadata."""

    number: int
    meta: dict[str, str]
    created_at: datetime | None
    data: dict[str, Any] = dataclasses.field(repr=False)  # the secret values: never in a repr


class VaultRotation(WritableProvider):
    """The rotation steps of the ``vault`` store and its versioned reads (``VaultProvider`` adds
    the client, the login and the reads by stage)."""

    field: str
    kv_version: int

    @abstractmethod
    def _kv(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a method of hvac's ``secrets.kv.v2`` (or ``v1``) on the store's mount."""

    # -- versioned reads (KV v2) ------------------------------------------------------------------

    def _read(self, path: str, number: int | None = None) -> KvVersion:
        """Version ``number`` (default: the latest) at ``path``; hvac's InvalidPath if none."""
        got = self._kv("read_secret_version", path, version=number, raise_on_deleted_version=True)
        meta = got["data"]["metadata"]
        return KvVersion(
            int(meta["version"]),
            meta.get("custom_metadata") or {},
            _time(meta.get("created_time")),
            data=got["data"]["data"] or {},
        )

    def _maybe(self, path: str, number: int | None = None) -> KvVersion | None:
        """:meth:`_read`, or None when there is no such version."""
        try:
            return self._read(path, number)
        except hvac().exceptions.InvalidPath:
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
                staged = self._read(path + PENDING, live)
                if SecretValue(str(staged.data.get(field, ""))) != value:
                    raise ConcurrentRotationError(f"pending:{live} holds another value")
                return _pending_info(staged, value)
            data = {field: _text(value), INTERCOM: intercom_secret_id or ""}
            written = self._put(path + PENDING, data, latest)
            if written is not None:
                return _pending_info(written, value)
        raise ConcurrentRotationError("another rotation is staging a value at the same time")

    def _promote(
        self, ref: Reference, pending_version: str, expected_current_version: str | None
    ) -> None:
        path, field = self._rotatable(ref)
        number = pending_number(pending_version)
        head = self._head(path, field)
        staged = self._maybe(path + PENDING, number)
        current = str(head.number) if head else None
        # "The path already holds the staged value" comes first: a run that died after writing
        # the value left it as the latest version, and writing it again would make the new
        # secret its own previous (and lose the real one).
        if head is not None and _promoted(head, staged, field, pending_version):
            if head.meta.get("ivsecrets_current_version") != current:  # the first run died here
                # The value was written with cas=<the version before>: that one it replaced.
                previous, intercom = str(head.number - 1), _intercom(staged)
                self._record(path, head.meta, head.number, previous, pending_version, intercom)
        elif current == expected_current_version:
            if staged is None:
                raise RotationError(f"{pending_version} no longer exists (discarded?)")
            value = secret_field(staged.data, field)
            written = self._put(path, {field: value}, head.number if head else 0)
            if written is None:
                raise ConcurrentRotationError("the current version changed during the promote")
            meta = head.meta if head else {}
            self._record(path, meta, written.number, current, pending_version, _intercom(staged))
        else:
            raise ConcurrentRotationError(f"current is {current}, not {expected_current_version}")
        self._destroy_pending(path, number)

    def _rollback(self, ref: Reference, expected_current_version: str) -> None:
        path, field = self._rotatable(ref)
        head = self._head(path, field)
        if head is None:
            raise SecretNotFoundError("there is no secret to roll back")
        if str(head.number) != expected_current_version:
            if (
                head.meta.get(meta_key("source", head.number))
                == f"rollback:{expected_current_version}"
            ):
                return  # a resumed rollback that already happened
            raise ConcurrentRotationError(
                f"current is {head.number}, not {expected_current_version}"
            )
        number = previous_number(head)
        old = self._maybe(path, number) if number is not None else None
        if old is None:
            raise RotationError("there is no previous version to roll back to (retired?)")
        written = self._put(path, {field: secret_field(old.data, field)}, head.number)
        if written is None:
            raise ConcurrentRotationError("the current version changed during the rollback")
        intercom, source = head.meta.get(meta_key("intercom", number)), f"rollback:{head.number}"
        self._record(path, head.meta, written.number, str(head.number), source, intercom)

    def _retire_previous(self, ref: Reference, expected_previous_version: str) -> None:
        path, _ = self._rotatable(ref)
        head = self._read(path)
        if head.meta.get("ivsecrets_retired_version") == expected_previous_version:
            return  # retired already
        number = previous_number(head)
        if number is None:
            raise RotationError("there is no previous version to retire")
        if str(number) != expected_previous_version:
            raise ConcurrentRotationError(f"previous is {number}, not {expected_previous_version}")
        retired = {**head.meta, "ivsecrets_retired_version": str(number), **_stamp()}
        self._set_custom_metadata(path, retired)

    def _discard_pending(self, ref: Reference, pending_version: str) -> None:
        path, _ = self._rotatable(ref)
        number = pending_number(pending_version)
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

    def _head(self, path: str, field: str) -> KvVersion | None:
        """The latest version at ``path``, if any; RotationError if it holds other fields."""
        head = self._maybe(path)
        if head is not None and set(head.data) - {field}:
            raise RotationError(f"{path} holds other fields: rotation needs one secret per path")
        return head

    def _pending_state(self, path: str) -> tuple[int | None, int]:
        """(the live version of ``<path>.pending`` or None, its latest version, for cas)."""
        try:
            meta = self._kv("read_secret_metadata", path + PENDING)["data"]
        except hvac().exceptions.InvalidPath:
            return None, 0
        latest = int(meta["current_version"])
        info = meta["versions"].get(str(latest), {})
        live = latest > 0 and not info.get("destroyed") and not info.get("deletion_time")
        return (latest if live else None), latest

    def _put(self, path: str, data: dict[str, Any], cas: int) -> KvVersion | None:
        """Write a new version with check-and-set; None if ``cas`` no longer matched."""
        try:
            written = self._kv("create_or_update_secret", path, data, cas=cas)["data"]
        except hvac().exceptions.InvalidRequest as err:
            if any("check-and-set" in e for e in err.errors or ()):
                return None
            raise
        return KvVersion(int(written["version"]), {}, _time(written.get("created_time")), data=data)

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
        state[meta_key("source", current)] = source
        if previous is not None:
            state["ivsecrets_previous_version"] = previous
        if intercom:
            state[meta_key("intercom", current)] = intercom
        self._set_custom_metadata(path, state)

    def _set_custom_metadata(self, path: str, custom: dict[str, str]) -> None:
        """Replace the path's custom_metadata, keeping the operator's other settings: hvac's
        ``update_metadata`` always sends ``delete_version_after`` (``"0s"`` unless given),
        which would reset it; ``max_versions`` and ``cas_required`` are left out, so kept."""
        settings = self._kv("read_secret_metadata", path)["data"]
        keep = settings.get("delete_version_after") or "0s"
        self._kv("update_metadata", path, custom_metadata=custom, delete_version_after=keep)

    def _destroy_pending(self, path: str, number: int) -> None:
        try:
            self._kv("destroy_secret_versions", path + PENDING, [number])
        except hvac().exceptions.InvalidPath:
            pass


def secret_field(data: dict[str, Any], name: str) -> str:
    """The string in field ``name`` of a KV secret's data; InvalidSecretError naming the fields
    (never a value) otherwise."""
    value = data.get(name)
    fields = ", ".join(sorted(k for k in data if k != INTERCOM)) or "none"
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


def meta_key(kind: str, number: int | None) -> str:
    """The custom_metadata key holding ``kind`` (intercom, source) for one version."""
    return f"ivsecrets_{kind}_{number}"


def previous_number(head: KvVersion) -> int | None:
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


def _promoted(head: KvVersion, staged: KvVersion | None, field: str, pending: str) -> bool:
    """Whether the path already holds what ``pending`` staged (a resumed promote)."""
    if staged is not None:
        return SecretValue(str(head.data.get(field, ""))) == SecretValue(
            str(staged.data.get(field))
        )
    return head.meta.get(meta_key("source", head.number)) == pending


def _intercom(staged: KvVersion | None) -> str | None:
    return (staged.data.get(INTERCOM) or None) if staged is not None else None


def _pending_info(staged: KvVersion, value: SecretValue) -> VersionInfo:
    version = f"pending:{staged.number}"
    created, intercom = staged.created_at, _intercom(staged)
    return VersionInfo(version, (Stage.pending,), value.fingerprint, created, intercom)


def pending_number(version: str) -> int:
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
