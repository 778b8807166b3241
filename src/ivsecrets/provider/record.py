"""The rotation record a writable store keeps beside each secret, written compare-and-set: who
holds the rotation lease, the journal of intent, and when each version became (and stopped being)
current. The protocol that reads and writes it lives in :mod:`ivsecrets.rotation.lease`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ivsecrets.errors import StoreError

__all__ = ["JournalEntry", "Lease", "RotationRecord"]


@dataclass(frozen=True)
class Lease:
    """Who may rotate an environment now: a run id, what it does and until when."""

    run: str
    action: str
    step: str
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires


@dataclass(frozen=True)
class JournalEntry:
    """An external effect a run announced before making it: "run R creates Intercom secret N"
    (``intercom_id`` once known). A holder of the lease resolves the entries of other runs."""

    run: str
    name: str
    intercom_id: str | None = None


@dataclass(frozen=True)
class RotationRecord:
    """What a store keeps beside one secret for its rotations, written compare-and-set:
    the lease, the journal of intent, and when each version became (and stopped being) current.
    """

    lease: Lease | None = None
    journal: tuple[JournalEntry, ...] = ()
    since: Mapping[str, datetime] = field(default_factory=dict)
    demoted: Mapping[str, datetime] = field(default_factory=dict)
    #: The Intercom secret id of versions a promote replaced, as known when it started: what
    #: ``finish`` deletes even once the store no longer holds the version (Vault max_versions).
    intercom: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        def times(m: Mapping[str, datetime]) -> dict[str, str]:
            return {k: v.isoformat() for k, v in m.items()}

        lease = self.lease
        return json.dumps(
            {
                "v": 1,
                "lease": None
                if lease is None
                else {
                    "run": lease.run,
                    "action": lease.action,
                    "step": lease.step,
                    "expires": lease.expires.isoformat(),
                },
                "journal": [
                    {"run": e.run, "name": e.name, "intercom_id": e.intercom_id}
                    for e in self.journal
                ],
                "since": times(self.since),
                "demoted": times(self.demoted),
                "intercom": dict(self.intercom),
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> RotationRecord:
        """The record ``text`` holds; an empty record for None. StoreError if unreadable."""
        if not text:
            return cls()
        try:
            doc = json.loads(text)
            raw = doc.get("lease")
            lease = (
                None
                if raw is None
                else Lease(
                    str(raw["run"]),
                    str(raw["action"]),
                    str(raw["step"]),
                    _aware(datetime.fromisoformat(raw["expires"])),
                )
            )
            journal = tuple(
                JournalEntry(str(e["run"]), str(e["name"]), e.get("intercom_id") or None)
                for e in doc.get("journal", [])
            )
            since = {k: _aware(datetime.fromisoformat(v)) for k, v in doc["since"].items()}
            demoted = {k: _aware(datetime.fromisoformat(v)) for k, v in doc["demoted"].items()}
            intercom = {str(k): str(v) for k, v in doc.get("intercom", {}).items()}
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise StoreError(
                f"the rotation record kept beside the secret is unreadable ({type(err).__name__})"
            ) from None
        return cls(lease, journal, since, demoted, intercom)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
