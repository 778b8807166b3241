"""What Intercom's secret API reports: secrets (never their values, except once on create) and
whether a recorded secret id is still live for a platform."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ivsecrets.environments import Platform
from ivsecrets.secret import SecretValue

__all__ = [
    "CreatedIntercomSecret",
    "IntercomSecret",
    "RecordedSecretCheck",
    "RecordedSecretState",
    "check_recorded_secret",
    "possibly_created",
    "secrets_for_platform",
]


@dataclass(frozen=True)
class IntercomSecret:
    """What Intercom reports about one secret: never its value."""

    id: str
    name: str
    supports_web: bool
    supports_ios: bool
    supports_android: bool
    created_at: datetime | None = None

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms the secret is enabled for."""
        return tuple(p for p in Platform if self.supports(p))

    def supports(self, platform: Platform | str) -> bool:
        """Whether the secret is enabled for ``platform``."""
        return bool(getattr(self, f"supports_{Platform.parse(platform).value}"))


@dataclass(frozen=True)
class CreatedIntercomSecret:
    """A secret just created: its metadata and its value, which Intercom will never show again."""

    metadata: IntercomSecret
    value: SecretValue

    @property
    def id(self) -> str:
        return self.metadata.id

    @property
    def fingerprint(self) -> str:
        return self.value.fingerprint


class RecordedSecretState(str, enum.Enum):
    """What Intercom says about a secret id we recorded."""

    active = "active"
    missing = "missing"
    not_enabled = "not_enabled"


@dataclass(frozen=True)
class RecordedSecretCheck:
    """The result of :func:`check_recorded_secret`; ``ok`` when the id is live for the platform."""

    secret_id: str
    platform: Platform
    state: RecordedSecretState
    secret: IntercomSecret | None = None

    @property
    def ok(self) -> bool:
        return self.state is RecordedSecretState.active

    def describe(self) -> str:
        """One sentence for ``ivsecrets verify``."""
        if self.state is RecordedSecretState.active:
            return f"Intercom secret {self.secret_id} exists and is enabled for {self.platform}"
        if self.state is RecordedSecretState.missing:
            return f"Intercom secret {self.secret_id} does not exist (deleted, or never created)"
        enabled = ", ".join(str(p) for p in self.secret.platforms) if self.secret else ""
        return (
            f"Intercom secret {self.secret_id} exists but is not enabled for {self.platform}"
            f" (enabled for: {enabled or 'no platform'})"
        )


def secrets_for_platform(
    secrets: Iterable[IntercomSecret], platform: Platform | str
) -> list[IntercomSecret]:
    """The secrets enabled for ``platform``, newest first.

    >>> web = IntercomSecret("1", "web only", True, False, False)
    >>> web_ios = IntercomSecret("2", "web and ios", True, True, False)
    >>> [s.id for s in secrets_for_platform([web, web_ios], "ios")]
    ['2']
    """
    platform = Platform.parse(platform)
    matching = [s for s in secrets if s.supports(platform)]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(matching, key=lambda s: (s.created_at or epoch, s.id), reverse=True)


def check_recorded_secret(
    secrets: Iterable[IntercomSecret], secret_id: str, platform: Platform | str
) -> RecordedSecretCheck:
    """Whether the recorded ``secret_id`` still exists at Intercom and is enabled for ``platform``.

    >>> s = [IntercomSecret("7", "a", True, False, False)]
    >>> check_recorded_secret(s, "7", "web").ok, check_recorded_secret(s, "7", "ios").state.value
    (True, 'not_enabled')
    """
    platform = Platform.parse(platform)
    for secret in secrets:
        if secret.id == secret_id:
            state = (
                RecordedSecretState.active
                if secret.supports(platform)
                else RecordedSecretState.not_enabled
            )
            return RecordedSecretCheck(secret_id, platform, state, secret)
    return RecordedSecretCheck(secret_id, platform, RecordedSecretState.missing)


# How far before the request Intercom's clock may put a secret we created (clock skew).
_RECONCILE_SKEW = timedelta(minutes=5)


def possibly_created(
    secrets: Iterable[IntercomSecret],
    secret_id: str | None,
    name: str,
    platforms: Iterable[Platform],
    sent_at: datetime,
) -> list[IntercomSecret]:
    """The ``secrets`` an ambiguous create sent at ``sent_at`` may have made: its id if known, or
    its name, with the same platforms, created no earlier than a few minutes before it was sent."""
    earliest = sent_at - _RECONCILE_SKEW
    flags = set(platforms)
    return [
        s
        for s in secrets
        if (s.id == secret_id or s.name == name)
        and set(s.platforms) == flags
        and (s.created_at is None or s.created_at >= earliest)
    ]
