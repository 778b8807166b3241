"""The JSON Schemas under docs/schemas/, and the check every CLI test's JSON goes through."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
#: The commands whose ``--format json`` document has a published schema.
DOCUMENTED = ("verify", "status", "fingerprint")


@functools.cache
def validator(command: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{command}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate(command: str, document: Any) -> None:
    """AssertionError listing every way ``document`` departs from the command's schema."""
    errors = sorted(validator(command).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def check_output(args: Sequence[str], stdout: str) -> None:
    """Validate ``stdout`` when ``args`` ask a documented command for JSON on standard output."""
    command = next((a for a in args if a in DOCUMENTED), None)
    if command is None or not _asks_for_json(args):
        return
    if any(a in ("--output", "-o") for a in args) or not stdout.strip():
        return  # nothing on stdout to check here (the test reads the file)
    validate(command, json.loads(stdout))


def _asks_for_json(args: Sequence[str]) -> bool:
    pairs = zip(args, [*args[1:], ""], strict=True)
    return any(a == "--format" and b == "json" for a, b in pairs) or "--format=json" in args
