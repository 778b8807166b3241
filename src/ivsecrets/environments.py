"""Platforms, workspaces, environments and version stages: the nouns of the domain."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ivsecrets.errors import quoted

__all__ = ["AWS_STAGE_LABELS", "DEFAULT_WORKSPACES", "Environment", "Platform", "Stage"]


class Platform(str, enum.Enum):
    """An Intercom Messenger platform; each has its own identity-verification secret."""

    # Lower-case member names keep hash(Platform.ios) == hash("ios"), so either works as a key.
    web = "web"
    ios = "ios"
    android = "android"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | Platform) -> Platform:
        """Return the platform named ``value`` (case-insensitive); ValueError names valid ones."""
        if isinstance(value, Platform):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            valid = ", ".join(p.value for p in cls)
            raise ValueError(
                f"unknown platform {quoted(value)}; valid platforms: {valid}"
            ) from None


class Stage(str, enum.Enum):
    """Which version of a secret: the one signing now, the one still accepted, the staged one."""

    current = "current"
    previous = "previous"
    pending = "pending"

    def __str__(self) -> str:
        return self.value


#: Each stage's staging label in AWS Secrets Manager: one set for the ``aws`` and ``aws-agent``
#: stores (and the rotation Lambda), which may not import each other.
AWS_STAGE_LABELS: Mapping[Stage, str] = MappingProxyType(
    {Stage.current: "AWSCURRENT", Stage.previous: "AWSPREVIOUS", Stage.pending: "AWSPENDING"}
)

DEFAULT_WORKSPACES: tuple[str, ...] = ("test", "prod")


@dataclass(frozen=True, order=True)
class Environment:
    """One (platform, workspace) pair, wired to exactly one secret."""

    platform: Platform
    workspace: str

    @classmethod
    def of(cls, platform: str | Platform, workspace: str) -> Environment:
        """Build an environment from user input, normalising the platform and workspace names."""
        name = str(workspace).strip().lower()
        if not name:
            raise ValueError("workspace name must not be empty")
        return cls(Platform.parse(platform), name)

    def __str__(self) -> str:
        return f"{self.platform.value}/{self.workspace}"

    def expand(self, template: str) -> str:
        """Fill ``{platform}``, ``{workspace}`` and their upper-case forms into ``template``.

        >>> Environment.of("ios", "prod").expand("IVSECRETS_{PLATFORM}_{WORKSPACE}")
        'IVSECRETS_IOS_PROD'
        """
        return (
            template.replace("{platform}", self.platform.value)
            .replace("{workspace}", self.workspace)
            .replace("{PLATFORM}", self.platform.value.upper())
            .replace("{WORKSPACE}", self.workspace.upper().replace("-", "_"))
        )
