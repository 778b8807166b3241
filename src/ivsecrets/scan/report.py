"""What a scan found, skipped and measured; as a dict, JSON or SARIF 2.1.0. Never a secret value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from ivsecrets.scan.known import KnownSecret

__all__ = ["Finding", "ScanReport", "Skipped", "sarif"]

KNOWN_RULE = "ivsecrets/known-secret"
SUSPECT_RULE = "ivsecrets/suspected-secret"


@dataclass(frozen=True)
class Finding:
    """One place a secret is: a known one (``known`` set) or a suspect (``known`` None).

    ``file`` is the file on disk; ``member`` the path inside an archive (nested archives joined
    with ``!/``); ``line``/``column`` are set for text, ``offset`` always (bytes in the member).
    """

    file: str
    member: str | None
    offset: int
    encoding: str
    fingerprint: str
    known: KnownSecret | None = None
    line: int | None = None
    column: int | None = None
    reason: str = ""

    @property
    def path(self) -> str:
        """``file``, or ``file!/member`` for a member of an archive."""
        return f"{self.file}!/{self.member}" if self.member else self.file

    @property
    def where(self) -> str:
        """``path:line:column``, or ``path@offset`` when the content is not text."""
        if self.line is not None:
            return f"{self.path}:{self.line}:{self.column}"
        return f"{self.path}@{self.offset}"

    @property
    def confidence(self) -> str:
        return "high" if self.known else "low"

    @property
    def message(self) -> str:
        """One sentence about the finding, without the value."""
        how = "" if self.encoding == "plain" else f", {self.encoding}-encoded"
        if self.known is None:
            return f"possible Intercom identity-verification secret ({self.reason}{how})"
        k = self.known
        version = k.version + (f" version {k.version_id}" if k.version_id else "")
        return (
            f"the {version} identity-verification secret of {k.environment} "
            f"({k.fingerprint}, known from {k.source}{how})"
        )

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "known" if self.known else "suspect",
            "confidence": self.confidence,
            "path": self.path,
            "file": self.file,
            "member": self.member,
            "line": self.line,
            "column": self.column,
            "offset": self.offset,
            "encoding": self.encoding,
            "fingerprint": self.fingerprint,
            "message": self.message,
        }
        if self.known is not None:
            data.update(
                environment=str(self.known.environment),
                version=self.known.version,
                version_id=self.known.version_id,
                source=self.known.source,
            )
        else:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class Skipped:
    """Something the scan did not look into, and why (a limit, an unreadable archive...)."""

    path: str
    reason: str


@dataclass
class ScanReport:
    """The outcome of one scan. ``exit_code``: 1 when a known secret was found, else 0."""

    findings: list[Finding] = field(default_factory=list)
    suspects: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    candidates: int = 0
    known: int = 0
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.findings else 0

    def summary(self) -> dict[str, Any]:
        return {
            "findings": len(self.findings),
            "suspects": len(self.suspects),
            "skipped": len(self.skipped),
            "files": self.files,
            "bytes": self.bytes,
            "candidates": self.candidates,
            "known_fingerprints": self.known,
            "seconds": round(self.seconds, 3),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "summary": self.summary(),
            "findings": [f.as_dict() for f in self.findings],
            "suspects": [f.as_dict() for f in self.suspects],
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2)


def _uri(file: str) -> str:
    """A SARIF artifact URI: relative to the working directory (the repository root in CI)."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            return path.resolve().as_uri()
    return quote(str(PurePosixPath(*path.parts)), safe="/")


def _rule(rule_id: str, name: str, text: str, level: str, severity: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": text},
        "fullDescription": {
            "text": text + ". Found by fingerprint: the value itself is never reported."
        },
        "help": {
            "text": "Remove the secret from the file and its history, then rotate it "
            "(ivsecrets rotate): a secret that was committed or shipped must be treated as public.",
            "markdown": "Remove the secret from the file and its history, then **rotate it** "
            "(`ivsecrets rotate`): a secret that was committed or shipped must be treated as "
            "public.",
        },
        "defaultConfiguration": {"level": level},
        "properties": {
            "tags": ["security", "secret", "intercom"],
            "precision": "very-high" if level == "error" else "medium",
            "security-severity": severity,
        },
    }


def sarif(report: ScanReport, *, tool_version: str) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log that GitHub code scanning accepts (upload-sarif)."""
    rules = [
        _rule(
            KNOWN_RULE,
            "KnownIntercomSecret",
            "A known Intercom identity-verification secret is in this file",
            "error",
            "9.1",
        ),
        _rule(
            SUSPECT_RULE,
            "SuspectedIntercomSecret",
            "A string shaped like an Intercom identity-verification secret is in this file",
            "warning",
            "5.0",
        ),
    ]
    results = []
    for finding in [*report.findings, *report.suspects]:
        text = finding.message
        rule_index = 0 if finding.known else 1
        # GitHub code scanning wants a startLine: content that is not text (a member of an
        # archive, a binary file) is pointed at as a whole, and the message says where inside.
        region: dict[str, Any] = {"startLine": 1}
        if finding.line is not None and finding.member is None:
            region = {"startLine": finding.line, "startColumn": finding.column}
        where = f" in {finding.member}" if finding.member else ""
        if finding.line is not None and finding.member:
            at = f" at line {finding.line}"
        elif finding.line is None:
            at = f" at byte {finding.offset}"
        else:
            at = ""
        results.append(
            {
                "ruleId": rules[rule_index]["id"],
                "ruleIndex": rule_index,
                "level": "error" if finding.known else "warning",
                "message": {"text": f"{text[0].upper()}{text[1:]}{where}{at}."},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(finding.file)},
                            "region": region,
                        }
                    }
                ],
                # Which secret, where: stable across runs, so GitHub keeps one alert per place.
                "partialFingerprints": {
                    "ivsecretsFinding/v1": f"{finding.fingerprint}:{finding.path}:{finding.offset}"
                },
                "properties": {"encoding": finding.encoding, "confidence": finding.confidence},
            }
        )
    notifications = [
        {
            "level": "note",
            "message": {"text": f"not scanned: {s.path}: {s.reason}"},
        }
        for s in report.skipped
    ]
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ivsecrets",
                        "version": tool_version,
                        "rules": rules,
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "results": results,
            }
        ],
    }
