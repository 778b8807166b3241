"""The gitleaks rule in docs/scan.md: valid TOML, RE2-compatible, and right on examples."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DOC = Path(__file__).parents[2] / "docs" / "scan.md"
VALUE = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1c"  # 43 base64url chars, exactly 256 bits


def rule() -> dict[str, object]:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    [block] = [b for b in blocks if "[[rules]]" in b]
    [found] = tomllib.loads(block)["rules"]
    assert isinstance(found, dict)
    return found


def test_rule_is_re2_compatible() -> None:
    regex = str(rule()["regex"])
    # RE2 has no lookaround, backreferences, possessive or atomic groups, conditionals.
    for construct in ("(?=", "(?!", "(?<=", "(?<!", "(?>", "(?(", "*+", "++", "?+"):
        assert construct not in regex, construct
    assert not re.search(r"\\[1-9]", regex)
    assert rule()["secretGroup"] == 1 and "intercom" in rule()["keywords"]  # type: ignore[operator]


POSITIVE = [
    f"INTERCOM_IDENTITY_SECRET={VALUE}",
    f'intercom_secret: "{VALUE}"',
    f"  :intercom_user_hash_secret => '{VALUE}',",
    f'JWT_SECRET="{VALUE}"',
    f'<string name="intercom_secret">{VALUE}</string>',
    f'intercomSecret := "{VALUE}"',
    f'{{"identity_verification_secret":"{VALUE}"}}',
    f"export USER_HASH_KEY={VALUE}\n",
    f'"intercom.secret": "{VALUE}\\n"',
]
NEGATIVE = [
    f"CACHE_KEY={VALUE}",  # no keyword
    f"INTERCOM_SECRET={VALUE[:-1]}d",  # 43 chars but not 256 bits
    f"INTERCOM_SECRET={VALUE[:-1]}",  # 42 chars
    f"INTERCOM_SECRET={VALUE}x",  # 44 chars
    "INTERCOM_APP_ID=abc123de",
    f"jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{VALUE}'",  # a whole token, not a key
]


@pytest.mark.parametrize("line", POSITIVE)
def test_rule_matches_intercom_secrets(line: str) -> None:
    match = re.search(str(rule()["regex"]), line)
    assert match is not None, line
    assert match.group(1) == VALUE


@pytest.mark.parametrize("line", NEGATIVE)
def test_rule_ignores_other_strings(line: str) -> None:
    assert re.search(str(rule()["regex"]), line) is None, line
