"""What a rotation command reads and reports: the versions a store holds for one environment
(:class:`RotationState`) and what a command did (:class:`RotationResult`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivsecrets.environments import Environment
from ivsecrets.errors import RotationError
from ivsecrets.secret import SecretValue, VersionInfo, shape_problem

if TYPE_CHECKING:
    from ivsecrets.intercom import IntercomClient

__all__ = [
    "STAGE_ATTEMPTS",
    "IntercomFactory",
    "RotationResult",
    "RotationState",
    "is_half_promoted",
]

#: Attempts at staging the new secret before a rotation gives up (the current one keeps serving).
STAGE_ATTEMPTS = 3
IntercomFactory = Callable[[str], "IntercomClient"]


@dataclass(frozen=True)
class RotationState:
    """What the store holds for one environment: current, previous and pending versions."""

    environment: Environment
    store: str
    reference: str
    current: VersionInfo | None
    previous: VersionInfo | None
    pending: VersionInfo | None


def is_half_promoted(current: VersionInfo | None, pending: VersionInfo | None) -> bool:
    """Whether ``pending`` is already served as ``current``: a promote stopped between its
    store writes (AWS: AWSCURRENT moved, AWSPENDING not yet removed; Vault: the value written,
    its metadata or the pending entry not yet)."""
    if current is None or pending is None:
        return False
    return pending.version == current.version or pending.fingerprint == current.fingerprint


@dataclass
class RotationResult:
    """What a rotation command did; ``fingerprint`` names the secret now current."""

    environment: Environment
    action: str
    fingerprint: str | None = None
    previous_fingerprint: str | None = None
    intercom_secret_id: str | None = None
    notes: list[str] = field(default_factory=list)


def check_secret_shape(value: SecretValue) -> None:
    """RotationError unless ``value`` could be an Intercom secret (verify's shape check)."""
    problem = shape_problem(value.reveal())
    if problem is not None:
        raise RotationError(f"the new secret cannot be used: {problem}")
