"""Unknown strings: never reported as known secrets; Intercom-shaped ones near a telling word are
suspects (lower confidence), and the heuristic can be switched off."""

from __future__ import annotations

import os
import secrets
import site
from pathlib import Path

import pytest

from ivsecrets.scan import KnownSecrets, Scanner, scan
from tests.scan.conftest import known_set


def test_random_43_character_base64url_strings_are_never_known_secrets(tmp_path: Path) -> None:
    values = [secrets.token_urlsafe(32) for _ in range(5000)]
    assert {len(v) for v in values} == {43}
    text = "\n".join(f'intercom_secret_{i} = "{v}"' for i, v in enumerate(values))
    (tmp_path / "random.py").write_text(text)
    report = scan([tmp_path], known_set())
    assert report.findings == [] and report.exit_code == 0
    assert report.candidates >= 5000  # each was fingerprinted
    # ...but each is shaped like an Intercom secret next to "intercom": a suspect, low confidence
    suspects = {s.line for s in report.suspects}
    shaped = [
        i + 1
        for i, v in enumerate(values)
        if any(c.isdigit() for c in v) and v.lower() != v and v.upper() != v
    ]
    assert suspects == set(shaped)
    assert all(s.confidence == "low" and s.known is None for s in report.suspects)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("INTERCOM_IDENTITY_SECRET={v}", True),
        ("window.intercomSettings = {{ user_hash_key: '{v}' }}", True),
        ('"jwt_signing_key": "{v}"', True),
        ('<string name="intercom_secret">{v}</string>', True),
        ("CACHE_KEY={v}", False),  # no telling word near it
        ("intercom_token=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ", False),  # no digit
        ("jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.{v}'", False),  # a JWT's signature
        ("intercom-sdk.whl,sha256={v}", False),  # a RECORD digest
    ],
)
def test_suspect_needs_the_shape_and_a_telling_word(
    tmp_path: Path, text: str, expected: bool
) -> None:
    value = "q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1c"  # 43 chars, 256 bits exactly
    (tmp_path / "f.txt").write_text("// config\n" + text.format(v=value) + "\n")
    report = scan([tmp_path], KnownSecrets())
    assert bool(report.suspects) is expected
    if expected:
        assert report.suspects[0].line == 2 and "near" in report.suspects[0].reason


def test_a_string_that_is_not_256_bits_is_not_a_suspect(tmp_path: Path) -> None:
    # 43 base64url characters whose last one carries bits beyond 256: not a 32-byte value
    (tmp_path / "f.txt").write_text("intercom = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1d'\n")
    assert not scan([tmp_path], KnownSecrets()).suspects


def test_no_heuristic(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("intercom = 'q1W2e3R4t5Y6u7I8o9P0a1S2d3F4g5H6j7K8l9Z0x1c'\n")
    assert scan([tmp_path], KnownSecrets()).suspects
    assert not scan([tmp_path], KnownSecrets(), heuristic=False).suspects


def test_a_known_secret_is_a_finding_not_a_suspect(tmp_path: Path) -> None:
    from ivsecrets.testing import SECRET_A

    (tmp_path / "f.txt").write_text(f"intercom = '{SECRET_A}'\n")
    report = scan([tmp_path], known_set())
    assert len(report.findings) == 1 and not report.suspects


@pytest.mark.skipif(
    not os.environ.get("IVSECRETS_SCAN_CORPUS"),
    reason="set IVSECRETS_SCAN_CORPUS=1 to measure the heuristic on site-packages (~1 min)",
)
def test_heuristic_false_positive_rate_on_site_packages() -> None:
    corpus = Path(next(p for p in site.getsitepackages() if p.endswith("site-packages")))
    report = Scanner(KnownSecrets()).scan([corpus])
    rate = len({s.path for s in report.suspects}) / report.files
    print(f"{len(report.suspects)} suspects in {report.files} files, {report.bytes / 1e6:.0f} MB")
    assert rate < 1 / 1000
